//! Loading the device program and attaching it to a cgroup v2 directory.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::{program, Insn, Rule};
use crate::error::{Error, Result};

/// Loads the program and attaches it to a v2 cgroup directory, replacing
/// a program hako attached before (no BPF_F_ALLOW_MULTI).
pub fn attach_v2(cgroup: &std::path::Path, rules: &[Rule]) -> Result<()> {
    let insns: Vec<u8> = program(rules).iter().flat_map(Insn::bytes).collect();
    let license = c"GPL";
    // union bpf_attr for BPF_PROG_LOAD (first fields).
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
    let load = |log: &mut [u8]| -> libc::c_long {
        let attr = Load {
            prog_type: 15, // BPF_PROG_TYPE_CGROUP_DEVICE
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
        unsafe {
            libc::syscall(
                libc::SYS_bpf,
                5, /* BPF_PROG_LOAD */
                &attr as *const Load,
                std::mem::size_of::<Load>(),
            )
        }
    };
    let fd = load(&mut []);
    if fd < 0 {
        let errno = nix::errno::Errno::last();
        // Load again with the verifier's log, to say why.
        let mut log = vec![0u8; 1 << 20];
        load(&mut log);
        let text = String::from_utf8_lossy(&log);
        let why = text
            .trim_matches(char::from(0))
            .lines()
            .rev()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        return Err(Error::Sys {
            context: format!("loading the device eBPF program (verifier: {why})"),
            errno,
        });
    }
    // SAFETY: the kernel returned a new descriptor we own.
    let prog = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let dir = std::fs::File::open(cgroup).map_err(|e| Error::Io {
        context: format!("opening {}", cgroup.display()),
        err: e,
    })?;
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
    let attr = Attach {
        target_fd: dir.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: 6, /* BPF_CGROUP_DEVICE */
        ..Default::default()
    };
    // SAFETY: attr is a valid bpf_attr prefix for BPF_PROG_ATTACH.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            8, /* BPF_PROG_ATTACH */
            &attr as *const Attach,
            std::mem::size_of::<Attach>(),
        )
    };
    if rc < 0 {
        return Err(Error::Sys {
            context: format!("attaching the device eBPF program to {}", cgroup.display()),
            errno: nix::errno::Errno::last(),
        });
    }
    Ok(())
}
