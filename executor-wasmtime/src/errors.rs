//! Turning wasmtime's errors into hako's [`ExecutorError`]s and exit codes.

use hako_executors::wasm::WasmModule;
use hako_executors::{EngineKind, ExecutorError};
use wasmtime::{Trap, WasmBacktrace};
use wasmtime_wasi::I32Exit;

/// A module wasmtime rejected: invalid, unlinkable or of the wrong shape.
pub(crate) fn compile(module: &WasmModule, err: &wasmtime::Error) -> ExecutorError {
    compile_msg(module, one_line(err))
}

/// A module hako rejects for a reason of its own.
pub(crate) fn compile_msg(module: &WasmModule, message: impl Into<String>) -> ExecutorError {
    ExecutorError::Compile {
        engine: EngineKind::Wasmtime,
        path: module.path.clone(),
        message: message.into(),
    }
}

/// A failure of wasmtime itself (not of the guest), while doing `what`.
pub(crate) fn engine(what: &str, err: &wasmtime::Error) -> ExecutorError {
    ExecutorError::Engine {
        engine: EngineKind::Wasmtime,
        message: format!("{what}: {}", one_line(err)),
    }
}

/// The exit code of a guest whose entry point returned `result`.
///
/// `proc_exit(n)` (and `wasi:cli/exit`) unwind as an [`I32Exit`] error: it is
/// an exit, not a failure. A trap is [`ExecutorError::Trap`], which init
/// reports as 134; any other error (a host call failing, an invalid exit
/// status) is [`ExecutorError::Engine`].
pub(crate) fn exit_code(result: wasmtime::Result<()>) -> Result<i32, ExecutorError> {
    let Err(err) = result else {
        return Ok(0);
    };
    if let Some(exit) = err.downcast_ref::<I32Exit>() {
        return Ok(exit.0);
    }
    Err(run_failure(&err))
}

/// The error for a guest that failed while running: a trap or otherwise.
pub(crate) fn run_failure(err: &wasmtime::Error) -> ExecutorError {
    // The full error, wasm backtrace included, for whoever debugs the guest.
    tracing::debug!(error = ?err, "guest failed");
    match err.downcast_ref::<Trap>() {
        // Only the trap itself, without the backtrace around it, and without
        // the "wasm trap: " that `ExecutorError::Trap` adds back.
        Some(trap) => {
            let text = trap.to_string();
            let text = text.strip_prefix("wasm trap: ").unwrap_or(&text);
            ExecutorError::Trap(ExecutorError::one_line(&text))
        }
        None => ExecutorError::Engine {
            engine: EngineKind::Wasmtime,
            message: one_line(err),
        },
    }
}

/// The whole cause chain of a wasmtime error on one line, lowercase,
/// without the wasm backtrace wasmtime attaches to errors from guest calls
/// (a multi-line frame list the one-line contract has no room for).
pub(crate) fn one_line(err: &wasmtime::Error) -> String {
    let backtrace = err.downcast_ref::<WasmBacktrace>().map(ToString::to_string);
    let text = err
        .chain()
        .map(ToString::to_string)
        .filter(|cause| Some(cause) != backtrace.as_ref())
        .collect::<Vec<_>>()
        .join(": ");
    ExecutorError::one_line(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exits_traps_and_failures_are_told_apart() {
        assert_eq!(exit_code(Ok(())).unwrap(), 0);
        let exit = wasmtime::Error::new(I32Exit(3)).context("while running");
        assert_eq!(exit_code(Err(exit)).unwrap(), 3);

        let trap = wasmtime::Error::new(Trap::UnreachableCodeReached).context("backtrace\n  0: f");
        match exit_code(Err(trap)).unwrap_err() {
            ExecutorError::Trap(msg) => {
                assert_eq!(msg, "wasm `unreachable` instruction executed")
            }
            other => panic!("not a trap: {other:?}"),
        }

        let other = wasmtime::Error::msg("Host failed\nsecond line.");
        match exit_code(Err(other)).unwrap_err() {
            ExecutorError::Engine { engine, message } => {
                assert_eq!(engine, EngineKind::Wasmtime);
                assert_eq!(message, "host failed: second line");
            }
            other => panic!("not an engine error: {other:?}"),
        }
    }
}
