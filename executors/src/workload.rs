//! What a container asks to run, as container init sees it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// The WebAssembly engines hako knows by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EngineKind {
    /// Bytecode Alliance wasmtime.
    Wasmtime,
    /// WasmEdge, through libwasmedge.
    WasmEdge,
    /// Wasmer with its WASIX/WASI implementation.
    Wasmer,
}

impl EngineKind {
    /// Every engine, in the order error messages list them.
    pub const ALL: [EngineKind; 3] = [
        EngineKind::Wasmtime,
        EngineKind::WasmEdge,
        EngineKind::Wasmer,
    ];

    /// The lowercase name used in annotations and flags.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Wasmtime => "wasmtime",
            EngineKind::WasmEdge => "wasmedge",
            EngineKind::Wasmer => "wasmer",
        }
    }

    /// Looks an engine up by its lowercase name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.name() == name)
    }
}

impl fmt::Display for EngineKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for EngineKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_name(s)
            .ok_or_else(|| format!("unknown wasm engine {s:?} (known: wasmtime, wasmedge, wasmer)"))
    }
}

/// Choices that come from the runtime itself rather than from the container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuntimeOptions {
    /// Engine used when neither `run.oci.handler` nor
    /// [`crate::detect::ANNOTATION_ENGINE`] names one (`--wasm-engine`).
    pub default_engine: EngineKind,
    /// Run any entrypoint that starts with the wasm magic as wasm, with no
    /// annotation (the binary was invoked as `hako-wasm`).
    pub sniff_all: bool,
    /// The workload is a process `exec`d into a running container. In a
    /// wasm container a program with the wasm magic runs on the
    /// container's engine, and anything else (a shell, to debug) is
    /// `execve`d as in any container.
    pub exec: bool,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            default_engine: EngineKind::Wasmtime,
            sniff_all: false,
            exec: false,
        }
    }
}

/// The process a container asks for, in the terms executors need.
#[derive(Clone, Debug)]
pub struct Workload {
    /// `process.args`; `args[0]` is the entrypoint as written.
    pub args: Vec<String>,
    /// `process.env`, `KEY=VALUE` strings, exactly as the spec gives them.
    pub env: Vec<String>,
    /// `process.cwd`, absolute inside the container.
    pub cwd: PathBuf,
    /// The container's annotations.
    pub annotations: BTreeMap<String, String>,
    /// Where the container's `/` is for this process: `/` inside a started
    /// container (after pivot_root or chroot), a directory in tests.
    pub root: PathBuf,
    /// `root.readonly` from the spec.
    pub root_readonly: bool,
    /// Runtime-wide choices.
    pub options: RuntimeOptions,
}

impl Workload {
    /// Looks a variable up in the container's environment (not the runtime's).
    pub fn env_var(&self, key: &str) -> Option<&str> {
        self.env.iter().find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == key).then_some(v)
        })
    }

    /// The environment as key/value pairs; an entry without `=` is a key
    /// with an empty value.
    pub fn env_pairs(&self) -> Vec<(String, String)> {
        self.env
            .iter()
            .map(|kv| match kv.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (kv.clone(), String::new()),
            })
            .collect()
    }

    /// Maps a path inside the container to the path this process opens.
    pub fn host_path(&self, container_path: &std::path::Path) -> PathBuf {
        let rel = container_path.strip_prefix("/").unwrap_or(container_path);
        let abs = if container_path.is_absolute() {
            rel.to_path_buf()
        } else {
            let cwd = self.cwd.strip_prefix("/").unwrap_or(&self.cwd);
            cwd.join(rel)
        };
        self.root.join(abs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workload(env: &[&str]) -> Workload {
        Workload {
            args: vec!["x".into()],
            env: env.iter().map(|s| s.to_string()).collect(),
            cwd: "/work".into(),
            annotations: BTreeMap::new(),
            root: "/r".into(),
            root_readonly: false,
            options: RuntimeOptions::default(),
        }
    }

    #[test]
    fn engine_names_round_trip() {
        for e in EngineKind::ALL {
            assert_eq!(EngineKind::from_name(e.name()), Some(e));
            assert_eq!(e.name().parse::<EngineKind>().unwrap(), e);
        }
        assert!("wasm3".parse::<EngineKind>().unwrap_err().contains("wasm3"));
    }

    #[test]
    fn env_lookup_uses_container_env() {
        let w = workload(&["PATH=/bin:/usr/bin", "EMPTY=", "A=b=c", "NOEQ"]);
        assert_eq!(w.env_var("PATH"), Some("/bin:/usr/bin"));
        assert_eq!(w.env_var("EMPTY"), Some(""));
        assert_eq!(w.env_var("A"), Some("b=c"));
        assert_eq!(w.env_var("HOME"), None);
        assert_eq!(
            w.env_pairs(),
            vec![
                ("PATH".into(), "/bin:/usr/bin".into()),
                ("EMPTY".into(), "".into()),
                ("A".into(), "b=c".into()),
                ("NOEQ".into(), "".into()),
            ]
        );
    }

    #[test]
    fn host_path_joins_root_and_cwd() {
        let w = workload(&[]);
        assert_eq!(
            w.host_path("/app/m.wasm".as_ref()),
            PathBuf::from("/r/app/m.wasm")
        );
        assert_eq!(
            w.host_path("m.wasm".as_ref()),
            PathBuf::from("/r/work/m.wasm")
        );
    }
}
