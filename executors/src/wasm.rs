//! The contract between the chain and a WebAssembly engine.
//!
//! [`WasmExecutor`] does everything the three engines share — choosing
//! whether a workload is theirs, reading the module, turning `.wat` into a
//! binary, building the WASI configuration from the spec, and stopping the
//! guest on SIGTERM/SIGINT/SIGHUP — so that each engine crate only compiles
//! and runs. This is also why all engines behave the same from the guest's
//! point of view.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use crate::cache::{self, ArtifactCache};
use crate::detect::{Format, Target};
use crate::entrypoint::Entrypoint;
use crate::error::ExecutorError;
use crate::executor::{Executor, Prepared};
use crate::signals;
use crate::workload::{EngineKind, Workload};

/// Annotation naming the TCP port a `wasi:http/incoming-handler` component
/// is served on, inside the container's network namespace.
pub const ANNOTATION_HTTP_PORT: &str = "io.hako.wasi-http.port";
/// Port used when [`ANNOTATION_HTTP_PORT`] is absent (as `wasmtime serve`).
pub const DEFAULT_HTTP_PORT: u16 = 8080;

/// A module ready for an engine to compile: always binary.
#[derive(Clone, Debug)]
pub struct WasmModule {
    /// Its path inside the container, for messages.
    pub path: PathBuf,
    /// The binary module or component (`.wat` already converted).
    pub bytes: Vec<u8>,
    /// Whether it is a component rather than a core module.
    pub component: bool,
}

/// A directory the guest sees.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Preopen {
    /// The directory this process opens.
    pub host: PathBuf,
    /// The name the guest sees (`/` or `.`).
    pub guest: String,
    /// Whether the guest may only read.
    pub readonly: bool,
}

impl Preopen {
    /// The host directory, canonical, checked to exist and be a directory:
    /// what an engine that opens it only at `run` checks at `prepare`.
    pub fn host_dir(&self) -> Result<PathBuf, PreopenError> {
        let host = std::fs::canonicalize(&self.host).map_err(PreopenError::Unresolved)?;
        if !host.is_dir() {
            return Err(PreopenError::NotADirectory);
        }
        Ok(host)
    }

    /// [`Preopen::host_dir`], refused as hako reports it
    /// ([`ExecutorError::Preopen`]).
    pub fn checked_dir(&self) -> Result<PathBuf, ExecutorError> {
        self.host_dir().map_err(|e| ExecutorError::Preopen {
            guest: self.guest.clone(),
            host: self.host.clone(),
            reason: match e {
                PreopenError::Unresolved(e) => ExecutorError::one_line(&e),
                PreopenError::NotADirectory => "not a directory".into(),
            },
        })
    }
}

/// Why [`Preopen::host_dir`] refused a preopen.
#[derive(Debug)]
pub enum PreopenError {
    /// The host path does not resolve (typically: it does not exist).
    Unresolved(std::io::Error),
    /// The host path exists but is not a directory.
    NotADirectory,
}

/// An entry of a [`WasiConfig`] that cannot reach the guest as a C string
/// (an `argv` entry, or `NAME=value` in `environ`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BadEntry<'a> {
    /// An argument holding a NUL byte.
    Arg(&'a str),
    /// A variable (name, value) whose name is empty or holds `=` or a NUL
    /// byte.
    EnvName(&'a str, &'a str),
    /// A variable (name, value) whose value holds a NUL byte.
    EnvValue(&'a str, &'a str),
}

impl BadEntry<'_> {
    /// Whether the entry holds a NUL byte, which no C string can carry (an
    /// empty name, or one with `=`, is only ambiguous).
    pub fn has_nul(&self) -> bool {
        match self {
            BadEntry::Arg(_) | BadEntry::EnvValue(..) => true,
            BadEntry::EnvName(name, _) => name.contains('\0'),
        }
    }
}

/// The WASI view of the container, identical for every engine.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WasiConfig {
    /// `process.args`; `args[0]` is the entrypoint as written.
    pub args: Vec<String>,
    /// Exactly `process.env`, never the runtime's environment.
    pub env: Vec<(String, String)>,
    /// The container's `/`, preopened as `/`.
    ///
    /// WASI preview 1 has no working directory: wasi-libc starts every
    /// guest in `/` and resolves relative paths from there, matching them
    /// against preopen names with `/` and `.` stripped. A second preopen
    /// named `.` for `process.cwd` would therefore shadow `/` for *every*
    /// path (the last registered empty prefix wins), breaking absolute
    /// paths; so the root is the only preopen and relative paths resolve
    /// against `/` on every engine.
    pub preopens: Vec<Preopen>,
    /// Where a wasi-http component listens.
    pub http_addr: SocketAddr,
}

impl WasiConfig {
    /// Builds the WASI configuration of a workload.
    pub fn for_workload(workload: &Workload) -> Result<Self, ExecutorError> {
        let readonly = workload.root_readonly;
        let preopens = vec![Preopen {
            host: workload.root.clone(),
            guest: "/".into(),
            readonly,
        }];
        let port = match workload.annotations.get(ANNOTATION_HTTP_PORT) {
            None => DEFAULT_HTTP_PORT,
            Some(v) => v.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(|| {
                ExecutorError::BadAnnotation {
                    annotation: ANNOTATION_HTTP_PORT.into(),
                    value: v.clone(),
                    reason: "not a tcp port (1-65535)".into(),
                }
            })?,
        };
        Ok(WasiConfig {
            args: workload.args.clone(),
            env: workload.env_pairs(),
            preopens,
            http_addr: SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
        })
    }

    /// Every argument and variable that cannot be passed on as a C string,
    /// in order: the arguments, then each variable's name and value.
    pub fn bad_entries(&self) -> impl Iterator<Item = BadEntry<'_>> {
        let args = self.args.iter().filter(|a| a.contains('\0'));
        let env = self.env.iter().flat_map(|(k, v)| {
            let name = k.is_empty() || k.contains(['\0', '=']);
            let name = name.then_some(BadEntry::EnvName(k, v));
            let value = v.contains('\0').then_some(BadEntry::EnvValue(k, v));
            name.into_iter().chain(value)
        });
        args.map(|a| BadEntry::Arg(a)).chain(env)
    }

    /// Refuses the first argument or variable holding a NUL byte, as
    /// [`ExecutorError::NulByte`] (a variable shown as `NAME=value`).
    pub fn check_nul(&self) -> Result<(), ExecutorError> {
        let (field, value) = match self.bad_entries().find(BadEntry::has_nul) {
            None => return Ok(()),
            Some(BadEntry::Arg(arg)) => ("args", arg.to_string()),
            Some(BadEntry::EnvName(k, v) | BadEntry::EnvValue(k, v)) => ("env", format!("{k}={v}")),
        };
        Err(ExecutorError::NulByte { field, value })
    }

    /// What every engine needs of a WASI view before it is built: no NUL
    /// byte in an argument or variable ([`WasiConfig::check_nul`]), and
    /// every preopen an existing directory
    /// ([`ExecutorError::Preopen`]; an engine would otherwise skip it or
    /// fail only at `start`).
    pub fn check(&self) -> Result<(), ExecutorError> {
        self.check_nul()?;
        for p in &self.preopens {
            p.checked_dir()?;
        }
        Ok(())
    }
}

/// One WebAssembly engine: how it compiles a module, and how it readies a
/// compiled module to run. The contract is runwasi's `Compiler` with a
/// cache key: [`cache::compile`] decides between [`WasmEngine::compile`],
/// [`WasmEngine::precompile`] and [`WasmEngine::load`], so an engine never
/// sees the cache, and [`prepare_guest`] does what every engine shares.
///
/// An engine is created for every container init but must do nothing
/// until it is asked to compile: native containers never touch it.
pub trait WasmEngine {
    /// The engine's compiled module.
    type Compiled;

    /// Which engine this is.
    fn kind(&self) -> EngineKind;

    /// Whether it runs components; [`prepare_guest`] refuses them for an
    /// engine that does not, with [`ExecutorError::ComponentUnsupported`].
    fn runs_components(&self) -> bool {
        false
    }

    /// What makes an artifact of this engine usable by another process:
    /// the engine's version and settings, and the kind of module. Part of
    /// the cache key, so it is letters, digits, `-` and `_` only.
    fn cache_tag(&self, module: &WasmModule) -> Result<String, ExecutorError>;

    /// Compiles the module into an artifact [`WasmEngine::load`] takes
    /// back, working in `scratch` if the engine's compiler needs files.
    /// `Ok(None)`: the engine cannot precompile now (its compiler has no
    /// room to run) and the module is compiled without the cache.
    fn precompile(
        &self,
        module: &WasmModule,
        scratch: Option<&Path>,
    ) -> Result<Option<Vec<u8>>, ExecutorError>;

    /// Loads an artifact.
    ///
    /// # Safety
    /// `artifact` must come from [`WasmEngine::precompile`] of an engine
    /// with the same [`WasmEngine::cache_tag`], for this module: engines
    /// map it as native code.
    unsafe fn load(
        &self,
        module: &WasmModule,
        artifact: &[u8],
    ) -> Result<Self::Compiled, ExecutorError>;

    /// Compiles the module for this process only.
    fn compile(&self, module: &WasmModule) -> Result<Self::Compiled, ExecutorError>;

    /// Links WASI and everything else the guest needs, so that every error
    /// a module can have surfaces now, at `create`. The result runs the
    /// guest.
    fn instantiate(
        &self,
        module: WasmModule,
        compiled: Self::Compiled,
        wasi: WasiConfig,
    ) -> Result<Box<dyn Prepared>, ExecutorError>;
}

/// Readies a module on an engine, the same way for every engine: checks
/// the WASI view ([`WasiConfig::check`]) and that the engine runs this
/// kind of module, compiles through `cache` ([`cache::compile`]), then
/// instantiates.
pub fn prepare_guest<E: WasmEngine + ?Sized>(
    engine: &E,
    module: WasmModule,
    wasi: WasiConfig,
    cache: Option<&dyn ArtifactCache>,
) -> Result<Box<dyn Prepared>, ExecutorError> {
    wasi.check()?;
    if module.component && !engine.runs_components() {
        return Err(ExecutorError::ComponentUnsupported {
            engine: engine.kind(),
            path: module.path,
        });
    }
    let compiled = cache::compile(engine, &module, cache)?;
    engine.instantiate(module, compiled, wasi)
}

/// What [`WasmExecutor`] runs a module on: any [`WasmEngine`] of this
/// process, or an engine in a plugin ([`crate::plugin::PluginEngine`]),
/// which calls [`prepare_guest`] on its side of the boundary.
pub trait Preparer {
    /// Which engine this is.
    fn engine(&self) -> EngineKind;

    /// Turns a module into a guest ready to run.
    fn prepare(
        &self,
        module: WasmModule,
        wasi: WasiConfig,
        cache: Option<&dyn ArtifactCache>,
    ) -> Result<Box<dyn Prepared>, ExecutorError>;
}

impl<E: WasmEngine> Preparer for E {
    fn engine(&self) -> EngineKind {
        self.kind()
    }

    fn prepare(
        &self,
        module: WasmModule,
        wasi: WasiConfig,
        cache: Option<&dyn ArtifactCache>,
    ) -> Result<Box<dyn Prepared>, ExecutorError> {
        prepare_guest(self, module, wasi, cache)
    }
}

/// Adapts an engine to the [`Executor`] chain.
pub struct WasmExecutor<E> {
    engine: E,
}

impl<E: Preparer> WasmExecutor<E> {
    /// Wraps an engine.
    pub fn new(engine: E) -> Self {
        WasmExecutor { engine }
    }
}

impl<E: Preparer> Executor for WasmExecutor<E> {
    fn name(&self) -> &'static str {
        self.engine.engine().name()
    }

    fn engine(&self) -> Option<EngineKind> {
        Some(self.engine.engine())
    }

    fn prepare(
        &self,
        workload: &Workload,
        target: &Target,
        cache: Option<&dyn ArtifactCache>,
    ) -> Result<Option<Box<dyn Prepared>>, ExecutorError> {
        let Target::Wasm {
            engine,
            entrypoint,
            format,
        } = target
        else {
            return Ok(None);
        };
        if *engine != self.engine.engine() {
            return Ok(None);
        }
        let module = load_module(entrypoint, *format)?;
        let wasi = WasiConfig::for_workload(workload)?;
        let inner = self.engine.prepare(module, wasi, cache)?;
        Ok(Some(Box::new(StopOnSignal(inner, *engine))))
    }
}

/// Reads a module and converts `.wat` text to binary.
pub fn load_module(entrypoint: &Entrypoint, format: Format) -> Result<WasmModule, ExecutorError> {
    let path = entrypoint.guest.clone();
    let raw = std::fs::read(&entrypoint.host).map_err(|source| ExecutorError::Read {
        path: path.clone(),
        source,
    })?;
    let bytes = match format {
        Format::Text => wat::parse_bytes(&raw)
            .map_err(|e| ExecutorError::InvalidText {
                path: path.clone(),
                message: ExecutorError::one_line(&e),
            })?
            .into_owned(),
        _ => raw,
    };
    let component = wasmparser::Parser::is_component(&bytes);
    Ok(WasmModule {
        path,
        bytes,
        component,
    })
}

/// Installs the stop handlers right before the guest runs.
struct StopOnSignal(Box<dyn Prepared>, EngineKind);

impl Prepared for StopOnSignal {
    fn run(self: Box<Self>) -> Result<i32, ExecutorError> {
        signals::install_stop_handlers();
        self.0.run()
    }

    fn engine(&self) -> Option<EngineKind> {
        Some(self.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::RuntimeOptions;
    use std::collections::BTreeMap;

    fn workload(annotations: &[(&str, &str)]) -> Workload {
        Workload {
            args: vec!["app.wasm".into(), "a b".into()],
            env: vec!["A=1".into(), "B=x=y".into()],
            cwd: "/data".into(),
            annotations: annotations
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            root: "/".into(),
            root_readonly: true,
            options: RuntimeOptions::default(),
        }
    }

    #[test]
    fn wasi_config_mirrors_the_spec() {
        let c = WasiConfig::for_workload(&workload(&[])).unwrap();
        assert_eq!(c.args, vec!["app.wasm", "a b"]);
        assert_eq!(
            c.env,
            vec![("A".into(), "1".into()), ("B".into(), "x=y".into())]
        );
        assert_eq!(
            c.preopens,
            vec![Preopen {
                host: "/".into(),
                guest: "/".into(),
                readonly: true
            }],
            "only the root: a \".\" preopen would capture absolute paths in wasi-libc"
        );
        assert_eq!(c.http_addr.port(), DEFAULT_HTTP_PORT);
    }

    #[test]
    fn http_port_annotation() {
        let c = WasiConfig::for_workload(&workload(&[(ANNOTATION_HTTP_PORT, "9000")])).unwrap();
        assert_eq!(c.http_addr.port(), 9000);
        for bad in ["0", "70000", "http"] {
            let err =
                WasiConfig::for_workload(&workload(&[(ANNOTATION_HTTP_PORT, bad)])).unwrap_err();
            assert!(err.to_string().contains(ANNOTATION_HTTP_PORT), "{err}");
        }
    }

    #[test]
    fn bad_entries_in_order_and_nul_bytes_refused() {
        let mut c = WasiConfig::for_workload(&workload(&[])).unwrap();
        assert_eq!(c.bad_entries().next(), None);
        c.check_nul().unwrap();
        c.args.push("a\0b".into());
        c.env = vec![
            ("=".into(), "x".into()),
            ("K".into(), "v\0".into()),
            ("N\0".into(), "w".into()),
        ];
        assert_eq!(
            c.bad_entries().collect::<Vec<_>>(),
            vec![
                BadEntry::Arg("a\0b"),
                BadEntry::EnvName("=", "x"),
                BadEntry::EnvValue("K", "v\0"),
                BadEntry::EnvName("N\0", "w"),
            ]
        );
        let err = c.check_nul().unwrap_err();
        assert_eq!(err.to_string(), "process.args holds a NUL byte: \"a\\0b\"");
        c.args.pop();
        // An empty name or one with `=` is no NUL byte: the value after it is.
        let err = c.check_nul().unwrap_err();
        assert_eq!(err.to_string(), "process.env holds a NUL byte: \"K=v\\0\"");
    }

    /// An engine that must never be reached.
    struct Untouchable;
    impl WasmEngine for Untouchable {
        type Compiled = ();
        fn kind(&self) -> EngineKind {
            EngineKind::Wasmer
        }
        fn cache_tag(&self, _: &WasmModule) -> Result<String, ExecutorError> {
            unreachable!("the engine was reached")
        }
        fn precompile(
            &self,
            _: &WasmModule,
            _: Option<&Path>,
        ) -> Result<Option<Vec<u8>>, ExecutorError> {
            unreachable!("the engine was reached")
        }
        unsafe fn load(&self, _: &WasmModule, _: &[u8]) -> Result<(), ExecutorError> {
            unreachable!("the engine was reached")
        }
        fn compile(&self, _: &WasmModule) -> Result<(), ExecutorError> {
            unreachable!("the engine was reached")
        }
        fn instantiate(
            &self,
            _: WasmModule,
            _: (),
            _: WasiConfig,
        ) -> Result<Box<dyn Prepared>, ExecutorError> {
            unreachable!("the engine was reached")
        }
    }

    #[test]
    fn prepare_guest_refuses_before_any_engine_runs() {
        let dir = tempfile::tempdir().unwrap();
        let module = |component| WasmModule {
            path: "/app.wasm".into(),
            bytes: b"\0asm".to_vec(),
            component,
        };
        let wasi = || {
            let mut w = WasiConfig::for_workload(&workload(&[])).unwrap();
            w.preopens[0].host = dir.path().to_path_buf();
            w
        };
        let refused = |m, w| prepare_guest(&Untouchable, m, w, None).err().unwrap();

        let mut nul = wasi();
        nul.args.push("a\0b".into());
        assert!(matches!(
            refused(module(false), nul),
            ExecutorError::NulByte { field: "args", .. }
        ));
        let mut nul = wasi();
        nul.env.push(("K".into(), "v\0".into()));
        assert!(matches!(
            refused(module(false), nul),
            ExecutorError::NulByte { field: "env", .. }
        ));

        let mut missing = wasi();
        missing.preopens[0].host = dir.path().join("no-such-dir");
        let err = refused(module(false), missing);
        assert!(matches!(err, ExecutorError::Preopen { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "preopen /: {}/no-such-dir: no such file or directory (os error 2)",
                dir.path().display()
            )
        );

        let err = refused(module(true), wasi());
        assert!(
            matches!(
                err,
                ExecutorError::ComponentUnsupported {
                    engine: EngineKind::Wasmer,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn preopen_host_must_be_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "").unwrap();
        let p = |host: &std::path::Path| Preopen {
            host: host.to_path_buf(),
            guest: "/".into(),
            readonly: false,
        };
        let canonical = dir.path().canonicalize().unwrap();
        assert_eq!(p(&dir.path().join(".")).host_dir().unwrap(), canonical);
        assert!(matches!(
            p(&dir.path().join("missing")).host_dir(),
            Err(PreopenError::Unresolved(e)) if e.kind() == std::io::ErrorKind::NotFound
        ));
        assert!(matches!(
            p(&file).host_dir(),
            Err(PreopenError::NotADirectory)
        ));
    }

    #[test]
    fn wat_is_converted_and_components_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let wat = dir.path().join("m.wat");
        std::fs::write(&wat, "(module (func (export \"_start\")))").unwrap();
        let e = Entrypoint {
            written: "m.wat".into(),
            guest: "/m.wat".into(),
            host: wat.clone(),
        };
        let m = load_module(&e, Format::Text).unwrap();
        assert!(m.bytes.starts_with(crate::detect::WASM_MAGIC));
        assert!(!m.component);

        std::fs::write(&wat, "(component)").unwrap();
        assert!(load_module(&e, Format::Text).unwrap().component);

        std::fs::write(&wat, "(module (func $broken").unwrap();
        let err = load_module(&e, Format::Text).unwrap_err();
        assert!(
            err.to_string().starts_with("/m.wat: invalid wasm text"),
            "{err}"
        );
    }
}
