//! What the guest's end means for init: an exit code or an error.

use hako_executors::{EngineKind, ExecutorError};
use wasmer::{InstantiationError, RuntimeError};
use wasmer_wasix::{WasiError, WasiRuntimeError, WasiThreadError};

/// The result of calling `_start` (or of the start section, which runs
/// while instantiating).
pub(crate) fn of_call(result: Result<(), RuntimeError>) -> Result<i32, ExecutorError> {
    let Err(err) = result else {
        return Ok(0);
    };
    match err.downcast_ref::<WasiError>() {
        Some(WasiError::Exit(code)) => return Ok(exit_status(code.raw())),
        // The main thread ending through thread_exit ends the process.
        Some(WasiError::ThreadExit) => return Ok(0),
        Some(other) => return Err(engine(other)),
        None => {}
    }
    if err.is_exception() {
        return Err(ExecutorError::Trap(trap_message(
            "uncaught exception",
            &err,
        )));
    }
    if err.clone().to_trap().is_some() {
        return Err(ExecutorError::Trap(trap_message(&err.message(), &err)));
    }
    // An error a host function returned: wasmer-wasix failed, not the guest.
    Err(engine(&err.message()))
}

/// A failed instantiation: the start section exited or trapped (guest code
/// ran, so it counts as the guest's end), or the host failed (memory, for
/// instance).
pub(crate) fn of_instantiation(err: WasiRuntimeError) -> Result<i32, ExecutorError> {
    let start_failed = match &err {
        WasiRuntimeError::Thread(WasiThreadError::InstanceCreateFailed(e)) => match e.as_ref() {
            InstantiationError::Start(e) => Some(e.clone()),
            _ => None,
        },
        WasiRuntimeError::Instantiation(InstantiationError::Start(e)) => Some(e.clone()),
        _ => None,
    };
    match start_failed {
        Some(e) => of_call(Err(e)),
        None => Err(engine(&err)),
    }
}

/// Runs `f`, turning a panic inside wasmer into `Err(message)`: init must
/// end with the contract's exit codes, not with a panic's 101.
pub(crate) fn catch_panic<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        let what =
            hako_executors::error::panic_text(payload.as_ref()).unwrap_or("a non-string payload");
        format!("wasmer panicked: {}", ExecutorError::one_line(&what))
    })
}

/// An exit code as the kernel would keep it.
fn exit_status(raw: i32) -> i32 {
    raw & 0xff
}

fn engine(err: &dyn std::fmt::Display) -> ExecutorError {
    ExecutorError::Engine {
        engine: EngineKind::Wasmer,
        message: ExecutorError::one_line(err),
    }
}

/// The trap and the innermost wasm frame, on one line.
fn trap_message(what: &str, err: &RuntimeError) -> String {
    let mut line = ExecutorError::one_line(&what);
    if let Some(frame) = err.trace().first() {
        line.push_str(&format!(
            " in {} ({}[{}]:{:#x})",
            frame.function_name().unwrap_or("<unnamed>"),
            frame.module_name(),
            frame.func_index(),
            frame.module_offset()
        ));
    }
    line
}
