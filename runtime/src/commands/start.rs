//! `hako start`: release a created container's init.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

use super::Ctx;
use crate::error::{Error, Result};
use crate::state::{ContainerDir, Lock, Status};

/// `start`.
pub fn run(ctx: &Ctx, id: &str) -> Result<()> {
    let dir = ctx.store.open(id, Lock::Exclusive)?;
    start(&dir)
}

/// Starts a container whose directory is locked by the caller.
pub fn start(dir: &ContainerDir) -> Result<()> {
    let state = dir.load()?;
    let status = crate::container::status(dir, &state);
    if status != Status::Created {
        return Err(Error::State {
            id: dir.id().into(),
            status,
            action: "only a created container can be started".into(),
        });
    }
    // Non-blocking: with no reader (init gone) this fails at once instead
    // of hanging.
    let fifo = dir.fifo();
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&fifo)
        .map_err(|e| Error::State {
            id: dir.id().into(),
            status: Status::Stopped,
            action: format!(
                "container init is not waiting on {} ({})",
                fifo.display(),
                crate::error::describe_io(&e)
            ),
        })?;
    file.write_all(b"0").map_err(|e| Error::Io {
        context: format!("writing {}", fifo.display()),
        err: e,
    })?;
    // Without the fifo the container counts as running.
    std::fs::remove_file(&fifo).map_err(|e| Error::Io {
        context: format!("removing {}", fifo.display()),
        err: e,
    })?;
    tracing::debug!(id = dir.id(), "container started");
    let spec = dir.load_spec()?;
    let hook_state = crate::hooks::state(
        dir.id(),
        oci_spec::runtime::ContainerState::Running,
        Some(state.pid),
        &state.bundle,
        &spec,
    );
    if let Err(e) = crate::hooks::run(crate::hooks::Stage::Poststart, &spec, &hook_state) {
        // As runc: a failed poststart hook takes the container down.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(state.pid),
            nix::sys::signal::Signal::SIGKILL,
        );
        return Err(e);
    }
    Ok(())
}
