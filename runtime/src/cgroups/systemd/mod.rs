//! The systemd cgroup driver (`--systemd-cgroup`).
//!
//! With systemd as PID 1, systemd owns the cgroup tree: a container's
//! cgroup must be a unit of its own, or systemd may move its processes or
//! reset its limits. hako asks systemd, over D-Bus ([`bus`]), for a
//! transient scope `<prefix>-<name>.scope` in the slice `cgroupsPath`
//! names, with `Delegate=yes` and the intermediate process as its first
//! member, then works in that cgroup through cgroupfs as usual: joins, the
//! limits systemd cannot express, freezing, statistics. The limits systemd
//! can express are also set as unit properties ([`properties`]), so that
//! systemd agrees with what the cgroup holds. `delete` stops the unit.
//!
//! Rootless, the unit belongs to the user's own systemd instance on the
//! session bus, below its `user@<uid>.service` cgroup.

pub mod bus;
pub mod properties;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The systemd unit holding a container's cgroup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    /// `libpod-<id>.scope`, or a `.slice` when `cgroupsPath` names one.
    pub name: String,
    /// The slice it goes in (`machine.slice`).
    pub slice: String,
    /// The user's systemd instance (session bus) rather than the system's.
    #[serde(default)]
    pub user: bool,
    /// The container id, for the unit's description.
    pub id: String,
}

impl Unit {
    /// Whether the unit is a scope (it holds processes from the start) as
    /// opposed to a slice (processes join it through cgroupfs).
    pub fn is_scope(&self) -> bool {
        self.name.ends_with(".scope")
    }
}

/// The uid the user's systemd instance knows this user by: hako's own
/// uid, or, as uid 0 of a user namespace it did not create (rootless
/// podman), the host uid that maps to it.
pub fn host_uid() -> u32 {
    let euid = nix::unistd::geteuid().as_raw();
    std::fs::read_to_string("/proc/self/uid_map")
        .ok()
        .and_then(|map| outer_uid(&map, euid))
        .unwrap_or(euid)
}

/// The outer id of `inner` in a `uid_map`.
pub fn outer_uid(map: &str, inner: u32) -> Option<u32> {
    map.lines().find_map(|line| {
        let mut f = line.split_whitespace().map(|x| x.parse::<u64>().ok());
        let (start, outer, len) = (f.next()??, f.next()??, f.next()??);
        let inner = u64::from(inner);
        (inner >= start && inner < start + len).then(|| (outer + inner - start) as u32)
    })
}

/// The cgroup a user's systemd instance manages its units under.
pub fn user_manager_base(uid: u32) -> PathBuf {
    Path::new("/user.slice")
        .join(format!("user-{uid}.slice"))
        .join(format!("user@{uid}.service"))
}

/// Whether a session bus is there to connect to (zbus's own lookup:
/// `DBUS_SESSION_BUS_ADDRESS`, else `$XDG_RUNTIME_DIR/bus`).
pub fn session_bus_known() -> bool {
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some_and(|a| !a.is_empty())
        || std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| Path::new(&d).join("bus").exists())
}

/// Whether systemd runs as the init system here (as sd_booted() checks).
pub fn booted() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outer_uid_of_rootless_podman() {
        assert_eq!(
            outer_uid(
                "         0       1000          1\n         1     100000      65536\n",
                0
            ),
            Some(1000)
        );
        assert_eq!(outer_uid("0 1000 1\n1 100000 65536\n", 5), Some(100_004));
        assert_eq!(outer_uid("0 0 4294967295\n", 0), Some(0));
        assert_eq!(outer_uid("0 1000 1\n", 7), None);
    }

    #[test]
    fn user_manager_cgroup() {
        assert_eq!(
            user_manager_base(1000),
            PathBuf::from("/user.slice/user-1000.slice/user@1000.service")
        );
    }
}
