//! `linux.resources.cpu.cpus` and `.mems`: the same files on v1 and v2.

use oci_spec::runtime::LinuxResources;

use crate::cgroups::resources::Write;

/// cpuset.cpus and cpuset.mems, when set and not empty.
pub fn writes(res: &LinuxResources, controller: &'static str) -> Vec<Write> {
    let Some(c) = res.cpu() else {
        return vec![];
    };
    let mut w = Vec::new();
    if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
        w.push(Write::new(controller, "cpuset.cpus", cpus));
    }
    if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
        w.push(Write::new(controller, "cpuset.mems", mems));
    }
    w
}
