//! Running a prepared guest: WASI environment, instance, `_start`.

use std::sync::Arc;

use hako_executors::wasm::{BadEntry, WasiConfig};
use hako_executors::{EngineKind, ExecutorError, Prepared};
use wasmer::{Engine, Module, Store};
use wasmer_wasix::wasmer_wasix_types::wasi::ExitCode;
use wasmer_wasix::{PluggableRuntime, WasiEnv, WasiEnvBuilder};

use crate::nudge::Nudge;
use crate::outcome;
use crate::preopens::Plan;
use crate::stdio::HostStdio;
use crate::tasks::GuestTasks;

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

    /// Everything between having a tokio context and the guest's end.
    fn run_on(self, tokio: &tokio::runtime::Handle) -> Result<i32, ExecutorError> {
        let nudge = Arc::new(Nudge::new().map_err(|e| {
            engine_error(format!(
                "making the guest's wake-up eventfd: {}",
                ExecutorError::one_line(&e)
            ))
        })?);
        let mut builder = self.environment(tokio, &nudge).map_err(engine_error)?;
        // wasmer-wasix creates the stores of guest threads from the
        // runtime's engine: it must be the one the module was compiled with.
        let tasks = Arc::new(GuestTasks::new(nudge));
        let mut runtime = PluggableRuntime::new(Arc::clone(&tasks) as _);
        runtime.set_engine(self.engine.clone());
        runtime.set_networking_implementation(crate::network::Lazy::new(tasks));
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
        // Only the guest's code, and the host calls it makes, run from here on.
        hako_executors::code_pages::release();
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
    fn environment(
        &self,
        tokio: &tokio::runtime::Handle,
        nudge: &Arc<Nudge>,
    ) -> Result<WasiEnvBuilder, String> {
        // `builder(name)` makes `name` argv[0]; replace argv as a whole so
        // that it is `args`, no more and no less.
        let mut builder = WasiEnv::builder("");
        *builder.get_args_mut() = self.wasi.args.clone();
        builder.add_envs(self.wasi.env.iter().map(|(k, v)| (k, v)));
        builder.set_stdin(HostStdio::stdin(nudge));
        builder.set_stdout(HostStdio::stdout(nudge));
        builder.set_stderr(HostStdio::stderr(nudge));
        self.preopens.apply(&mut builder, tokio)?;
        Ok(builder)
    }
}

impl Prepared for Guest {
    fn run(self: Box<Self>) -> Result<i32, ExecutorError> {
        // wasmer-wasix and virtual-fs look for a tokio handle; a
        // current-thread runtime gives them one without a thread, and
        // nothing is ever spawned on it (see `tasks`).
        let tokio = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| {
                engine_error(format!("starting tokio: {}", ExecutorError::one_line(&e)))
            })?;
        let result = outcome::catch_panic(|| {
            let _entered = tokio.enter();
            self.run_on(tokio.handle())
        })
        .unwrap_or_else(|panicked| Err(engine_error(panicked)));
        // Anything left on it must not keep init from exiting.
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
