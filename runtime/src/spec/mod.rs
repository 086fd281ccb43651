//! A bundle's `config.json`: loading it ([`Bundle::load`]), parsing
//! ([`parse`]), validating it into one [`Plan`] ([`validate`]) and
//! building the executor's [`hako_executors::Workload`] ([`workload`]).
//!
//! Bad input fails here, before anything is created, so it leaves
//! nothing behind; the plan made here is what `create` and init use.

use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::error::{Context, Error, Result};

mod parse;
mod plan;
mod validate;
mod workload;

pub use parse::{parse, parse_process};
pub use plan::{Plan, ProcessPlan};
pub use validate::validate;
pub use workload::{annotations, workload};

/// A bundle: its directory, its parsed spec, its resolved rootfs and the
/// plan validation made of it.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Absolute path of the bundle directory.
    pub dir: PathBuf,
    /// The parsed `config.json`.
    pub spec: Spec,
    /// Absolute path of the rootfs (`root.path`, relative to the bundle if
    /// it is relative, as containerd writes it).
    pub rootfs: PathBuf,
    /// What validation planned: namespaces, process attributes, devices,
    /// id-mapped mounts, network devices.
    pub plan: Plan,
}

impl Bundle {
    /// Loads and validates `<dir>/config.json`.
    pub fn load(dir: &Path) -> Result<Bundle> {
        let dir = std::fs::canonicalize(dir).ctx(|| format!("bundle {}", dir.display()))?;
        let config = dir.join("config.json");
        let raw = read_json_file(&config)?;
        let spec = parse(&raw).map_err(|e| Error::invalid(format!("{}: {e}", config.display())))?;
        let plan = validate(&spec, &dir)
            .map_err(|e| Error::invalid(format!("{}: {e}", config.display())))?;
        let root = spec
            .root()
            .as_ref()
            .map(|r| r.path().clone())
            .unwrap_or_default();
        let rootfs = dir.join(&root);
        let meta = std::fs::metadata(&rootfs).ctx(|| format!("rootfs {}", rootfs.display()))?;
        if !meta.is_dir() {
            return Err(Error::invalid(format!(
                "rootfs {}: not a directory",
                rootfs.display()
            )));
        }
        let rootfs =
            std::fs::canonicalize(&rootfs).ctx(|| format!("rootfs {}", rootfs.display()))?;
        Ok(Bundle {
            dir,
            spec,
            rootfs,
            plan,
        })
    }
}

/// The largest `config.json` or `--process` file hako reads. Real specs
/// are tens of kilobytes; the limit keeps a hostile bundle (a symlink to
/// /dev/zero, a huge file) from making hako read without end.
pub const MAX_JSON_FILE: u64 = 4 << 20;

/// Reads a JSON input file: a regular file (symlinks followed) of at most
/// [`MAX_JSON_FILE`] bytes. Opened non-blocking so that a fifo cannot
/// hang hako before it is refused.
pub fn read_json_file(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .ctx(|| format!("reading {}", path.display()))?;
    let meta = file
        .metadata()
        .ctx(|| format!("reading {}", path.display()))?;
    if !meta.is_file() {
        return Err(Error::invalid(format!(
            "{}: not a regular file",
            path.display()
        )));
    }
    if meta.len() > MAX_JSON_FILE {
        return Err(Error::invalid(format!(
            "{}: {} bytes is above the limit of {MAX_JSON_FILE}",
            path.display(),
            meta.len()
        )));
    }
    let mut raw = Vec::with_capacity(meta.len() as usize);
    // The file may grow between fstat and read: read one byte past the
    // limit at most.
    file.take(MAX_JSON_FILE + 1)
        .read_to_end(&mut raw)
        .ctx(|| format!("reading {}", path.display()))?;
    if raw.len() as u64 > MAX_JSON_FILE {
        return Err(Error::invalid(format!(
            "{}: larger than the limit of {MAX_JSON_FILE} bytes",
            path.display()
        )));
    }
    Ok(raw)
}

/// Whether the spec asks for a namespace of this type (new or joined).
pub fn has_namespace(spec: &Spec, typ: LinuxNamespaceType) -> bool {
    namespaces(spec).iter().any(|n| n.typ() == typ)
}

/// The spec's `linux.namespaces`, or none.
pub fn namespaces(spec: &Spec) -> Vec<oci_spec::runtime::LinuxNamespace> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
