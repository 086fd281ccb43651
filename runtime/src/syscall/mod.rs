//! The seam between container set-up logic and the kernel.
//!
//! Mounting, pivoting and creating device nodes need root and change the
//! machine; they go through [`Syscall`] so that the logic deciding *what*
//! to mount can be unit-tested with a recording double (`recording`, built
//! for tests only), which records the calls instead of making them. File creation inside a rootfs is not
//! behind the seam: tests run it for real in a temporary directory.

use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::Path;

#[cfg(test)]
mod recording;
#[cfg(test)]
pub use recording::{Call, RecordingSyscall};

use nix::mount::{MntFlags, MsFlags};
use nix::sys::stat::{Mode, SFlag};

/// Privileged operations used while building a container's filesystem.
pub trait Syscall {
    /// mount(2).
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()>;
    /// umount2(2).
    fn umount2(&self, target: &Path, flags: MntFlags) -> nix::Result<()>;
    /// mount_setattr(2) with AT_RECURSIVE when `recursive`.
    fn mount_setattr(&self, target: &Path, recursive: bool, set: u64, clr: u64) -> nix::Result<()>;
    /// move_mount(2) of the detached mount `from` onto `target`.
    fn move_mount(&self, from: BorrowedFd<'_>, target: &Path) -> nix::Result<()>;
    /// pivot_root(2).
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()>;
    /// chroot(2).
    fn chroot(&self, path: &Path) -> nix::Result<()>;
    /// chdir(2).
    fn chdir(&self, path: &Path) -> nix::Result<()>;
    /// fchdir(2).
    fn fchdir(&self, dir: BorrowedFd<'_>) -> nix::Result<()>;
    /// mknod(2) at a path.
    fn mknod(&self, path: &Path, kind: SFlag, perm: Mode, dev: u64) -> nix::Result<()>;
}

/// struct mount_attr of mount_setattr(2).
#[repr(C)]
#[derive(Debug, Default)]
pub struct MountAttr {
    /// MOUNT_ATTR_* to set.
    pub attr_set: u64,
    /// MOUNT_ATTR_* to clear.
    pub attr_clr: u64,
    /// A propagation type (MS_SHARED, …), or 0.
    pub propagation: u64,
    /// The user namespace of MOUNT_ATTR_IDMAP.
    pub userns_fd: u64,
}

/// The real kernel.
#[derive(Debug, Default, Clone, Copy)]
pub struct LinuxSyscall;

impl Syscall for LinuxSyscall {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        nix::mount::mount(source, target, fstype, flags, data)
    }

    fn umount2(&self, target: &Path, flags: MntFlags) -> nix::Result<()> {
        nix::mount::umount2(target, flags)
    }

    fn mount_setattr(&self, target: &Path, recursive: bool, set: u64, clr: u64) -> nix::Result<()> {
        let attr = MountAttr {
            attr_set: set,
            attr_clr: clr,
            propagation: 0,
            userns_fd: 0,
        };
        let path = std::ffi::CString::new(target.as_os_str().as_encoded_bytes())
            .map_err(|_| nix::errno::Errno::EINVAL)?;
        let flags = if recursive { libc::AT_RECURSIVE } else { 0 };
        // SAFETY: path is a valid C string and attr a properly sized,
        // initialised mount_attr that outlives the call.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_mount_setattr,
                libc::AT_FDCWD,
                path.as_ptr(),
                flags,
                &attr as *const MountAttr,
                std::mem::size_of::<MountAttr>(),
            )
        };
        nix::errno::Errno::result(rc).map(drop)
    }

    fn move_mount(&self, from: BorrowedFd<'_>, target: &Path) -> nix::Result<()> {
        let path = std::ffi::CString::new(target.as_os_str().as_encoded_bytes())
            .map_err(|_| nix::errno::Errno::EINVAL)?;
        const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
        // The target is a /proc/self/fd magic link: follow it.
        const MOVE_MOUNT_T_SYMLINKS: libc::c_uint = 0x10;
        // SAFETY: `from` is an open mount descriptor and both paths are
        // valid C strings for the duration of the call.
        let rc = unsafe {
            libc::syscall(
                libc::SYS_move_mount,
                from.as_raw_fd(),
                c"".as_ptr(),
                libc::AT_FDCWD,
                path.as_ptr(),
                MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_SYMLINKS,
            )
        };
        nix::errno::Errno::result(rc).map(drop)
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
        nix::unistd::pivot_root(new_root, put_old)
    }

    fn chroot(&self, path: &Path) -> nix::Result<()> {
        nix::unistd::chroot(path)
    }

    fn chdir(&self, path: &Path) -> nix::Result<()> {
        nix::unistd::chdir(path)
    }

    fn fchdir(&self, dir: BorrowedFd<'_>) -> nix::Result<()> {
        nix::unistd::fchdir(dir)
    }

    fn mknod(&self, path: &Path, kind: SFlag, perm: Mode, dev: u64) -> nix::Result<()> {
        nix::sys::stat::mknod(path, kind, perm, dev)
    }
}
