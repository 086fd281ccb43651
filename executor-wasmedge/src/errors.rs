//! Turning WasmEdge's errors into hako's.

use std::fmt::Display;
use std::path::Path;

use hako_executors::{EngineKind, ExecutorError};
use wasmedge_sdk::error::{CoreCommonError, CoreError, CoreExecutionError, WasmEdgeError};

/// A prepare-time failure: one line, lowercase, naming the module.
pub(crate) fn compile(path: &Path, message: impl Display) -> ExecutorError {
    ExecutorError::Compile {
        engine: EngineKind::WasmEdge,
        path: path.to_path_buf(),
        message: ExecutorError::one_line(&message),
    }
}

/// How a call into the guest ended, when it did not return normally.
#[derive(Debug)]
pub(crate) enum Failure {
    /// `proc_exit` unwound the guest: the WASI module holds the code.
    Exited,
    /// The guest trapped.
    Trap(ExecutorError),
    /// Anything else went wrong in the engine.
    Engine(ExecutorError),
}

impl Failure {
    /// Classifies an error returned by instantiation or by a call.
    pub(crate) fn of(err: &WasmEdgeError) -> Failure {
        match err {
            WasmEdgeError::Core(CoreError::Common(CoreCommonError::Terminated)) => Failure::Exited,
            WasmEdgeError::Core(CoreError::Execution(e)) if is_trap(e) => {
                Failure::Trap(ExecutorError::Trap(ExecutorError::one_line(e)))
            }
            other => Failure::Engine(engine(other)),
        }
    }
}

/// A run-time failure of the engine that is not a trap.
pub(crate) fn engine(message: impl Display) -> ExecutorError {
    ExecutorError::Engine {
        engine: EngineKind::WasmEdge,
        message: ExecutorError::one_line(&message),
    }
}

/// Whether an execution error is a WebAssembly trap (what the guest did)
/// rather than a failure of the engine or of its embedding.
fn is_trap(e: &CoreExecutionError) -> bool {
    use CoreExecutionError::*;
    matches!(
        e,
        DivideByZero
            | IntegerOverflow
            | InvalidConvToInt
            | TableOutOfBounds
            | MemoryOutOfBounds
            | ArrayOutOfBounds
            | Unreachable
            | UninitializedElement
            | UndefinedElement
            | IndirectCallTypeMismatch
            | UnalignedAtomicAccess
            | CastNullToNonNull
            | AccessNullFunc
            | AccessNullStruct
            | AccessNullArray
            | AccessNullI31
            | CastFailed
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traps_and_exits_are_told_apart() {
        let unreachable =
            WasmEdgeError::Core(CoreError::Execution(CoreExecutionError::Unreachable));
        match Failure::of(&unreachable) {
            Failure::Trap(ExecutorError::Trap(m)) => assert_eq!(m, "unreachable"),
            f => panic!("{f:?}"),
        }
        let exit = WasmEdgeError::Core(CoreError::Common(CoreCommonError::Terminated));
        assert!(matches!(Failure::of(&exit), Failure::Exited));
        let host = WasmEdgeError::Core(CoreError::Execution(CoreExecutionError::HostFuncFailed));
        match Failure::of(&host) {
            Failure::Engine(e) => assert_eq!(e.to_string(), "wasmedge: host function failed"),
            f => panic!("{f:?}"),
        }
    }

    #[test]
    fn messages_are_one_lowercase_line() {
        let e = compile(Path::new("/m.wasm"), "Fail to create Loader\nbecause.");
        assert_eq!(
            e.to_string(),
            "wasmedge: /m.wasm: fail to create Loader: because"
        );
    }
}
