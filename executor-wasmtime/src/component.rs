//! Components: telling commands from HTTP handlers, and running commands
//! (`wasi:cli/run`) with WASI preview 2.

use hako_executors::wasm::{WasiConfig, WasmModule};
use hako_executors::{ExecutorError, Prepared};
use wasmtime::component::types::{ComponentFunc, ComponentInstance, ComponentItem};
use wasmtime::component::{Component, Linker, ResourceTable, Type};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::wasi::{self, Blocking};
use crate::{errors, http};

/// The interface a command component exports.
pub(crate) const CLI_RUN: &str = "wasi:cli/run";
/// The interface an HTTP handler component exports.
pub(crate) const HTTP_HANDLER: &str = "wasi:http/incoming-handler";

/// Prepares what a compiled component's exports make it: an HTTP
/// server or a command.
///
/// A component exporting both is served: a handler is the point of such a
/// component, while a `wasi:cli/run` beside it is typically the leftover
/// `main` of a binary crate.
pub(crate) fn prepare(
    engine: &Engine,
    module: &WasmModule,
    component: Component,
    wasi: WasiConfig,
) -> Result<Box<dyn Prepared>, ExecutorError> {
    if let Some(handler) = exported_instance(engine, &component, HTTP_HANDLER) {
        http::check_handler(engine, &handler).map_err(|m| errors::compile_msg(module, m))?;
        return Ok(Box::new(http::prepare(module, engine, &component, wasi)?));
    }
    if let Some(run) = exported_instance(engine, &component, CLI_RUN) {
        check_run(engine, &run).map_err(|m| errors::compile_msg(module, m))?;
        return Ok(Box::new(prepare_command(
            module, engine, &component, &wasi,
        )?));
    }
    Err(errors::compile_msg(
        module,
        format!("component exports neither {CLI_RUN} nor {HTTP_HANDLER}, so it is neither a command nor an http handler"),
    ))
}

/// An instance the component exports as `interface`, at any version.
pub(crate) struct ExportedInstance {
    /// The export's full name (`wasi:cli/run@0.2.0`).
    pub(crate) name: String,
    /// Its type.
    pub(crate) ty: ComponentInstance,
}

/// The instance the component exports as `interface` at any version.
fn exported_instance(
    engine: &Engine,
    component: &Component,
    interface: &str,
) -> Option<ExportedInstance> {
    component
        .component_type()
        .exports(engine)
        .find_map(|(name, item)| match item.ty {
            ComponentItem::ComponentInstance(ty) if name.split('@').next() == Some(interface) => {
                Some(ExportedInstance {
                    name: name.to_string(),
                    ty,
                })
            }
            _ => None,
        })
}

/// The type of function `func` of an exported instance, or a message saying
/// it is missing.
pub(crate) fn exported_func(
    engine: &Engine,
    instance: &ExportedInstance,
    func: &str,
) -> Result<ComponentFunc, String> {
    match instance.ty.get_export(engine, func).map(|e| e.ty) {
        Some(ComponentItem::ComponentFunc(f)) => Ok(f),
        _ => Err(format!("export {} has no function {func}", instance.name)),
    }
}

/// Checks `run: func() -> result` now, because wasmtime checks export types
/// only when it instantiates, which is at `start`.
fn check_run(engine: &Engine, run: &ExportedInstance) -> Result<(), String> {
    let func = exported_func(engine, run, "run")?;
    let results = func.results().collect::<Vec<_>>();
    let ok = func.params().len() == 0
        && matches!(&results[..], [Type::Result(r)] if r.ok().is_none() && r.err().is_none());
    if ok {
        Ok(())
    } else {
        Err(format!("{}: run is not a func() -> result", run.name))
    }
}

/// What a WASI preview 2 store holds.
pub(crate) struct WasiState {
    /// The container's WASI view.
    pub(crate) ctx: WasiCtx,
    /// The guest's resources.
    pub(crate) table: ResourceTable,
}

impl WasiView for WasiState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.ctx,
            table: &mut self.table,
        }
    }
}

/// A compiled, linked `wasi:cli/run` component with its store.
pub(crate) struct ComponentCommand {
    pre: CommandPre<WasiState>,
    store: Store<WasiState>,
}

/// Links all of WASI preview 2 and checks the `wasi:cli/run` export's type.
fn prepare_command(
    module: &WasmModule,
    engine: &Engine,
    component: &Component,
    wasi: &WasiConfig,
) -> Result<ComponentCommand, ExecutorError> {
    let mut linker = Linker::<WasiState>::new(engine);
    // Async, on hako's current-thread runtime at `run` (see core_module.rs).
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| errors::compile(module, &e))?;
    let pre = linker
        .instantiate_pre(component)
        .and_then(CommandPre::new)
        .map_err(|e| errors::compile(module, &e))?;
    let state = WasiState {
        ctx: wasi::builder(wasi, Blocking::OnThread)?.build(),
        table: ResourceTable::new(),
    };
    Ok(ComponentCommand {
        pre,
        store: Store::new(engine, state),
    })
}

impl Prepared for ComponentCommand {
    fn run(self: Box<Self>) -> Result<i32, ExecutorError> {
        let ComponentCommand { pre, mut store } = *self;
        let result = wasi::on_this_thread(async {
            let command = pre.instantiate_async(&mut store).await?;
            command.wasi_cli_run().call_run(&mut store).await
        })?;
        crate::flush_stdio();
        match result {
            // `run` returning `err` is how a command reports failure without
            // an exit code, as `wasi:cli/exit.exit(err)` does: code 1.
            Ok(Ok(())) => Ok(0),
            Ok(Err(())) => Ok(1),
            // `exit` and `exit-with-code` unwind as `I32Exit`.
            Err(err) => errors::exit_code(Err(err)),
        }
    }
}
