//! A [`Syscall`] for unit tests: records the calls instead of making them.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::sys::stat::{Mode, SFlag};

use super::{Resource, Syscall};
use crate::tuning::scheduler::SchedAttr;

/// One recorded call, with `/proc/self/fd/N` targets resolved to the
/// path they named when the call was made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Call {
    /// mount(2).
    Mount {
        source: Option<PathBuf>,
        target: PathBuf,
        fstype: Option<String>,
        flags: MsFlags,
        data: Option<String>,
    },
    /// umount2(2).
    Umount { target: PathBuf },
    /// mount_setattr(2).
    SetAttr {
        target: PathBuf,
        recursive: bool,
        set: u64,
        clr: u64,
    },
    /// move_mount(2) of a detached mount.
    MoveMount { target: PathBuf },
    /// pivot_root(2).
    PivotRoot { new_root: PathBuf },
    /// chroot(2).
    Chroot { path: PathBuf },
    /// chdir(2).
    Chdir { path: PathBuf },
    /// fchdir(2), with the directory the descriptor names.
    Fchdir { dir: PathBuf },
    /// mknod(2).
    Mknod {
        path: PathBuf,
        kind: SFlag,
        perm: Mode,
        dev: u64,
    },
    /// setrlimit(2).
    Setrlimit { resource: u32, soft: u64, hard: u64 },
    /// sched_setattr(2): the policy.
    SchedSetattr { policy: u32 },
    /// ioprio_set(2).
    IoprioSet { value: i32 },
    /// set_mempolicy(2).
    SetMempolicy { mode: i32 },
    /// personality(2).
    Personality { persona: u64 },
    /// prctl(2).
    Prctl { option: i32, arg: u64, arg2: u64 },
    /// capset(2) of one set.
    Capset { set: String, caps: Vec<String> },
    /// setgroups(2).
    Setgroups { groups: Vec<u32> },
    /// setresgid(2).
    Setresgid { gid: u32 },
    /// setresuid(2).
    Setresuid { uid: u32 },
    /// umask(2).
    Umask { mode: u32 },
    /// sethostname(2).
    Sethostname { name: String },
    /// setdomainname(2).
    Setdomainname { name: String },
    /// setns(2), with the namespace the descriptor names.
    Setns { ns: PathBuf, nstype: CloneFlags },
    /// unshare(2).
    Unshare { flags: CloneFlags },
    /// setsid(2).
    Setsid,
    /// close_range(2).
    CloseRange { first: u32, last: u32 },
    /// keyctl(KEYCTL_JOIN_SESSION_KEYRING).
    JoinSessionKeyring { name: String },
    /// open_tree(2).
    OpenTree { path: PathBuf, recursive: bool },
    /// bpf(BPF_PROG_LOAD) of a device program: its instruction count, and
    /// whether the verifier's log was asked for.
    BpfLoad { insns: usize, logged: bool },
    /// bpf(BPF_PROG_ATTACH) to the cgroup directory at this path.
    BpfAttach { cgroup: PathBuf },
    /// mount_setattr(2) on a detached tree: the attributes set, and whether
    /// a user namespace came with them.
    SetattrTree {
        recursive: bool,
        set: u64,
        userns: bool,
    },
}

/// A [`Syscall`] that records calls and succeeds (or fails on request).
#[derive(Debug, Default)]
pub struct RecordingSyscall {
    calls: std::cell::RefCell<Vec<Call>>,
    fail_mount_type: Option<(String, nix::errno::Errno)>,
    /// A verifier log: bpf loads fail with EACCES and write it.
    bpf_verifier: Option<String>,
}

impl RecordingSyscall {
    /// A recorder whose mounts of `fstype` fail with `errno`.
    pub fn failing_mounts_of(fstype: &str, errno: nix::errno::Errno) -> Self {
        RecordingSyscall {
            fail_mount_type: Some((fstype.into(), errno)),
            ..Default::default()
        }
    }

    /// A recorder whose bpf loads fail with EACCES, writing `log` as the
    /// verifier's when asked for it.
    pub fn refusing_bpf(log: &str) -> Self {
        RecordingSyscall {
            bpf_verifier: Some(log.into()),
            ..Default::default()
        }
    }

    /// The calls so far.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.borrow().clone()
    }

    fn record(&self, call: Call) {
        self.calls.borrow_mut().push(call);
    }
}

/// Resolves a `/proc/self/fd/N` magic link to what it names now.
fn resolved(path: &Path) -> PathBuf {
    if let Ok(rest) = path.strip_prefix("/proc/self/fd") {
        let mut parts = rest.components();
        if let Some(fd) = parts.next() {
            if let Ok(target) = std::fs::read_link(Path::new("/proc/self/fd").join(fd)) {
                return target.join(parts.as_path());
            }
        }
    }
    path.to_path_buf()
}

impl Syscall for RecordingSyscall {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        if let (Some((t, errno)), Some(f)) = (&self.fail_mount_type, fstype) {
            if t == f {
                return Err(*errno);
            }
        }
        self.record(Call::Mount {
            source: source.map(resolved),
            target: resolved(target),
            fstype: fstype.map(String::from),
            flags,
            data: data.filter(|d| !d.is_empty()).map(String::from),
        });
        Ok(())
    }

    fn umount2(&self, target: &Path, _: MntFlags) -> nix::Result<()> {
        self.record(Call::Umount {
            target: resolved(target),
        });
        Ok(())
    }

    fn mount_setattr(&self, target: &Path, recursive: bool, set: u64, clr: u64) -> nix::Result<()> {
        self.record(Call::SetAttr {
            target: resolved(target),
            recursive,
            set,
            clr,
        });
        Ok(())
    }

    fn move_mount(&self, _: BorrowedFd<'_>, target: &Path) -> nix::Result<()> {
        self.record(Call::MoveMount {
            target: resolved(target),
        });
        Ok(())
    }

    fn pivot_root(&self, new_root: &Path, _: &Path) -> nix::Result<()> {
        self.record(Call::PivotRoot {
            new_root: resolved(new_root),
        });
        Ok(())
    }

    fn chroot(&self, path: &Path) -> nix::Result<()> {
        self.record(Call::Chroot {
            path: resolved(path),
        });
        Ok(())
    }

    fn chdir(&self, path: &Path) -> nix::Result<()> {
        self.record(Call::Chdir {
            path: resolved(path),
        });
        Ok(())
    }

    fn fchdir(&self, dir: BorrowedFd<'_>) -> nix::Result<()> {
        self.record(Call::Fchdir {
            dir: resolved(&PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()))),
        });
        Ok(())
    }

    fn mknod(&self, path: &Path, kind: SFlag, perm: Mode, dev: u64) -> nix::Result<()> {
        self.record(Call::Mknod {
            path: resolved(path),
            kind,
            perm,
            dev,
        });
        Ok(())
    }

    fn setrlimit(&self, resource: Resource, soft: u64, hard: u64) -> nix::Result<()> {
        self.record(Call::Setrlimit {
            resource,
            soft,
            hard,
        });
        Ok(())
    }

    fn sched_setattr(&self, attr: &SchedAttr) -> nix::Result<()> {
        self.record(Call::SchedSetattr {
            policy: attr.policy,
        });
        Ok(())
    }

    fn ioprio_set(&self, value: i32) -> nix::Result<()> {
        self.record(Call::IoprioSet { value });
        Ok(())
    }

    fn set_mempolicy(&self, mode: i32, _: &[u64]) -> nix::Result<()> {
        self.record(Call::SetMempolicy { mode });
        Ok(())
    }

    fn personality(&self, persona: libc::c_ulong) -> nix::Result<()> {
        self.record(Call::Personality { persona });
        Ok(())
    }

    fn prctl(&self, option: libc::c_int, arg: libc::c_ulong) -> nix::Result<()> {
        self.prctl2(option, arg, 0)
    }

    fn prctl2(
        &self,
        option: libc::c_int,
        arg: libc::c_ulong,
        arg2: libc::c_ulong,
    ) -> nix::Result<()> {
        self.record(Call::Prctl { option, arg, arg2 });
        Ok(())
    }

    fn capset(&self, set: caps::CapSet, value: &caps::CapsHashSet) -> nix::Result<()> {
        let mut caps: Vec<String> = value.iter().map(|c| c.to_string()).collect();
        caps.sort();
        self.record(Call::Capset {
            set: format!("{set:?}"),
            caps,
        });
        Ok(())
    }

    fn setgroups(&self, groups: &[u32]) -> nix::Result<()> {
        self.record(Call::Setgroups {
            groups: groups.to_vec(),
        });
        Ok(())
    }

    fn setresgid(&self, gid: u32) -> nix::Result<()> {
        self.record(Call::Setresgid { gid });
        Ok(())
    }

    fn setresuid(&self, uid: u32) -> nix::Result<()> {
        self.record(Call::Setresuid { uid });
        Ok(())
    }

    fn umask(&self, mode: Mode) {
        self.record(Call::Umask { mode: mode.bits() });
    }

    fn sethostname(&self, name: &str) -> nix::Result<()> {
        self.record(Call::Sethostname { name: name.into() });
        Ok(())
    }

    fn setdomainname(&self, name: &str) -> nix::Result<()> {
        self.record(Call::Setdomainname { name: name.into() });
        Ok(())
    }

    fn setns(&self, fd: BorrowedFd<'_>, nstype: CloneFlags) -> nix::Result<()> {
        self.record(Call::Setns {
            ns: resolved(&PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))),
            nstype,
        });
        Ok(())
    }

    fn unshare(&self, flags: CloneFlags) -> nix::Result<()> {
        self.record(Call::Unshare { flags });
        Ok(())
    }

    fn setsid(&self) -> nix::Result<()> {
        self.record(Call::Setsid);
        Ok(())
    }

    fn close_range(&self, first: u32, last: u32) -> nix::Result<()> {
        self.record(Call::CloseRange { first, last });
        Ok(())
    }

    fn join_session_keyring(&self, name: &str) -> nix::Result<()> {
        self.record(Call::JoinSessionKeyring { name: name.into() });
        Ok(())
    }

    fn bpf_load_device_program(&self, insns: &[u8], log: &mut [u8]) -> nix::Result<OwnedFd> {
        self.record(Call::BpfLoad {
            insns: insns.len() / 8,
            logged: !log.is_empty(),
        });
        if let Some(text) = &self.bpf_verifier {
            let n = text.len().min(log.len());
            log[..n].copy_from_slice(&text.as_bytes()[..n]);
            return Err(nix::errno::Errno::EACCES);
        }
        // A real descriptor stands in for the program.
        std::fs::File::open("/dev/null")
            .map(OwnedFd::from)
            .map_err(|e| nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0)))
    }

    fn bpf_attach_device_program(
        &self,
        cgroup: BorrowedFd<'_>,
        _prog: BorrowedFd<'_>,
    ) -> nix::Result<()> {
        let path =
            std::fs::read_link(format!("/proc/self/fd/{}", cgroup.as_raw_fd())).unwrap_or_default();
        self.record(Call::BpfAttach { cgroup: path });
        Ok(())
    }

    fn open_tree(&self, path: &Path, recursive: bool) -> nix::Result<OwnedFd> {
        self.record(Call::OpenTree {
            path: path.to_path_buf(),
            recursive,
        });
        // A real descriptor stands in for the tree.
        std::fs::File::open("/dev/null")
            .map(OwnedFd::from)
            .map_err(|_| nix::errno::Errno::EIO)
    }

    fn setattr_tree(
        &self,
        _: BorrowedFd<'_>,
        recursive: bool,
        attr: &super::MountAttr,
    ) -> nix::Result<()> {
        self.record(Call::SetattrTree {
            recursive,
            set: attr.attr_set,
            userns: attr.userns_fd != 0,
        });
        Ok(())
    }
}
