//! Waiting in the foreground for a container process hako did not fork
//! directly (`run`, `exec`): hako becomes a subreaper so the process is
//! re-parented to it, forwards every signal it gets, and reaps.

use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};

use crate::error::{Context, Result};

/// Set up before forking, so no signal or child exit is missed.
#[derive(Debug)]
pub struct Waiter {
    sfd: SignalFd,
}

impl Waiter {
    /// Becomes a subreaper and blocks the signals to forward (the children
    /// inherit the mask; container init and exec processes reset it).
    pub fn new() -> Result<Waiter> {
        nix::sys::prctl::set_child_subreaper(true).ctx(|| "becoming a child subreaper".into())?;
        let mut signals = SigSet::all();
        signals.remove(Signal::SIGKILL);
        signals.remove(Signal::SIGSTOP);
        signals
            .thread_block()
            .ctx(|| "blocking signals to forward".into())?;
        let sfd = SignalFd::with_flags(&signals, SfdFlags::SFD_CLOEXEC)
            .ctx(|| "creating a signalfd".into())?;
        Ok(Waiter { sfd })
    }

    /// Waits for `pid`, forwarding every other signal to it; returns its
    /// exit code (128 + N when killed by signal N).
    pub fn wait(&self, pid: i32, tty: Option<&super::tty::Proxy>) -> Result<i32> {
        // It may already be gone before the first SIGCHLD is read.
        if let Some(code) = reap(pid)? {
            return Ok(code);
        }
        loop {
            let Some(info) = self.sfd.read_signal().ctx(|| "reading signals".into())? else {
                continue;
            };
            let signo = info.ssi_signo as i32;
            if signo == libc::SIGCHLD {
                if let Some(code) = reap(pid)? {
                    return Ok(code);
                }
                continue;
            }
            // With hako's own pty, a resize is passed on as a new size (the
            // kernel then signals the container's foreground group).
            if let (libc::SIGWINCH, Some(tty)) = (signo, tty) {
                tty.resize();
                continue;
            }
            // Real-time signals too: runc forwards every signal.
            if let Some(signal) = crate::signal::SignalNumber::from_raw(signo) {
                match signal.send(pid) {
                    Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                    Err(e) => tracing::warn!("forwarding {signal}: {e}"),
                }
            }
        }
    }
}

/// Reaps every exited child; returns `pid`'s exit code once it is among them.
fn reap(pid: i32) -> Result<Option<i32>> {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(p, code)) if p.as_raw() == pid => return Ok(Some(code)),
            Ok(WaitStatus::Signaled(p, sig, _)) if p.as_raw() == pid => {
                return Ok(Some(128 + sig as i32))
            }
            Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::ECHILD) => return Ok(None),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).ctx(|| "waiting for the container process".into()),
        }
    }
}
