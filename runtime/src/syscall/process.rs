//! The raw calls behind [`super::LinuxSyscall`]'s process methods, for
//! which nix has no wrapper.

use crate::tuning::scheduler::SchedAttr;

/// setrlimit(2).
pub fn setrlimit(resource: super::Resource, soft: u64, hard: u64) -> nix::Result<()> {
    let value = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: value is a valid rlimit for the duration of the call.
    let rc = unsafe { libc::setrlimit(resource, &value) };
    nix::errno::Errno::result(rc).map(drop)
}

/// sched_setattr(2) of the calling thread.
pub fn sched_setattr(attr: &SchedAttr) -> nix::Result<()> {
    // SAFETY: attr is a valid, sized sched_attr for the duration of the
    // call; pid 0 is the calling thread.
    let rc = unsafe { libc::syscall(libc::SYS_sched_setattr, 0, attr as *const SchedAttr, 0) };
    nix::errno::Errno::result(rc).map(drop)
}

/// ioprio_set(2) of the calling process.
pub fn ioprio_set(value: i32) -> nix::Result<()> {
    const IOPRIO_WHO_PROCESS: libc::c_int = 1;
    // SAFETY: plain integers; who 0 is the calling process.
    let rc = unsafe { libc::syscall(libc::SYS_ioprio_set, IOPRIO_WHO_PROCESS, 0, value) };
    nix::errno::Errno::result(rc).map(drop)
}

/// set_mempolicy(2).
pub fn set_mempolicy(mode: i32, nodes: &[u64]) -> nix::Result<()> {
    let empty = nodes.iter().all(|w| *w == 0);
    let (mask, maxnode) = if empty {
        (std::ptr::null(), 0)
    } else {
        // maxnode counts bits, plus one (the kernel's off-by-one).
        (nodes.as_ptr(), (nodes.len() * 64 + 1) as libc::c_ulong)
    };
    // SAFETY: mask is null or points to `nodes`, valid for the call, and
    // maxnode does not exceed its bits.
    let rc = unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, mask, maxnode) };
    nix::errno::Errno::result(rc).map(drop)
}

/// personality(2).
pub fn personality(persona: libc::c_ulong) -> nix::Result<()> {
    // SAFETY: plain integer argument.
    let rc = unsafe { libc::personality(persona) };
    nix::errno::Errno::result(rc).map(drop)
}

/// prctl(2) with up to two integer arguments; the rest are zero.
pub fn prctl(option: libc::c_int, arg: libc::c_ulong, arg2: libc::c_ulong) -> nix::Result<()> {
    // SAFETY: the options hako uses take integers only; the unused
    // arguments must be zero.
    let rc = unsafe { libc::prctl(option, arg, arg2, 0 as libc::c_ulong, 0 as libc::c_ulong) };
    nix::errno::Errno::result(rc).map(drop)
}

/// setdomainname(2).
pub fn setdomainname(name: &str) -> nix::Result<()> {
    // SAFETY: the pointer and length describe `name`, valid for the call.
    let rc = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    nix::errno::Errno::result(rc).map(drop)
}

/// keyctl(KEYCTL_JOIN_SESSION_KEYRING, name).
pub fn join_session_keyring(name: &str) -> nix::Result<()> {
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    let name = std::ffi::CString::new(name).map_err(|_| nix::errno::Errno::EINVAL)?;
    // SAFETY: keyctl(JOIN_SESSION_KEYRING, name) reads a valid C string.
    let rc = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    nix::errno::Errno::result(rc).map(drop)
}
