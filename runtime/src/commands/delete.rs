//! `hako delete`: remove a container and everything create made.

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
                crate::container::teardown::empty_cgroups(&cgroups);
                cgroups.manager().remove()
            }
            None => Ok(()),
        };
        // A rootfs still bound in the state directory keeps it.
        crate::rootfs::host_bind::release(dir.path())?;
        return cgroup_result.and(dir.destroy());
    }
    let state = dir.load()?;
    let status = crate::container::status(&dir, &state);
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
        let _ = state.cgroups.manager().thaw();
    }
    if status != Status::Stopped {
        crate::container::teardown::kill_and_wait(state.pid, Some(state.pid_start));
    }
    // Without a pid namespace of its own, the container's other processes
    // outlive init; the cgroup knows them.
    crate::container::teardown::empty_cgroups(&state.cgroups);
    let cgroup_result = state.cgroups.manager().remove();
    if let Ok(spec) = dir.load_spec() {
        let hook_state = crate::hooks::state(
            &state.id,
            oci_spec::runtime::ContainerState::Stopped,
            None,
            &state.bundle,
            &spec,
        );
        crate::hooks::run_warn(crate::hooks::Stage::Poststop, &spec, &hook_state);
    }
    // Poststop hooks have run: they may have wanted to see its mounts. A
    // rootfs still bound in the state directory keeps it.
    crate::rootfs::host_bind::release(dir.path())?;
    let dir_result = dir.destroy();
    tracing::debug!(id = %state.id, "container deleted");
    cgroup_result.and(dir_result)
}
