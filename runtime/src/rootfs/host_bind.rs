//! The rootfs of a container without a mount namespace of its own.
//!
//! Such a container shares hako's mount namespace, yet it still runs in
//! its bundle's rootfs, as under runc, crun and youki: hako binds the
//! rootfs, in the host's namespace, onto `rootfs/` in the container's
//! state directory before init starts; init makes the spec's mounts inside
//! that bind and chroots into it (pivot_root would move the host's own
//! root). Everything init mounts hangs below the bind, so `delete` detaches
//! the whole tree with one lazy unmount of it.
//!
//! The bind goes on a directory only hako uses, never on `root.path`
//! itself: where mounts propagate (a shared `/`, as under systemd), a bind
//! stacked on a path the caller had mounted would be copied into the
//! caller's peers beneath the caller's own mount, and unmounting it would
//! take the caller's mount along. The bind's mount id is recorded, and only
//! a mount with that id is ever detached.
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

/// Where the bind goes: `rootfs/` in the state directory.
pub fn target(state_dir: &Path) -> PathBuf {
    state_dir.join("rootfs")
}

/// Binds `rootfs` onto [`target`] in the caller's mount namespace, records
/// the new mount's id in `state_dir`, and returns the target: the path the
/// container's init makes its mounts in and chroots to.
pub fn bind(rootfs: &Path, state_dir: &Path) -> Result<PathBuf> {
    let rootfs = canonical(rootfs)?;
    let target = target(&canonical(state_dir)?);
    std::fs::create_dir(&target).ctx(|| format!("creating {}", target.display()))?;
    nix::mount::mount(
        Some(&rootfs),
        &target,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .ctx(|| {
        format!(
            "binding rootfs {} to {}",
            rootfs.display(),
            target.display()
        )
    })?;
    // Once mounted, any failure must unmount: the state directory is
    // later removed recursively, which must never reach into a rootfs.
    match record(&target, state_dir) {
        Ok(()) => Ok(target),
        Err(e) => {
            let _ = nix::mount::umount2(&target, MntFlags::MNT_DETACH);
            Err(e)
        }
    }
}

/// Makes the new bind at `target` a slave and records its mount id.
fn record(target: &Path, state_dir: &Path) -> Result<()> {
    // A bind of a shared mount joins its peer group: init's mounts would
    // appear under the caller's rootfs too. As a slave the bind still
    // receives, sends nothing, and its unmount still reaches the copies
    // its creation left in the peers of the state directory's mount.
    nix::mount::mount(
        None::<&str>,
        target,
        None::<&str>,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None::<&str>,
    )
    .ctx(|| format!("making {} a slave mount", target.display()))?;
    let mounts = crate::mountinfo::read_self().ctx(|| "reading /proc/self/mountinfo".into())?;
    let id = topmost(&mounts, target).ok_or_else(|| {
        Error::invalid(format!(
            "{}: the bind just made is not in /proc/self/mountinfo",
            target.display()
        ))
    })?;
    let text = format!("{id}\n{}", target.display());
    crate::state::write_atomic(&state_dir.join(RECORD), text.as_bytes(), 0o600)
}

/// Detaches the bind recorded in `state_dir`, with every mount made inside
/// it, if it is still on top of its path, and removes the emptied
/// directory. Without a record there is nothing of hako's to remove. An
/// error means the directory could not be removed: the caller must then
/// keep the state directory, or removing it would descend into the
/// container's rootfs.
pub fn release(state_dir: &Path) -> Result<()> {
    let record = state_dir.join(RECORD);
    if let Ok(text) = std::fs::read_to_string(&record) {
        let (id, bound) = text
            .split_once('\n')
            .and_then(|(id, path)| Some((id.parse::<u32>().ok()?, PathBuf::from(path))))
            .ok_or_else(|| Error::invalid(format!("{}: not a mount record", record.display())))?;
        let mounts = crate::mountinfo::read_self().ctx(|| "reading /proc/self/mountinfo".into())?;
        if topmost(&mounts, &bound) == Some(id) {
            nix::mount::umount2(&bound, MntFlags::MNT_DETACH)
                .ctx(|| format!("unmounting the rootfs bind {}", bound.display()))?;
        } else {
            tracing::debug!(rootfs = %bound.display(), id, "rootfs bind already gone");
        }
    }
    // Not recursive, record or not: removing the state directory must
    // never reach into a rootfs that is still mounted there (EBUSY then
    // keeps it).
    let dir = target(state_dir);
    match std::fs::remove_dir(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).ctx(|| format!("removing {}", dir.display()))
        }
        _ => Ok(()),
    }
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
