//! The guest's preopened directory: hako preopens exactly one, the
//! container's `/`, as `/` (see `WasiConfig::preopens`).
//!
//! It is mounted at the root of wasmer-wasix's virtual file system,
//! confined to the host directory (see [`Beneath`]) and, when the preopen
//! is read-only, refusing every change (see [`ReadOnly`]), and preopened
//! under that path, which is also its name. Any other set of preopens is
//! refused.
//!
//! [`Plan::new`] checks everything at `prepare`; [`Plan::apply`] needs the
//! tokio runtime and runs in `run`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use hako_executors::wasm::Preopen;
use hako_executors::ExecutorError;
use wasmer_wasix::virtual_fs::{host_fs, FileSystem, MountFileSystem};
use wasmer_wasix::WasiEnvBuilder;

use crate::beneath::Beneath;
use crate::readonly::ReadOnly;

/// The guest's `/`: a host directory, checked.
#[derive(Debug, PartialEq, Eq)]
struct Root {
    /// The directory on the host, canonical.
    host: PathBuf,
    /// Whether the guest may only read.
    readonly: bool,
}

/// The virtual file system and preopen of a guest, checked.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    /// `None` without any preopen: the guest gets an empty file system.
    root: Option<Root>,
}

impl Plan {
    /// Checks that the preopens are none, or hako's single `/` naming an
    /// existing host directory.
    pub(crate) fn new(preopens: &[Preopen]) -> Result<Self, String> {
        let p = match preopens {
            [] => return Ok(Plan { root: None }),
            [p] if p.guest == "/" => p,
            _ => {
                let names: Vec<_> = preopens.iter().map(|p| p.guest.as_str()).collect();
                return Err(format!(
                    "wasmer takes a single preopen named \"/\", not {names:?}"
                ));
            }
        };
        let host = p.checked_dir().map_err(|e| e.to_string())?;
        Ok(Plan {
            root: Some(Root {
                host,
                readonly: p.readonly,
            }),
        })
    }

    /// Gives `builder` the virtual file system (the host directory,
    /// accessed through tokio's blocking pool, hence the handle) and the
    /// preopen.
    pub(crate) fn apply(
        &self,
        builder: &mut WasiEnvBuilder,
        tokio: &tokio::runtime::Handle,
    ) -> Result<(), String> {
        let fs = MountFileSystem::new();
        if let Some(root) = &self.root {
            fs.mount(Path::new("/"), root.file_system(tokio)?)
                .map_err(|e| {
                    format!(
                        "mounting {}: {}",
                        root.host.display(),
                        ExecutorError::one_line(&e)
                    )
                })?;
        }
        builder.set_mount_fs(fs);
        if let Some(root) = &self.root {
            builder
                .add_preopen_build(|b| {
                    b.directory("/")
                        .read(true)
                        .write(!root.readonly)
                        .create(!root.readonly)
                })
                .map_err(|e| ExecutorError::one_line(&e))?;
        }
        Ok(())
    }
}

impl Root {
    /// The host directory as the guest may use it: confined to it, and
    /// read-only if the preopen is.
    fn file_system(
        &self,
        tokio: &tokio::runtime::Handle,
    ) -> Result<Arc<dyn FileSystem + Send + Sync>, String> {
        let failed = |e: &dyn std::fmt::Display| {
            format!("{}: {}", self.host.display(), ExecutorError::one_line(e))
        };
        let host: Arc<dyn FileSystem + Send + Sync> =
            Arc::new(host_fs::FileSystem::new(tokio.clone(), &self.host).map_err(|e| failed(&e))?);
        // The guest stays inside the directory, as on the other engines.
        let host: Arc<dyn FileSystem + Send + Sync> =
            Arc::new(Beneath::new(host, &self.host).map_err(|e| failed(&e))?);
        Ok(if self.readonly {
            Arc::new(ReadOnly(host))
        } else {
            host
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmer_wasix::virtual_fs::FsError;

    fn preopen(host: &Path, guest: &str, readonly: bool) -> Preopen {
        Preopen {
            host: host.to_path_buf(),
            guest: guest.into(),
            readonly,
        }
    }

    #[test]
    fn only_the_root_preopen_is_taken() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Plan::new(&[]).unwrap(), Plan { root: None });
        assert_eq!(
            Plan::new(&[preopen(&dir.path().join("."), "/", true)]).unwrap(),
            Plan {
                root: Some(Root {
                    host: dir.path().canonicalize().unwrap(),
                    readonly: true
                })
            }
        );
    }

    #[test]
    fn bad_preopens_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "").unwrap();
        let cases = [
            (
                vec![preopen(&dir.path().join("missing"), "/", false)],
                "no such file",
            ),
            (vec![preopen(&file, "/", false)], "not a directory"),
            (vec![preopen(dir.path(), ".", false)], "single preopen"),
            (vec![preopen(dir.path(), "/data", false)], "single preopen"),
            (
                vec![
                    preopen(dir.path(), "/", false),
                    preopen(dir.path(), ".", false),
                ],
                "single preopen",
            ),
        ];
        for (preopens, expected) in cases {
            let err = Plan::new(&preopens).unwrap_err();
            assert!(err.to_lowercase().contains(expected), "{err}");
        }
    }

    /// What the guest gets is the confined directory: a symlink out of it
    /// is refused whether or not it is read-only, and a read-only one
    /// refuses changes.
    #[test]
    fn the_root_is_confined_and_read_only_when_asked() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../../../..", dir.path().join("up")).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for readonly in [false, true] {
            let plan = Plan::new(&[preopen(dir.path(), "/", readonly)]).unwrap();
            let fs = plan.root.unwrap().file_system(rt.handle()).unwrap();
            assert_eq!(
                fs.metadata(Path::new("/abs")).unwrap_err(),
                FsError::PermissionDenied
            );
            assert_eq!(
                fs.read_dir(Path::new("/up")).unwrap_err(),
                FsError::PermissionDenied
            );
            assert!(fs.metadata(Path::new("/")).is_ok());
            let created = fs.create_dir(Path::new("/new"));
            assert_eq!(created.is_ok(), !readonly, "{created:?}");
            assert_eq!(dir.path().join("new").is_dir(), !readonly);
            let _ = std::fs::remove_dir(dir.path().join("new"));
        }
    }
}
