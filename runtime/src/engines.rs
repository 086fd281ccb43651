//! The executor chain of this build: the wasm engines compiled in, then
//! execve. Building it initialises nothing; an engine does work only when
//! a workload is wasm for that engine.

use hako_executors::execve::ExecveExecutor;
#[cfg(any(feature = "wasmtime", feature = "wasmedge", feature = "wasmer"))]
use hako_executors::wasm::WasmExecutor;
use hako_executors::{Chain, EngineKind, Executor};

/// The chain, in the order executors are asked.
// Which pushes exist depends on the build's features.
#[allow(clippy::vec_init_then_push)]
pub fn chain() -> Chain {
    let mut executors: Vec<Box<dyn Executor>> = Vec::new();
    #[cfg(feature = "wasmtime")]
    executors.push(Box::new(WasmExecutor::new(
        hako_executor_wasmtime::Wasmtime,
    )));
    #[cfg(feature = "wasmedge")]
    executors.push(Box::new(WasmExecutor::new(
        hako_executor_wasmedge::WasmEdge,
    )));
    #[cfg(feature = "wasmer")]
    executors.push(Box::new(WasmExecutor::new(hako_executor_wasmer::Wasmer)));
    executors.push(Box::new(ExecveExecutor));
    Chain::new(executors)
}

/// The engines compiled into this binary.
pub fn built_in() -> Vec<EngineKind> {
    EngineKind::ALL
        .into_iter()
        .filter(|e| match e {
            EngineKind::Wasmtime => cfg!(feature = "wasmtime"),
            EngineKind::WasmEdge => cfg!(feature = "wasmedge"),
            EngineKind::Wasmer => cfg!(feature = "wasmer"),
        })
        .collect()
}
