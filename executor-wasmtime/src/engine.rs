//! The process-wide wasmtime `Engine` and the one place modules are compiled.
//!
//! Container init prepares exactly one workload, so one `Engine` per process
//! is all hako needs; it lives in a `OnceLock` so that tests (and a future
//! caller preparing several workloads) share it.
//!
//! Compilation goes through [`compile_module`] and [`compile_component`],
//! which use the compiled-module cache of `hako_executors::cache` when the
//! runtime installed one: keyed on the module bytes and
//! `Engine::precompile_compatibility_hash`, filled with `precompile_*`
//! output, loaded with the `unsafe` `deserialize` (sound because only hako
//! writes the cache, from outside any container).

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

/// The cache tag of this engine's artifacts: wasmtime's own hash of what
/// makes precompiled code compatible (version, settings, target).
fn tag(engine: &Engine, kind: &str) -> String {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("wasmtime-{kind}-{:016x}", h.finish())
}

/// Compiles a core module, through the compiled-module cache when the
/// runtime installed one.
pub(crate) fn compile_module(
    engine: &Engine,
    module: &WasmModule,
) -> Result<Module, ExecutorError> {
    hako_executors::cache::compile(
        &tag(engine, "module"),
        &module.bytes,
        || engine.precompile_module(&module.bytes),
        // SAFETY: the cache only hands back what precompile_module of an
        // engine with the same compatibility hash produced (see
        // hako_executors::cache), and only hako writes the cache.
        |artifact| unsafe { Module::deserialize(engine, artifact) },
        || Module::from_binary(engine, &module.bytes),
    )
    .map_err(|e| errors::compile(module, &e))
}

/// Compiles a component, through the compiled-module cache when the
/// runtime installed one.
pub(crate) fn compile_component(
    engine: &Engine,
    module: &WasmModule,
) -> Result<Component, ExecutorError> {
    hako_executors::cache::compile(
        &tag(engine, "component"),
        &module.bytes,
        || engine.precompile_component(&module.bytes),
        // SAFETY: as for modules: only artifacts precompile_component of a
        // compatible engine produced, written by hako.
        |artifact| unsafe { Component::deserialize(engine, artifact) },
        || Component::from_binary(engine, &module.bytes),
    )
    .map_err(|e| errors::compile(module, &e))
}
