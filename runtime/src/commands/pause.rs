//! `hako pause` and `hako resume`: the freezer.

use super::Ctx;
use crate::error::{Error, Result};
use crate::state::{Lock, Status};

/// `pause`.
pub fn pause(ctx: &Ctx, id: &str) -> Result<()> {
    let dir = ctx.store.open(id, Lock::Exclusive)?;
    let state = dir.load()?;
    let status = crate::container::status(&dir, &state);
    if status != Status::Running {
        return Err(Error::State {
            id: id.into(),
            status,
            action: "only a running container can be paused".into(),
        });
    }
    let frozen = state.cgroups.manager().freeze();
    frozen
}

/// `resume`.
pub fn resume(ctx: &Ctx, id: &str) -> Result<()> {
    let dir = ctx.store.open(id, Lock::Exclusive)?;
    let state = dir.load()?;
    let status = crate::container::status(&dir, &state);
    if status != Status::Paused {
        return Err(Error::State {
            id: id.into(),
            status,
            action: "only a paused container can be resumed".into(),
        });
    }
    let thawed = state.cgroups.manager().thaw();
    thawed
}
