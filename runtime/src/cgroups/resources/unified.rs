//! cgroup v2 only: `linux.resources.unified` (files written as given) and
//! enabling the controllers in the container's ancestors.

use std::collections::HashMap;

use super::Write;
use crate::cgroups::hierarchy::Version;
use crate::cgroups::set::CgroupSet;
use crate::error::{Error, Result};

/// `linux.resources.unified`: file names and values, as given. A name
/// must be a file of the container's cgroup, never a path.
pub fn unified(map: &HashMap<String, String>) -> Result<Vec<Write>> {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    keys.into_iter()
        .map(|k| {
            if k.contains('/') || k.starts_with('.') || !k.contains('.') {
                return Err(Error::invalid(format!(
                    "linux.resources.unified: invalid key {k:?}"
                )));
            }
            Ok(Write::new("unified", k.clone(), &map[k]))
        })
        .collect()
}

/// Enables the controllers the container may use in every v2 ancestor of
/// its cgroup (a controller's files appear only once the parent enables
/// it). Controllers the parent does not have are left alone, and so is an
/// ancestor that refuses (one with processes of its own, such as the
/// systemd service hako runs in for a relative cgroupsPath): as runc does,
/// a limit that then cannot be written fails there, naming its file.
pub fn enable_controllers(set: &CgroupSet) -> Result<()> {
    let Some(dir) = set.dirs.iter().find(|d| d.version == Version::V2) else {
        return Ok(());
    };
    let mut current = dir.mount_point.clone();
    for part in dir.relative().components() {
        let available =
            std::fs::read_to_string(current.join("cgroup.controllers")).unwrap_or_default();
        let wanted: Vec<String> = available
            .split_whitespace()
            .map(|c| format!("+{c}"))
            .collect();
        if !wanted.is_empty() {
            let control = current.join("cgroup.subtree_control");
            if crate::cgroups::file::write(&control, &wanted.join(" ")).is_err() {
                for one in &wanted {
                    if let Err(e) = crate::cgroups::file::write(&control, one) {
                        tracing::debug!(path = %control.display(), controller = %one, %e, "controller not enabled");
                    }
                }
            }
        }
        current.push(part);
    }
    Ok(())
}
