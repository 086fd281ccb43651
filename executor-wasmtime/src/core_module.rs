//! Core modules: WASI preview 1 commands.

use hako_executors::wasm::{WasiConfig, WasmModule};
use hako_executors::{ExecutorError, Prepared};
use wasmtime::{Engine, ExternType, InstancePre, Linker, Module, Store};
use wasmtime_wasi::p1::{self, WasiP1Ctx};

use crate::errors;
use crate::wasi::{self, Blocking};

/// The command's entry point, as wasi-libc and Rust name it.
const START: &str = "_start";

/// A compiled, linked core module with its store, waiting for `start`.
pub(crate) struct CoreCommand {
    pre: InstancePre<WasiP1Ctx>,
    store: Store<WasiP1Ctx>,
}

/// Links a compiled module to WASI preview 1 (and the older `wasi_unstable`
/// that early toolchains emit) and checks that it is a command, so that a
/// broken module fails here rather than at `start`.
pub(crate) fn prepare(
    engine: &Engine,
    module: &WasmModule,
    compiled: Module,
    wasi: &WasiConfig,
) -> Result<CoreCommand, ExecutorError> {
    match compiled.get_export(START) {
        Some(ExternType::Func(f)) if f.params().len() == 0 && f.results().len() == 0 => {}
        Some(_) => {
            return Err(errors::compile_msg(
                module,
                format!("export {START} is not a function without parameters or results"),
            ))
        }
        None => {
            return Err(errors::compile_msg(
                module,
                format!("module exports no {START} function (not a wasi command)"),
            ))
        }
    }

    // The async host functions, driven by hako's own current-thread tokio
    // runtime at `run`: the sync ones would run on wasmtime-wasi's global
    // multi-thread runtime, whose workers a pids limit may not allow.
    let mut linker = Linker::<WasiP1Ctx>::new(engine);
    p1::add_to_linker_async(&mut linker, |ctx| ctx).map_err(|e| errors::compile(module, &e))?;
    wasmtime_wasi::p0::add_to_linker_async(&mut linker, |ctx| ctx)
        .map_err(|e| errors::compile(module, &e))?;
    // Resolves and type-checks every import now: an unknown import is a
    // `create` error, not a `start` one.
    let pre = linker
        .instantiate_pre(&compiled)
        .map_err(|e| errors::compile(module, &e))?;

    let ctx = wasi::builder(wasi, Blocking::OnThread)?.build_p1();
    Ok(CoreCommand {
        pre,
        store: Store::new(engine, ctx),
    })
}

impl Prepared for CoreCommand {
    fn run(self: Box<Self>) -> Result<i32, ExecutorError> {
        let CoreCommand { pre, mut store } = *self;
        // Instantiation runs the module's start function, if any: guest code,
        // so its traps are the guest's like those of `_start`.
        let result = wasi::on_this_thread(async {
            let instance = pre.instantiate_async(&mut store).await?;
            let start = instance.get_typed_func::<(), ()>(&mut store, START)?;
            // Only the guest's code, and the host calls it makes, run
            // from here on.
            hako_executors::code_pages::release();
            start.call_async(&mut store, ()).await
        })?;
        crate::flush_stdio();
        errors::exit_code(result)
    }
}
