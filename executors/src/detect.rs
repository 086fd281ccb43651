//! Deciding whether a workload is WebAssembly, and on which engine.
//!
//! Pure logic over annotations and a few header bytes; the only I/O is
//! reading the first bytes of the entrypoint when the annotations ask for
//! sniffing.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use crate::entrypoint::{self, Entrypoint, Lookup};
use crate::error::ExecutorError;
use crate::workload::{EngineKind, RuntimeOptions, Workload};

/// Image annotation set by `buildah build --annotation module.wasm.image/variant=compat`.
pub const ANNOTATION_VARIANT: &str = "module.wasm.image/variant";
/// crun's handler annotation: `wasm`, `wasm-smart`, or an engine name.
pub const ANNOTATION_HANDLER: &str = "run.oci.handler";
/// hako's own engine choice, used when `run.oci.handler` names no engine.
pub const ANNOTATION_ENGINE: &str = "io.hako.wasm.engine";
/// Set by containerd's CRI plugin; `sandbox` marks a pod's pause container.
pub const ANNOTATION_CONTAINER_TYPE: &str = "io.kubernetes.cri.container-type";

/// The four bytes every binary wasm module and component starts with.
pub const WASM_MAGIC: &[u8; 4] = b"\0asm";

/// What the annotations say about a workload, before looking at any file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    /// Run natively.
    Native,
    /// Run as wasm on this engine; the entrypoint must be a module.
    Wasm(EngineKind),
    /// Run as wasm on this engine only if the entrypoint looks like a module.
    Sniff {
        /// The engine to use if it does.
        engine: EngineKind,
        /// Whether a `.wat` file counts (annotation modes) or only the
        /// binary magic (`hako-wasm` mode).
        text: bool,
    },
}

/// The shape of a module, from its first bytes and its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A binary core module (`\0asm`, version 1).
    Core,
    /// A binary component (`\0asm`, component layer).
    Component,
    /// WebAssembly text (`.wat`), compiled on load.
    Text,
    /// Not WebAssembly.
    Other,
}

/// The detection result the chain hands to every executor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// Not WebAssembly: only the execve executor takes it.
    Native,
    /// WebAssembly for `engine`, with the resolved module.
    Wasm {
        /// The engine the container asked for.
        engine: EngineKind,
        /// The module file.
        entrypoint: Entrypoint,
        /// Its format, from the header.
        format: Format,
    },
}

/// Reads the annotations (and runtime options) into an [`Intent`].
pub fn intent(
    annotations: &BTreeMap<String, String>,
    options: &RuntimeOptions,
) -> Result<Intent, ExecutorError> {
    if annotations
        .get(ANNOTATION_CONTAINER_TYPE)
        .map(String::as_str)
        == Some("sandbox")
    {
        return Ok(Intent::Native);
    }
    let handler = annotations
        .get(ANNOTATION_HANDLER)
        .map(String::as_str)
        .filter(|h| !h.is_empty());
    if let Some(h) = handler {
        check_handler(h)?;
    }
    let variant = annotations.get(ANNOTATION_VARIANT).map(String::as_str);
    let engine = || choose_engine(annotations, options);
    let handler_engine = handler.and_then(EngineKind::from_name);
    if handler == Some("wasm") || handler_engine.is_some() || variant == Some("compat") {
        return Ok(Intent::Wasm(engine()?));
    }
    if handler == Some("wasm-smart") || variant == Some("compat-smart") {
        return Ok(Intent::Sniff {
            engine: engine()?,
            text: true,
        });
    }
    if options.sniff_all {
        return Ok(Intent::Sniff {
            engine: engine()?,
            text: false,
        });
    }
    Ok(Intent::Native)
}

/// Refuses a `run.oci.handler` hako does not know. The annotation exists
/// only to pick a handler, so a value hako cannot honour (a typo such as
/// `wasmfoo` or `WasmEdge`, or another of crun's handlers) must not run the
/// container some other way.
pub fn check_handler(handler: &str) -> Result<(), ExecutorError> {
    let known =
        handler == "wasm" || handler == "wasm-smart" || EngineKind::from_name(handler).is_some();
    if known {
        return Ok(());
    }
    let reason = if handler == "krun" {
        "crun's libkrun handler is not supported by hako".to_string()
    } else {
        "unknown handler (known: wasm, wasm-smart, wasmtime, wasmedge, wasmer)".to_string()
    };
    Err(ExecutorError::BadAnnotation {
        annotation: ANNOTATION_HANDLER.to_string(),
        value: handler.to_string(),
        reason,
    })
}

/// `run.oci.handler=<engine>`, else [`ANNOTATION_ENGINE`], else the default.
pub fn choose_engine(
    annotations: &BTreeMap<String, String>,
    options: &RuntimeOptions,
) -> Result<EngineKind, ExecutorError> {
    if let Some(engine) = annotations
        .get(ANNOTATION_HANDLER)
        .and_then(|h| EngineKind::from_name(h))
    {
        return Ok(engine);
    }
    match annotations.get(ANNOTATION_ENGINE) {
        Some(name) => EngineKind::from_name(name).ok_or_else(|| ExecutorError::UnknownEngine {
            annotation: ANNOTATION_ENGINE.to_string(),
            name: name.clone(),
        }),
        None => Ok(options.default_engine),
    }
}

/// Classifies a module from its first bytes and its file name.
pub fn sniff(header: &[u8], path: &Path) -> Format {
    if header.starts_with(WASM_MAGIC) {
        if wasmparser::Parser::is_component(header) {
            return Format::Component;
        }
        return Format::Core;
    }
    if path.extension().is_some_and(|e| e == "wat") {
        return Format::Text;
    }
    Format::Other
}

/// Runs detection for a workload: annotations first, then the entrypoint's
/// header when they ask for it.
pub fn target(workload: &Workload) -> Result<Target, ExecutorError> {
    let (engine, text, must) = match intent(&workload.annotations, &workload.options)? {
        Intent::Native => return Ok(Target::Native),
        // An exec'd program is detected by itself (see RuntimeOptions::exec).
        Intent::Wasm(engine) if workload.options.exec => (engine, true, false),
        Intent::Wasm(engine) => (engine, true, true),
        Intent::Sniff { engine, text } => (engine, text, false),
    };
    let entrypoint = match entrypoint::resolve(workload, Lookup::Module) {
        Ok(e) => e,
        // Sniffing a missing entrypoint: let execve report it.
        Err(_) if !must => return Ok(Target::Native),
        Err(e) => return Err(e),
    };
    let header = read_header(&entrypoint)?;
    let format = match sniff(&header, &entrypoint.guest) {
        Format::Text if !text => Format::Other,
        f => f,
    };
    match format {
        Format::Other if must => Err(ExecutorError::NotWasm {
            path: entrypoint.guest,
        }),
        Format::Other => Ok(Target::Native),
        format => Ok(Target::Wasm {
            engine,
            entrypoint,
            format,
        }),
    }
}

fn read_header(entrypoint: &Entrypoint) -> Result<Vec<u8>, ExecutorError> {
    let read = || -> std::io::Result<Vec<u8>> {
        let mut header = Vec::with_capacity(8);
        std::fs::File::open(&entrypoint.host)?
            .take(8)
            .read_to_end(&mut header)?;
        Ok(header)
    };
    read().map_err(|source| ExecutorError::Read {
        path: entrypoint.guest.clone(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn ann(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn opts() -> RuntimeOptions {
        RuntimeOptions::default()
    }

    #[test]
    fn annotations_select_wasm() {
        use EngineKind::*;
        assert_eq!(intent(&ann(&[]), &opts()).unwrap(), Intent::Native);
        assert_eq!(
            intent(&ann(&[(ANNOTATION_VARIANT, "compat")]), &opts()).unwrap(),
            Intent::Wasm(Wasmtime)
        );
        assert_eq!(
            intent(&ann(&[(ANNOTATION_HANDLER, "wasm")]), &opts()).unwrap(),
            Intent::Wasm(Wasmtime)
        );
        for e in EngineKind::ALL {
            assert_eq!(
                intent(&ann(&[(ANNOTATION_HANDLER, e.name())]), &opts()).unwrap(),
                Intent::Wasm(e)
            );
        }
        assert_eq!(
            intent(&ann(&[(ANNOTATION_VARIANT, "compat-smart")]), &opts()).unwrap(),
            Intent::Sniff {
                engine: Wasmtime,
                text: true
            }
        );
        assert_eq!(
            intent(&ann(&[(ANNOTATION_HANDLER, "wasm-smart")]), &opts()).unwrap(),
            Intent::Sniff {
                engine: Wasmtime,
                text: true
            }
        );
        assert_eq!(
            intent(&ann(&[(ANNOTATION_VARIANT, "other")]), &opts()).unwrap(),
            Intent::Native
        );
        assert_eq!(
            intent(&ann(&[(ANNOTATION_HANDLER, "")]), &opts()).unwrap(),
            Intent::Native
        );
    }

    #[test]
    fn unknown_handlers_are_refused_by_name() {
        let e = intent(&ann(&[(ANNOTATION_HANDLER, "krun")]), &opts()).unwrap_err();
        assert!(
            e.to_string().contains("libkrun handler is not supported"),
            "{e}"
        );
        for bad in ["wasmfoo", "WasmEdge", "wasm3"] {
            let e = intent(&ann(&[(ANNOTATION_HANDLER, bad)]), &opts()).unwrap_err();
            let text = e.to_string();
            assert!(text.contains(&format!("run.oci.handler={bad:?}")), "{text}");
            assert!(
                text.contains("known: wasm, wasm-smart, wasmtime, wasmedge, wasmer"),
                "{text}"
            );
        }
    }

    #[test]
    fn engine_choice_order() {
        use EngineKind::*;
        let o = RuntimeOptions {
            default_engine: Wasmer,
            ..RuntimeOptions::default()
        };
        assert_eq!(
            intent(&ann(&[(ANNOTATION_VARIANT, "compat")]), &o).unwrap(),
            Intent::Wasm(Wasmer)
        );
        let a = ann(&[
            (ANNOTATION_VARIANT, "compat"),
            (ANNOTATION_ENGINE, "wasmedge"),
        ]);
        assert_eq!(intent(&a, &o).unwrap(), Intent::Wasm(WasmEdge));
        let a = ann(&[
            (ANNOTATION_HANDLER, "wasmtime"),
            (ANNOTATION_ENGINE, "wasmedge"),
        ]);
        assert_eq!(
            intent(&a, &o).unwrap(),
            Intent::Wasm(Wasmtime),
            "the handler wins"
        );
        let a = ann(&[(ANNOTATION_VARIANT, "compat"), (ANNOTATION_ENGINE, "v8")]);
        let err = intent(&a, &o).unwrap_err();
        assert!(matches!(err, ExecutorError::UnknownEngine { .. }), "{err}");
        // An unknown engine on a native container is not an error.
        assert_eq!(
            intent(&ann(&[(ANNOTATION_ENGINE, "v8")]), &o).unwrap(),
            Intent::Native
        );
    }

    #[test]
    fn sandbox_is_never_wasm() {
        let a = ann(&[
            (ANNOTATION_VARIANT, "compat"),
            (ANNOTATION_CONTAINER_TYPE, "sandbox"),
        ]);
        let o = RuntimeOptions {
            sniff_all: true,
            ..opts()
        };
        assert_eq!(intent(&a, &o).unwrap(), Intent::Native);
        let a = ann(&[(ANNOTATION_CONTAINER_TYPE, "container")]);
        assert_eq!(
            intent(&a, &o).unwrap(),
            Intent::Sniff {
                engine: EngineKind::Wasmtime,
                text: false
            }
        );
    }

    #[test]
    fn sniffing_headers() {
        let p = Path::new("/m");
        assert_eq!(sniff(b"\0asm\x01\0\0\0", p), Format::Core);
        assert_eq!(sniff(b"\0asm\x0d\0\x01\0", p), Format::Component);
        assert_eq!(sniff(b"\x7fELF\x02\x01\x01\0", p), Format::Other);
        assert_eq!(sniff(b"(module)", Path::new("/m.wat")), Format::Text);
        assert_eq!(sniff(b"", p), Format::Other);
    }

    fn workload(
        root: &Path,
        args0: &str,
        annotations: BTreeMap<String, String>,
        sniff_all: bool,
    ) -> Workload {
        Workload {
            args: vec![args0.into()],
            env: vec![],
            cwd: "/".into(),
            annotations,
            root: root.into(),
            root_readonly: false,
            options: RuntimeOptions {
                sniff_all,
                ..opts()
            },
        }
    }

    #[test]
    fn targets_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        fs::write(root.join("m.wasm"), b"\0asm\x01\0\0\0").unwrap();
        fs::write(root.join("m.wat"), b"(module)").unwrap();
        fs::write(root.join("native"), b"\x7fELF\x02\x01\x01\0").unwrap();
        let smart = ann(&[(ANNOTATION_VARIANT, "compat-smart")]);
        let compat = ann(&[(ANNOTATION_VARIANT, "compat")]);

        let t = target(&workload(root, "/m.wasm", smart.clone(), false)).unwrap();
        assert!(
            matches!(
                t,
                Target::Wasm {
                    format: Format::Core,
                    ..
                }
            ),
            "{t:?}"
        );
        let t = target(&workload(root, "/m.wat", smart.clone(), false)).unwrap();
        assert!(
            matches!(
                t,
                Target::Wasm {
                    format: Format::Text,
                    ..
                }
            ),
            "{t:?}"
        );
        assert_eq!(
            target(&workload(root, "/native", smart.clone(), false)).unwrap(),
            Target::Native
        );
        assert_eq!(
            target(&workload(root, "/missing", smart, false)).unwrap(),
            Target::Native
        );

        let err = target(&workload(root, "/native", compat.clone(), false)).unwrap_err();
        assert!(matches!(err, ExecutorError::NotWasm { .. }), "{err}");
        let err = target(&workload(root, "/missing", compat.clone(), false)).unwrap_err();
        assert!(matches!(err, ExecutorError::NoSuchFile { .. }), "{err}");

        // exec into a wasm container: each program by itself.
        let exec = |args0: &str| {
            let mut w = workload(root, args0, compat.clone(), false);
            w.options.exec = true;
            target(&w).unwrap()
        };
        assert!(matches!(exec("/m.wasm"), Target::Wasm { .. }));
        assert_eq!(exec("/native"), Target::Native);
        assert_eq!(exec("/missing"), Target::Native);

        // hako-wasm mode: only the binary magic counts.
        let t = target(&workload(root, "/m.wasm", ann(&[]), true)).unwrap();
        assert!(matches!(t, Target::Wasm { .. }));
        assert_eq!(
            target(&workload(root, "/m.wat", ann(&[]), true)).unwrap(),
            Target::Native
        );
        assert_eq!(
            target(&workload(root, "/native", ann(&[]), true)).unwrap(),
            Target::Native
        );
        assert_eq!(
            target(&workload(root, "/m.wasm", ann(&[]), false)).unwrap(),
            Target::Native
        );
    }
}
