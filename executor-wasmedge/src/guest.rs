//! A prepared guest: its module, WASI environment, store and (usually)
//! instance, kept from `create` until `start`.

use std::sync::Arc;

use hako_executors::wasm::{WasiConfig, WasmModule};
use hako_executors::{ExecutorError, Prepared};
use wasmedge_sdk::error::WasmEdgeError;
use wasmedge_sdk::wasi::WasiModule;
use wasmedge_sys::{AsInstance, Executor, Instance, Module, Store, Validator, WasmValue};

use crate::errors::{self, Failure};
use crate::{aot, link, restart, wasi};

/// Everything the guest needs to run. The handles are plain owners of
/// libwasmedge contexts; the store refers to `wasi` and `instance` lives
/// in `store`, so fields are declared (and dropped) users first.
pub(crate) struct Guest {
    /// The module instance, unless the module has a start function.
    instance: Option<Instance>,
    store: Store,
    executor: Executor,
    wasi: WasiModule,
    module: Arc<Module>,
}

impl Guest {
    /// Validates, links and (without a start function) instantiates the
    /// loaded module `ast`: every failure is a [`ExecutorError::Compile`].
    pub(crate) fn prepare(
        module: &WasmModule,
        ast: Arc<Module>,
        config: &WasiConfig,
    ) -> Result<Self, ExecutorError> {
        let path = &module.path;
        if let Err(reason) = restart::install() {
            tracing::warn!(%reason, "a pause or stop may end the guest's sleeps");
        }
        let settings = aot::config(path)?;
        Validator::create(Some(&settings))
            .and_then(|validator| validator.validate(&ast))
            .map_err(|e| errors::compile(path, format_args!("validation failed: {e}")))?;
        let wasi = wasi::module(path, config)?;
        link::check(path, &ast, &wasi)?;

        let engine = |e| errors::compile(path, format_args!("setting up the engine: {e}"));
        let mut store = Store::create().map_err(engine)?;
        let mut executor = Executor::create(Some(&settings), None).map_err(engine)?;
        executor
            .register_import_module(&mut store, wasi.as_ref())
            .map_err(engine)?;
        let mut guest = Guest {
            instance: None,
            store,
            executor,
            wasi,
            module: ast,
        };
        if !link::has_start_function(&module.bytes) {
            match guest.instantiate() {
                Ok(Some(instance)) => guest.instance = Some(instance),
                Ok(None) => return Err(errors::compile(path, "instantiation failed")),
                Err(e) => {
                    return Err(errors::compile(
                        path,
                        format_args!("instantiation failed: {e}"),
                    ))
                }
            }
        }
        tracing::debug!(module = %path.display(), instantiated = guest.instance.is_some(), "wasmedge guest prepared");
        Ok(guest)
    }

    /// Instantiates the module, running its start function if it has one.
    /// `None`: the start function called `proc_exit`, which libwasmedge
    /// reports as success without an instance.
    fn instantiate(&mut self) -> Result<Option<Instance>, Box<WasmEdgeError>> {
        let instance = self
            .executor
            .register_active_module(&mut self.store, &self.module)?;
        // SAFETY: the pointer is only compared with null, never followed.
        let created = !unsafe { instance.as_ptr() }.is_null();
        Ok(created.then_some(instance))
    }

    /// The code the guest passed to `proc_exit`, or 0.
    fn exit_code(&self) -> i32 {
        // WASI exit codes are u32; the process keeps the low byte anyway.
        self.wasi.exit_code() as i32
    }

    /// The result of a call into the guest (or of instantiating it).
    fn outcome<T>(&self, result: Result<T, Box<WasmEdgeError>>) -> Result<i32, ExecutorError> {
        match result {
            Ok(_) => Ok(self.exit_code()),
            Err(e) => match Failure::of(&e) {
                Failure::Exited => Ok(self.exit_code()),
                Failure::Trap(e) | Failure::Engine(e) => Err(e),
            },
        }
    }
}

impl Prepared for Guest {
    fn run(mut self: Box<Self>) -> Result<i32, ExecutorError> {
        let mut instance = match self.instance.take() {
            Some(instance) => instance,
            // Runs the start function first: proc_exit or a trap there
            // ends the guest before `_start`.
            None => match self.instantiate() {
                Ok(Some(instance)) => instance,
                Ok(None) => return Ok(self.exit_code()),
                Err(e) => return self.outcome(Err::<(), _>(e)),
            },
        };
        let mut entry = instance.get_func_mut(link::ENTRY).map_err(errors::engine)?;
        // Only the guest's code, and the host calls it makes, run from here on.
        hako_executors::code_pages::release();
        let result = self.executor.call_func(&mut entry, Vec::<WasmValue>::new());
        self.outcome(result)
    }
}
