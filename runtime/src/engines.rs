//! The executor chain of this build: the wasm engines compiled in, then
//! execve. Building it initialises nothing; an engine does work only when
//! a workload is wasm for that engine.
//!
//! WasmEdge is a plugin (`libhako_executor_wasmedge.so` next to the hako
//! binary, or in `../lib/hako/`): [`preload`] loads it, before any fork
//! or pivot_root, only for a container that asks for WasmEdge.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use hako_executors::detect::{self, Intent};
use hako_executors::execve::ExecveExecutor;
use hako_executors::plugin::PluginEngine;
#[cfg(any(feature = "wasmtime", feature = "wasmedge", feature = "wasmer"))]
use hako_executors::wasm::WasmExecutor;
use hako_executors::{Chain, EngineKind, Executor, RuntimeOptions};

use crate::error::{Error, Result};

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
    executors.push(Box::new(WasmExecutor::new(loaded::Loaded(
        EngineKind::WasmEdge,
    ))));
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

/// The engines that live in a plugin.
fn is_plugin(engine: EngineKind) -> bool {
    engine == EngineKind::WasmEdge && cfg!(feature = "wasmedge")
}

static PLUGINS: OnceLock<std::result::Result<PluginEngine, String>> = OnceLock::new();

/// Where the WasmEdge plugin is looked for: next to the binary hako was
/// started from (not its read-only view, `security::sealed_exe`),
/// then in `../lib/hako/` (an installed layout).
pub fn plugin_candidates() -> Vec<PathBuf> {
    let name = "libhako_executor_wasmedge.so";
    let Some(dir) = crate::security::sealed_exe::original_exe()
        .ok()
        .and_then(|e| e.parent().map(PathBuf::from))
    else {
        return vec![];
    };
    vec![dir.join(name), dir.join("../lib/hako").join(name)]
}

/// Loads the engine plugin a container will need, if any. Runs in hako
/// before forking, so the container's processes inherit the library.
pub fn preload(annotations: &BTreeMap<String, String>, options: &RuntimeOptions) -> Result<()> {
    let engine = match detect::intent(annotations, options).map_err(Error::Executor)? {
        Intent::Wasm(e) | Intent::Sniff { engine: e, .. } => e,
        Intent::Native => return Ok(()),
    };
    if !is_plugin(engine) {
        return Ok(());
    }
    let loaded = PLUGINS.get_or_init(|| {
        let candidates = plugin_candidates();
        let path = candidates
            .iter()
            .find(|p| p.exists())
            .cloned()
            .unwrap_or_else(|| candidates.first().cloned().unwrap_or_default());
        PluginEngine::load(engine, &path)
    });
    loaded
        .as_ref()
        .map(drop)
        .map_err(|e| Error::invalid(format!("wasm engine {engine}: {e}")))
}

/// An engine that lives in a plugin [`preload`] loaded.
#[cfg(feature = "wasmedge")]
mod loaded {
    use hako_executors::cache::ArtifactCache;
    use hako_executors::wasm::{Preparer, WasiConfig, WasmModule};
    use hako_executors::{EngineKind, ExecutorError, Prepared};

    /// Forwards to the plugin of its engine.
    pub struct Loaded(pub EngineKind);

    impl Preparer for Loaded {
        fn engine(&self) -> EngineKind {
            self.0
        }

        fn prepare(
            &self,
            module: WasmModule,
            wasi: WasiConfig,
            cache: Option<&dyn ArtifactCache>,
        ) -> Result<Box<dyn Prepared>, ExecutorError> {
            match super::PLUGINS.get() {
                Some(Ok(engine)) => engine.prepare(module, wasi, cache),
                Some(Err(e)) => Err(ExecutorError::Engine {
                    engine: self.0,
                    message: e.clone(),
                }),
                None => Err(ExecutorError::Engine {
                    engine: self.0,
                    message: "the engine plugin was not loaded before the container was set up"
                        .into(),
                }),
            }
        }
    }
}
