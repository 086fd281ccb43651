//! The seam between container set-up logic and the kernel.
//!
//! Mounting, pivoting, creating device nodes, and changing a process's
//! limits, scheduling, capabilities, user and names need root and change
//! the machine; they go through [`Syscall`] so that the logic deciding
//! *what* to do, and in which order, can be unit-tested with a recording
//! double (`recording`, built for tests only), which records the calls
//! instead of making them. File creation inside a rootfs is not behind
//! the seam: tests run it for real in a temporary directory.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;

mod bpf;
mod process;
#[cfg(test)]
mod recording;
mod tree;
#[cfg(test)]
pub use recording::{Call, RecordingSyscall};

use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::stat::{Mode, SFlag};

use crate::tuning::scheduler::SchedAttr;

/// Privileged operations used while building a container and its
/// processes.
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
    /// setrlimit(2).
    fn setrlimit(&self, resource: Resource, soft: u64, hard: u64) -> nix::Result<()>;
    /// sched_setattr(2) of the calling thread.
    fn sched_setattr(&self, attr: &SchedAttr) -> nix::Result<()>;
    /// ioprio_set(2) of the calling process.
    fn ioprio_set(&self, value: i32) -> nix::Result<()>;
    /// set_mempolicy(2); no nodes for the modes that take none.
    fn set_mempolicy(&self, mode: i32, nodes: &[u64]) -> nix::Result<()>;
    /// personality(2).
    fn personality(&self, persona: libc::c_ulong) -> nix::Result<()>;
    /// prctl(2) with one integer argument (no_new_privs, dumpable,
    /// keepcaps, the bounding and ambient capability sets).
    fn prctl(&self, option: libc::c_int, arg: libc::c_ulong) -> nix::Result<()>;
    /// prctl(2) with two integer arguments (PR_CAP_AMBIENT_RAISE).
    fn prctl2(
        &self,
        option: libc::c_int,
        arg: libc::c_ulong,
        arg2: libc::c_ulong,
    ) -> nix::Result<()>;
    /// capset(2) of one set of the calling thread.
    fn capset(&self, set: caps::CapSet, value: &caps::CapsHashSet) -> nix::Result<()>;
    /// setgroups(2).
    fn setgroups(&self, groups: &[u32]) -> nix::Result<()>;
    /// setresgid(2) with one gid for all three.
    fn setresgid(&self, gid: u32) -> nix::Result<()>;
    /// setresuid(2) with one uid for all three.
    fn setresuid(&self, uid: u32) -> nix::Result<()>;
    /// umask(2).
    fn umask(&self, mode: Mode);
    /// sethostname(2).
    fn sethostname(&self, name: &str) -> nix::Result<()>;
    /// setdomainname(2).
    fn setdomainname(&self, name: &str) -> nix::Result<()>;
    /// setns(2).
    fn setns(&self, fd: BorrowedFd<'_>, nstype: CloneFlags) -> nix::Result<()>;
    /// unshare(2).
    fn unshare(&self, flags: CloneFlags) -> nix::Result<()>;
    /// setsid(2).
    fn setsid(&self) -> nix::Result<()>;
    /// close_range(2) of `first..=last`, no flags.
    fn close_range(&self, first: u32, last: u32) -> nix::Result<()>;
    /// keyctl(KEYCTL_JOIN_SESSION_KEYRING): a new session keyring `name`.
    fn join_session_keyring(&self, name: &str) -> nix::Result<()>;
    /// open_tree(2) with OPEN_TREE_CLONE: a detached copy of the mount at
    /// `path` (with the mounts below it when `recursive`).
    fn open_tree(&self, path: &Path, recursive: bool) -> nix::Result<OwnedFd>;
    /// mount_setattr(2) on a detached tree's descriptor.
    fn setattr_tree(
        &self,
        tree: BorrowedFd<'_>,
        recursive: bool,
        attr: &MountAttr,
    ) -> nix::Result<()>;
    /// bpf(BPF_PROG_LOAD) of a cgroup device program from 8-byte
    /// instructions, with the verifier's log in `log` when it is not empty.
    fn bpf_load_device_program(&self, insns: &[u8], log: &mut [u8]) -> nix::Result<OwnedFd>;
    /// bpf(BPF_PROG_ATTACH) of a device program to a cgroup v2 directory.
    fn bpf_attach_device_program(
        &self,
        cgroup: BorrowedFd<'_>,
        prog: BorrowedFd<'_>,
    ) -> nix::Result<()>;
}

/// A resource of setrlimit(2).
pub type Resource = libc::__rlimit_resource_t;

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

    fn setrlimit(&self, resource: Resource, soft: u64, hard: u64) -> nix::Result<()> {
        process::setrlimit(resource, soft, hard)
    }

    fn sched_setattr(&self, attr: &SchedAttr) -> nix::Result<()> {
        process::sched_setattr(attr)
    }

    fn ioprio_set(&self, value: i32) -> nix::Result<()> {
        process::ioprio_set(value)
    }

    fn set_mempolicy(&self, mode: i32, nodes: &[u64]) -> nix::Result<()> {
        process::set_mempolicy(mode, nodes)
    }

    fn personality(&self, persona: libc::c_ulong) -> nix::Result<()> {
        process::personality(persona)
    }

    fn prctl(&self, option: libc::c_int, arg: libc::c_ulong) -> nix::Result<()> {
        process::prctl(option, arg, 0)
    }

    fn prctl2(
        &self,
        option: libc::c_int,
        arg: libc::c_ulong,
        arg2: libc::c_ulong,
    ) -> nix::Result<()> {
        process::prctl(option, arg, arg2)
    }

    fn capset(&self, set: caps::CapSet, value: &caps::CapsHashSet) -> nix::Result<()> {
        // The caps crate's errors are strings; capset(2)'s errno is kept.
        caps::set(None, set, value).map_err(|_| nix::errno::Errno::last())
    }

    fn setgroups(&self, groups: &[u32]) -> nix::Result<()> {
        let groups: Vec<nix::unistd::Gid> = groups
            .iter()
            .map(|g| nix::unistd::Gid::from_raw(*g))
            .collect();
        nix::unistd::setgroups(&groups)
    }

    fn setresgid(&self, gid: u32) -> nix::Result<()> {
        let gid = nix::unistd::Gid::from_raw(gid);
        nix::unistd::setresgid(gid, gid, gid)
    }

    fn setresuid(&self, uid: u32) -> nix::Result<()> {
        let uid = nix::unistd::Uid::from_raw(uid);
        nix::unistd::setresuid(uid, uid, uid)
    }

    fn umask(&self, mode: Mode) {
        nix::sys::stat::umask(mode);
    }

    fn sethostname(&self, name: &str) -> nix::Result<()> {
        nix::unistd::sethostname(name)
    }

    fn setdomainname(&self, name: &str) -> nix::Result<()> {
        process::setdomainname(name)
    }

    fn setns(&self, fd: BorrowedFd<'_>, nstype: CloneFlags) -> nix::Result<()> {
        nix::sched::setns(fd, nstype)
    }

    fn unshare(&self, flags: CloneFlags) -> nix::Result<()> {
        nix::sched::unshare(flags)
    }

    fn setsid(&self) -> nix::Result<()> {
        nix::unistd::setsid().map(drop)
    }

    fn join_session_keyring(&self, name: &str) -> nix::Result<()> {
        process::join_session_keyring(name)
    }

    fn close_range(&self, first: u32, last: u32) -> nix::Result<()> {
        // SAFETY: closing descriptors the caller gave up; the syscall
        // touches no memory.
        nix::errno::Errno::result(unsafe { libc::close_range(first, last, 0) }).map(drop)
    }

    fn open_tree(&self, path: &Path, recursive: bool) -> nix::Result<OwnedFd> {
        tree::open_tree(path, recursive)
    }

    fn setattr_tree(
        &self,
        tree: BorrowedFd<'_>,
        recursive: bool,
        attr: &MountAttr,
    ) -> nix::Result<()> {
        tree::setattr(tree, recursive, attr)
    }

    fn bpf_load_device_program(&self, insns: &[u8], log: &mut [u8]) -> nix::Result<OwnedFd> {
        bpf::load_device_program(insns, log)
    }

    fn bpf_attach_device_program(
        &self,
        cgroup: BorrowedFd<'_>,
        prog: BorrowedFd<'_>,
    ) -> nix::Result<()> {
        bpf::attach_device_program(cgroup, prog)
    }
}
