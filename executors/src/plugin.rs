//! Engines loaded from a shared library at run time.
//!
//! An engine whose library is expensive to load (WasmEdge brings LLVM:
//! tens of milliseconds and tens of megabytes per process) should not be
//! linked into the `hako` binary, or every `hako state` would pay for it.
//! Such an engine is built as a `cdylib` that exports [`EngineAbi`] with
//! [`export_engine!`], and hako loads it only for a container that uses
//! it — before pivot_root, while the library's path still resolves.
//!
//! The boundary is a small C ABI with JSON for the structured parts, so
//! no Rust type layout crosses it.

use std::ffi::c_void;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::cache::ArtifactCache;
use crate::error::ExecutorError;
use crate::executor::Prepared;
use crate::plugin_cache::CacheAbi;
use crate::wasm::{prepare_guest, Preparer, WasiConfig, WasmEngine, WasmModule};
use crate::workload::EngineKind;

/// Version of [`EngineAbi`]; a library built for another one is refused.
/// (2: `prepare` takes the host's module cache; 3: lent as a context
/// with each call, not a process-global one; 4: a cached artifact crosses
/// as a descriptor.)
pub const ABI_VERSION: u32 = 4;

/// The symbol a plugin exports: `extern "C" fn() -> *const EngineAbi`.
pub const SYMBOL: &[u8] = b"hako_engine_abi";

/// Room for an error message coming back from a plugin.
const ERROR_CAPACITY: usize = 16 * 1024;

/// The functions a plugin exports.
#[repr(C)]
pub struct EngineAbi {
    /// [`ABI_VERSION`] the plugin was built with.
    pub version: u32,
    /// Prepares a module: a JSON [`Request`], the module's bytes, the
    /// host's module cache (null without one), and a buffer for a JSON
    /// [`PluginError`]. Returns the prepared guest, or null with the error
    /// written.
    pub prepare: unsafe extern "C" fn(
        *const u8,
        usize,
        *const u8,
        usize,
        *const CacheAbi,
        *mut u8,
        usize,
        *mut usize,
    ) -> *mut c_void,
    /// Runs a prepared guest (consuming it): writes its exit code and
    /// returns true, or writes an error and returns false.
    pub run: unsafe extern "C" fn(*mut c_void, *mut i32, *mut u8, usize, *mut usize) -> bool,
}

/// What the host asks a plugin to prepare (the module bytes travel apart).
#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    /// The module's path in the container, for messages.
    pub path: PathBuf,
    /// Whether it is a component.
    pub component: bool,
    /// The WASI view.
    pub wasi: WasiConfig,
}

/// An error crossing the boundary.
#[derive(Debug, Serialize, Deserialize)]
pub struct PluginError {
    /// `compile`, `component`, `trap`, `panic` or `engine`.
    pub kind: String,
    /// The message.
    pub message: String,
}

impl PluginError {
    fn from_executor(e: &ExecutorError) -> PluginError {
        let (kind, message) = match e {
            ExecutorError::Compile { message, .. } => ("compile", message.clone()),
            ExecutorError::ComponentUnsupported { .. } => ("component", String::new()),
            ExecutorError::Trap(m) => ("trap", m.clone()),
            ExecutorError::Panic(m) => ("panic", m.clone()),
            ExecutorError::Engine { message, .. } => ("engine", message.clone()),
            other => ("engine", other.to_string()),
        };
        PluginError {
            kind: kind.into(),
            message,
        }
    }

    fn into_executor(self, engine: EngineKind, path: &Path) -> ExecutorError {
        match self.kind.as_str() {
            "compile" => ExecutorError::Compile {
                engine,
                path: path.to_path_buf(),
                message: self.message,
            },
            "component" => ExecutorError::ComponentUnsupported {
                engine,
                path: path.to_path_buf(),
            },
            "trap" => ExecutorError::Trap(self.message),
            "panic" => ExecutorError::Panic(self.message),
            _ => ExecutorError::Engine {
                engine,
                message: self.message,
            },
        }
    }
}

/// Writes `err` as JSON into the caller's buffer (truncating the message
/// if it must).
///
/// # Safety
/// `buf` must be valid for `cap` bytes and `len` for one write.
unsafe fn write_error(err: &PluginError, buf: *mut u8, cap: usize, len: *mut usize) {
    let mut json = serde_json::to_vec(err).unwrap_or_default();
    if json.len() > cap {
        let short = PluginError {
            kind: err.kind.clone(),
            message: err.message.chars().take(cap / 8).collect(),
        };
        json = serde_json::to_vec(&short).unwrap_or_default();
        json.truncate(cap);
    }
    // SAFETY: the caller guarantees buf has cap bytes and len is writable.
    unsafe {
        std::ptr::copy_nonoverlapping(json.as_ptr(), buf, json.len());
        *len = json.len();
    }
}

/// A panic caught in the plugin, for the host.
fn panicked(p: Box<dyn std::any::Any + Send>) -> PluginError {
    PluginError {
        kind: "panic".into(),
        message: crate::error::panic_line(p.as_ref()),
    }
}

/// Plugin side of `prepare`, for [`export_engine!`].
///
/// # Safety
/// The pointers and lengths must describe valid buffers, as the host's
/// [`PluginEngine`] passes them; `cache` is null or a [`CacheAbi`] the
/// host lent for this call.
pub unsafe extern "C" fn prepare<E: WasmEngine + Default>(
    req: *const u8,
    req_len: usize,
    module: *const u8,
    module_len: usize,
    cache: *const CacheAbi,
    err: *mut u8,
    err_cap: usize,
    err_len: *mut usize,
) -> *mut c_void {
    // SAFETY: the host passes valid buffers of these lengths.
    let (req, bytes) = unsafe {
        (
            std::slice::from_raw_parts(req, req_len),
            std::slice::from_raw_parts(module, module_len),
        )
    };
    // SAFETY: null, or the host's CacheAbi, lent for this call.
    let bridge = unsafe { cache.as_ref() }.map(crate::plugin_cache::Bridge);
    // This library's std prints panics unless told otherwise.
    crate::error::quiet_panics();
    let outcome = std::panic::catch_unwind(|| -> Result<Box<dyn Prepared>, PluginError> {
        let req: Request = serde_json::from_slice(req).map_err(|e| PluginError {
            kind: "engine".into(),
            message: format!("bad plugin request: {e}"),
        })?;
        let module = WasmModule {
            path: req.path,
            bytes: bytes.to_vec(),
            component: req.component,
        };
        let cache = bridge.as_ref().map(|b| b as &dyn ArtifactCache);
        prepare_guest(&E::default(), module, req.wasi, cache)
            .map_err(|e| PluginError::from_executor(&e))
    });
    let e = match outcome {
        Ok(Ok(prepared)) => return Box::into_raw(Box::new(prepared)).cast(),
        Ok(Err(e)) => e,
        Err(p) => panicked(p),
    };
    // SAFETY: the host's error buffer.
    unsafe { write_error(&e, err, err_cap, err_len) };
    std::ptr::null_mut()
}

/// Plugin side of `run`, for [`export_engine!`].
///
/// # Safety
/// `prepared` must come from [`prepare`] and is consumed.
pub unsafe extern "C" fn run(
    prepared: *mut c_void,
    code: *mut i32,
    err: *mut u8,
    err_cap: usize,
    err_len: *mut usize,
) -> bool {
    // SAFETY: prepare made this pointer from a Box<Box<dyn Prepared>>.
    let prepared: Box<Box<dyn Prepared>> = unsafe { Box::from_raw(prepared.cast()) };
    crate::error::quiet_panics();
    let e = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || (*prepared).run()))
    {
        Ok(Ok(c)) => {
            // SAFETY: the host's exit code slot.
            unsafe { *code = c };
            return true;
        }
        Ok(Err(e)) => PluginError::from_executor(&e),
        Err(p) => panicked(p),
    };
    // SAFETY: the host's error buffer.
    unsafe { write_error(&e, err, err_cap, err_len) };
    false
}

/// Exports an engine type (with `Default`) from a `cdylib`.
#[macro_export]
macro_rules! export_engine {
    ($engine:ty) => {
        /// The engine's entry point for hako's plugin loader.
        #[no_mangle]
        pub extern "C" fn hako_engine_abi() -> *const $crate::plugin::EngineAbi {
            static ABI: $crate::plugin::EngineAbi = $crate::plugin::EngineAbi {
                version: $crate::plugin::ABI_VERSION,
                prepare: $crate::plugin::prepare::<$engine>,
                run: $crate::plugin::run,
            };
            &ABI
        }
    };
}

/// Host side: an engine in a loaded plugin. The library stays loaded for
/// the life of the process.
#[derive(Clone, Copy)]
pub struct PluginEngine {
    kind: EngineKind,
    abi: &'static EngineAbi,
}

impl std::fmt::Debug for PluginEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginEngine")
            .field("kind", &self.kind)
            .finish()
    }
}

impl PluginEngine {
    /// Loads the plugin at `path` for engine `kind`.
    pub fn load(kind: EngineKind, path: &Path) -> Result<PluginEngine, String> {
        // SAFETY: loading runs the library's initialisers; the plugin is
        // hako's own engine library, built with it.
        let lib = unsafe { libloading::Library::new(path) }
            .map_err(|e| format!("loading {}: {}", path.display(), with_sources(&e)))?;
        let lib: &'static libloading::Library = Box::leak(Box::new(lib));
        // SAFETY: the symbol has this signature in every plugin (export_engine!).
        let entry = unsafe { lib.get::<unsafe extern "C" fn() -> *const EngineAbi>(SYMBOL) }
            .map_err(|e| {
                format!(
                    "{}: not a hako engine plugin: {}",
                    path.display(),
                    with_sources(&e)
                )
            })?;
        // SAFETY: the plugin returns a pointer to a static.
        let abi = unsafe { entry().as_ref() }
            .ok_or_else(|| format!("{}: no engine table", path.display()))?;
        if abi.version != ABI_VERSION {
            return Err(format!(
                "{}: plugin ABI {} but hako expects {ABI_VERSION}",
                path.display(),
                abi.version
            ));
        }
        Ok(PluginEngine { kind, abi })
    }
}

/// An error with its causes: libloading's says only "dlopen failed", and
/// dlerror's reason (the missing file, the unresolved library) is its
/// source.
fn with_sources(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        cause = c.source();
    }
    text
}

struct PluginPrepared {
    kind: EngineKind,
    path: PathBuf,
    abi: &'static EngineAbi,
    ptr: *mut c_void,
}

impl Preparer for PluginEngine {
    fn engine(&self) -> EngineKind {
        self.kind
    }

    fn prepare(
        &self,
        module: WasmModule,
        wasi: WasiConfig,
        cache: Option<&dyn ArtifactCache>,
    ) -> Result<Box<dyn Prepared>, ExecutorError> {
        let path = module.path.clone();
        let req = serde_json::to_vec(&Request {
            path: module.path,
            component: module.component,
            wasi,
        })
        .map_err(|e| ExecutorError::Engine {
            engine: self.kind,
            message: format!("encoding a plugin request: {e}"),
        })?;
        let mut err = vec![0u8; ERROR_CAPACITY];
        let mut err_len = 0usize;
        // Lent for this call only: the plugin compiles within it.
        let lent = cache.as_ref().map(CacheAbi::lend);
        // SAFETY: every pointer describes a live buffer of the given length,
        // and `lent` borrows `cache` for the whole call.
        let ptr = unsafe {
            (self.abi.prepare)(
                req.as_ptr(),
                req.len(),
                module.bytes.as_ptr(),
                module.bytes.len(),
                lent.as_ref()
                    .map_or(std::ptr::null(), |abi| abi as *const CacheAbi),
                err.as_mut_ptr(),
                err.len(),
                &mut err_len,
            )
        };
        if ptr.is_null() {
            return Err(decode(&err[..err_len.min(err.len())]).into_executor(self.kind, &path));
        }
        Ok(Box::new(PluginPrepared {
            kind: self.kind,
            path,
            abi: self.abi,
            ptr,
        }))
    }
}

fn decode(json: &[u8]) -> PluginError {
    serde_json::from_slice(json).unwrap_or_else(|_| PluginError {
        kind: "engine".into(),
        message: String::from_utf8_lossy(json).into_owned(),
    })
}

impl Prepared for PluginPrepared {
    fn run(self: Box<Self>) -> Result<i32, ExecutorError> {
        let mut code = 0;
        let mut err = vec![0u8; ERROR_CAPACITY];
        let mut err_len = 0usize;
        // SAFETY: ptr came from this plugin's prepare and is used once.
        let ok = unsafe {
            (self.abi.run)(
                self.ptr,
                &mut code,
                err.as_mut_ptr(),
                err.len(),
                &mut err_len,
            )
        };
        if ok {
            Ok(code)
        } else {
            Err(decode(&err[..err_len.min(err.len())]).into_executor(self.kind, &self.path))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_plugin_says_why() {
        let e = PluginEngine::load(EngineKind::WasmEdge, Path::new("/nonexistent/libx.so"))
            .err()
            .unwrap();
        assert!(e.contains("cannot open shared object file"), "{e}");
        assert!(e.starts_with("loading /nonexistent/libx.so: "), "{e}");
    }

    #[test]
    fn errors_survive_the_boundary() {
        let path = Path::new("/m.wasm");
        for e in [
            ExecutorError::Compile {
                engine: EngineKind::WasmEdge,
                path: path.into(),
                message: "bad magic".into(),
            },
            ExecutorError::ComponentUnsupported {
                engine: EngineKind::WasmEdge,
                path: path.into(),
            },
            ExecutorError::Trap("unreachable".into()),
            ExecutorError::Panic("OS can't spawn worker thread: Operation not permitted".into()),
            ExecutorError::Engine {
                engine: EngineKind::WasmEdge,
                message: "boom".into(),
            },
        ] {
            let mut buf = vec![0u8; 256];
            let mut len = 0;
            // SAFETY: a live buffer and length slot.
            unsafe {
                write_error(
                    &PluginError::from_executor(&e),
                    buf.as_mut_ptr(),
                    buf.len(),
                    &mut len,
                )
            };
            let back = decode(&buf[..len]).into_executor(EngineKind::WasmEdge, path);
            assert_eq!(back.to_string(), e.to_string());
            assert_eq!(back.exit_code(), e.exit_code());
        }
        let mut small = vec![0u8; 40];
        let mut len = 0;
        let long = PluginError {
            kind: "trap".into(),
            message: "x".repeat(1000),
        };
        // SAFETY: as above.
        unsafe { write_error(&long, small.as_mut_ptr(), small.len(), &mut len) };
        assert!(len <= 40);
    }

    #[test]
    fn missing_plugins_are_clear_errors() {
        let err =
            PluginEngine::load(EngineKind::WasmEdge, Path::new("/no/such/plugin.so")).unwrap_err();
        assert!(err.contains("/no/such/plugin.so"), "{err}");
    }
}
