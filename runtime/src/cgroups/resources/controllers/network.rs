//! `linux.resources.network`: net_cls and net_prio, which exist only on
//! cgroup v1.

use oci_spec::runtime::LinuxResources;

use crate::cgroups::resources::Write;
use crate::error::{Error, Result};

/// net_cls.classid.
pub fn class_id(res: &LinuxResources) -> Vec<Write> {
    res.network()
        .as_ref()
        .and_then(|n| n.class_id())
        .map(|id| Write::new("net_cls", "net_cls.classid", id))
        .into_iter()
        .collect()
}

/// net_prio.ifpriomap, one write per interface.
pub fn priorities(res: &LinuxResources) -> Vec<Write> {
    res.network()
        .as_ref()
        .and_then(|n| n.priorities().clone())
        .unwrap_or_default()
        .iter()
        .map(|p| {
            Write::new(
                "net_prio",
                "net_prio.ifpriomap",
                format!("{} {}", p.name(), p.priority()),
            )
        })
        .collect()
}

/// On v2 either field is refused: there is nowhere to write it.
pub fn v2(res: &LinuxResources) -> Result<Vec<Write>> {
    if res
        .network()
        .as_ref()
        .is_some_and(|n| n.class_id().is_some() || n.priorities().is_some())
    {
        return Err(Error::invalid(
            "linux.resources.network (net_cls, net_prio) exists only on cgroup v1",
        ));
    }
    Ok(vec![])
}
