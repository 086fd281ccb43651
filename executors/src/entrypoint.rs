//! Resolving `process.args[0]` inside the container.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::error::ExecutorError;
use crate::workload::Workload;

/// `PATH` used when the container's environment has none (runc's default).
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// What a lookup accepts as a match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// A regular file with an execute bit, as execvp requires.
    Executable,
    /// Any regular file: a wasm module need not be executable, and a bare
    /// name that is not on `PATH` is also looked for in the working directory.
    Module,
}

/// A resolved entrypoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entrypoint {
    /// `process.args[0]` as written.
    pub written: String,
    /// The absolute path inside the container.
    pub guest: PathBuf,
    /// The path this process opens (the guest path under [`Workload::root`]).
    pub host: PathBuf,
}

/// Resolves the entrypoint: an absolute path, a path relative to
/// `process.cwd`, or a bare name searched on the container's `PATH`.
pub fn resolve(workload: &Workload, lookup: Lookup) -> Result<Entrypoint, ExecutorError> {
    let written = workload.args.first().ok_or(ExecutorError::NoArgs)?.clone();
    if written.is_empty() {
        return Err(ExecutorError::NotFound { name: written });
    }
    if written.contains('/') {
        let guest = guest_path(&workload.cwd, Path::new(&written));
        let host = workload.host_path(&guest);
        return match check(&host, lookup) {
            Check::Ok => Ok(Entrypoint {
                written,
                guest,
                host,
            }),
            Check::Missing => Err(ExecutorError::NoSuchFile { path: guest }),
            Check::NotExecutable => Err(ExecutorError::PermissionDenied { path: guest }),
        };
    }
    let path = workload.env_var("PATH").unwrap_or(DEFAULT_PATH);
    let mut denied = None;
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let guest = guest_path(&workload.cwd, &Path::new(dir).join(&written));
        let host = workload.host_path(&guest);
        match check(&host, lookup) {
            Check::Ok => {
                return Ok(Entrypoint {
                    written,
                    guest,
                    host,
                })
            }
            Check::NotExecutable => {
                denied.get_or_insert(guest);
            }
            Check::Missing => {}
        }
    }
    if lookup == Lookup::Module {
        let guest = guest_path(&workload.cwd, Path::new(&written));
        let host = workload.host_path(&guest);
        if check(&host, lookup) == Check::Ok {
            return Ok(Entrypoint {
                written,
                guest,
                host,
            });
        }
    }
    match denied {
        Some(path) => Err(ExecutorError::PermissionDenied { path }),
        None => Err(ExecutorError::NotFound { name: written }),
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Check {
    Ok,
    Missing,
    NotExecutable,
}

fn check(host: &Path, lookup: Lookup) -> Check {
    let Ok(meta) = std::fs::metadata(host) else {
        return Check::Missing;
    };
    if !meta.is_file() {
        return if meta.is_dir() {
            Check::NotExecutable
        } else {
            Check::Missing
        };
    }
    match lookup {
        Lookup::Module => Check::Ok,
        Lookup::Executable if meta.permissions().mode() & 0o111 != 0 => Check::Ok,
        Lookup::Executable => Check::NotExecutable,
    }
}

/// Makes `path` absolute against `cwd` and removes `.` and `..` lexically,
/// never climbing above `/`.
fn guest_path(cwd: &Path, path: &Path) -> PathBuf {
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        Path::new("/").join(cwd).join(path)
    };
    let mut out = PathBuf::from("/");
    for comp in joined.components() {
        match comp {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::Normal(c) => out.push(c),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::RuntimeOptions;
    use std::collections::BTreeMap;
    use std::fs;

    fn workload(root: &Path, args0: &str, env: &[&str]) -> Workload {
        Workload {
            args: vec![args0.into()],
            env: env.iter().map(|s| s.to_string()).collect(),
            cwd: "/work".into(),
            annotations: BTreeMap::new(),
            root: root.into(),
            root_readonly: false,
            options: RuntimeOptions::default(),
        }
    }

    fn file(root: &Path, rel: &str, mode: u32) {
        let p = root.join(rel);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, b"x").unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn absolute_relative_and_path_lookup() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        file(root, "bin/sh", 0o755);
        file(root, "work/tool", 0o755);
        file(root, "usr/bin/app", 0o755);

        let e = resolve(&workload(root, "/bin/sh", &[]), Lookup::Executable).unwrap();
        assert_eq!(e.guest, PathBuf::from("/bin/sh"));
        assert_eq!(e.host, root.join("bin/sh"));

        let e = resolve(&workload(root, "./tool", &[]), Lookup::Executable).unwrap();
        assert_eq!(e.guest, PathBuf::from("/work/tool"));

        let e = resolve(&workload(root, "app", &[]), Lookup::Executable).unwrap();
        assert_eq!(e.guest, PathBuf::from("/usr/bin/app"), "default PATH");

        let err = resolve(&workload(root, "app", &["PATH=/bin"]), Lookup::Executable).unwrap_err();
        assert!(
            matches!(err, ExecutorError::NotFound { .. }),
            "container PATH wins: {err}"
        );
    }

    #[test]
    fn missing_and_not_executable() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        file(root, "bin/data", 0o644);
        let err = resolve(&workload(root, "/nope", &[]), Lookup::Executable).unwrap_err();
        assert!(matches!(err, ExecutorError::NoSuchFile { .. }));
        assert_eq!(err.exit_code(), 127);
        let err = resolve(&workload(root, "/bin/data", &[]), Lookup::Executable).unwrap_err();
        assert!(matches!(err, ExecutorError::PermissionDenied { .. }));
        let err = resolve(&workload(root, "data", &["PATH=/bin"]), Lookup::Executable).unwrap_err();
        assert!(matches!(err, ExecutorError::PermissionDenied { .. }));
        let err = resolve(&workload(root, "/bin", &[]), Lookup::Executable).unwrap_err();
        assert!(
            matches!(err, ExecutorError::PermissionDenied { .. }),
            "a directory"
        );
    }

    #[test]
    fn modules_need_no_execute_bit_and_fall_back_to_cwd() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        file(root, "work/hello.wasm", 0o644);
        file(root, "bin/on-path.wasm", 0o600);
        let e = resolve(
            &workload(root, "hello.wasm", &["PATH=/bin"]),
            Lookup::Module,
        )
        .unwrap();
        assert_eq!(e.guest, PathBuf::from("/work/hello.wasm"));
        let e = resolve(
            &workload(root, "on-path.wasm", &["PATH=/bin"]),
            Lookup::Module,
        )
        .unwrap();
        assert_eq!(e.guest, PathBuf::from("/bin/on-path.wasm"));
        assert!(resolve(&workload(root, "hello.wasm", &[]), Lookup::Executable).is_err());
    }

    #[test]
    fn guest_paths_never_climb_above_root() {
        assert_eq!(
            guest_path(Path::new("/a"), Path::new("../../../etc/x")),
            PathBuf::from("/etc/x")
        );
        assert_eq!(
            guest_path(Path::new("/a/b"), Path::new("./c/../d")),
            PathBuf::from("/a/b/d")
        );
    }
}
