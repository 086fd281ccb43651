//! Checking, before anything runs, that the module will link.
//!
//! Instantiation is the first point where wasmer itself reports a missing
//! import, and instantiating runs the module's start section: too late for
//! `create`. So [`check`] builds the very import object wasmer-wasix links
//! against (every WASI and WASIX namespace, as `WasiEnv::instantiate` does)
//! in a throwaway environment and compares each import with it.

use hako_executors::ExecutorError;
use std::sync::Arc;

use wasmer::{Engine, ExternType, Imports, Module, Store};
use wasmer_wasix::runtime::task_manager::tokio::TokioTaskManager;
use wasmer_wasix::{PluggableRuntime, WasiEnv, WasiFunctionEnv, WasiVersion};

/// The only memory import wasmer-wasix satisfies: it creates a memory of
/// the declared type and defines it under this name.
const MEMORY_IMPORT: (&str, &str) = ("env", "memory");

/// Fails unless every import of `module` is provided by wasmer-wasix with
/// the declared type, and the module has a `_start` command entry point and
/// a memory.
pub(crate) fn check(engine: &Engine, module: &Module) -> Result<(), String> {
    check_entry(module)?;
    let to_link: Vec<_> = module
        .imports()
        .filter(|i| {
            !(matches!(i.ty(), ExternType::Memory(_)) && is_memory_import(i.module(), i.name()))
        })
        .collect();
    if to_link.is_empty() {
        return Ok(());
    }
    with_provided_imports(engine, |store, provided| {
        for import in &to_link {
            let (ns, name) = (import.module(), import.name());
            let Some(found) = provided.get_export(ns, name) else {
                return Err(format!(
                    "unknown import {ns}::{name}: wasmer provides only wasi and wasix functions and {}::{} (a memory)",
                    MEMORY_IMPORT.0, MEMORY_IMPORT.1
                ));
            };
            let actual = found.ty(store);
            if &actual != import.ty() {
                return Err(format!(
                    "import {ns}::{name} is declared as {} but wasmer provides {}",
                    describe(import.ty()),
                    describe(&actual)
                ));
            }
        }
        Ok(())
    })
}

/// `func [i32, i32] -> [i32]`, `memory ...`: types as messages show them.
fn describe(ty: &ExternType) -> String {
    match ty {
        ExternType::Function(f) => format!("func {f}").to_lowercase(),
        ExternType::Memory(m) => format!("memory {m:?}").to_lowercase(),
        ExternType::Table(t) => format!("table {t:?}").to_lowercase(),
        ExternType::Global(g) => format!("global {g:?}").to_lowercase(),
        ExternType::Tag(t) => format!("tag {t:?}").to_lowercase(),
    }
}

fn is_memory_import(ns: &str, name: &str) -> bool {
    (ns, name) == MEMORY_IMPORT
}

/// wasmer-wasix calls `_start` and needs a memory to pass data in and out.
fn check_entry(module: &Module) -> Result<(), String> {
    let start = module.exports().functions().find(|f| f.name() == "_start");
    match start {
        None => return Err("no _start export: only wasi command modules can run".into()),
        Some(f) if !f.ty().params().is_empty() || !f.ty().results().is_empty() => {
            return Err(format!(
                "_start must take and return nothing, not {}",
                describe(&ExternType::Function(f.ty().clone()))
            ))
        }
        Some(_) => {}
    }
    let exports_memory = module.exports().memories().next().is_some();
    let imports_memory = module
        .imports()
        .memories()
        .any(|m| is_memory_import(m.module(), m.name()));
    if !exports_memory && !imports_memory {
        return Err("the module neither exports a memory nor imports env::memory".into());
    }
    Ok(())
}

/// Builds everything wasmer-wasix links a module against, in a store of
/// its own, and hands it to `inspect`.
///
/// A `WasiEnv` needs a tokio handle to exist; a current-thread runtime
/// provides one without starting a thread, and nothing here ever runs on it.
/// The store and the environment are dropped before that runtime.
fn with_provided_imports(
    engine: &Engine,
    inspect: impl FnOnce(&Store, &Imports) -> Result<(), String>,
) -> Result<(), String> {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| format!("starting the import check: {}", ExecutorError::one_line(&e)))?;
    let _entered = tokio.enter();
    let tasks = TokioTaskManager::new(tokio.handle().clone());
    let mut runtime = PluggableRuntime::new(Arc::new(tasks));
    runtime.set_engine(engine.clone());
    let env = WasiEnv::builder("import-check")
        .runtime(Arc::new(runtime))
        .build()
        .map_err(|e| format!("building the import check: {}", ExecutorError::one_line(&e)))?;
    let mut store = Store::new(engine.clone());
    let env = WasiFunctionEnv::new(&mut store, env);
    let mut imports = Imports::new();
    for version in [
        WasiVersion::Snapshot0,
        WasiVersion::Snapshot1,
        WasiVersion::Wasix32v1,
        WasiVersion::Wasix64v1,
    ] {
        let set = wasmer_wasix::generate_import_object_from_env(&mut store, &env.env, version);
        for ((ns, name), ext) in set.into_iter() {
            imports.define(&ns, &name, ext);
        }
    }
    inspect(&store, &imports)
}
