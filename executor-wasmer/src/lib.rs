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
//! * During `prepare`: a compile translates on the caller's thread and
//!   Cranelift compiles function bodies on a rayon pool it makes for the
//!   module, one thread per CPU; those threads exit on their own shortly
//!   after (rayon does not join them on drop), and the runtime waits for a
//!   single thread before it confines a guest with an LSM label. Loading a
//!   cached artifact starts no thread. The import check needs a tokio
//!   handle and gets it from a current-thread runtime, which starts none.
//! * During `run`: the guest runs on the caller's thread, and a guest that
//!   asks for nothing more gets no other thread, so it runs under
//!   `pids.max` = 1 (see `tasks`): host files are read and written on its
//!   thread (`host_file`), a sleep waits on it, and stdio goes straight to
//!   the fds (`stdio`). Threads start on demand: a tokio runtime with one
//!   worker for a WASIX guest's threads and background work, host
//!   networking's selector with the first socket (`network`), and a
//!   watcher (`wasmer-stdin`) while a guest polls a stdin that is not
//!   ready. `run` leaves them behind when it returns: init exits right
//!   after.
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
//! itself, confined to it (`beneath`; files are opened with openat2
//! `RESOLVE_BENEATH`). wasmer-wasix adds a virtual root at fd 3, also named `/`,
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
mod host_file;
mod imports;
mod network;
mod nudge;
mod outcome;
mod preopens;
mod readonly;
mod stdio;
mod tasks;

/// What the crate's unit tests share.
#[cfg(test)]
mod test_support {
    /// Polls `f` to completion on a current-thread tokio runtime: enough
    /// for the crate's file and stdio types, whose polls never wait on
    /// tokio's drivers.
    pub(crate) fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }
}

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
