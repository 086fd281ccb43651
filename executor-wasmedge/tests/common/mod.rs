//! Helpers for running guests in tests: building modules, WASI configs,
//! and running a prepared guest in a forked child whose stdout and stderr
//! go to files.

#![allow(dead_code)]

pub mod programs;

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use hako_executor_wasmedge::WasmEdge;
use hako_executors::wasm::{Preopen, WasiConfig, WasmEngine, WasmModule};
use hako_executors::{ExecutorError, Prepared};

/// libwasmedge is used by one test at a time, so that no other thread is
/// inside it when a test forks.
static ENGINE: Mutex<()> = Mutex::new(());

/// Takes the engine lock (a failed test elsewhere does not poison it).
pub fn lock() -> MutexGuard<'static, ()> {
    ENGINE.lock().unwrap_or_else(|e| e.into_inner())
}

/// A module from WebAssembly text.
pub fn module(wat: &str) -> WasmModule {
    let bytes = wat::parse_str(wat).expect("test module parses");
    WasmModule {
        path: "/app.wasm".into(),
        component: false,
        bytes,
    }
}

/// A WASI config with these args and env and the given preopens.
pub fn config(args: &[&str], env: &[(&str, &str)], preopens: Vec<Preopen>) -> WasiConfig {
    WasiConfig {
        args: args.iter().map(|s| s.to_string()).collect(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        preopens,
        http_addr: ([127, 0, 0, 1], 8080).into(),
    }
}

/// hako's two preopens: `root` as `/`, `root/cwd` as `.`.
pub fn preopens(root: &Path, cwd: &str, readonly: bool) -> Vec<Preopen> {
    vec![
        Preopen {
            host: root.to_path_buf(),
            guest: "/".into(),
            readonly,
        },
        Preopen {
            host: root.join(cwd),
            guest: ".".into(),
            readonly,
        },
    ]
}

/// Prepares a module on WasmEdge.
pub fn prepare(module: WasmModule, wasi: WasiConfig) -> Result<Box<dyn Prepared>, ExecutorError> {
    WasmEdge.prepare(module, wasi)
}

/// How a guest run in a child ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// `run` returned this exit code.
    Exit(i32),
    /// `run` returned [`ExecutorError::Trap`] with this message.
    Trap(String),
    /// `run` returned another error, shown.
    Error(String),
    /// The child did not report (it died or exited on its own).
    Died(String),
}

/// A finished run: outcome, the guest's stdout and stderr, and what the
/// `after` hook of [`run_in_child_with`] wrote.
#[derive(Debug)]
pub struct Run {
    pub outcome: Outcome,
    pub stdout: String,
    pub stderr: String,
    pub probe: String,
}

/// Runs `prepared` in a forked child with fd 1 and 2 sent to files, as
/// container init would run it (in the process that prepared it).
pub fn run_in_child(prepared: Box<dyn Prepared>) -> Run {
    run_in_child_with(prepared, |_| {})
}

/// Like [`run_in_child`], calling `after(&probe_path)` in the child once
/// the guest has run, so a test can record facts about the child there.
pub fn run_in_child_with(prepared: Box<dyn Prepared>, after: impl FnOnce(&Path)) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("stdout");
    let err_path = dir.path().join("stderr");
    let res_path = dir.path().join("result");
    let probe_path = dir.path().join("probe");
    let out = File::create(&out_path).unwrap();
    let err = File::create(&err_path).unwrap();
    // SAFETY: the engine lock is held by the caller, so no other thread is
    // inside libwasmedge; the child only redirects fds, runs the guest,
    // writes a file and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: plain fd operations on fds this process owns.
        unsafe {
            libc::dup2(out.as_raw_fd(), 1);
            libc::dup2(err.as_raw_fd(), 2);
        }
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| prepared.run()));
        let text = match outcome {
            Ok(Ok(code)) => format!("exit\n{code}"),
            Ok(Err(ExecutorError::Trap(m))) => format!("trap\n{m}"),
            Ok(Err(e)) => format!("error\n{e}"),
            Err(_) => "died\npanic".to_string(),
        };
        after(&probe_path);
        let _ = std::fs::write(&res_path, text);
        // SAFETY: ends the child without running the parent's atexit state.
        unsafe { libc::_exit(0) }
    }
    drop(prepared);
    let mut status = 0;
    // SAFETY: waits for the child forked above.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    let result =
        std::fs::read_to_string(&res_path).unwrap_or_else(|_| format!("died\nstatus {status:#x}"));
    let (kind, rest) = result.split_once('\n').unwrap();
    let outcome = match kind {
        "exit" => Outcome::Exit(rest.parse().unwrap()),
        "trap" => Outcome::Trap(rest.into()),
        "error" => Outcome::Error(rest.into()),
        _ => Outcome::Died(rest.into()),
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap();
    let stderr = std::fs::read_to_string(&err_path).unwrap();
    let probe = std::fs::read_to_string(&probe_path).unwrap_or_default();
    Run {
        outcome,
        stdout,
        stderr,
        probe,
    }
}

/// A fresh directory tree for a guest: `root/` and `root/work/`.
pub fn rootfs() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    std::fs::create_dir_all(root.join("work")).unwrap();
    (dir, root)
}
