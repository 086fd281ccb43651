//! The engine, and turning module bytes into a compiled [`Module`].
//!
//! This is the one place that compiles: a cache of compiled modules
//! (serialize after compiling, deserialize instead of compiling) belongs in
//! [`compile`] and nowhere else.

use hako_executors::wasm::WasmModule;
use wasmer::sys::{Cranelift, EngineBuilder};
use wasmer::{Engine, Module};

use crate::message;

/// The engine of this process: Cranelift, wasmer's default tunables.
///
/// One per process; the store that runs the guest and every store
/// wasmer-wasix creates share it through the runtime.
pub(crate) fn engine() -> Engine {
    EngineBuilder::new(Cranelift::new()).engine().into()
}

/// Validates and compiles a core module, through the compiled-module
/// cache when the runtime installed one.
///
/// Compiling runs on a rayon pool owned by this call (wasmer's translator
/// otherwise falls back to rayon's global pool, whose threads would live
/// on next to the guest for the rest of the process), made only when a
/// module is really compiled: loading from the cache starts no thread.
pub(crate) fn compile(engine: &Engine, module: &WasmModule) -> Result<Module, String> {
    let fresh = || {
        compiler_pool()?
            .install(|| Module::new(engine, &module.bytes))
            .map_err(|e| message::one_line(&e))
    };
    // The id names the compiler and its settings; wasmer checks its own
    // format version when deserializing, and a refused artifact is
    // simply compiled again.
    let tag = format!("wasmer-{}", engine.deterministic_id());
    hako_executors::cache::compile(
        &tag,
        &module.bytes,
        || {
            fresh()?
                .serialize()
                .map(|b| b.to_vec())
                .map_err(|e| message::one_line(&e))
        },
        // SAFETY: the cache only hands back what `serialize` of an engine
        // with the same id and version produced, and only hako writes it.
        |artifact| {
            unsafe { Module::deserialize(engine, artifact.to_vec()) }
                .map_err(|e| message::one_line(&e))
        },
        fresh,
    )
}

/// The threads that run wasmer's translation and trampolines, one per CPU.
/// (Cranelift compiles function bodies on a pool of its own, of the same
/// size, which it makes for each module.)
fn compiler_pool() -> Result<rayon::ThreadPool, String> {
    rayon::ThreadPoolBuilder::new()
        .thread_name(|i| format!("wasmer-compile-{i}"))
        .build()
        .map_err(|e| format!("starting the compiler threads: {}", message::one_line(&e)))
}
