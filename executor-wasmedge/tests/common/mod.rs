//! The shared harness (`hako_executors::testing`) bound to WasmEdge, and
//! the WasmEdge-specific guests of `programs`.

#![allow(dead_code)]

pub mod programs;

use std::path::Path;

use hako_executor_wasmedge::WasmEdge;
use hako_executors::wasm::{WasiConfig, WasmModule};
use hako_executors::{ExecutorError, Prepared};

pub use hako_executors::testing::{serial as lock, wat as module, Outcome, Run, Sandbox};

/// A WASI view with these args and env and no preopen.
pub fn config(args: &[&str], env: &[&str]) -> WasiConfig {
    let sandbox = Sandbox::new();
    let mut wasi = sandbox.wasi(args, env, false);
    wasi.preopens.clear();
    wasi
}

/// Prepares a module on WasmEdge, without a cache.
pub fn prepare(module: WasmModule, wasi: WasiConfig) -> Result<Box<dyn Prepared>, ExecutorError> {
    hako_executors::testing::prepare::<WasmEdge>(module, wasi)
}

/// Runs a prepared guest in a child.
pub fn run_in_child(prepared: Box<dyn Prepared>) -> Run {
    hako_executors::testing::run(prepared, b"")
}

/// Runs a prepared guest in a child, then `after` there; returns the
/// outcome and what `after` returned.
pub fn run_in_child_with(
    prepared: Box<dyn Prepared>,
    after: impl FnOnce() -> String,
) -> (Outcome, String) {
    let done = hako_executors::testing::in_child(b"", move || {
        let outcome = hako_executors::testing::child::encode(&prepared.run());
        format!("{outcome}\n{}", after())
    });
    let (outcome, probe) = done.outcome.split_once('\n').unwrap();
    (
        hako_executors::testing::child::decode(outcome),
        probe.into(),
    )
}

/// `root`'s host path in a sandbox, for tests that lay out files.
pub fn root_of(sandbox: &Sandbox) -> &Path {
    sandbox.root()
}
