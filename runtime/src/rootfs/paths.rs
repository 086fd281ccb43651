//! `linux.maskedPaths`, `linux.readonlyPaths` and `root.readonly`, applied
//! after pivot_root.

use std::path::Path;

use nix::mount::MsFlags;

use super::mounts::{clean_destination, locked_flags};
use super::secure::{self, Create, SafeRoot};
use crate::error::{Context, Result};
use crate::syscall::Syscall;

fn resolve_existing(root: &SafeRoot, path: &Path) -> Result<Option<std::os::fd::OwnedFd>> {
    match root.resolve(path, Create::Nothing) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if e.errno() == Some(nix::errno::Errno::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Hides a path: an empty read-only tmpfs over a directory, /dev/null
/// over anything else. Missing paths are skipped.
pub fn mask(sys: &dyn Syscall, root: &SafeRoot, path: &str) -> Result<()> {
    let path = clean_destination(Path::new(path));
    let Some(fd) = resolve_existing(root, &path)? else {
        return Ok(());
    };
    let target = secure::fd_path(&fd);
    if secure::is_dir(&fd) {
        sys.mount(
            Some(Path::new("tmpfs")),
            &target,
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            None,
        )
    } else {
        let null = open_dev_null()?;
        sys.mount(
            Some(&secure::fd_path(&null)),
            &target,
            None,
            MsFlags::MS_BIND,
            None,
        )
    }
    .ctx(|| format!("masking {}", path.display()))
}

/// Opens the container's /dev/null for use as a mask, refusing anything
/// but the real null device: a symlink or a file planted there would
/// otherwise be bound over the masked path (CVE-2025-31133 style).
fn open_dev_null() -> Result<std::os::fd::OwnedFd> {
    use nix::fcntl::{open, OFlag};
    use nix::sys::stat::{fstat, major, minor, Mode, SFlag};
    let path = Path::new("/dev/null");
    let fd = open(
        path,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| "opening /dev/null to mask paths".to_string())?;
    let st = fstat(&fd).ctx(|| "stat of /dev/null".to_string())?;
    let is_char = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFCHR;
    if !is_char || major(st.st_rdev) != 1 || minor(st.st_rdev) != 3 {
        return Err(crate::error::Error::invalid(
            "/dev/null is not the null device (char 1:3): refusing to use it to mask paths"
                .to_string(),
        ));
    }
    Ok(fd)
}

/// Makes a path read-only with a recursive bind mount onto itself.
/// Missing paths are skipped.
pub fn make_readonly(sys: &dyn Syscall, root: &SafeRoot, path: &str) -> Result<()> {
    let path = clean_destination(Path::new(path));
    let Some(fd) = resolve_existing(root, &path)? else {
        return Ok(());
    };
    let target = secure::fd_path(&fd);
    sys.mount(
        Some(&target),
        &target,
        None,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None,
    )
    .ctx(|| format!("binding {} onto itself", path.display()))?;
    let mounted = root.resolve(&path, Create::Nothing)?;
    let target = secure::fd_path(&mounted);
    let flags = MsFlags::MS_BIND
        | MsFlags::MS_REMOUNT
        | MsFlags::MS_RDONLY
        | MsFlags::MS_REC
        | locked_flags(&target);
    sys.mount(None, &target, None, flags, None)
        .ctx(|| format!("making {} read-only", path.display()))
}

/// Remounts a mount point read-only, keeping its other flags.
pub fn remount_readonly(sys: &dyn Syscall, path: &Path) -> Result<()> {
    let flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | locked_flags(path);
    sys.mount(None, path, None, flags, None)
        .ctx(|| format!("remounting {} read-only", path.display()))
}
