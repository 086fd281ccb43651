//! The executor chain of this build: the wasm engines it has plugins for,
//! then execve. Building it initialises nothing; an engine does work only
//! when a workload is wasm for that engine.
//!
//! Every engine is a plugin (`libhako_executor_<engine>.so` next to the
//! hako binary, or in `../lib/hako/`): [`preload`] loads the one a
//! container asks for, before any fork or pivot_root. A native container,
//! and every command that runs none (`state`, `kill`, `delete`), maps no
//! engine at all: wasmtime, wasmer and WasmEdge with LLVM are tens of
//! megabytes of code and relocations that `hako` itself no longer carries.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use hako_executors::detect::{self, Intent};
use hako_executors::execve::ExecveExecutor;
use hako_executors::plugin::PluginEngine;
use hako_executors::wasm::WasmExecutor;
use hako_executors::{Chain, EngineKind, Executor, RuntimeOptions};

use crate::error::{Error, Result};

/// The chain, in the order executors are asked: the engines of this
/// build, then execve.
pub fn chain() -> Chain {
    let mut executors: Vec<Box<dyn Executor>> = built_in()
        .into_iter()
        .map(|engine| Box::new(WasmExecutor::new(loaded::Loaded(engine))) as Box<dyn Executor>)
        .collect();
    executors.push(Box::new(ExecveExecutor));
    Chain::new(executors)
}

/// The engines this build has plugins for (its features).
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

/// The plugin of each engine, once loaded (in [`EngineKind::ALL`] order).
static PLUGINS: [OnceLock<std::result::Result<PluginEngine, String>>; EngineKind::ALL.len()] =
    [const { OnceLock::new() }; EngineKind::ALL.len()];

fn slot(engine: EngineKind) -> &'static OnceLock<std::result::Result<PluginEngine, String>> {
    let i = EngineKind::ALL
        .iter()
        .position(|e| *e == engine)
        .expect("every engine is in EngineKind::ALL");
    &PLUGINS[i]
}

/// The file name of an engine's plugin.
pub fn plugin_name(engine: EngineKind) -> String {
    format!("libhako_executor_{}.so", engine.name())
}

/// Where an engine's plugin is looked for: next to the binary hako was
/// started from (not its read-only view, `security::sealed_exe`), then in
/// `../lib/hako/` (an installed layout).
pub fn plugin_candidates(engine: EngineKind) -> Vec<PathBuf> {
    let name = plugin_name(engine);
    let Some(dir) = crate::security::sealed_exe::original_exe()
        .ok()
        .and_then(|e| e.parent().map(PathBuf::from))
    else {
        return vec![];
    };
    vec![dir.join(&name), dir.join("../lib/hako").join(&name)]
}

/// Loads the engine plugin a container will need, if any. Runs in hako
/// before forking, so the container's processes inherit the library.
pub fn preload(annotations: &BTreeMap<String, String>, options: &RuntimeOptions) -> Result<()> {
    let (engine, sniffing) = match detect::intent(annotations, options).map_err(Error::Executor)? {
        Intent::Wasm(e) => (e, false),
        Intent::Sniff { engine: e, .. } => (e, true),
        Intent::Native => return Ok(()),
    };
    // An engine this build lacks is the chain's error to report.
    if !built_in().contains(&engine) {
        return Ok(());
    }
    let loaded = slot(engine).get_or_init(|| {
        let candidates = plugin_candidates(engine);
        let path = candidates
            .iter()
            .find(|p| p.exists())
            .cloned()
            .unwrap_or_else(|| candidates.first().cloned().unwrap_or_default());
        PluginEngine::load(engine, &path)
    });
    match loaded {
        Ok(_) => Ok(()),
        // A container that is wasm only if its entrypoint turns out to be
        // a module may well be native: the engine's absence is an error
        // only for a module (reported by the chain, `Loaded::prepare`).
        Err(e) if sniffing => {
            tracing::debug!("wasm engine {engine} not loaded: {e}");
            Ok(())
        }
        Err(e) => Err(Error::invalid(format!("wasm engine {engine}: {e}"))),
    }
}

/// An engine that lives in a plugin [`preload`] loaded.
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
            match super::slot(self.0).get() {
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
