//! `hako run`: create and start; in the foreground, wait for the
//! container, forward signals to it, delete it and exit with its status.

use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;

use super::{create, delete, start, Ctx};
use crate::cli::RunArgs;
use crate::error::{Context, Result};
use crate::state::Lock;

/// `run`; returns the exit code hako exits with.
pub fn run(ctx: &Ctx, args: &RunArgs) -> Result<i32> {
    if args.detach {
        let created = create::run(ctx, &args.create)?;
        start::start(&created.dir)?;
        return Ok(0);
    }
    // Init is forked by the intermediate process; as a subreaper hako
    // inherits it and can wait for it.
    nix::sys::prctl::set_child_subreaper(true).ctx(|| "becoming a child subreaper".into())?;
    let mut signals = SigSet::all();
    signals.remove(Signal::SIGKILL);
    signals.remove(Signal::SIGSTOP);
    signals
        .thread_block()
        .ctx(|| "blocking signals to forward".into())?;
    let sfd = SignalFd::with_flags(&signals, SfdFlags::SFD_CLOEXEC)
        .ctx(|| "creating a signalfd".into())?;

    let created = create::run(ctx, &args.create)?;
    let id = created.state.id.clone();
    let pid = created.state.pid;
    let started = start::start(&created.dir);
    // Release the lock: `state` and `kill` must work while we wait.
    drop(created);
    if let Err(e) = started {
        cleanup(ctx, &id);
        return Err(e);
    }
    let code = wait(&sfd, pid)?;
    if !args.keep {
        cleanup(ctx, &id);
    }
    Ok(code)
}

/// Waits for init, forwarding every other signal to it.
fn wait(sfd: &SignalFd, init: i32) -> Result<i32> {
    // Init may already be gone before the first SIGCHLD is read.
    if let Some(code) = reap(init)? {
        return Ok(code);
    }
    loop {
        let Some(info) = sfd.read_signal().ctx(|| "reading signals".into())? else {
            continue;
        };
        let signo = info.ssi_signo as i32;
        if signo == libc::SIGCHLD {
            if let Some(code) = reap(init)? {
                return Ok(code);
            }
            continue;
        }
        if let Ok(signal) = Signal::try_from(signo) {
            match kill(Pid::from_raw(init), signal) {
                Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                Err(e) => tracing::warn!("forwarding {signal}: {e}"),
            }
        }
    }
}

/// Reaps every exited child; returns init's exit code once it is among them.
fn reap(init: i32) -> Result<Option<i32>> {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid.as_raw() == init => return Ok(Some(code)),
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid.as_raw() == init => {
                return Ok(Some(128 + sig as i32))
            }
            Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::ECHILD) => return Ok(None),
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).ctx(|| "waiting for the container".into()),
        }
    }
}

fn cleanup(ctx: &Ctx, id: &str) {
    match ctx.store.open(id, Lock::Exclusive) {
        Ok(dir) => {
            if let Err(e) = delete::delete(dir, true) {
                tracing::warn!("deleting container {id:?}: {e}");
            }
        }
        Err(e) => tracing::warn!("deleting container {id:?}: {e}"),
    }
}
