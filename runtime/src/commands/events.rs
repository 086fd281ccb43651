//! `hako events`: statistics, once (`--stats`) or every `--interval`,
//! and, while streaming, an `oom` event whenever the kernel's OOM killer
//! kills one of the container's processes (as runc).

use std::time::{Duration, Instant};

use serde_json::json;

use super::Ctx;
use crate::cgroups::stats;
use crate::cli::EventsArgs;
use crate::error::{Error, Result};
use crate::state::{Lock, Status};

/// How often streaming looks at the OOM counter between statistics.
const OOM_POLL: Duration = Duration::from_millis(100);

/// `events`.
pub fn run(ctx: &Ctx, args: &EventsArgs) -> Result<()> {
    let interval = humantime::parse_duration(&args.interval)
        .map_err(|e| Error::invalid(format!("--interval {:?}: {e}", args.interval)))?;
    if interval.is_zero() {
        return Err(Error::invalid("--interval must be above zero"));
    }
    let mut first = true;
    let mut ooms: Option<u64> = None;
    let mut next_stats = Instant::now();
    loop {
        let dir = match ctx.store.open(&args.id, Lock::Shared) {
            // Streaming ends when the container is deleted.
            Err(Error::NotFound(_)) if !first => return Ok(()),
            other => other?,
        };
        first = false;
        let state = dir.load()?;
        // Before the status: an OOM kill of init also stops the container,
        // and that kill must still be reported.
        let now_ooms = stats::oom_kills(&state.cgroups);
        if is_new_oom(ooms, now_ooms) && !args.stats {
            crate::output::print(&format!("{}\n", json!({"type": "oom", "id": args.id})));
        }
        ooms = now_ooms.or(ooms);
        if crate::container::status(&dir, &state) == Status::Stopped {
            if args.stats {
                return Err(Error::State {
                    id: args.id.clone(),
                    status: Status::Stopped,
                    action: "container not running, no statistics".into(),
                });
            }
            return Ok(());
        }
        let now = Instant::now();
        if now >= next_stats {
            let event =
                json!({"type": "stats", "id": args.id, "data": state.cgroups.manager().stats()});
            crate::output::print(&format!("{event}\n"));
            if args.stats {
                return Ok(());
            }
            next_stats = now + interval.max(Duration::from_millis(10));
        }
        drop(dir);
        std::thread::sleep(OOM_POLL.min(next_stats.saturating_duration_since(Instant::now())));
    }
}

/// Whether the OOM counter went up since the last look (the first look
/// only sets the baseline).
fn is_new_oom(before: Option<u64>, now: Option<u64>) -> bool {
    matches!((before, now), (Some(b), Some(n)) if n > b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oom_counter_changes_are_events() {
        assert!(
            !is_new_oom(None, Some(3)),
            "the first reading is a baseline"
        );
        assert!(!is_new_oom(Some(3), Some(3)));
        assert!(is_new_oom(Some(3), Some(4)));
        assert!(!is_new_oom(Some(3), None));
    }
}
