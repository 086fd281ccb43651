//! `hako run`: create and start; in the foreground, wait for the
//! container, forward signals to it, delete it and exit with its status.

use super::{create, delete, start, Ctx};
use crate::cli::RunArgs;
use crate::error::Result;
use crate::process::tty;
use crate::process::wait::Waiter;
use crate::state::Lock;

/// `run`; returns the exit code hako exits with.
pub fn run(ctx: &Ctx, args: &RunArgs) -> Result<i32> {
    if args.detach {
        let created = create::run(ctx, &args.create)?;
        start::start(&created.dir)?;
        return Ok(0);
    }
    // Init is forked by the intermediate process; as a subreaper hako
    // inherits it and can wait for it.
    let waiter = Waiter::new()?;

    // Loaded once: whether hako holds the pty depends on it.
    let bundle = create::load(&args.create)?;
    // A terminal without --console-socket: hako holds the pty itself.
    let own_tty = args.create.console_socket.is_none()
        && bundle
            .spec
            .process()
            .as_ref()
            .and_then(|p| p.terminal())
            .unwrap_or(false);
    let (console, theirs) = if own_tty {
        let (ours, theirs) = tty::socket_pair()?;
        (Some(ours), Some(theirs))
    } else {
        (None, None)
    };
    let created = create::create(ctx, &args.create, bundle, theirs)?;
    let proxy = console.as_ref().map(tty::Proxy::start).transpose()?;
    let id = created.state.id.clone();
    let pid = created.state.pid;
    let started = start::start(&created.dir);
    // Release the lock: `state` and `kill` must work while we wait.
    drop(created);
    if let Err(e) = started {
        cleanup(ctx, &id);
        return Err(e);
    }
    let code = waiter.wait(pid, proxy.as_ref())?;
    if let Some(p) = proxy {
        p.finish();
    }
    if !args.keep {
        cleanup(ctx, &id);
    }
    Ok(code)
}

fn cleanup(ctx: &Ctx, id: &str) {
    match ctx.store.open(id, Lock::Exclusive) {
        Ok(dir) => {
            if let Err(e) = delete::delete(dir, true) {
                tracing::warn!("deleting container {id:?}: {e}");
            }
        }
        Err(e) => tracing::warn!("deleting container {id:?}: {e}"),
    }
}
