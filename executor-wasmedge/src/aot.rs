//! Ahead-of-time compilation through libwasmedge's own compiler.
//!
//! With the runtime's module cache, a module is compiled once by
//! WasmEdge's LLVM compiler into WebAssembly that carries its native code
//! in a custom section (WasmEdge's "universal" format) — [`precompile`] —,
//! stored in the cache, and [`load`]ed from there by every later
//! container: the speed of compiled code instead of WasmEdge's
//! interpreter. Keys and trust are the cache's (`hako_executors::cache`):
//! the [`tag`] names libwasmedge's version and the settings below, the
//! key adds the module's SHA-256, and only hako writes the cache, from
//! outside every container.
//!
//! The code is generic for the architecture (not tuned to this CPU), so an
//! artifact never depends on the machine that made it. The compiler runs
//! in a child process, in the cache's private detached tmpfs
//! (`hako_executors::scratch`). Without a cache, or when compiling fails
//! (no `/proc` in the container to name the scratch directory, no room
//! under `pids.max` for the child or the compiler's threads), the module
//! is parsed for the interpreter ([`interpret`]), as WasmEdge does by
//! default.

use std::ffi::CStr;
use std::path::Path;
use std::sync::Arc;

use hako_executors::wasm::WasmModule;
use hako_executors::ExecutorError;
use wasmedge_sdk::{CompilerOptimizationLevel, CompilerOutputFormat, LogManager};
use wasmedge_sys::{Compiler, Config, Loader, Module};

use crate::errors;

/// The configuration every context of a guest shares: loader, validator,
/// executor and, on a cache miss, the compiler.
pub(crate) fn config(path: &Path) -> Result<Config, ExecutorError> {
    // libwasmedge logs errors to stderr, which is the container's: hako
    // reports them itself.
    LogManager::log_off();
    let mut config = Config::create()
        .map_err(|e| errors::compile(path, format_args!("setting up the engine: {e}")))?;
    // O1: measured on the checksum guest, faster code than O2 and O3 here
    // and a third less compile time.
    config.set_aot_optimization_level(CompilerOptimizationLevel::O1);
    config.set_aot_compiler_output_format(CompilerOutputFormat::Wasm);
    config.generic_binary(true);
    Ok(config)
}

/// The cache tag: what makes an artifact usable by this libwasmedge.
pub(crate) fn tag() -> String {
    // SAFETY: libwasmedge returns a static NUL-terminated string.
    let version = unsafe { CStr::from_ptr(wasmedge_sys::ffi::WasmEdge_VersionGet()) };
    // Keys are file names of letters, digits, `-` and `_`.
    let version = version
        .to_string_lossy()
        .replace(|c: char| !c.is_ascii_alphanumeric(), "_");
    format!(
        "wasmedge-aot-{version}-o1-generic-{}",
        std::env::consts::ARCH
    )
}

/// Parses `bytes` (a module, or an artifact of [`precompile`]) into what
/// the executor instantiates.
fn parse(path: &Path, bytes: &[u8]) -> Result<Arc<Module>, ExecutorError> {
    let config = config(path)?;
    Loader::create(Some(&config))
        .and_then(|loader| loader.from_bytes(bytes))
        .map_err(|e| errors::compile(path, format_args!("invalid module: {e}")))
}

/// The module, for the interpreter.
pub(crate) fn interpret(module: &WasmModule) -> Result<Arc<Module>, ExecutorError> {
    parse(&module.path, &module.bytes)
}

/// An artifact of [`precompile`], with its native code.
///
/// libwasmedge checks the artifact's version and the code's architecture
/// itself; the caller guarantees (WasmEngine::load's contract) that hako's
/// own compiler made it.
pub(crate) fn load(module: &WasmModule, artifact: &[u8]) -> Result<Arc<Module>, ExecutorError> {
    parse(&module.path, artifact)
}

/// Compiles the module into an artifact: universal WebAssembly with
/// native code, built in `scratch`. `None` when the compiler could not
/// run (no scratch directory, other threads, a crash): the module is then
/// interpreted.
pub(crate) fn precompile(
    module: &WasmModule,
    scratch: Option<&Path>,
) -> Result<Option<Vec<u8>>, ExecutorError> {
    let config = config(&module.path)?;
    let compiled = match scratch {
        Some(dir) => compile(&module.bytes, &config, dir),
        None => Err("no scratch directory for the compiler".into()),
    };
    Ok(compiled
        .inspect_err(
            |reason| tracing::debug!(%reason, "wasmedge aot compilation failed; interpreting"),
        )
        .ok())
}

/// Compiles `bytes` into an artifact in `dir`.
///
/// The compiler runs in a child process. LLVM starts a thread per CPU and
/// libstdc++ aborts the whole process when it cannot (a `pids.max` too
/// small for them); a crash of the compiler ends the child, and the guest
/// is interpreted instead. Its memory goes with it too, rather than
/// staying in init's heap for the life of the container.
fn compile(bytes: &[u8], config: &Config, dir: &Path) -> Result<Vec<u8>, String> {
    let output = dir.join("module.wasm");
    // fork(2) copies only the calling thread: the child may run arbitrary
    // code only if no other thread held a lock at that moment.
    if !single_threaded() {
        return Err("init has other threads; not forking the compiler".into());
    }
    // SAFETY: the process has one thread (checked above), so the child
    // inherits no lock another thread holds.
    let child = unsafe { libc::fork() };
    match child {
        -1 => Err(format!(
            "forking the compiler: {}",
            std::io::Error::last_os_error()
        )),
        0 => compiler_child(bytes, config, dir, &output),
        pid => {
            let status = wait(pid)?;
            if status != 0 {
                return Err(format!("the compiler failed (wait status {status:#x})"));
            }
            let artifact =
                std::fs::read(&output).map_err(|e| format!("reading the compiled module: {e}"));
            // The tmpfs is charged to the container while the file is there.
            let _ = std::fs::remove_file(&output);
            artifact
        }
    }
}

/// The compiler's process: compiles and leaves with `_exit` (0 on
/// success), never returning into the caller's stack.
fn compiler_child(bytes: &[u8], config: &Config, dir: &Path, output: &Path) -> ! {
    // Its stdio is the container's: an abort message from libstdc++ would
    // land there. Without fds 0-2, it goes nowhere.
    for fd in 0..3 {
        // SAFETY: closing the child's own copies of the stdio descriptors.
        unsafe { libc::close(fd) };
    }
    // lld's temporary objects go to $TMPDIR. The child has one thread and
    // its environment dies with it.
    // SAFETY: single-threaded (see `compile`).
    unsafe { std::env::set_var("TMPDIR", dir) };
    let ok = Compiler::create(Some(config))
        .and_then(|compiler| compiler.compile_from_bytes(bytes, output))
        .is_ok();
    // SAFETY: _exit ends the child without running the parent's exit
    // handlers or destructors twice.
    unsafe { libc::_exit(if ok { 0 } else { 1 }) }
}

/// Whether this process has a single thread (from /proc/self/status).
fn single_threaded() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|status| {
            status
                .lines()
                .any(|l| l.split_whitespace().eq(["Threads:", "1"]))
        })
        .unwrap_or(false)
}

/// Waits for `pid`; its raw wait status.
fn wait(pid: libc::pid_t) -> Result<i32, String> {
    let mut status = 0;
    loop {
        // SAFETY: waits for this function's own child.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r == pid {
            return Ok(status);
        }
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINTR) {
            return Err(format!("waiting for the compiler: {err}"));
        }
    }
}
