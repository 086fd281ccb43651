//! The wasmtime engine for hako.
//!
//! [`Wasmtime`] implements [`WasmEngine`]: during `hako create`, container
//! init compiles the module (or loads it from the cache) and
//! [`WasmEngine::instantiate`] links WASI and checks the command, so that
//! every error a module can have fails `create`; after `hako start` the
//! same process calls [`Prepared::run`] and exits with the code it
//! returns.
//!
//! What runs depends on the module:
//!
//! - a core module is a WASI preview 1 command (`core_module.rs`);
//! - a component exporting `wasi:http/incoming-handler` is served over
//!   HTTP/1.1 on [`WasiConfig::http_addr`] (`http.rs`);
//! - a component exporting `wasi:cli/run` is a WASI preview 2 command
//!   (`component.rs`).
//!
//! Threads and signals: creating the engine (at the first compile) installs
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

use std::path::Path;

use hako_executors::wasm::{WasiConfig, WasmEngine, WasmModule};
use hako_executors::{EngineKind, ExecutorError, Prepared};

/// The wasmtime engine, for `WasmExecutor::new(Wasmtime)`.
///
/// It holds nothing: the process-wide `wasmtime::Engine` is created by the
/// first call that compiles, so a native container never initialises
/// wasmtime.
#[derive(Clone, Copy, Debug, Default)]
pub struct Wasmtime;

impl WasmEngine for Wasmtime {
    type Compiled = engine::Compiled;

    fn kind(&self) -> EngineKind {
        EngineKind::Wasmtime
    }

    fn runs_components(&self) -> bool {
        true
    }

    fn cache_tag(&self, module: &WasmModule) -> Result<String, ExecutorError> {
        Ok(engine::tag(&engine::engine()?, module))
    }

    fn precompile(
        &self,
        module: &WasmModule,
        _scratch: Option<&Path>,
    ) -> Result<Option<Vec<u8>>, ExecutorError> {
        engine::precompile(&engine::engine()?, module).map(Some)
    }

    unsafe fn load(
        &self,
        module: &WasmModule,
        artifact: &[u8],
    ) -> Result<Self::Compiled, ExecutorError> {
        // SAFETY: the caller keeps WasmEngine::load's contract, which is
        // engine::load's.
        unsafe { engine::load(&engine::engine()?, module, artifact) }
    }

    fn compile(&self, module: &WasmModule) -> Result<Self::Compiled, ExecutorError> {
        engine::compile(&engine::engine()?, module)
    }

    fn instantiate(
        &self,
        module: WasmModule,
        compiled: Self::Compiled,
        wasi: WasiConfig,
    ) -> Result<Box<dyn Prepared>, ExecutorError> {
        let engine = engine::engine()?;
        match compiled {
            engine::Compiled::Module(m) => {
                Ok(Box::new(core_module::prepare(&engine, &module, m, &wasi)?))
            }
            engine::Compiled::Component(c) => component::prepare(&engine, &module, c, wasi),
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

// The entry point of libhako_executor_wasmtime.so.
hako_executors::export_engine!(Wasmtime);
