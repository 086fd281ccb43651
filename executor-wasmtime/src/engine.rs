//! The process-wide wasmtime `Engine` and the one place modules are compiled.
//!
//! Container init prepares exactly one workload, so one `Engine` per process
//! is all hako needs; it lives in a `OnceLock` so that tests (and a future
//! caller preparing several workloads) share it.
//!
//! The pieces of the `WasmEngine` contract: [`tag`] (from
//! `Engine::precompile_compatibility_hash`), [`precompile`] (the
//! `precompile_*` output), [`load`] (the `unsafe` `deserialize`, sound
//! because the cache only hands back what `precompile` of a compatible
//! engine made, and only hako writes it) and [`compile`].

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
/// makes precompiled code compatible (version, settings, target), and
/// whether it is a module or a component.
pub(crate) fn tag(engine: &Engine, module: &WasmModule) -> String {
    use std::hash::{DefaultHasher, Hash, Hasher};
    let mut h = DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut h);
    let kind = if module.component {
        "component"
    } else {
        "module"
    };
    format!("wasmtime-{kind}-{:016x}", h.finish())
}

/// A compiled core module or component.
pub enum Compiled {
    /// A core module (WASI preview 1).
    Module(Module),
    /// A component (WASI preview 2, wasi-http).
    Component(Component),
}

/// Compiles to an artifact of `precompile_*`.
pub(crate) fn precompile(engine: &Engine, module: &WasmModule) -> Result<Vec<u8>, ExecutorError> {
    let artifact = if module.component {
        engine.precompile_component(&module.bytes)
    } else {
        engine.precompile_module(&module.bytes)
    };
    artifact.map_err(|e| errors::compile(module, &e))
}

/// Loads an artifact of [`precompile`].
///
/// # Safety
/// `artifact` must come from [`precompile`] of an engine with the same
/// [`tag`] (see `WasmEngine::load`).
pub(crate) unsafe fn load(
    engine: &Engine,
    module: &WasmModule,
    artifact: &[u8],
) -> Result<Compiled, ExecutorError> {
    // SAFETY: per this function's contract, the artifact is what
    // precompile_module/precompile_component of a compatible engine made.
    let compiled = unsafe {
        if module.component {
            Component::deserialize(engine, artifact).map(Compiled::Component)
        } else {
            Module::deserialize(engine, artifact).map(Compiled::Module)
        }
    };
    compiled.map_err(|e| errors::compile(module, &e))
}

/// Compiles for this process.
pub(crate) fn compile(engine: &Engine, module: &WasmModule) -> Result<Compiled, ExecutorError> {
    let compiled = if module.component {
        Component::from_binary(engine, &module.bytes).map(Compiled::Component)
    } else {
        Module::from_binary(engine, &module.bytes).map(Compiled::Module)
    };
    compiled.map_err(|e| errors::compile(module, &e))
}
