//! Writing a user namespace's uid and gid maps.

use std::process::Command;

use oci_spec::runtime::LinuxIdMapping;

use crate::error::{Context, Error, Result};

/// The text of a uid_map/gid_map file.
pub fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Whether an unprivileged caller can write these maps itself: a single
/// mapping of its own id, one id long.
pub fn writable_directly(maps: &[LinuxIdMapping], own_id: u32, privileged: bool) -> bool {
    privileged || (maps.len() == 1 && maps[0].host_id() == own_id && maps[0].size() == 1)
}

/// Writes the maps of `pid`'s user namespace: directly when allowed,
/// otherwise through the setuid helpers newuidmap/newgidmap (which check
/// /etc/subuid and /etc/subgid).
pub fn write(pid: i32, uid_maps: &[LinuxIdMapping], gid_maps: &[LinuxIdMapping]) -> Result<()> {
    let euid = nix::unistd::geteuid();
    let privileged = euid.is_root();
    let egid = nix::unistd::getegid().as_raw();
    if writable_directly(gid_maps, egid, privileged) {
        if !privileged {
            // An unprivileged gid map requires setgroups to be denied.
            let path = format!("/proc/{pid}/setgroups");
            std::fs::write(&path, "deny").ctx(|| format!("writing {path}"))?;
        }
        let path = format!("/proc/{pid}/gid_map");
        std::fs::write(&path, map_text(gid_maps)).ctx(|| format!("writing {path}"))?;
    } else {
        helper("newgidmap", pid, gid_maps)?;
    }
    if writable_directly(uid_maps, euid.as_raw(), privileged) {
        let path = format!("/proc/{pid}/uid_map");
        std::fs::write(&path, map_text(uid_maps)).ctx(|| format!("writing {path}"))?;
    } else {
        helper("newuidmap", pid, uid_maps)?;
    }
    Ok(())
}

fn helper(tool: &str, pid: i32, maps: &[LinuxIdMapping]) -> Result<()> {
    let mut cmd = Command::new(tool);
    cmd.arg(pid.to_string());
    for m in maps {
        cmd.args([
            m.container_id().to_string(),
            m.host_id().to_string(),
            m.size().to_string(),
        ]);
    }
    let out = cmd
        .output()
        .ctx(|| format!("running {tool} (install the uidmap package)"))?;
    if !out.status.success() {
        return Err(Error::invalid(format!(
            "{tool} {pid} failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .trim()
                .trim_end_matches('.')
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn maps(v: serde_json::Value) -> Vec<LinuxIdMapping> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn text_and_direct_rules() {
        let m = maps(
            serde_json::json!([{"containerID": 0, "hostID": 1000, "size": 1}, {"containerID": 1, "hostID": 100000, "size": 65536}]),
        );
        assert_eq!(map_text(&m), "0 1000 1\n1 100000 65536\n");
        assert!(writable_directly(&m, 1000, true));
        assert!(!writable_directly(&m, 1000, false));
        assert!(writable_directly(&m[..1], 1000, false));
        assert!(!writable_directly(&m[..1], 1001, false));
    }
}
