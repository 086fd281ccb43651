//! File descriptors crossing into the container.
//!
//! The container gets 0, 1, 2 and the preserved descriptors (3 up to
//! 3 + LISTEN_FDS + --preserve-fds); everything else hako has open is
//! closed before the workload can see it, which is what stops a leaked
//! host directory from becoming the container's working directory
//! (CVE-2024-21626).

use std::os::fd::RawFd;

use crate::error::{Context, Error, Result};
use crate::syscall::Syscall;

/// Whether a descriptor is open.
pub fn is_open(fd: RawFd) -> bool {
    // SAFETY: F_GETFD only queries the descriptor table.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

static PLACEHOLDERS: std::sync::OnceLock<Vec<RawFd>> = std::sync::OnceLock::new();

/// Fills the descriptors of the preserved range (3 up to 3 + `count`)
/// that the caller did not open with close-on-exec placeholders, before
/// hako opens anything: hako's own descriptors then cannot land in the
/// range and reach the container. The placeholders never reach the
/// workload (see [`close_placeholders`]). Returns how many were needed.
pub fn reserve_preserved(count: RawFd) -> Result<usize> {
    let mut held = Vec::new();
    for fd in 3..3 + count {
        if is_open(fd) {
            continue;
        }
        let null = nix::fcntl::open(
            "/dev/null",
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .ctx(|| format!("--preserve-fds {count}: reserving descriptor {fd}"))?;
        let raw = std::os::fd::IntoRawFd::into_raw_fd(null);
        if raw != fd {
            // SAFETY: dup3 onto a number that is free; `raw` is ours.
            let rc = unsafe { libc::dup3(raw, fd, libc::O_CLOEXEC) };
            // SAFETY: `raw` was just opened and is not used elsewhere.
            unsafe { libc::close(raw) };
            if rc < 0 {
                return Err(Error::invalid(format!(
                    "--preserve-fds {count}: reserving descriptor {fd}: {}",
                    std::io::Error::last_os_error()
                )));
            }
        }
        held.push(fd);
    }
    let n = held.len();
    let _ = PLACEHOLDERS.set(held);
    Ok(n)
}

/// Closes the placeholders of [`reserve_preserved`]: an in-process
/// workload never execs, so close-on-exec alone would not remove them.
pub fn close_placeholders() {
    for fd in PLACEHOLDERS.get().map(Vec::as_slice).unwrap_or_default() {
        // SAFETY: these descriptors are hako's placeholders, owned by no
        // Rust object.
        unsafe { libc::close(*fd) };
    }
}

/// The ranges of descriptors to close: everything from `first` up, except
/// the sorted `keep` list.
pub fn gaps(first: RawFd, keep: &[RawFd]) -> Vec<(u32, u32)> {
    let mut keep: Vec<RawFd> = keep.iter().copied().filter(|k| *k >= first).collect();
    keep.sort_unstable();
    keep.dedup();
    let mut out = Vec::new();
    let mut lo = first as u32;
    for k in keep {
        let k = k as u32;
        if k > lo {
            out.push((lo, k - 1));
        }
        lo = k + 1;
    }
    out.push((lo, u32::MAX));
    out
}

/// Closes every descriptor from `first` up except `keep` (the caller
/// lists every descriptor it still needs).
pub fn close_from(sys: &dyn Syscall, first: RawFd, keep: &[RawFd]) -> Result<()> {
    for (lo, hi) in gaps(first, keep) {
        match sys.close_range(lo, hi) {
            Ok(()) => {}
            // Kernels before 5.9 have no close_range, and an old seccomp
            // profile denies it: close what /proc says is open instead.
            Err(nix::errno::Errno::ENOSYS | nix::errno::Errno::EPERM) => close_listed(lo, hi)?,
            Err(errno) => {
                return Err(errno).ctx(|| format!("closing file descriptors {lo}-{hi}"));
            }
        }
    }
    Ok(())
}

/// Closes the open descriptors in `lo..=hi`, as listed in /proc/self/fd.
fn close_listed(lo: u32, hi: u32) -> Result<()> {
    let listed: Vec<u32> = std::fs::read_dir("/proc/self/fd")
        .ctx(|| "listing /proc/self/fd".into())?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    // The directory's own descriptor is in the list but closed by now:
    // EBADF is expected for it.
    for fd in listed.into_iter().filter(|fd| (lo..=hi).contains(fd)) {
        // SAFETY: as in `close_from`: descriptors the caller gave up.
        unsafe { libc::close(fd as RawFd) };
    }
    Ok(())
}

/// Socket activation: descriptors systemd passed to hako go on to the
/// container (LISTEN_FDS, as runc). Only when LISTEN_PID names this
/// process: a LISTEN_FDS inherited from further up is not ours.
pub fn listen_fds() -> i32 {
    listen_fds_for(
        std::env::var("LISTEN_FDS").ok().as_deref(),
        std::env::var("LISTEN_PID").ok().as_deref(),
        std::process::id(),
    )
}

/// [`listen_fds`] from the variables' values and this process's pid.
pub fn listen_fds_for(fds: Option<&str>, pid: Option<&str>, me: u32) -> i32 {
    if pid.and_then(|p| p.parse::<u32>().ok()) != Some(me) {
        return 0;
    }
    fds.and_then(|v| v.parse::<i32>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_fds_only_for_this_process() {
        assert_eq!(listen_fds_for(Some("2"), Some("42"), 42), 2);
        assert_eq!(listen_fds_for(Some("2"), Some("41"), 42), 0);
        assert_eq!(listen_fds_for(Some("2"), None, 42), 0);
        assert_eq!(listen_fds_for(Some("-1"), Some("42"), 42), 0);
        assert_eq!(listen_fds_for(None, Some("42"), 42), 0);
    }

    #[test]
    fn listed_descriptors_in_range_are_closed() {
        let a = nix::fcntl::open(
            "/dev/null",
            nix::fcntl::OFlag::O_RDONLY,
            nix::sys::stat::Mode::empty(),
        )
        .unwrap();
        // High up, where no other test's descriptor lands meanwhile.
        // SAFETY: F_DUPFD_CLOEXEC duplicates a descriptor this test owns.
        let a = unsafe {
            libc::fcntl(
                std::os::fd::AsRawFd::as_raw_fd(&a),
                libc::F_DUPFD_CLOEXEC,
                900,
            )
        };
        assert!(a >= 900 && is_open(a));
        close_listed(a as u32, a as u32).unwrap();
        assert!(!is_open(a), "descriptor {a} is still open");
    }

    #[test]
    fn gaps_skip_kept_descriptors() {
        assert_eq!(gaps(3, &[]), vec![(3, u32::MAX)]);
        assert_eq!(gaps(3, &[7, 5, 1]), vec![(3, 4), (6, 6), (8, u32::MAX)]);
        assert_eq!(gaps(3, &[3, 4]), vec![(5, u32::MAX)]);
    }
}
