//! `linux.resources.pids`: the same file on v1 and v2.

use oci_spec::runtime::LinuxResources;

use crate::cgroups::resources::Write;

/// pids.max; a limit of 0 or below is `max`.
pub fn writes(res: &LinuxResources, controller: &'static str) -> Vec<Write> {
    let Some(p) = res.pids() else {
        return vec![];
    };
    let value = if p.limit() > 0 {
        p.limit().to_string()
    } else {
        "max".into()
    };
    vec![Write::new(controller, "pids.max", value)]
}
