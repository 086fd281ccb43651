//! Stopping a container's processes: its init, or everything in its
//! cgroups. `delete`, `kill --all` and a failed `create` share these.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::error::{Context, Result};
use crate::signal::SignalNumber;

/// SIGKILLs a process and waits (up to 10 s) until it is gone or a zombie.
pub fn kill_and_wait(pid: i32, start: Option<u64>) {
    let start = start.or_else(|| crate::process::proc::start_time(pid));
    let Some(start) = start else { return };
    if !crate::process::proc::alive(pid, start) {
        return;
    }
    let _ = SignalNumber::from(Signal::SIGKILL).send(pid);
    let deadline = Instant::now() + Duration::from_secs(10);
    while crate::process::proc::alive(pid, start) && Instant::now() < deadline {
        // Reap it if it is our child (a foreground `run`).
        let _ = nix::sys::wait::waitpid(
            nix::unistd::Pid::from_raw(pid),
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
    let manager = cgroups.manager();
    let _ = manager.thaw();
    let deadline = Instant::now() + Duration::from_secs(5);
    while manager.pids().is_ok_and(|p| !p.is_empty()) && Instant::now() < deadline {
        let _ = signal_all(cgroups, Signal::SIGKILL.into());
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Signals every process in the container's cgroup.
pub fn signal_all(cgroups: &crate::cgroups::CgroupSet, signal: SignalNumber) -> Result<()> {
    for pid in cgroups.manager().pids()? {
        match signal.send(pid) {
            Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
            Err(e) => return Err(e).ctx(|| format!("sending {signal} to pid {pid}")),
        }
    }
    Ok(())
}
