//! The engine, and turning module bytes into a compiled [`Module`]: the
//! pieces of the `WasmEngine` contract ([`tag`], [`precompile`], [`load`],
//! [`compile`]).

use std::sync::Mutex;

use hako_executors::wasm::WasmModule;
use hako_executors::ExecutorError;
use wasmer::sys::{Cranelift, EngineBuilder};
use wasmer::{Engine, Module};

/// The engine of this process, made on first use: Cranelift, wasmer's
/// default tunables.
///
/// The store that runs the guest and every store wasmer-wasix creates
/// share it through the runtime.
pub(crate) fn engine() -> Engine {
    ENGINE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get_or_insert_with(|| EngineBuilder::new(Cranelift::new()).engine().into())
        .clone()
}

/// See [`engine`]; replaced by [`compile`] when a compile panicked inside
/// it (the engine's own lock is poisoned then).
static ENGINE: Mutex<Option<Engine>> = Mutex::new(None);

/// The cache tag: the id names the compiler and its settings; wasmer
/// checks its own format version when deserializing, and a refused
/// artifact is simply compiled again.
pub(crate) fn tag() -> String {
    format!("wasmer-{}", engine().deterministic_id())
}

/// Validates and compiles a core module.
///
/// wasmer's translator runs on a rayon pool made of this thread alone
/// (otherwise it falls back to rayon's global pool, whose threads would
/// live on next to the guest for the rest of the process). Cranelift
/// compiles function bodies on a pool of its own, one thread per CPU,
/// which it makes for each module: a compile needs those threads, loading
/// an artifact needs none. When they cannot all start (a `pids.max` too
/// small), the module is compiled again on one Cranelift thread.
pub(crate) fn compile(module: &WasmModule) -> Result<Module, String> {
    let threads = threads_of_this_process();
    match compile_with(&engine(), module) {
        Err(Failed::Threads(_)) => {
            // The threads that did start count until they are gone.
            wait_for_threads(threads, RETIRE_WAIT);
            compile_on_one_thread(module)
        }
        other => other.map_err(Failed::into_message),
    }
}

/// How long compiler threads that started before one failed get to exit.
const RETIRE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// How many threads this process has (1 if /proc cannot say).
pub(crate) fn threads_of_this_process() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(1, |d| d.count())
}

/// Waits, at most `limit`, until this process has no more than `n` threads.
fn wait_for_threads(n: usize, limit: std::time::Duration) {
    let deadline = std::time::Instant::now() + limit;
    while threads_of_this_process() > n && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

/// Why a compile failed.
enum Failed {
    /// Cranelift's compiler threads did not start: the reason.
    Threads(String),
    /// Anything else: the message.
    Other(String),
}

impl Failed {
    fn into_message(self) -> String {
        match self {
            Failed::Threads(reason) => format!(
                "starting cranelift's compiler thread: {reason} (a module from the module cache needs none)"
            ),
            Failed::Other(message) => message,
        }
    }
}

fn compile_with(engine: &Engine, module: &WasmModule) -> Result<Module, Failed> {
    with_compiler_pool(|pool| {
        crate::outcome::catch_panic(|| pool.install(|| Module::new(engine, &module.bytes)))
            .map_err(|panicked| match compiler_threads_failed(&panicked) {
                Some(reason) => Failed::Threads(reason),
                None => Failed::Other(panicked),
            })?
            .map_err(|e| Failed::Other(ExecutorError::one_line(&e)))
    })
}

/// Compiles with a Cranelift that has one compiler thread, which becomes
/// the process's engine: the failed compile panicked inside the previous
/// one. The thread count is not part of the engine's id, so the cache tag
/// and every artifact stay valid.
fn compile_on_one_thread(module: &WasmModule) -> Result<Module, String> {
    let mut cranelift = Cranelift::new();
    cranelift.num_threads(std::num::NonZero::<usize>::MIN);
    let single: Engine = EngineBuilder::new(cranelift).engine().into();
    *ENGINE.lock().unwrap_or_else(|e| e.into_inner()) = Some(single.clone());
    compile_with(&single, module).map_err(Failed::into_message)
}

/// Cranelift `unwrap`s the making of its compiler pool: the reason, when
/// `panicked` says that is what failed (its threads could not start).
fn compiler_threads_failed(panicked: &str) -> Option<String> {
    if !panicked.contains("ThreadPoolBuildError") {
        return None;
    }
    Some(
        panicked
            .split("message: \"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or("failed")
            .to_lowercase(),
    )
}

/// Compiles to an artifact of `Module::serialize`.
pub(crate) fn precompile(module: &WasmModule) -> Result<Vec<u8>, String> {
    compile(module)?
        .serialize()
        .map(|b| b.to_vec())
        .map_err(|e| ExecutorError::one_line(&e))
}

/// Loads an artifact of [`precompile`].
///
/// # Safety
/// `artifact` must come from [`precompile`] of an engine with the same
/// [`tag`] (see `WasmEngine::load`).
pub(crate) unsafe fn load(artifact: &[u8]) -> Result<Module, String> {
    // SAFETY: per this function's contract, `serialize` of an engine with
    // the same id and version produced the artifact.
    unsafe { Module::deserialize(&engine(), artifact.to_vec()) }
        .map_err(|e| ExecutorError::one_line(&e))
}

/// Runs `f` with the pool that runs wasmer's translation and trampolines:
/// this thread, and no other. It is made once per thread, because a
/// thread stays in the pool it was made part of (rayon leaks such a
/// pool's registry, and would refuse a second one).
fn with_compiler_pool<T>(
    f: impl FnOnce(&rayon::ThreadPool) -> Result<T, Failed>,
) -> Result<T, Failed> {
    thread_local! {
        static POOL: Result<rayon::ThreadPool, String> = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .use_current_thread()
            .build()
            .map_err(|e| {
                format!(
                    "setting up the compiler's thread pool: {}",
                    ExecutorError::one_line(&e)
                )
            });
    }
    POOL.with(|pool| f(pool.as_ref().map_err(|e| Failed::Other(e.clone()))?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_compiler_pool_that_cannot_start_is_said_so() {
        let panicked = "wasmer panicked: called `Result::unwrap()` on an `Err` value: \
            ThreadPoolBuildError { kind: IOError(Os { code: 11, kind: WouldBlock, \
            message: \"Resource temporarily unavailable\" }) }";
        assert_eq!(
            compiler_threads_failed(panicked).unwrap(),
            "resource temporarily unavailable"
        );
        assert_eq!(
            compiler_threads_failed("wasmer panicked: index out of bounds"),
            None
        );
    }

    /// The translation pool is this thread: compiling twice on one thread
    /// (a refused artifact is compiled again) works.
    #[test]
    fn compiles_twice_on_one_thread() {
        let module = WasmModule {
            path: "/m.wasm".into(),
            bytes: wat::parse_str("(module (func (export \"f\")))").unwrap(),
            component: false,
        };
        compile(&module).unwrap();
        compile(&module).unwrap();
    }

    /// The one-thread fallback compiles a module that runs in the
    /// process's engine, which keeps its id.
    #[test]
    fn one_compiler_thread_gives_a_module_of_this_engine() {
        let before = tag();
        let module = WasmModule {
            path: "/m.wasm".into(),
            bytes: wat::parse_str("(module (func (export \"f\") (result i32) i32.const 7))")
                .unwrap(),
            component: false,
        };
        let compiled = compile_on_one_thread(&module).unwrap();
        assert_eq!(tag(), before);
        let mut store = wasmer::Store::new(engine());
        let instance =
            wasmer::Instance::new(&mut store, &compiled, &wasmer::Imports::new()).unwrap();
        let f = instance.exports.get_function("f").unwrap();
        assert_eq!(f.call(&mut store, &[]).unwrap()[0].unwrap_i32(), 7);
    }
}
