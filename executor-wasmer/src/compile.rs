//! The engine, and turning module bytes into a compiled [`Module`]: the
//! pieces of the `WasmEngine` contract ([`tag`], [`precompile`], [`load`],
//! [`compile`]).

use std::sync::OnceLock;

use hako_executors::wasm::WasmModule;
use hako_executors::ExecutorError;
use wasmer::sys::{Cranelift, EngineBuilder};
use wasmer::{Engine, Module};

/// The engine of this process, made on first use: Cranelift, wasmer's
/// default tunables.
///
/// The store that runs the guest and every store wasmer-wasix creates
/// share it through the runtime.
pub(crate) fn engine() -> Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE
        .get_or_init(|| EngineBuilder::new(Cranelift::new()).engine().into())
        .clone()
}

/// The cache tag: the id names the compiler and its settings; wasmer
/// checks its own format version when deserializing, and a refused
/// artifact is simply compiled again.
pub(crate) fn tag() -> String {
    format!("wasmer-{}", engine().deterministic_id())
}

/// Validates and compiles a core module.
///
/// Compiling runs on a rayon pool owned by this call (wasmer's translator
/// otherwise falls back to rayon's global pool, whose threads would live
/// on next to the guest for the rest of the process), made only when a
/// module is really compiled: loading an artifact starts no thread.
pub(crate) fn compile(module: &WasmModule) -> Result<Module, String> {
    let engine = engine();
    compiler_pool()?
        .install(|| Module::new(&engine, &module.bytes))
        .map_err(|e| ExecutorError::one_line(&e))
}

/// Compiles to an artifact of `Module::serialize`.
pub(crate) fn precompile(module: &WasmModule) -> Result<Vec<u8>, String> {
    compile(module)?
        .serialize()
        .map(|b| b.to_vec())
        .map_err(|e| ExecutorError::one_line(&e))
}

/// Loads an artifact of [`precompile`].
///
/// # Safety
/// `artifact` must come from [`precompile`] of an engine with the same
/// [`tag`] (see `WasmEngine::load`).
pub(crate) unsafe fn load(artifact: &[u8]) -> Result<Module, String> {
    // SAFETY: per this function's contract, `serialize` of an engine with
    // the same id and version produced the artifact.
    unsafe { Module::deserialize(&engine(), artifact.to_vec()) }
        .map_err(|e| ExecutorError::one_line(&e))
}

/// The threads that run wasmer's translation and trampolines, one per CPU.
/// (Cranelift compiles function bodies on a pool of its own, of the same
/// size, which it makes for each module.)
fn compiler_pool() -> Result<rayon::ThreadPool, String> {
    rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("wasmer-compile-{i}"))
        .build()
        .map_err(|e| {
            format!(
                "starting the compiler threads: {}",
                ExecutorError::one_line(&e)
            )
        })
}
