//! The wasmtime engine for hako.
//!
//! [`Wasmtime`] implements [`WasmEngine`]: container init calls
//! [`WasmEngine::prepare`] during `hako create`, which compiles the module,
//! links WASI and opens the preopened directories, so that every error a
//! module can have fails `create`; after `hako start` the same process calls
//! [`Prepared::run`] and exits with the code
//! it returns.
//!
//! What runs depends on the module:
//!
//! - a core module is a WASI preview 1 command (`core_module.rs`);
//! - a component exporting `wasi:http/incoming-handler` is served over
//!   HTTP/1.1 on [`WasiConfig::http_addr`] (`http.rs`);
//! - a component exporting `wasi:cli/run` is a WASI preview 2 command
//!   (`component.rs`).
//!
//! Threads and signals: creating the engine (in `prepare`) installs
//! wasmtime's trap handlers for SIGSEGV, SIGILL and, on x86_64, SIGFPE
//! (how wasm traps are caught; faults outside wasm chain to the previous
//! handlers) but starts no thread. A command runs on a current-thread
//! tokio runtime on the caller's thread, with file I/O inline: it starts
//! no thread (wasmtime-wasi adds a stdin reader thread only if the guest
//! reads a stdin that is not ready). Serving HTTP starts a multi-thread
//! tokio runtime.
//! The crate never touches SIGTERM, SIGINT or SIGHUP and never exits the
//! process.

mod component;
mod core_module;
mod engine;
mod errors;
mod http;
mod wasi;

use hako_executors::wasm::{WasiConfig, WasmEngine, WasmModule};
use hako_executors::{EngineKind, ExecutorError, Prepared};

/// The wasmtime engine, for `WasmExecutor::new(Wasmtime)`.
///
/// It holds nothing: the process-wide `wasmtime::Engine` is created by the
/// first [`WasmEngine::prepare`], so a native container never initialises
/// wasmtime.
#[derive(Clone, Copy, Debug, Default)]
pub struct Wasmtime;

impl WasmEngine for Wasmtime {
    fn kind(&self) -> EngineKind {
        EngineKind::Wasmtime
    }

    fn prepare(
        &self,
        module: WasmModule,
        wasi: WasiConfig,
    ) -> Result<Box<dyn Prepared>, ExecutorError> {
        if module.component {
            component::prepare(&module, wasi)
        } else {
            Ok(Box::new(core_module::prepare(&module, &wasi)?))
        }
    }
}

/// Pushes out guest output still buffered in std's stdout.
///
/// wasmtime-wasi writes guest stdio through `std::io::stdout()`, which is
/// line-buffered: a final line without a newline would be lost if init
/// then leaves with `_exit`.
fn flush_stdio() {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
}
