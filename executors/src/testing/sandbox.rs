//! A container root in a temporary directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::wasm::WasiConfig;
use crate::workload::{RuntimeOptions, Workload};

/// What `/data/in.txt` holds.
pub const IN_TXT: &str = "read me through the / preopen\n";
/// What `secret`, next to the root and outside it, holds.
pub const SECRET: &str = "host secret outside the container\n";

/// `root/` is the container's `/`, with `/work` and `/data/in.txt`
/// ([`IN_TXT`]); `secret` ([`SECRET`]) lies next to it, outside.
pub struct Sandbox {
    _dir: tempfile::TempDir,
    root: PathBuf,
    secret: PathBuf,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    /// A fresh sandbox.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let base = dir.path().canonicalize().expect("a canonical tempdir");
        let root = base.join("root");
        std::fs::create_dir_all(root.join("work")).unwrap();
        std::fs::create_dir_all(root.join("data")).unwrap();
        std::fs::write(root.join("data/in.txt"), IN_TXT).unwrap();
        let secret = base.join("secret");
        std::fs::write(&secret, SECRET).unwrap();
        Sandbox {
            _dir: dir,
            root,
            secret,
        }
    }

    /// The container's root on the host.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The host path of the file outside the root.
    pub fn secret(&self) -> &Path {
        &self.secret
    }

    /// The host path of a path inside the container.
    pub fn path(&self, container_path: &str) -> PathBuf {
        self.root.join(container_path.trim_start_matches('/'))
    }

    /// The WASI view hako gives a container with this root, built by the
    /// runtime's own code: `args`, exactly `env`, and `/` as the only
    /// preopen (read-only if `readonly`).
    pub fn wasi(&self, args: &[&str], env: &[&str], readonly: bool) -> WasiConfig {
        let workload = Workload {
            args: args.iter().map(|s| s.to_string()).collect(),
            env: env.iter().map(|s| s.to_string()).collect(),
            cwd: "/work".into(),
            annotations: BTreeMap::new(),
            root: self.root.clone(),
            root_readonly: readonly,
            options: RuntimeOptions::default(),
        };
        WasiConfig::for_workload(&workload).expect("a valid workload")
    }
}
