//! `hako events`: statistics, once (`--stats`) or every `--interval`.

use std::time::Duration;

use serde_json::json;

use super::Ctx;
use crate::cli::EventsArgs;
use crate::error::{Error, Result};
use crate::state::{Lock, Status};

/// `events`.
pub fn run(ctx: &Ctx, args: &EventsArgs) -> Result<()> {
    let interval = humantime::parse_duration(&args.interval)
        .map_err(|e| Error::invalid(format!("--interval {:?}: {e}", args.interval)))?;
    if interval.is_zero() {
        return Err(Error::invalid("--interval must be above zero"));
    }
    let mut first = true;
    loop {
        let dir = match ctx.store.open(&args.id, Lock::Shared) {
            // Streaming ends when the container is deleted.
            Err(Error::NotFound(_)) if !first => return Ok(()),
            other => other?,
        };
        first = false;
        let state = dir.load()?;
        if dir.status(&state) == Status::Stopped {
            if args.stats {
                return Err(Error::State {
                    id: args.id.clone(),
                    status: "stopped".into(),
                    action: "container not running, no statistics".into(),
                });
            }
            return Ok(());
        }
        let event = json!({"type": "stats", "id": args.id, "data": crate::cgroups::stats::collect(&state.cgroups)});
        drop(dir);
        println!("{event}");
        if args.stats {
            return Ok(());
        }
        std::thread::sleep(interval.max(Duration::from_millis(10)));
    }
}
