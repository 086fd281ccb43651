//! The WasmEdge engine for hako, through libwasmedge 0.14.
//!
//! [`WasmEdge`] implements [`WasmEngine`] for WASI preview 1 core modules:
//!
//! * `prepare` (at `hako create`) loads and validates the module, checks
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

use hako_executors::wasm::{WasiConfig, WasmEngine, WasmModule};
use hako_executors::{EngineKind, ExecutorError, Prepared};

/// The WasmEdge engine. Creating it does nothing: libwasmedge is first
/// touched in [`WasmEngine::prepare`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WasmEdge;

impl WasmEngine for WasmEdge {
    fn kind(&self) -> EngineKind {
        EngineKind::WasmEdge
    }

    fn prepare(
        &self,
        module: WasmModule,
        wasi: WasiConfig,
    ) -> Result<Box<dyn Prepared>, ExecutorError> {
        if module.component {
            return Err(ExecutorError::ComponentUnsupported {
                engine: EngineKind::WasmEdge,
                path: module.path,
            });
        }
        Ok(Box::new(guest::Guest::prepare(&module, &wasi)?))
    }
}

// The entry point of libhako_executor_wasmedge.so.
hako_executors::export_engine!(WasmEdge);
