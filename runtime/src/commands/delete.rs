//! `hako delete`: remove a container and everything create made.

use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::Ctx;
use crate::error::{Error, Result};
use crate::state::{ContainerDir, Lock, Status};

/// `delete`.
pub fn run(ctx: &Ctx, id: &str, force: bool) -> Result<()> {
    let dir = match ctx.store.open(id, Lock::Exclusive) {
        Err(Error::NotFound(_)) if force => return Ok(()),
        other => other?,
    };
    delete(dir, force)
}

/// Deletes a container whose directory the caller has locked.
pub fn delete(dir: ContainerDir, force: bool) -> Result<()> {
    if !dir.has_state() {
        // A create that was killed half-way: its processes, if any, are in
        // the cgroups it recorded before making them.
        let cgroup_result = match dir.load_pending_cgroups() {
            Some(cgroups) => {
                empty_cgroups(&cgroups);
                cgroups.remove()
            }
            None => Ok(()),
        };
        // A rootfs still bound in the state directory keeps it.
        crate::rootfs::host_bind::release(dir.path())?;
        return cgroup_result.and(dir.destroy());
    }
    let state = dir.load()?;
    let status = dir.status(&state);
    match status {
        Status::Stopped | Status::Created => {}
        Status::Running | Status::Paused if force => {}
        Status::Running | Status::Paused => {
            return Err(Error::State {
                id: state.id.clone(),
                status,
                action: "stop it first or use delete --force".into(),
            });
        }
    }
    if status == Status::Paused {
        // A frozen init dies only once thawed: kill, then thaw (status
        // checked the pid's start time, so the pid is still init's).
        let _ = kill(Pid::from_raw(state.pid), Signal::SIGKILL);
        let _ = crate::cgroups::freezer::thaw(&state.cgroups);
    }
    if status != Status::Stopped {
        kill_and_wait(state.pid, Some(state.pid_start));
    }
    // Without a pid namespace of its own, the container's other processes
    // outlive init; the cgroup knows them.
    empty_cgroups(&state.cgroups);
    let cgroup_result = state.cgroups.remove();
    if let Ok(spec) = dir.load_spec() {
        let hook_state =
            crate::hooks::HookState::new(&state.id, "stopped", None, &state.bundle, &spec);
        crate::hooks::run_warn(crate::hooks::Stage::Poststop, &spec, &hook_state);
    }
    // Poststop hooks have run: they may have wanted to see its mounts. A
    // rootfs still bound in the state directory keeps it.
    crate::rootfs::host_bind::release(dir.path())?;
    let dir_result = dir.destroy();
    tracing::debug!(id = %state.id, "container deleted");
    cgroup_result.and(dir_result)
}

/// SIGKILLs a process and waits (up to 10 s) until it is gone or a zombie.
pub fn kill_and_wait(pid: i32, start: Option<u64>) {
    let start = start.or_else(|| crate::process::proc::start_time(pid));
    let Some(start) = start else { return };
    if !crate::process::proc::alive(pid, start) {
        return;
    }
    let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    let deadline = Instant::now() + Duration::from_secs(10);
    while crate::process::proc::alive(pid, start) && Instant::now() < deadline {
        // Reap it if it is our child (a foreground `run`).
        let _ = nix::sys::wait::waitpid(
            Pid::from_raw(pid),
            Some(nix::sys::wait::WaitPidFlag::WNOHANG),
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// SIGKILLs everything in the container's cgroups (thawing them so the
/// signal is delivered) and waits until they are empty.
pub fn empty_cgroups(cgroups: &crate::cgroups::CgroupSet) {
    if cgroups.dirs.is_empty() {
        return;
    }
    // Killing a frozen process waits for the thaw; and a process forked
    // between the listing and the signal needs one more round, so the
    // cgroup is signalled until it is empty.
    let _ = crate::cgroups::freezer::thaw(cgroups);
    let deadline = Instant::now() + Duration::from_secs(5);
    while cgroups.pids().is_ok_and(|p| !p.is_empty()) && Instant::now() < deadline {
        let _ = crate::commands::kill::signal_all(cgroups, Signal::SIGKILL.into());
        std::thread::sleep(Duration::from_millis(2));
    }
}
