//! The shared harness (`hako_executors::testing`) bound to wasmtime.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use hako_executor_wasmtime::Wasmtime;
use hako_executors::wasm::{WasiConfig, WasmModule};
use hako_executors::{ExecutorError, Prepared};

#[allow(unused_imports)]
pub use hako_executors::testing::{binary, serial, wat, Outcome, Sandbox};

/// Prepares on wasmtime, without a cache.
pub fn prepare(module: WasmModule, wasi: WasiConfig) -> Result<Box<dyn Prepared>, ExecutorError> {
    hako_executors::testing::prepare::<Wasmtime>(module, wasi)
}

/// The error of a `prepare` that must fail.
pub fn prepare_err(module: WasmModule, wasi: WasiConfig) -> ExecutorError {
    hako_executors::testing::prepare_err::<Wasmtime>(module, wasi)
}

/// Prepares and runs in this process (for tests that read no output).
pub fn run(module: WasmModule, wasi: WasiConfig) -> Result<i32, ExecutorError> {
    prepare(module, wasi)?.run()
}
