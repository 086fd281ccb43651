//! The two bpf(2) commands hako uses: loading a cgroup device program and
//! attaching it to a cgroup v2 directory.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

// From <linux/bpf.h>.
const BPF_PROG_LOAD: libc::c_long = 5;
const BPF_PROG_ATTACH: libc::c_long = 8;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;

/// The first fields of `union bpf_attr` for BPF_PROG_LOAD, padded to a
/// size the kernel accepts (it checks that unused bytes are zero).
#[repr(C)]
#[derive(Default)]
struct Load {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    pad: [u64; 12],
}

/// `union bpf_attr` for BPF_PROG_ATTACH.
#[repr(C)]
#[derive(Default)]
struct Attach {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
    pad: [u32; 7],
}

/// Loads `insns` (8-byte instructions) as a GPL cgroup device program,
/// with the verifier's log in `log` when it is not empty.
pub(super) fn load_device_program(insns: &[u8], log: &mut [u8]) -> nix::Result<OwnedFd> {
    let license = c"GPL";
    let attr = Load {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: (insns.len() / 8) as u32,
        insns: insns.as_ptr() as u64,
        license: license.as_ptr() as u64,
        log_level: u32::from(!log.is_empty()),
        log_size: log.len() as u32,
        log_buf: if log.is_empty() {
            0
        } else {
            log.as_mut_ptr() as u64
        },
        ..Default::default()
    };
    // SAFETY: attr points at live buffers (insns, license, log) for the call.
    let fd = unsafe { bpf(BPF_PROG_LOAD, &attr) }?;
    // SAFETY: the kernel returned a new descriptor this process owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Attaches a device program to a cgroup v2 directory, replacing one
/// attached before (no BPF_F_ALLOW_MULTI).
pub(super) fn attach_device_program(
    cgroup: BorrowedFd<'_>,
    prog: BorrowedFd<'_>,
) -> nix::Result<()> {
    let attr = Attach {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        ..Default::default()
    };
    // SAFETY: attr is a valid bpf_attr for BPF_PROG_ATTACH.
    unsafe { bpf(BPF_PROG_ATTACH, &attr) }.map(drop)
}

/// bpf(2) with `attr` as the `union bpf_attr` of `cmd`.
///
/// # Safety
/// `attr` must be the attribute layout `cmd` expects, and every pointer
/// in it valid for the call.
unsafe fn bpf<T>(cmd: libc::c_long, attr: &T) -> nix::Result<libc::c_long> {
    // SAFETY: per this function's contract.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *const T,
            std::mem::size_of::<T>(),
        )
    };
    if rc < 0 {
        return Err(nix::errno::Errno::last());
    }
    Ok(rc)
}
