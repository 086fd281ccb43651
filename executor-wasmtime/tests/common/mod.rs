//! Helpers shared by the integration tests: sandboxes, module builders and
//! a child-process runner for tests that look at the guest's stdout.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::fd::AsRawFd as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use hako_executor_wasmtime::Wasmtime;
use hako_executors::wasm::{WasiConfig, WasmEngine as _, WasmModule};
use hako_executors::{ExecutorError, Prepared, RuntimeOptions, Workload};

/// A container root in a temporary directory: `/work` is the working
/// directory (the guest's `.`) and `/data/in.txt` holds [`IN_TXT`].
pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

/// What `/data/in.txt` holds.
pub const IN_TXT: &str = "read me through the / preopen\n";

impl Sandbox {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("work")).unwrap();
        std::fs::create_dir(dir.path().join("data")).unwrap();
        std::fs::write(dir.path().join("data/in.txt"), IN_TXT).unwrap();
        Sandbox { dir }
    }

    /// The host path of a path inside the container.
    pub fn path(&self, container_path: &str) -> PathBuf {
        self.dir.path().join(container_path.trim_start_matches('/'))
    }

    /// The WASI view hako gives a container with this root, built by the
    /// same code the runtime uses (fd 3 is `/`), plus a second preopen,
    /// `.` for /work at fd 4, to show the engine honours every preopen.
    pub fn wasi(&self, args: &[&str], env: &[&str], readonly: bool) -> WasiConfig {
        let workload = Workload {
            args: args.iter().map(|s| s.to_string()).collect(),
            env: env.iter().map(|s| s.to_string()).collect(),
            cwd: "/work".into(),
            annotations: BTreeMap::new(),
            root: self.dir.path().to_path_buf(),
            root_readonly: readonly,
            options: RuntimeOptions::default(),
        };
        let mut wasi = WasiConfig::for_workload(&workload).unwrap();
        wasi.preopens.push(hako_executors::wasm::Preopen {
            host: self.path("/work"),
            guest: ".".into(),
            readonly,
        });
        wasi
    }
}

/// A module from WebAssembly text, as `load_module` would hand it over.
pub fn wat(text: &str) -> WasmModule {
    let bytes = wat::parse_str(text).unwrap_or_else(|e| panic!("bad test wat: {e}"));
    binary(bytes)
}

/// A module from bytes, named `/app.wasm`.
pub fn binary(bytes: Vec<u8>) -> WasmModule {
    let component = bytes.starts_with(b"\0asm") && bytes.get(4..8) != Some(&[1, 0, 0, 0]);
    WasmModule {
        path: "/app.wasm".into(),
        bytes,
        component,
    }
}

/// Prepares and runs in this process.
pub fn run(module: WasmModule, wasi: WasiConfig) -> Result<i32, ExecutorError> {
    prepare(module, wasi)?.run()
}

/// Prepares only.
pub fn prepare(module: WasmModule, wasi: WasiConfig) -> Result<Box<dyn Prepared>, ExecutorError> {
    Wasmtime.prepare(module, wasi)
}

/// The error of a `prepare` that must fail.
pub fn prepare_err(module: WasmModule, wasi: WasiConfig) -> ExecutorError {
    match prepare(module, wasi) {
        Ok(_) => panic!("prepare accepted a module it must reject"),
        Err(err) => err,
    }
}

/// Set in the child process to the scenario it must run.
const CHILD_SCENARIO: &str = "HAKO_WASMTIME_TEST_SCENARIO";
/// Where the child's guest writes its stdout.
const CHILD_STDOUT: &str = "HAKO_WASMTIME_TEST_STDOUT";
/// Where the child writes `run`'s result, as `{:?}`.
const CHILD_RESULT: &str = "HAKO_WASMTIME_TEST_RESULT";

/// What a scenario run in a child process produced.
pub struct ChildOutput {
    /// Everything the guest wrote to fd 1.
    pub stdout: String,
    /// `prepare` then `run`'s result, `{:?}`-formatted (`Ok(0)`).
    pub result: String,
}

/// Runs `scenario` in a fresh copy of this test binary (its `child` test,
/// which must call [`child_main`]), with the guest's fd 1 redirected to a
/// file, so the test can read exactly what the guest printed through the
/// real stdout — no fork of this multi-threaded test process.
pub fn run_in_child(scenario: &str) -> ChildOutput {
    let dir = tempfile::tempdir().unwrap();
    let stdout = dir.path().join("stdout");
    let result = dir.path().join("result");
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
            "-q",
        ])
        .env(CHILD_SCENARIO, scenario)
        .env(CHILD_STDOUT, &stdout)
        .env(CHILD_RESULT, &result)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "child for {scenario} failed: {status}");
    ChildOutput {
        stdout: std::fs::read_to_string(&stdout).unwrap(),
        result: std::fs::read_to_string(&result)
            .unwrap_or_else(|e| panic!("child for {scenario} wrote no result: {e}")),
    }
}

/// The body of each test binary's ignored `child` test, run only in a
/// child started by [`run_in_child`]: builds the scenario's module and
/// WASI view with `scenario`, runs it with fd 1 on the stdout file,
/// records the result and exits. Run any other way, it fails.
pub fn child_main(scenario: impl FnOnce(&str, &Sandbox) -> (WasmModule, WasiConfig)) {
    let name = std::env::var(CHILD_SCENARIO)
        .expect("`child` runs only in the child process run_in_child starts");
    let out = std::fs::File::create(std::env::var(CHILD_STDOUT).unwrap()).unwrap();
    let sandbox = Sandbox::new();
    let (module, wasi) = scenario(&name, &sandbox);
    let prepared = prepare(module, wasi);
    // Push out whatever the test harness has buffered before fd 1 moves.
    std::io::stdout().flush().unwrap();
    // SAFETY: dup2 on two valid descriptors; fd 1 is replaced atomically.
    let rc = unsafe { libc::dup2(out.as_raw_fd(), 1) };
    assert_eq!(rc, 1, "dup2: {}", std::io::Error::last_os_error());
    let result = prepared.and_then(|p| p.run());
    std::io::stdout().flush().unwrap();
    std::fs::write(std::env::var(CHILD_RESULT).unwrap(), format!("{result:?}")).unwrap();
    // Leave before the harness prints its verdict into the stdout file.
    std::process::exit(0);
}
