//! A container's status, derived from its state, its init process, the
//! start fifo and the freezer.

use crate::state::{ContainerDir, ContainerState, Status};

/// The container's status: stopped once init (the same process, by start
/// time) is gone; created while the start fifo exists; paused while its
/// cgroup is frozen; else running.
pub fn status(dir: &ContainerDir, state: &ContainerState) -> Status {
    if !crate::process::proc::alive(state.pid, state.pid_start) {
        return Status::Stopped;
    }
    if dir.fifo().exists() {
        return Status::Created;
    }
    if state.cgroups.manager().is_frozen() {
        return Status::Paused;
    }
    Status::Running
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Store;

    fn state(pid: i32, pid_start: u64) -> ContainerState {
        crate::state::tests::state("c1", pid, pid_start)
    }

    #[test]
    fn status_is_derived() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = Store::new(tmp.path()).claim("c1").unwrap();
        // This test process stands in for container init.
        let me = std::process::id() as i32;
        let start = crate::process::proc::start_time(me).unwrap();
        let s = state(me, start);
        std::fs::write(dir.fifo(), "").unwrap();
        assert_eq!(status(&dir, &s), Status::Created);
        std::fs::remove_file(dir.fifo()).unwrap();
        assert_eq!(status(&dir, &s), Status::Running);
        assert_eq!(
            status(&dir, &state(me, start + 1)),
            Status::Stopped,
            "pid reused"
        );
        assert_eq!(
            status(&dir, &state(i32::MAX, 0)),
            Status::Stopped,
            "pid gone"
        );
    }
}
