//! Building the container's filesystem.
//!
//! [`prepare`] runs in container init's new mount namespace before the
//! root changes: it stops mount propagation to the host, turns the rootfs
//! into a mount point, applies `mounts[]` in order and populates `/dev`.
//! Without a mount namespace of its own, hako has already bound the rootfs
//! in the host's namespace ([`host_bind`]) and propagation is left alone.
//! [`enter`] switches the root (pivot_root, or chroot with `--no-pivot` or
//! without a mount namespace).
//! [`finalize`] runs inside the new root: read-only and masked paths, then
//! a read-only `/` if `root.readonly`.

pub mod cgroup_mount;
pub mod copyup;
pub mod devices;
pub mod host_bind;
pub mod idmapped;
pub mod mounts;
pub mod options;
pub mod paths;
pub mod pivot;
pub mod secure;

use std::path::{Path, PathBuf};

use nix::mount::MsFlags;
use oci_spec::runtime::Spec;

use crate::cgroups::CgroupSet;
use crate::error::{Context, Result};
use crate::syscall::Syscall;
use secure::{Create, SafeRoot};

/// What rootfs set-up needs to know.
#[derive(Debug)]
pub struct RootfsConfig<'a> {
    /// The container's spec.
    pub spec: &'a Spec,
    /// Absolute rootfs path on the host.
    pub rootfs: &'a Path,
    /// Absolute bundle path (relative bind sources are relative to it).
    pub bundle: &'a Path,
    /// The container's cgroups (for the cgroup mount).
    pub cgroups: &'a CgroupSet,
    /// Whether the container has its own cgroup namespace.
    pub cgroup_ns: bool,
    /// Whether the container runs in a user namespace, its own or the one
    /// hako runs in (no mknod: devices are bound from the host).
    pub user_ns: bool,
    /// The device nodes to make, as validation planned them.
    pub devices: &'a [devices::DeviceNode],
    /// Id-mapped mounts hako prepared, by index in `mounts`.
    pub idmapped: &'a [(usize, std::os::fd::OwnedFd)],
    /// Whether the container has a mount namespace of its own; without
    /// one, hako bound the rootfs already and the host's propagation
    /// must not change.
    pub own_mount_ns: bool,
}

/// What [`prepare`] leaves for [`finalize`].
#[derive(Debug, Default)]
pub struct Prepared {
    /// Mounts to make read-only once populated.
    pub readonly_later: Vec<PathBuf>,
}

/// `linux.rootfsPropagation`, parsed.
fn spec_propagation(spec: &Spec) -> Option<MsFlags> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref())
        .and_then(options::propagation)
}

/// The propagation of `/` while the rootfs is prepared:
/// `linux.rootfsPropagation`, or rslave so that host mounts still appear
/// but none leak out. An unbindable `/` could not be bound onto itself,
/// so that choice waits until after the pivot (see [`enter`]).
pub fn root_propagation(spec: &Spec) -> MsFlags {
    spec_propagation(spec)
        .filter(|p| !p.contains(MsFlags::MS_UNBINDABLE))
        .unwrap_or(MsFlags::MS_SLAVE | MsFlags::MS_REC)
}

/// Everything before the root changes.
pub fn prepare(sys: &dyn Syscall, cfg: &RootfsConfig<'_>) -> Result<Prepared> {
    if cfg.own_mount_ns {
        let propagation = root_propagation(cfg.spec);
        sys.mount(None, Path::new("/"), None, propagation, None)
            .ctx(|| "setting the propagation of /".into())?;
        make_parent_private(sys, cfg.rootfs)?;
        sys.mount(
            Some(cfg.rootfs),
            cfg.rootfs,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )
        .ctx(|| format!("binding rootfs {} onto itself", cfg.rootfs.display()))?;
    }
    // Opened after the bind so that it names the new mount.
    let root = SafeRoot::open(cfg.rootfs)?;
    let mut prepared = Prepared::default();
    for (i, m) in cfg
        .spec
        .mounts()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let detached = cfg
            .idmapped
            .iter()
            .find(|(index, _)| *index == i)
            .map(|(_, fd)| std::os::fd::AsFd::as_fd(fd));
        let later = mounts::mount_one(sys, &root, cfg, m, detached)
            .map_err(|e| e.within(format!("mounts[{i}] ({})", m.destination().display())))?;
        prepared.readonly_later.extend(later);
    }
    for dev in cfg.devices {
        devices::create(sys, &root, dev, cfg.user_ns)?;
    }
    if devices::manages_dev(cfg.spec) {
        devices::create_links(&root)?;
    }
    if let Some(process) = cfg.spec.process() {
        root.resolve(process.cwd(), Create::Dir)?;
    }
    Ok(prepared)
}

/// pivot_root(2) needs the rootfs's parent mount not to be shared; with a
/// shared `rootfsPropagation` it may still be, so make it private.
fn make_parent_private(sys: &dyn Syscall, rootfs: &Path) -> Result<()> {
    let Ok(mounts) = crate::mountinfo::read_self() else {
        return Ok(());
    };
    let parent = mounts
        .iter()
        .filter(|m| rootfs.starts_with(&m.mount_point))
        .max_by_key(|m| m.mount_point.as_os_str().len());
    if let Some(m) = parent {
        if m.optional.iter().any(|o| o.starts_with("shared:")) {
            sys.mount(None, &m.mount_point, None, MsFlags::MS_PRIVATE, None)
                .ctx(|| format!("making {} private", m.mount_point.display()))?;
        }
    }
    Ok(())
}

/// Changes the root to the rootfs: pivot_root, or chroot with
/// `--no-pivot`. In the host's mount namespace only a chroot in place is
/// possible: a pivot, or a move over `/`, would change the host's root.
pub fn enter(sys: &dyn Syscall, rootfs: &Path, no_pivot: bool, own_mount_ns: bool) -> Result<()> {
    if !own_mount_ns {
        pivot::chroot_in_place(sys, rootfs)
    } else if no_pivot {
        pivot::chroot(sys, rootfs)
    } else {
        pivot::pivot_root(sys, rootfs)
    }
}

/// The rootfs was bound under a private parent, so the new `/` is private:
/// once everything is mounted (read-only paths are binds, which an
/// unbindable tree would refuse), give it the propagation the spec asks
/// for, as runc does.
pub fn apply_root_propagation(sys: &dyn Syscall, spec: &Spec) -> Result<()> {
    match spec_propagation(spec) {
        Some(propagation) => sys
            .mount(None, Path::new("/"), None, propagation, None)
            .ctx(|| "setting linux.rootfsPropagation on /".into()),
        None => Ok(()),
    }
}

/// Read-only paths, masked paths and a read-only root, inside the new
/// root. `root` is the container's `/` (normally "/").
pub fn finalize(sys: &dyn Syscall, spec: &Spec, root: &Path, prepared: &Prepared) -> Result<()> {
    let safe = SafeRoot::open(root)?;
    let linux = spec.linux().as_ref();
    for path in &prepared.readonly_later {
        let fd = safe.resolve(path, Create::Nothing)?;
        paths::remount_readonly(sys, &secure::fd_path(&fd))?;
    }
    for path in linux
        .and_then(|l| l.readonly_paths().as_ref())
        .into_iter()
        .flatten()
    {
        paths::make_readonly(sys, &safe, path)?;
    }
    for path in linux
        .and_then(|l| l.masked_paths().as_ref())
        .into_iter()
        .flatten()
    {
        paths::mask(sys, &safe, path)?;
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        paths::remount_readonly(sys, root)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
