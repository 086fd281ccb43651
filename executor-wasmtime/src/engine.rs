//! The process-wide wasmtime `Engine` and the one place modules are compiled.
//!
//! Container init prepares exactly one workload, so one `Engine` per process
//! is all hako needs; it lives in a `OnceLock` so that tests (and a future
//! caller preparing several workloads) share it.
//!
//! Compilation is isolated in [`compile_module`] and [`compile_component`]
//! so that a compiled-module cache can be added here without touching the
//! executor contract: key the cache on the module bytes plus
//! `Engine::precompile_compatibility_hash`, store `Module::serialize` /
//! `Component::serialize` output, and load hits with the `unsafe`
//! `Module::deserialize` / `Component::deserialize` (sound only because hako
//! itself wrote the cache file, which must not be writable by containers).

use std::sync::OnceLock;

use hako_executors::wasm::WasmModule;
use hako_executors::ExecutorError;
use wasmtime::component::Component;
use wasmtime::{Config, Engine, Module};

use crate::errors;

/// The engine, created on first use.
///
/// Creating it installs wasmtime's trap signal handlers (SIGSEGV, SIGILL,
/// and SIGFPE on x86_64) but starts no thread.
pub(crate) fn engine() -> Result<Engine, ExecutorError> {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    if let Some(engine) = ENGINE.get() {
        return Ok(engine.clone());
    }
    let engine = Engine::new(&config()).map_err(|e| errors::engine("creating the engine", &e))?;
    // Another thread may have won the race; either engine is equivalent.
    Ok(ENGINE.get_or_init(|| engine).clone())
}

/// The engine configuration: wasmtime's defaults, spelled out where hako
/// depends on them.
fn config() -> Config {
    let mut config = Config::new();
    // Components are one of the two kinds of workload hako runs.
    config.wasm_component_model(true);
    // Traps are caught with signal handlers, the fast path; hako's own
    // SIGTERM/SIGINT/SIGHUP handlers do not overlap with them.
    config.signals_based_traps(true);
    config
}

/// Compiles a core module; the seam for a future compiled-module cache.
pub(crate) fn compile_module(
    engine: &Engine,
    module: &WasmModule,
) -> Result<Module, ExecutorError> {
    Module::from_binary(engine, &module.bytes).map_err(|e| errors::compile(module, &e))
}

/// Compiles a component; the seam for a future compiled-module cache.
pub(crate) fn compile_component(
    engine: &Engine,
    module: &WasmModule,
) -> Result<Component, ExecutorError> {
    Component::from_binary(engine, &module.bytes).map_err(|e| errors::compile(module, &e))
}
