//! Switching the process's root to the rootfs.

use std::path::Path;

use nix::mount::{MntFlags, MsFlags};

use crate::error::{Context, Result};
use crate::syscall::Syscall;

/// pivot_root(2) into `rootfs` without a put_old directory: the old root is
/// stacked under the new one, made a slave so unmounting it cannot
/// propagate to the host, and lazily unmounted.
pub fn pivot_root(sys: &dyn Syscall, rootfs: &Path) -> Result<()> {
    sys.chdir(rootfs)
        .ctx(|| format!("chdir to rootfs {}", rootfs.display()))?;
    sys.pivot_root(Path::new("."), Path::new("."))
        .ctx(|| format!("pivot_root to {}", rootfs.display()))?;
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
