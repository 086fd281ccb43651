//! The WASI context every guest gets, built from hako's [`WasiConfig`].

use std::future::Future;

use hako_executors::wasm::WasiConfig;
use hako_executors::{EngineKind, ExecutorError};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::errors;

/// How the guest's blocking filesystem calls are carried out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Blocking {
    /// On the calling thread: right for a synchronous command, which has the
    /// thread to itself and would otherwise bounce every call through tokio's
    /// blocking pool.
    OnThread,
    /// On tokio's blocking pool: right inside the async HTTP server, where a
    /// blocked worker thread would stall other requests.
    Pool,
}

/// A builder holding the container's view: `args` exactly, `env` exactly
/// (never the runtime's own environment), the preopened directories, the
/// process's real stdio and the container's network.
///
/// The preopened directories are opened now, so a missing one fails the
/// caller (`prepare`, hence `hako create`).
pub(crate) fn builder(
    wasi: &WasiConfig,
    blocking: Blocking,
) -> Result<WasiCtxBuilder, ExecutorError> {
    let mut builder = WasiCtxBuilder::new();
    // Set before the preopens: each directory captures it when opened.
    builder.allow_blocking_current_thread(blocking == Blocking::OnThread);
    builder.args(&wasi.args).envs(&wasi.env);
    // fds 0/1/2 of init are the container's stdio (pipes, files or a tty).
    builder.inherit_stdio();
    // The container's network namespace is the sandbox: the guest may use
    // whatever the namespace offers, like a native process would.
    builder
        .inherit_network()
        .allow_tcp(true)
        .allow_udp(true)
        .allow_ip_name_lookup(true);
    for preopen in &wasi.preopens {
        // FsPerms covers both the directory and the files opened under it.
        let perms = if preopen.readonly {
            FsPerms::ReadOnly
        } else {
            FsPerms::ReadWrite
        };
        builder
            .preopened_dir(&preopen.host, &preopen.guest, perms)
            .map_err(|e| {
                errors::engine(
                    &format!(
                        "opening {} as the guest's {:?}",
                        preopen.host.display(),
                        preopen.guest
                    ),
                    &e,
                )
            })?;
    }
    Ok(builder)
}

/// Runs a guest's future to completion on the calling thread.
///
/// The runtime is tokio's current-thread one: timers and sockets are
/// driven by this thread while the guest waits, and no worker thread is
/// started, so a guest that starts no threads of its own runs where
/// `pids.max` leaves room for init alone. (File I/O runs inline too:
/// [`Blocking::OnThread`].)
pub(crate) fn on_this_thread<F: Future>(guest: F) -> Result<F::Output, ExecutorError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(|e| ExecutorError::Engine {
            engine: EngineKind::Wasmtime,
            message: format!("starting the tokio runtime: {e}"),
        })?;
    Ok(runtime.block_on(guest))
}
