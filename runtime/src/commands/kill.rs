//! `hako kill`: signal a container's init, or all its processes.

use super::Ctx;
use crate::cli::KillArgs;
use crate::error::{Context, Error, Result};
use crate::state::{Lock, Status};

/// `kill`.
pub fn run(ctx: &Ctx, args: &KillArgs) -> Result<()> {
    let signal = crate::signal::parse(&args.signal)?;
    let dir = ctx.store.open(&args.id, Lock::Shared)?;
    let state = dir.load()?;
    let status = crate::container::status(&dir, &state);
    if status == Status::Stopped {
        return Err(Error::State {
            id: args.id.clone(),
            status,
            action: "container not running, nothing to signal".into(),
        });
    }
    if args.all {
        crate::container::teardown::signal_all(&state.cgroups, signal)?;
        if status == Status::Paused {
            // Frozen tasks act on signals only once thawed.
            state.cgroups.manager().thaw()?;
        }
        return Ok(());
    }
    signal.send(state.pid).ctx(|| {
        format!(
            "sending {signal} to container {:?} (pid {})",
            args.id, state.pid
        )
    })
}
