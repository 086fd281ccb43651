//! What every engine crate tests with (feature `testing`): the conformance
//! suite all three engines must pass ([`conformance`] and
//! [`crate::conformance_tests!`]), and the pieces it is made of — a
//! container-like [`Sandbox`] whose WASI view is built by the runtime's own
//! code (the single `/` preopen), guests in WebAssembly text
//! ([`guests`]), a child-process runner ([`child`]) and a counting
//! in-memory cache ([`memory_cache`]).
//!
//! Guests run in a forked child whose fds 0, 1 and 2 are files, because
//! an engine runs the guest on the process's real stdio and the guest
//! decides the exit status. Every test holds [`serial`], so that no other
//! test thread is inside an engine when one forks.

pub mod child;
pub mod conformance;
pub mod guests;
pub mod memory_cache;
mod sandbox;

use std::sync::{Mutex, MutexGuard};

pub use child::{in_child, run, Outcome, Run};
pub use memory_cache::{Counting, MemoryCache};
pub use sandbox::{Sandbox, IN_TXT, SECRET};

use crate::error::ExecutorError;
use crate::executor::Prepared;
use crate::wasm::{prepare_guest, WasiConfig, WasmEngine, WasmModule};

/// Takes the test binary's engine lock (a failed test elsewhere does not
/// poison it): one test at a time inside an engine, so forks are safe.
pub fn serial() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A module from WebAssembly text (or a component, if the text is one),
/// named `/app.wasm`.
pub fn wat(text: &str) -> WasmModule {
    let bytes = wat::parse_str(text).unwrap_or_else(|e| panic!("bad test wat: {e}\n{text}"));
    binary(bytes)
}

/// A module from bytes, named `/app.wasm`.
pub fn binary(bytes: Vec<u8>) -> WasmModule {
    let component = wasmparser::Parser::is_component(&bytes);
    WasmModule {
        path: "/app.wasm".into(),
        bytes,
        component,
    }
}

/// Prepares a guest on `E` without a cache, as `hako exec` does.
pub fn prepare<E: WasmEngine + Default>(
    module: WasmModule,
    wasi: WasiConfig,
) -> Result<Box<dyn Prepared>, ExecutorError> {
    prepare_guest(&E::default(), module, wasi, None)
}

/// The error of a `prepare` that must fail.
pub fn prepare_err<E: WasmEngine + Default>(module: WasmModule, wasi: WasiConfig) -> ExecutorError {
    match prepare::<E>(module, wasi) {
        Ok(_) => panic!("prepare accepted a module it must refuse"),
        Err(e) => e,
    }
}
