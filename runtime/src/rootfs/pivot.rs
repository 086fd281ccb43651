//! Switching the process's root to the rootfs.

use std::os::fd::AsFd;
use std::path::Path;

use nix::mount::{MntFlags, MsFlags};

use crate::error::{Context, Result};
use crate::syscall::Syscall;

/// pivot_root(2) into `rootfs` without a put_old directory: the old root is
/// stacked on the new one, made a slave so unmounting it cannot
/// propagate to the host, and lazily unmounted.
pub fn pivot_root(sys: &dyn Syscall, rootfs: &Path) -> Result<()> {
    // "." after the pivot is still the new root underneath the old one:
    // step into the old root itself, or the slave change would hit the
    // container's own mounts (and undo a shared rootfsPropagation).
    let old_root = std::fs::File::open("/").ctx(|| "opening the old root".into())?;
    sys.chdir(rootfs)
        .ctx(|| format!("chdir to rootfs {}", rootfs.display()))?;
    sys.pivot_root(Path::new("."), Path::new("."))
        .ctx(|| format!("pivot_root to {}", rootfs.display()))?;
    sys.fchdir(old_root.as_fd())
        .ctx(|| "entering the old root".into())?;
    sys.mount(
        None,
        Path::new("."),
        None,
        MsFlags::MS_SLAVE | MsFlags::MS_REC,
        None,
    )
    .ctx(|| "making the old root a slave".into())?;
    sys.umount2(Path::new("."), MntFlags::MNT_DETACH)
        .ctx(|| "detaching the old root".into())?;
    sys.chdir(Path::new("/")).ctx(|| "chdir to /".into())
}

/// `--no-pivot`: move the rootfs over / and chroot into it (for hosts
/// whose root cannot be pivoted, such as a ramfs).
pub fn chroot(sys: &dyn Syscall, rootfs: &Path) -> Result<()> {
    sys.chdir(rootfs)
        .ctx(|| format!("chdir to rootfs {}", rootfs.display()))?;
    sys.mount(Some(rootfs), Path::new("/"), None, MsFlags::MS_MOVE, None)
        .ctx(|| format!("moving {} to /", rootfs.display()))?;
    sys.chroot(Path::new("."))
        .ctx(|| format!("chroot to {}", rootfs.display()))?;
    sys.chdir(Path::new("/")).ctx(|| "chdir to /".into())
}

/// A container without a mount namespace of its own: chroot into the
/// rootfs where it is. Moving it over `/` (as [`chroot`] does) would
/// stack the container's rootfs on the host's own root.
pub fn chroot_in_place(sys: &dyn Syscall, rootfs: &Path) -> Result<()> {
    sys.chdir(rootfs)
        .ctx(|| format!("chdir to rootfs {}", rootfs.display()))?;
    sys.chroot(Path::new("."))
        .ctx(|| format!("chroot to {}", rootfs.display()))?;
    sys.chdir(Path::new("/")).ctx(|| "chdir to /".into())
}
