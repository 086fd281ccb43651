//! `/dev`: the default devices every container gets, `linux.devices`, and
//! the standard links.

use std::path::{Path, PathBuf};

use nix::sys::stat::{Mode, SFlag};
use oci_spec::runtime::{LinuxDevice, LinuxDeviceType, Spec};

use super::secure::{self, Create, SafeRoot};
use crate::error::{Context, Error, Result};
use crate::syscall::Syscall;

/// A device node to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceNode {
    /// Path inside the container.
    pub path: PathBuf,
    /// Character, block or fifo.
    pub kind: SFlag,
    /// Major number.
    pub major: u64,
    /// Minor number.
    pub minor: u64,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

impl DeviceNode {
    fn char(path: &str, major: u64, minor: u64) -> Self {
        DeviceNode {
            path: path.into(),
            kind: SFlag::S_IFCHR,
            major,
            minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        }
    }

    /// Converts a `linux.devices` entry.
    pub fn from_spec(d: &LinuxDevice) -> std::result::Result<Self, String> {
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            LinuxDeviceType::A => {
                return Err(format!(
                    "linux.devices: {}: type \"a\" is not a device type",
                    d.path().display()
                ))
            }
        };
        if !d.path().is_absolute() {
            return Err(format!(
                "linux.devices: path {:?} must be absolute",
                d.path()
            ));
        }
        if d.major() < 0 || d.minor() < 0 {
            return Err(format!(
                "linux.devices: {}: negative major or minor",
                d.path().display()
            ));
        }
        Ok(DeviceNode {
            path: d.path().clone(),
            kind,
            major: d.major() as u64,
            minor: d.minor() as u64,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        })
    }
}

/// The devices runc gives every container.
pub fn defaults() -> Vec<DeviceNode> {
    vec![
        DeviceNode::char("/dev/null", 1, 3),
        DeviceNode::char("/dev/zero", 1, 5),
        DeviceNode::char("/dev/full", 1, 7),
        DeviceNode::char("/dev/random", 1, 8),
        DeviceNode::char("/dev/urandom", 1, 9),
        DeviceNode::char("/dev/tty", 5, 0),
    ]
}

/// The devices to create: defaults, then `linux.devices` (which may
/// override a default of the same path).
pub fn plan(spec: &Spec, with_defaults: bool) -> std::result::Result<Vec<DeviceNode>, String> {
    let mut out = if with_defaults { defaults() } else { vec![] };
    for d in spec
        .linux()
        .as_ref()
        .and_then(|l| l.devices().as_ref())
        .into_iter()
        .flatten()
    {
        let node = DeviceNode::from_spec(d)?;
        out.retain(|n| n.path != node.path);
        out.push(node);
    }
    Ok(out)
}

/// Whether hako populates /dev: not when the spec binds a /dev in.
pub fn manages_dev(spec: &Spec) -> bool {
    !spec
        .mounts()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .any(|m| {
            super::mounts::clean_destination(m.destination()) == Path::new("/dev")
                && (m.typ().as_deref() == Some("bind")
                    || m.options()
                        .as_deref()
                        .unwrap_or_default()
                        .iter()
                        .any(|o| o == "bind" || o == "rbind"))
        })
}

/// Creates a device node. In a user namespace mknod is not allowed, so an
/// empty file gets the host's device bind-mounted on it instead.
pub fn create(sys: &dyn Syscall, root: &SafeRoot, dev: &DeviceNode, bind_host: bool) -> Result<()> {
    if bind_host {
        let target = root.resolve(&dev.path, Create::File)?;
        return sys
            .mount(
                Some(&dev.path),
                &secure::fd_path(&target),
                None,
                nix::mount::MsFlags::MS_BIND,
                None,
            )
            .ctx(|| format!("binding host device {}", dev.path.display()));
    }
    let (parent, name) = root.parent_of(&dev.path)?;
    // Replace whatever is there (an image may ship placeholder files).
    let _ = nix::unistd::unlinkat(&parent, name, nix::unistd::UnlinkatFlags::NoRemoveDir);
    let at = secure::join_fd(&parent, name);
    let devno = nix::sys::stat::makedev(dev.major, dev.minor);
    sys.mknod(&at, dev.kind, Mode::from_bits_truncate(dev.mode), devno)
        .ctx(|| format!("creating device {}", dev.path.display()))?;
    nix::unistd::fchownat(
        &parent,
        name,
        Some(dev.uid.into()),
        Some(dev.gid.into()),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .or_else(|e| {
        if e == nix::errno::Errno::ENOENT {
            Ok(())
        } else {
            Err(e)
        }
    })
    .ctx(|| format!("chown of device {}", dev.path.display()))?;
    Ok(())
}

/// The standard links in /dev.
pub fn links() -> Vec<(&'static str, &'static str)> {
    let mut l = vec![
        ("/proc/self/fd", "/dev/fd"),
        ("/proc/self/fd/0", "/dev/stdin"),
        ("/proc/self/fd/1", "/dev/stdout"),
        ("/proc/self/fd/2", "/dev/stderr"),
        ("pts/ptmx", "/dev/ptmx"),
    ];
    if Path::new("/proc/kcore").exists() {
        l.push(("/proc/kcore", "/dev/core"));
    }
    l
}

/// Creates the standard links; an existing entry is left alone, except
/// /dev/ptmx which must point at the container's devpts.
pub fn create_links(root: &SafeRoot) -> Result<()> {
    for (target, link) in links() {
        let (parent, name) = root.parent_of(Path::new(link))?;
        if link == "/dev/ptmx" {
            let _ = nix::unistd::unlinkat(&parent, name, nix::unistd::UnlinkatFlags::NoRemoveDir);
        }
        match nix::unistd::symlinkat(target, &parent, name) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(e).ctx(|| format!("creating link {link}")),
        }
    }
    Ok(())
}

/// Validates `linux.devices` without creating anything.
pub fn validate(spec: &Spec) -> Result<()> {
    plan(spec, false).map(drop).map_err(Error::invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(devices: serde_json::Value, mounts: serde_json::Value) -> Spec {
        serde_json::from_value(serde_json::json!({
            "ociVersion": "1.2.0", "mounts": mounts, "linux": {"devices": devices}
        }))
        .unwrap()
    }

    #[test]
    fn spec_devices_override_defaults() {
        let s = spec(
            serde_json::json!([
                {"path": "/dev/null", "type": "c", "major": 1, "minor": 3, "fileMode": 438, "uid": 0, "gid": 0},
                {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 8630, "uid": 5, "gid": 6},
                {"path": "/dev/sda", "type": "b", "major": 8, "minor": 0}
            ]),
            serde_json::json!([]),
        );
        let plan = plan(&s, true).unwrap();
        assert_eq!(
            plan.iter()
                .filter(|d| d.path == Path::new("/dev/null"))
                .count(),
            1
        );
        let fuse = plan
            .iter()
            .find(|d| d.path == Path::new("/dev/fuse"))
            .unwrap();
        assert_eq!(
            (fuse.kind, fuse.major, fuse.minor, fuse.mode, fuse.uid, fuse.gid),
            (SFlag::S_IFCHR, 10, 229, 0o666, 5, 6)
        );
        let sda = plan
            .iter()
            .find(|d| d.path == Path::new("/dev/sda"))
            .unwrap();
        assert_eq!(sda.kind, SFlag::S_IFBLK);
        assert_eq!(plan.len(), 8);
    }

    #[test]
    fn bad_devices_are_named() {
        let s = spec(
            serde_json::json!([{"path": "dev/x", "type": "c", "major": 1, "minor": 1}]),
            serde_json::json!([]),
        );
        assert!(validate(&s).unwrap_err().to_string().contains("\"dev/x\""));
        let s = spec(
            serde_json::json!([{"path": "/dev/x", "type": "a", "major": 1, "minor": 1}]),
            serde_json::json!([]),
        );
        assert!(validate(&s).unwrap_err().to_string().contains("/dev/x"));
    }

    #[test]
    fn bind_mounted_dev_is_left_alone() {
        let s = spec(
            serde_json::json!([]),
            serde_json::json!([{"destination": "/dev", "type": "tmpfs", "source": "tmpfs"}]),
        );
        assert!(manages_dev(&s));
        let s = spec(
            serde_json::json!([]),
            serde_json::json!([{"destination": "/dev", "type": "bind", "source": "/dev", "options": ["rbind"]}]),
        );
        assert!(!manages_dev(&s));
    }
}
