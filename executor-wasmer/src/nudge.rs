//! A wake-up call for a guest sleeping on its own thread.
//!
//! wasmer-wasix blocks a guest's syscall by parking its thread until a
//! waker unparks it. A guest that sleeps with nothing else to wait for
//! needs no other thread: [`crate::tasks`]' sleep waits on a [`Nudge`]
//! with the sleep's timeout instead of on a timer thread. Whatever can
//! make a sleeping guest's other wait ready (the stdin watcher) nudges,
//! so that a poll of stdin with a timeout returns once stdin is readable.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// An eventfd: nudges add up until a wait takes them.
#[derive(Debug)]
pub(crate) struct Nudge(OwnedFd);

impl Nudge {
    /// A new eventfd, not nudged.
    pub(crate) fn new() -> io::Result<Self> {
        // SAFETY: plain syscall; a descriptor or -1 comes back.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: eventfd just returned this descriptor; we own it.
        Ok(Nudge(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Wakes the current or next [`Nudge::wait`].
    pub(crate) fn nudge(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64. A full counter (never,
        // in practice) still leaves the eventfd readable, which is all a
        // waiter looks at.
        unsafe { libc::write(self.0.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// Waits until nudged or `timeout` has passed (or a signal came);
    /// returns whether it was nudged, and takes the nudges.
    pub(crate) fn wait(&self, timeout: Duration) -> bool {
        let mut pfd = libc::pollfd {
            fd: self.0.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ts = libc::timespec {
            tv_sec: timeout.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
            tv_nsec: timeout.subsec_nanos() as libc::c_long,
        };
        // SAFETY: one valid pollfd, a valid timespec, no signal mask.
        let n = unsafe { libc::ppoll(&mut pfd, 1, &ts, std::ptr::null()) };
        if n <= 0 {
            return false;
        }
        let mut count: u64 = 0;
        // SAFETY: reads 8 bytes into a valid u64; the fd is non-blocking.
        unsafe { libc::read(self.0.as_raw_fd(), (&mut count as *mut u64).cast(), 8) };
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn a_nudge_cuts_a_wait_short_and_is_taken() {
        let n = Nudge::new().unwrap();
        let start = Instant::now();
        assert!(!n.wait(Duration::from_millis(30)));
        assert!(start.elapsed() >= Duration::from_millis(30));
        n.nudge();
        n.nudge();
        assert!(n.wait(Duration::from_secs(10)));
        // Both nudges were taken by that one wait.
        assert!(!n.wait(Duration::ZERO));
    }

    #[test]
    fn a_nudge_from_another_thread_wakes_the_waiter() {
        let n = std::sync::Arc::new(Nudge::new().unwrap());
        let other = std::sync::Arc::clone(&n);
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            other.nudge();
        });
        assert!(n.wait(Duration::from_secs(10)));
        t.join().unwrap();
    }
}
