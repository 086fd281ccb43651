//! The wasmer engine for hako.
//!
//! [`Wasmer`] runs WASI preview 1 core modules with wasmer's Cranelift
//! compiler and the WASI implementation of `wasmer-wasix`. It is driven by
//! container init through [`hako_executors::wasm::WasmEngine`]:
//!
//! * During `hako create`, `hako_executors::wasm::prepare_guest` compiles
//!   the module through the contract (`compile`, or `precompile` and
//!   `load` with the runtime's cache), and [`WasmEngine::instantiate`]
//!   checks that every import is one wasmer-wasix provides with the right
//!   type, that the module exports `_start` and a memory, and that the
//!   one preopen is hako's `/`. Every error a module can have surfaces
//!   here, and no guest code runs.
//! * [`Prepared::run`] (after `hako start`)
//!   builds the WASI environment, instantiates the module, calls `_start`
//!   and returns its exit code.
//!
//! # Threads
//!
//! * During `prepare`: compilation runs on two rayon pools (the one
//!   `compile::compile` installs, so that rayon's global pool never starts,
//!   and the one Cranelift builds per module), both sized to the CPU count.
//!   Their threads exit on their own shortly after compilation ends (rayon
//!   does not join them on drop); the runtime waits for a single thread
//!   before it confines a guest with an LSM label. The import check needs a tokio handle
//!   and gets it from a current-thread runtime, which starts no thread.
//! * Between `prepare` and `run`: only the caller's thread, once the
//!   compiler threads are gone.
//! * During `run`: the guest runs on the caller's thread. The multi-thread
//!   tokio runtime wasmer-wasix needs is created when `run` starts: one
//!   worker (`wasmer-tokio`, timers and sockets) plus blocking threads on
//!   demand (host files go through `tokio::fs`). Host networking adds its
//!   selector thread, a guest polling a stdin that is not ready adds a
//!   watcher (`wasmer-stdin`), and a WASIX guest that spawns threads gets
//!   them from wasmer-wasix's pool. `run` leaves them behind when it
//!   returns (`shutdown_background`): init exits right after.
//!
//! # Signals
//!
//! wasmer installs handlers for SIGSEGV, SIGILL and SIGFPE (SIGBUS too on
//! ARM) that turn faults in guest code into traps and chain to the previous
//! handler otherwise, when the first store is created: during `prepare` for
//! any module with imports (the import check), else in `run`. This crate
//! installs no other handler and never exits the process: stopping the
//! guest on SIGTERM/SIGINT/SIGHUP is the caller's business.
//!
//! # File system
//!
//! The guest sees the host file system through its one preopen (see
//! `preopens`): hako's `/` → the container's root, that is the container
//! itself. wasmer-wasix adds a virtual root at fd 3, also named `/`,
//! before the configured preopen (fd 4); wasi-libc prefers the preopen
//! registered last, so the configured one wins.
//!
//! # Caching compiled modules
//!
//! `precompile` is `Module::serialize` of a fresh compile, `load` is
//! `Module::deserialize`, and the tag is the engine's `deterministic_id`;
//! the executor crate keys, stores and trusts artifacts.
//!
//! # Engine and stores
//!
//! The first compile or load creates the process's one
//! [`wasmer::Engine`]. The guest runs
//! in one store, created in `run`; threads a WASIX guest spawns get stores
//! of the same engine. The import check uses a store of its own, dropped
//! before `prepare` returns.

mod beneath;
mod compile;
mod guest;
mod imports;
mod outcome;
mod preopens;
mod readonly;
mod stdio;

use std::path::Path;

use hako_executors::wasm::{WasiConfig, WasmEngine, WasmModule};
use hako_executors::{EngineKind, ExecutorError, Prepared};

/// The wasmer engine, with Cranelift and wasmer-wasix.
///
/// Creating it does nothing; the engine is made when a module is first
/// compiled or loaded.
#[derive(Clone, Copy, Debug, Default)]
pub struct Wasmer;

impl Wasmer {
    /// A compile-time failure, caught panics included, as hako reports it.
    fn compiling<T>(
        module: &WasmModule,
        f: impl FnOnce() -> Result<T, String>,
    ) -> Result<T, ExecutorError> {
        outcome::catch_panic(f)
            .and_then(|r| r)
            .map_err(|message| ExecutorError::Compile {
                engine: EngineKind::Wasmer,
                path: module.path.clone(),
                message,
            })
    }
}

impl WasmEngine for Wasmer {
    type Compiled = wasmer::Module;

    fn kind(&self) -> EngineKind {
        EngineKind::Wasmer
    }

    fn cache_tag(&self, module: &WasmModule) -> Result<String, ExecutorError> {
        Self::compiling(module, || Ok(compile::tag()))
    }

    fn precompile(
        &self,
        module: &WasmModule,
        _scratch: Option<&Path>,
    ) -> Result<Option<Vec<u8>>, ExecutorError> {
        Self::compiling(module, || compile::precompile(module)).map(Some)
    }

    unsafe fn load(
        &self,
        module: &WasmModule,
        artifact: &[u8],
    ) -> Result<Self::Compiled, ExecutorError> {
        // SAFETY: the caller keeps WasmEngine::load's contract, which is
        // compile::load's.
        Self::compiling(module, || unsafe { compile::load(artifact) })
    }

    fn compile(&self, module: &WasmModule) -> Result<Self::Compiled, ExecutorError> {
        Self::compiling(module, || compile::compile(module))
    }

    fn instantiate(
        &self,
        module: WasmModule,
        compiled: Self::Compiled,
        wasi: WasiConfig,
    ) -> Result<Box<dyn Prepared>, ExecutorError> {
        Self::compiling(&module, || -> Result<Box<dyn Prepared>, String> {
            let engine = compile::engine();
            imports::check(&engine, &compiled)?;
            let preopens = preopens::Plan::new(&wasi.preopens)?;
            guest::check_names(&wasi)?;
            Ok(Box::new(guest::Guest::new(
                engine, compiled, wasi, preopens,
            )))
        })
    }
}

// The entry point of libhako_executor_wasmer.so.
hako_executors::export_engine!(Wasmer);
