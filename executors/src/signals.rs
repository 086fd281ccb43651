//! Making a wasm guest stoppable as PID 1.
//!
//! The kernel drops signals sent to the init of a pid namespace unless init
//! has a handler for them. A native init installs its own handlers; an
//! in-process wasm guest cannot, so hako installs them for it.

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

/// The signals that stop a running guest with exit code 128 + N.
pub const STOP_SIGNALS: [Signal; 3] = [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP];

extern "C" fn stop(signal: libc::c_int) {
    // SAFETY: _exit is async-signal-safe; nothing else runs here. The guest
    // has no state worth unwinding: WASI writes are unbuffered on the host.
    unsafe { libc::_exit(128 + signal) }
}

/// Installs handlers that end the process with 128 + N on SIGTERM, SIGINT and
/// SIGHUP, whatever the guest is doing (computing or blocked in a WASI call),
/// and unblocks those signals.
pub fn install_stop_handlers() {
    let action = SigAction::new(SigHandler::Handler(stop), SaFlags::empty(), SigSet::all());
    let mut set = SigSet::empty();
    for signal in STOP_SIGNALS {
        // SAFETY: the handler only calls the async-signal-safe _exit.
        if let Err(err) = unsafe { sigaction(signal, &action) } {
            tracing::warn!(%signal, %err, "installing stop handler");
        }
        set.add(signal);
    }
    if let Err(err) = set.thread_unblock() {
        tracing::warn!(%err, "unblocking stop signals");
    }
}
