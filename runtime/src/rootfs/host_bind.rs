//! The rootfs of a container without a mount namespace of its own.
//!
//! Such a container shares hako's mount namespace, yet it still runs in
//! its bundle's rootfs, as under runc, crun and youki: hako binds the
//! rootfs onto itself in the host's namespace before init starts, init
//! makes the spec's mounts inside that bind and chroots into it (pivot_root
//! would move the host's own root). Everything init mounts hangs below the
//! bind, so `delete` detaches the whole tree with one lazy unmount of it.
//! The bind's mount id is recorded in the state directory, and only a
//! mount with that id is ever detached: a rootfs that was a mount point
//! already (podman's overlay) is left mounted.

use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};

use crate::error::{Context, Error, Result};
use crate::mountinfo::MountInfo;

/// The file in the container's state directory naming the bind.
pub const RECORD: &str = "rootfs.mount";

/// The mount on top of the stack at `point`: the one no other mount at the
/// same point is mounted on.
pub fn topmost(mounts: &[MountInfo], point: &Path) -> Option<u32> {
    let at: Vec<&MountInfo> = mounts.iter().filter(|m| m.mount_point == point).collect();
    at.iter()
        .find(|m| !at.iter().any(|other| other.parent == m.id))
        .map(|m| m.id)
}

fn canonical(rootfs: &Path) -> Result<PathBuf> {
    std::fs::canonicalize(rootfs).ctx(|| format!("rootfs {}", rootfs.display()))
}

/// Binds `rootfs` onto itself in the caller's mount namespace and records
/// the new mount's id in `state_dir`.
pub fn bind(rootfs: &Path, state_dir: &Path) -> Result<()> {
    let rootfs = canonical(rootfs)?;
    nix::mount::mount(
        Some(&rootfs),
        &rootfs,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .ctx(|| format!("binding rootfs {} onto itself", rootfs.display()))?;
    let mounts = crate::mountinfo::read_self().ctx(|| "reading /proc/self/mountinfo".into())?;
    let id = topmost(&mounts, &rootfs).ok_or_else(|| {
        Error::invalid(format!(
            "rootfs {}: the bind just made is not in /proc/self/mountinfo",
            rootfs.display()
        ))
    })?;
    let record = state_dir.join(RECORD);
    let text = format!("{id}\n{}", rootfs.display());
    let written = crate::state::write_atomic(&record, text.as_bytes(), 0o600);
    if written.is_err() {
        let _ = nix::mount::umount2(&rootfs, MntFlags::MNT_DETACH);
    }
    written
}

/// Detaches the bind recorded in `state_dir`, with every mount made inside
/// it, if it is still on top of its path. Without a record there is
/// nothing of hako's to remove.
pub fn release(state_dir: &Path) -> Result<()> {
    let record = state_dir.join(RECORD);
    let Ok(text) = std::fs::read_to_string(&record) else {
        return Ok(());
    };
    let (id, rootfs) = text
        .split_once('\n')
        .and_then(|(id, path)| Some((id.parse::<u32>().ok()?, PathBuf::from(path))))
        .ok_or_else(|| Error::invalid(format!("{}: not a mount record", record.display())))?;
    let mounts = crate::mountinfo::read_self().ctx(|| "reading /proc/self/mountinfo".into())?;
    if topmost(&mounts, &rootfs) != Some(id) {
        tracing::debug!(rootfs = %rootfs.display(), id, "rootfs bind already gone");
        return Ok(());
    }
    nix::mount::umount2(&rootfs, MntFlags::MNT_DETACH)
        .ctx(|| format!("unmounting the rootfs bind {}", rootfs.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(id: u32, parent: u32, point: &str) -> MountInfo {
        crate::mountinfo::parse_line(&format!("{id} {parent} 0:1 / {point} rw - ext4 /dev/x rw"))
            .unwrap()
    }

    #[test]
    fn the_top_of_a_stack_is_the_mount_nothing_sits_on() {
        let mounts = vec![
            m(1, 0, "/"),
            m(20, 1, "/b/rootfs"),
            m(30, 20, "/b/rootfs"),
            m(31, 30, "/b/rootfs/proc"),
        ];
        assert_eq!(topmost(&mounts, Path::new("/b/rootfs")), Some(30));
        assert_eq!(topmost(&mounts, Path::new("/b/rootfs/proc")), Some(31));
        assert_eq!(topmost(&mounts, Path::new("/b")), None);
    }
}
