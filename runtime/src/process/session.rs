//! hako's side of a launch's channel, shared by `create` and `exec`: the
//! intermediate reports the pid of the process it forked, hako reaps the
//! intermediate, does what must precede set-up (`on_child`), lets the
//! child go on (`ResourcesApplied`), answers its requests, and returns
//! once it is ready. The child waits for that go-ahead before it sends
//! anything, so the messages come in one order and nothing is pending.

use std::os::fd::OwnedFd;

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;

use super::channel::{HakoEnd, ToChild, ToHako};
use crate::error::{Error, Result};

/// A child that is ready: container init waiting for `start`, or an exec
/// process about to run.
#[derive(Debug)]
pub struct Launched {
    /// Its pid, in hako's pid namespace.
    pub pid: i32,
    /// The wasm engine that will run the workload, if it is wasm.
    pub engine: Option<String>,
}

/// What a launch answers beyond the launch itself (`create`: the module
/// cache, id maps, seccomp, netDevices, hooks; `exec`: nothing).
pub trait Requests {
    /// Answers `msg`, which came with `fd`.
    fn answer(
        &mut self,
        session: &Session,
        msg: ToHako,
        fd: Option<OwnedFd>,
        channel: &HakoEnd,
    ) -> Result<()>;
}

/// A launch that answers nothing beyond itself.
pub struct NoRequests;

impl Requests for NoRequests {
    fn answer(&mut self, _: &Session, msg: ToHako, _: Option<OwnedFd>, _: &HakoEnd) -> Result<()> {
        Err(Error::invalid(format!("unexpected sync message {msg:?}")))
    }
}

/// The processes of one launch.
pub struct Session {
    intermediate: Option<Pid>,
    child: Option<Pid>,
    /// What the child is, for errors ("container init").
    what: &'static str,
}

impl Session {
    /// A launch whose intermediate process is `intermediate`.
    pub fn new(intermediate: Pid, what: &'static str) -> Session {
        Session {
            intermediate: Some(intermediate),
            child: None,
            what,
        }
    }

    /// The intermediate process, until it is reaped.
    pub fn intermediate(&self) -> Option<Pid> {
        self.intermediate
    }

    /// The child's pid; every request of the child's comes after it.
    pub fn child_pid(&self) -> Result<Pid> {
        self.child
            .ok_or_else(|| Error::invalid(format!("a message from {} before its pid", self.what)))
    }

    /// The child's pid if it is known yet.
    pub fn child(&self) -> Option<Pid> {
        self.child
    }

    /// Serves the channel until the child is ready or fails.
    pub fn serve(
        &mut self,
        channel: &HakoEnd,
        on_child: &mut dyn FnMut(i32) -> Result<()>,
        requests: &mut dyn Requests,
    ) -> Result<Launched> {
        loop {
            let (msg, fd) = match channel.recv_fd()? {
                Some((m, fd)) => (Some(m), fd),
                None => (None, None),
            };
            tracing::debug!(?msg, "sync message");
            match msg {
                Some(ToHako::InitPid(pid)) => {
                    self.child = Some(Pid::from_raw(pid));
                    self.reap_intermediate()?;
                    on_child(pid)?;
                    channel.send(&ToChild::ResourcesApplied)?;
                }
                Some(ToHako::Ready(engine)) => {
                    let pid = self.child_pid()?.as_raw();
                    return Ok(Launched { pid, engine });
                }
                Some(ToHako::Error(msg)) => return Err(Error::Child(msg)),
                Some(other) => requests.answer(self, other, fd, channel)?,
                None => return Err(Error::Child(self.died())),
            }
        }
    }

    fn reap_intermediate(&mut self) -> Result<()> {
        if let Some(pid) = self.intermediate.take() {
            match waitpid(pid, None) {
                Ok(WaitStatus::Exited(_, 0)) => {}
                Ok(status) => {
                    return Err(Error::Child(format!(
                        "intermediate process ended with {status:?}"
                    )))
                }
                Err(e) => {
                    return Err(Error::Sys {
                        context: "waiting for the intermediate process".into(),
                        errno: e,
                    })
                }
            }
        }
        Ok(())
    }

    /// Explains a channel that closed without a message.
    fn died(&mut self) -> String {
        if let Some(pid) = self.intermediate.take() {
            if let Ok(status) = waitpid(pid, None) {
                return format!(
                    "{} set-up ended without a report ({})",
                    self.what,
                    describe(status)
                );
            }
        }
        format!("{} exited before it was ready", self.what)
    }

    /// Kills whatever was started.
    pub fn abort(&mut self) {
        if let Some(pid) = self.child.take() {
            let _ = kill(pid, Signal::SIGKILL);
            // The child is ours only under `run` (subreaper); reap if so.
            let _ = waitpid(pid, Some(nix::sys::wait::WaitPidFlag::__WALL));
        }
        if let Some(pid) = self.intermediate.take() {
            let _ = kill(pid, Signal::SIGKILL);
            let _ = waitpid(pid, None);
        }
    }
}

fn describe(status: WaitStatus) -> String {
    match status {
        WaitStatus::Exited(_, code) => format!("exit status {code}"),
        WaitStatus::Signaled(_, sig, _) => format!("killed by {sig}"),
        other => format!("{other:?}"),
    }
}
