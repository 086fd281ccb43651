//! The WasmEdge engine for hako, through libwasmedge 0.14.
//!
//! [`WasmEdge`] implements [`WasmEngine`] for WASI preview 1 core modules:
//!
//! * at `hako create`, the module is parsed (`compile`: interpreted), or
//!   compiled ahead of time and cached (`precompile`, `load`; see `aot`),
//!   then [`WasmEngine::instantiate`] validates it, checks
//!   every import against WasmEdge's `wasi_snapshot_preview1` module, sets
//!   up WASI (argv, environment and preopens exactly as [`WasiConfig`] says,
//!   stdio on the real fds 0/1/2) and, unless the module has a start
//!   function, instantiates it; so every error a module can have surfaces
//!   at `create`.
//! * [`Prepared::run`] (after `hako start`, same process) calls `_start`
//!   and returns the guest's exit code: `proc_exit(n)` gives `n`, returning
//!   from `_start` gives 0, a trap is [`ExecutorError::Trap`].
//!
//! Components are refused with [`ExecutorError::ComponentUnsupported`].
//! The engine never exits the process and installs no handlers for
//! SIGTERM, SIGINT or SIGHUP (the executor chain does that).
//!
//! Building needs libwasmedge; see `docs/wasmedge.md` and `build.rs`.

mod aot;
mod errors;
mod guest;
mod link;
mod restart;
mod wasi;

use std::path::Path;
use std::sync::Arc;

use hako_executors::wasm::{WasiConfig, WasmEngine, WasmModule};
use hako_executors::{EngineKind, ExecutorError, Prepared};

/// The WasmEdge engine. Creating it does nothing: libwasmedge is first
/// touched when a module is compiled or loaded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WasmEdge;

impl WasmEngine for WasmEdge {
    type Compiled = Arc<wasmedge_sys::Module>;

    fn kind(&self) -> EngineKind {
        EngineKind::WasmEdge
    }

    fn cache_tag(&self, _module: &WasmModule) -> Result<String, ExecutorError> {
        Ok(aot::tag())
    }

    fn precompile(
        &self,
        module: &WasmModule,
        scratch: Option<&Path>,
    ) -> Result<Option<Vec<u8>>, ExecutorError> {
        aot::precompile(module, scratch)
    }

    unsafe fn load(
        &self,
        module: &WasmModule,
        artifact: &[u8],
    ) -> Result<Self::Compiled, ExecutorError> {
        aot::load(module, artifact)
    }

    /// Without a cache, WasmEdge interprets: compiling ahead of time pays
    /// off only when the result is kept.
    fn compile(&self, module: &WasmModule) -> Result<Self::Compiled, ExecutorError> {
        aot::interpret(module)
    }

    fn instantiate(
        &self,
        module: WasmModule,
        compiled: Self::Compiled,
        wasi: WasiConfig,
    ) -> Result<Box<dyn Prepared>, ExecutorError> {
        Ok(Box::new(guest::Guest::prepare(&module, compiled, &wasi)?))
    }
}

// The entry point of libhako_executor_wasmedge.so.
hako_executors::export_engine!(WasmEdge);
