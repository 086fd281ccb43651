//! `hako state`: the runtime-spec state of a container.

use super::Ctx;
use crate::container::StateDoc;
use crate::error::{Error, Result};
use crate::state::Lock;

/// `state`.
pub fn run(ctx: &Ctx, id: &str) -> Result<()> {
    let dir = ctx.store.open(id, Lock::Shared)?;
    let state = dir.load()?;
    let doc = StateDoc::new(&dir, &state);
    let text = serde_json::to_string_pretty(&doc)
        .map_err(|e| Error::invalid(format!("encoding state: {e}")))?;
    crate::output::print(&format!("{text}\n"));
    Ok(())
}
