//! Forking straight into a cgroup: `clone3(CLONE_INTO_CGROUP)`.
//!
//! Moving a process into a cgroup by writing `cgroup.procs` takes the
//! kernel's cgroup threadgroup lock for writing, which first waits out an
//! RCU grace period when no other move happened lately: several
//! milliseconds of idle time for the first move of every container, on
//! the path of every `create`. A child created in its cgroup takes that
//! lock only for reading, as any fork does. So where the container has a
//! cgroup v2 directory that hako manages (cgroupfs driver), hako forks
//! the intermediate process into it, as crun does on pure v2, and the
//! intermediate joins only the v1 hierarchies of a hybrid host, thread by
//! thread (`CgroupSet::join_plan`), which needs no such lock either.
//! Elsewhere (a systemd unit, a kernel before 5.7, a refused clone3) it
//! forks and joins.
//!
//! Only hako's single-threaded processes use it, like `fork`: the child
//! gets a copy of the parent's memory and runs on. glibc's own fork
//! bookkeeping (at-fork handlers, its cached thread id) is skipped; none
//! of it is used by hako's code, which takes no pthread locks.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::path::Path;

use nix::errno::Errno;
use nix::unistd::{ForkResult, Pid};

/// `struct clone_args` of clone3(2), as of Linux 5.7.
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Forks this process with the child in the cgroup v2 directory `cgroup`.
///
/// # Safety
/// As for `fork`: the calling process must be single-threaded, and the
/// child must not return into code that assumes otherwise.
pub unsafe fn fork_into_cgroup(cgroup: BorrowedFd) -> nix::Result<ForkResult> {
    let args = CloneArgs {
        flags: CLONE_INTO_CGROUP,
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.as_raw_fd() as u64,
        ..CloneArgs::default()
    };
    // SAFETY: `args` is a valid clone_args of the size passed; without
    // CLONE_VM or a stack the child is a copy of this process, as after
    // fork, and the caller vouches for the rest.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match ret {
        -1 => Err(Errno::last()),
        0 => Ok(ForkResult::Child),
        pid => Ok(ForkResult::Parent {
            child: Pid::from_raw(pid as i32),
        }),
    }
}

/// Forks this process: straight into the cgroup v2 directory `target`
/// when one is given and the kernel takes it, else as a plain fork. Says
/// whether the child started in `target` (if not, it joins by itself).
///
/// # Safety
/// As for `fork`: the calling process must be single-threaded.
pub unsafe fn fork_into(target: Option<&Path>) -> (nix::Result<ForkResult>, bool) {
    if let Some(dir) = target {
        if let Ok(fd) = std::fs::File::open(dir) {
            // SAFETY: the caller vouches for a single-threaded process.
            match unsafe { fork_into_cgroup(fd.as_fd()) } {
                Ok(forked) => return (Ok(forked), true),
                Err(e) => tracing::debug!(
                    cgroup = %dir.display(),
                    "clone3 into the cgroup refused ({e}): forking and joining"
                ),
            }
        }
    }
    // SAFETY: as above.
    (unsafe { nix::unistd::fork() }, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Root and a cgroup v2 tree (the hybrid host's /sys/fs/cgroup/unified
    /// or a pure v2 /sys/fs/cgroup): the child starts in the cgroup given,
    /// and the parent stays where it was.
    #[test]
    fn the_child_starts_in_the_cgroup() {
        let tree = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
            .into_iter()
            .find(|t| {
                std::path::Path::new(t).join("cgroup.procs").exists()
                    && std::fs::read_to_string("/proc/self/mounts")
                        .unwrap()
                        .lines()
                        .any(|l| l.split_whitespace().nth(1) == Some(t) && l.contains(" cgroup2 "))
            })
            .expect("this test needs a cgroup v2 tree");
        let name = format!("hako-clone-into-{}", std::process::id());
        let dir = std::path::Path::new(tree).join(&name);
        std::fs::create_dir(&dir).unwrap();
        let fd = std::fs::File::open(&dir).unwrap();
        let mine = std::fs::read_to_string("/proc/self/cgroup").unwrap();
        let (r, w) = std::io::pipe().unwrap();
        // SAFETY: the child makes only raw syscalls (no allocation: other
        // test threads may hold malloc's lock) and _exits.
        match unsafe { fork_into_cgroup(fd.as_fd()) }.unwrap() {
            ForkResult::Child => {
                let mut buf = [0u8; 512];
                // SAFETY: a NUL-terminated path, a buffer of its length, a
                // pipe descriptor this process holds.
                unsafe {
                    let f = libc::open(c"/proc/self/cgroup".as_ptr(), libc::O_RDONLY);
                    let n = libc::read(f, buf.as_mut_ptr().cast(), buf.len());
                    libc::write(w.as_raw_fd(), buf.as_ptr().cast(), n.max(0) as usize);
                    libc::_exit(0)
                }
            }
            ForkResult::Parent { child } => {
                drop(w);
                let mut seen = String::new();
                std::io::Read::read_to_string(&mut &r, &mut seen).unwrap();
                nix::sys::wait::waitpid(child, None).unwrap();
                std::fs::remove_dir(&dir).unwrap();
                assert!(seen.contains(&format!("0::/{name}\n")), "{seen}");
                assert_eq!(std::fs::read_to_string("/proc/self/cgroup").unwrap(), mine);
            }
        }
    }
}
