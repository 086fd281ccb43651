//! A private scratch directory for compilers that work in files: a tmpfs
//! that is mounted nowhere.
//!
//! WasmEdge's compiler links its output with lld through files (a
//! temporary shared object in `$TMPDIR`, then the output path). At
//! `create`, container init sees only the container's filesystem, where
//! another process of the container could swap a file between the
//! compiler writing it and hako reading it, and so poison the cache every
//! later container loads. A detached tmpfs (`fsopen` and `fsmount`, never
//! attached to a mount tree) is reachable only through init's own
//! descriptor, as `/proc/self/fd/<fd>`, and goes away with it.
//!
//! Mounting needs CAP_SYS_ADMIN (in init's user namespace), so init makes
//! it before it takes the workload's user and capabilities; the cache
//! holds it ([`crate::cache::ArtifactCache::scratch_fd`]) and closes it
//! before the guest runs.

use std::ffi::{c_uint, CStr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;

// From <linux/mount.h>.
const FSOPEN_CLOEXEC: c_uint = 1;
const FSCONFIG_SET_STRING: c_uint = 1;
const FSCONFIG_CMD_CREATE: c_uint = 6;
const FSMOUNT_CLOEXEC: c_uint = 1;
const MOUNT_ATTR_NOSUID: c_uint = 0x2;
const MOUNT_ATTR_NODEV: c_uint = 0x4;
const MOUNT_ATTR_NOEXEC: c_uint = 0x8;

/// The detached tmpfs, alive while this value is.
#[derive(Debug)]
pub struct Scratch {
    mount: OwnedFd,
}

impl Scratch {
    /// Creates the tmpfs (charged to the container's memory cgroup like
    /// any tmpfs of it). Its root is world-writable with the sticky bit,
    /// as /tmp is: the compiler runs as the workload's user, and nothing
    /// but init can reach the directory anyway.
    pub fn new() -> Result<Scratch, String> {
        let fail = |what: &str| format!("{what}: {}", std::io::Error::last_os_error());
        // SAFETY: fsopen with a static NUL-terminated name; checked below.
        let fs = unsafe { libc::syscall(libc::SYS_fsopen, c"tmpfs".as_ptr(), FSOPEN_CLOEXEC) };
        if fs < 0 {
            return Err(fail("fsopen tmpfs"));
        }
        // SAFETY: a fresh descriptor, owned from here on.
        let fs = unsafe { OwnedFd::from_raw_fd(fs as i32) };
        fsconfig(&fs, FSCONFIG_SET_STRING, Some((c"mode", c"1777")))
            .map_err(|()| fail("setting the tmpfs mode"))?;
        fsconfig(&fs, FSCONFIG_CMD_CREATE, None).map_err(|()| fail("creating a tmpfs"))?;
        // SAFETY: fsmount of the configured context; checked below.
        let mount = unsafe {
            libc::syscall(
                libc::SYS_fsmount,
                fs.as_raw_fd(),
                FSMOUNT_CLOEXEC,
                MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC,
            )
        };
        if mount < 0 {
            return Err(fail("mounting a tmpfs"));
        }
        // SAFETY: a fresh descriptor, owned from here on.
        let mount = unsafe { OwnedFd::from_raw_fd(mount as i32) };
        Ok(Scratch { mount })
    }

    /// The descriptor of the tmpfs's root.
    pub fn fd(&self) -> RawFd {
        self.mount.as_raw_fd()
    }
}

/// One fsconfig(2) command on a filesystem context, with a string option
/// or none; `Err` leaves the reason in errno.
fn fsconfig(fs: &OwnedFd, cmd: c_uint, option: Option<(&CStr, &CStr)>) -> Result<(), ()> {
    let (key, value) = option.map_or((std::ptr::null(), std::ptr::null()), |(k, v)| {
        (k.as_ptr(), v.as_ptr())
    });
    // SAFETY: a live context descriptor; key and value are null or
    // NUL-terminated strings that outlive the call.
    let r = unsafe { libc::syscall(libc::SYS_fsconfig, fs.as_raw_fd(), cmd, key, value, 0) };
    if r < 0 {
        Err(())
    } else {
        Ok(())
    }
}

/// The directory behind a scratch descriptor, as a path this process (and
/// only it) can use. Needs the container's `/proc`.
pub fn path_of(fd: RawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{fd}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_detached_tmpfs_is_writable_through_the_descriptor_only() {
        // Needs CAP_SYS_ADMIN, as init has it: the tests run as root.
        let scratch = Scratch::new().unwrap();
        let dir = path_of(scratch.fd());
        std::fs::write(dir.join("f"), b"x").unwrap();
        assert_eq!(std::fs::read(dir.join("f")).unwrap(), b"x");
        // Attached nowhere: no mount of this process has its device.
        use std::os::unix::fs::MetadataExt;
        let dev = std::fs::metadata(&dir).unwrap().dev();
        let dev = format!("{}:{}", libc::major(dev), libc::minor(dev));
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(
            !mountinfo
                .lines()
                .any(|l| l.split(' ').nth(2) == Some(&*dev)),
            "the tmpfs {dev} is attached somewhere"
        );
    }
}
