//! The fallback executor: replace init with the container's program.

use std::ffi::CString;

use nix::errno::Errno;

use crate::detect::Target;
use crate::entrypoint::{self, Lookup};
use crate::error::ExecutorError;
use crate::executor::{Executor, Prepared};
use crate::workload::Workload;

/// Runs every native workload with execve(2). Always last in the chain.
#[derive(Debug, Default)]
pub struct ExecveExecutor;

impl Executor for ExecveExecutor {
    fn name(&self) -> &'static str {
        "execve"
    }

    fn prepare(
        &self,
        workload: &Workload,
        target: &Target,
        _cache: Option<&dyn crate::cache::ArtifactCache>,
    ) -> Result<Option<Box<dyn Prepared>>, ExecutorError> {
        if !matches!(target, Target::Native) {
            return Ok(None);
        }
        let entry = entrypoint::resolve(workload, Lookup::Executable)?;
        let path = cstring("args", entry.host.to_string_lossy().into_owned())?;
        let args = workload
            .args
            .iter()
            .map(|a| cstring("args", a.clone()))
            .collect::<Result<_, _>>()?;
        let env = workload
            .env
            .iter()
            .map(|e| cstring("env", e.clone()))
            .collect::<Result<_, _>>()?;
        Ok(Some(Box::new(Execve {
            guest: entry.guest,
            path,
            args,
            env,
        })))
    }
}

fn cstring(field: &'static str, value: String) -> Result<CString, ExecutorError> {
    CString::new(value.clone()).map_err(|_| ExecutorError::NulByte { field, value })
}

struct Execve {
    guest: std::path::PathBuf,
    path: CString,
    args: Vec<CString>,
    env: Vec<CString>,
}

impl Prepared for Execve {
    fn replaces_process(&self) -> bool {
        true
    }

    fn run(self: Box<Self>) -> Result<i32, ExecutorError> {
        let errno = match nix::unistd::execve(&self.path, &self.args, &self.env) {
            Err(errno) => errno,
            Ok(never) => match never {},
        };
        let path = self.guest;
        Err(match errno {
            Errno::ENOENT => ExecutorError::NoSuchFile { path },
            Errno::EACCES | Errno::EPERM => ExecutorError::PermissionDenied { path },
            Errno::ENOEXEC => ExecutorError::ExecFormat { path },
            errno => ExecutorError::Exec { path, errno },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::RuntimeOptions;
    use std::collections::BTreeMap;

    fn workload(args: &[&str]) -> Workload {
        Workload {
            args: args.iter().map(|s| s.to_string()).collect(),
            env: vec!["PATH=/bin:/usr/bin".into()],
            cwd: "/".into(),
            annotations: BTreeMap::new(),
            root: "/".into(),
            root_readonly: false,
            options: RuntimeOptions::default(),
        }
    }

    #[test]
    fn declines_wasm_and_resolves_native() {
        let e = ExecveExecutor;
        let wasm = Target::Wasm {
            engine: crate::EngineKind::Wasmtime,
            entrypoint: crate::entrypoint::Entrypoint {
                written: "x".into(),
                guest: "/x".into(),
                host: "/x".into(),
            },
            format: crate::detect::Format::Core,
        };
        assert!(e
            .prepare(&workload(&["sh"]), &wasm, None)
            .unwrap()
            .is_none());
        assert!(e
            .prepare(&workload(&["sh"]), &Target::Native, None)
            .unwrap()
            .is_some());
        let err = e
            .prepare(&workload(&["no-such-program-hako"]), &Target::Native, None)
            .err()
            .unwrap();
        assert_eq!(
            err.to_string(),
            "exec: \"no-such-program-hako\": executable file not found in $PATH"
        );
        let err = e
            .prepare(&workload(&["sh", "a\0b"]), &Target::Native, None)
            .err()
            .unwrap();
        assert!(matches!(err, ExecutorError::NulByte { field: "args", .. }));
    }

    #[test]
    fn exec_format_error_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("not-elf");
        std::fs::write(&file, b"\0asm\x01\0\0\0").unwrap();
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        let w = workload(&[file.to_str().unwrap()]);
        // Another test thread may fork while the file is still open for
        // writing (ETXTBSY): retry until the inherited descriptor is gone.
        let err = loop {
            let prepared = ExecveExecutor
                .prepare(&w, &Target::Native, None)
                .unwrap()
                .unwrap();
            match prepared.run().unwrap_err() {
                ExecutorError::Exec {
                    errno: Errno::ETXTBSY,
                    ..
                } => std::thread::sleep(std::time::Duration::from_millis(10)),
                err => break err,
            }
        };
        assert!(matches!(err, ExecutorError::ExecFormat { .. }), "{err}");
        assert_eq!(err.exit_code(), 126);
    }
}
