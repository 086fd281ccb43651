//! Running a prepared guest: WASI environment, instance, `_start`.

use std::sync::Arc;

use hako_executors::wasm::{BadEntry, WasiConfig};
use hako_executors::{EngineKind, ExecutorError, Prepared};
use wasmer::{Engine, Module, Store};
use wasmer_wasix::runtime::task_manager::tokio::TokioTaskManager;
use wasmer_wasix::virtual_net::host::LocalNetworking;
use wasmer_wasix::wasmer_wasix_types::wasi::ExitCode;
use wasmer_wasix::{PluggableRuntime, WasiEnv, WasiEnvBuilder};

use crate::outcome;
use crate::preopens::Plan;
use crate::stdio::HostStdio;

/// Worker threads of the tokio runtime. The guest runs on the caller's
/// thread; the worker only drives timers and sockets, and file I/O has
/// tokio's blocking pool.
const TOKIO_WORKERS: usize = 1;

/// Exit code handed to wasmer-wasix's cleanup when the guest failed.
const FAILED: u16 = 1;

/// Checks what `WasiEnvBuilder` would only refuse at `run`: an empty
/// variable name, or one with `=` (NUL bytes are refused before, for
/// every engine, by `WasiConfig::check`).
pub(crate) fn check_names(wasi: &WasiConfig) -> Result<(), String> {
    match wasi
        .bad_entries()
        .find(|e| matches!(e, BadEntry::EnvName(..)))
    {
        Some(BadEntry::EnvName(key, _)) => {
            Err(format!("invalid environment variable name {key:?}"))
        }
        _ => Ok(()),
    }
}

/// A compiled, checked module with its WASI configuration.
pub(crate) struct Guest {
    engine: Engine,
    module: Module,
    wasi: WasiConfig,
    preopens: Plan,
}

impl Guest {
    /// Keeps everything `run` needs; does no work.
    pub(crate) fn new(engine: Engine, module: Module, wasi: WasiConfig, preopens: Plan) -> Self {
        Guest {
            engine,
            module,
            wasi,
            preopens,
        }
    }

    /// Everything between having a tokio runtime and the guest's end.
    fn run_on(self, tokio: &tokio::runtime::Handle) -> Result<i32, ExecutorError> {
        let mut builder = self.environment(tokio).map_err(engine_error)?;
        // wasmer-wasix creates the stores of guest threads from the
        // runtime's engine: it must be the one the module was compiled with.
        let mut runtime = PluggableRuntime::new(Arc::new(TokioTaskManager::new(tokio.clone())));
        runtime.set_engine(self.engine.clone());
        runtime.set_networking_implementation(LocalNetworking::new());
        builder.set_runtime(Arc::new(runtime));

        let mut store = Store::new(self.engine);
        let (instance, env) = match builder.instantiate(self.module, &mut store) {
            Ok(instantiated) => instantiated,
            Err(err) => return outcome::of_instantiation(err),
        };
        // prepare checked that `_start` exists with the right type.
        let start = instance
            .exports
            .get_function("_start")
            .map_err(engine_error)?;
        let result = outcome::of_call(start.call(&mut store, &[]).map(drop));
        let code = match &result {
            Ok(code) => *code as u16,
            Err(_) => FAILED,
        };
        // Flushes and closes the guest's files: host files are written
        // through tokio, and a write may still be in flight.
        env.on_exit(&mut store, Some(ExitCode::from(code)));
        result
    }

    /// The WASI environment: argv, environment, stdio and preopens, each
    /// exactly as configured and nothing inherited from this process.
    fn environment(&self, tokio: &tokio::runtime::Handle) -> Result<WasiEnvBuilder, String> {
        // `builder(name)` makes `name` argv[0]; replace argv as a whole so
        // that it is `args`, no more and no less.
        let mut builder = WasiEnv::builder("");
        *builder.get_args_mut() = self.wasi.args.clone();
        builder.add_envs(self.wasi.env.iter().map(|(k, v)| (k, v)));
        builder.set_stdin(HostStdio::stdin());
        builder.set_stdout(HostStdio::stdout());
        builder.set_stderr(HostStdio::stderr());
        self.preopens.apply(&mut builder, tokio)?;
        Ok(builder)
    }
}

impl Prepared for Guest {
    fn run(self: Box<Self>) -> Result<i32, ExecutorError> {
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(TOKIO_WORKERS)
            .thread_name("wasmer-tokio")
            .enable_all()
            .build()
            .map_err(|e| {
                engine_error(format!("starting tokio: {}", ExecutorError::one_line(&e)))
            })?;
        let result = outcome::catch_panic(|| {
            let _entered = tokio.enter();
            self.run_on(tokio.handle())
        })
        .unwrap_or_else(|panicked| Err(engine_error(panicked)));
        // A blocking-pool thread stuck in a slow file operation must not
        // keep init from exiting.
        tokio.shutdown_background();
        result
    }
}

fn engine_error(err: impl std::fmt::Display) -> ExecutorError {
    ExecutorError::Engine {
        engine: EngineKind::Wasmer,
        message: ExecutorError::one_line(&err),
    }
}
