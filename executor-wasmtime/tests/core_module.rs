//! Core modules: WASI preview 1 commands, run in-process (and in a child
//! process when the test reads the guest's stdout).

mod common;

use common::{binary, prepare, prepare_err, run, run_in_child, wat, Sandbox, IN_TXT};
use hako_executors::wasm::{Preopen, WasiConfig, WasmModule};
use hako_executors::{EngineKind, ExecutorError};

/// A WASI preview 1 command whose `_start` (locals `$fd`, `$n`) runs
/// `body`, with helpers:
///
/// - `$write (fd ptr len)`, traps on failure;
/// - `$read (fd ptr cap) -> n`, traps on failure;
/// - `$open (dirfd path len oflags rights) -> fd or -errno`.
///
/// Preopen fds: 3 is `/`, 4 is `.`. Bytes 0..64 are scratch; `data` goes
/// from 1024, buffers from 4096.
fn p1(body: &str, data: &str) -> WasmModule {
    wat(&format!(
        r#"(module
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (memory (export "memory") 1)
  (func $write (param $fd i32) (param $ptr i32) (param $len i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (if (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))
      (then unreachable)))
  (func $read (param $fd i32) (param $ptr i32) (param $cap i32) (result i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $cap))
    (if (call $fd_read (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 8))
      (then unreachable))
    (i32.load (i32.const 8)))
  (func $open (param $dir i32) (param $path i32) (param $len i32) (param $oflags i32)
      (param $rights i64) (result i32)
    (local $errno i32)
    (local.set $errno
      (call $path_open (local.get $dir) (i32.const 0) (local.get $path) (local.get $len)
        (local.get $oflags) (local.get $rights) (local.get $rights) (i32.const 0) (i32.const 12)))
    (if (result i32) (local.get $errno)
      (then (i32.sub (i32.const 0) (local.get $errno)))
      (else (i32.load (i32.const 12)))))
  (func (export "_start") (local $fd i32) (local $n i32)
    {body})
  {data})"#
    ))
}

/// Rights and flags of `path_open`.
const RIGHT_READ: &str = "(i64.const 2)";
const RIGHT_WRITE: &str = "(i64.const 64)";
const O_CREAT_TRUNC: &str = "(i32.const 9)";

/// Paths the file tests use, at fixed addresses.
const PATHS: &str = r#"
  (data (i32.const 1024) "data/in.txt")
  (data (i32.const 1040) "out.txt")
  (data (i32.const 1056) "rel.txt")
  (data (i32.const 1072) "relative\n")"#;

/// The entry point of `common::run_in_child`: runs only there, in the
/// child process it starts (`--ignored`), never as a test of its own.
#[test]
#[ignore = "entry point of run_in_child's child process"]
fn child() {
    common::child_main(|scenario, sandbox| match scenario {
        "args_env" => (
            // Prints the raw argv and environ buffers (NUL-terminated
            // strings), separated by "|".
            p1(
                r#"
    (if (call $args_sizes_get (i32.const 16) (i32.const 20)) (then unreachable))
    (if (call $args_get (i32.const 2048) (i32.const 4096)) (then unreachable))
    (call $write (i32.const 1) (i32.const 4096) (i32.load (i32.const 20)))
    (call $write (i32.const 1) (i32.const 1024) (i32.const 1))
    (if (call $environ_sizes_get (i32.const 24) (i32.const 28)) (then unreachable))
    (if (call $environ_get (i32.const 3072) (i32.const 8192)) (then unreachable))
    (call $write (i32.const 1) (i32.const 8192) (i32.load (i32.const 28)))"#,
                r#"(data (i32.const 1024) "|")"#,
            ),
            sandbox.wasi(&["app.wasm", "a b"], &["A=1", "B=x=y", "EMPTY="], false),
        ),
        other => panic!("unknown scenario {other}"),
    });
}

#[test]
fn guest_sees_exactly_args_and_env_on_the_real_stdout() {
    let out = run_in_child("args_env");
    assert_eq!(out.result, "Ok(0)");
    // Exactly the container's env: nothing of this test process's own
    // environment (PATH, HOME, the scenario variables) leaks in.
    assert_eq!(out.stdout, "app.wasm\0a b\0|A=1\0B=x=y\0EMPTY=\0");
}

#[test]
fn files_through_the_root_and_cwd_preopens() {
    let sandbox = Sandbox::new();
    let module = p1(
        &format!(
            r#"
    ;; /data/in.txt -> /out.txt, through "/"
    (local.set $fd (call $open (i32.const 3) (i32.const 1024) (i32.const 11) (i32.const 0) {RIGHT_READ}))
    (if (i32.lt_s (local.get $fd) (i32.const 0)) (then (call $proc_exit (i32.const 10))))
    (local.set $n (call $read (local.get $fd) (i32.const 4096) (i32.const 1024)))
    (drop (call $fd_close (local.get $fd)))
    (local.set $fd (call $open (i32.const 3) (i32.const 1040) (i32.const 7) {O_CREAT_TRUNC} {RIGHT_WRITE}))
    (if (i32.lt_s (local.get $fd) (i32.const 0)) (then (call $proc_exit (i32.const 11))))
    (call $write (local.get $fd) (i32.const 4096) (local.get $n))
    (drop (call $fd_close (local.get $fd)))
    ;; rel.txt, a relative path, through "." (the container's cwd, /work)
    (local.set $fd (call $open (i32.const 4) (i32.const 1056) (i32.const 7) {O_CREAT_TRUNC} {RIGHT_WRITE}))
    (if (i32.lt_s (local.get $fd) (i32.const 0)) (then (call $proc_exit (i32.const 12))))
    (call $write (local.get $fd) (i32.const 1072) (i32.const 9))"#
        ),
        PATHS,
    );
    assert_eq!(
        run(module, sandbox.wasi(&["app.wasm"], &[], false)).unwrap(),
        0
    );
    assert_eq!(
        std::fs::read_to_string(sandbox.path("/out.txt")).unwrap(),
        IN_TXT
    );
    assert_eq!(
        std::fs::read_to_string(sandbox.path("/work/rel.txt")).unwrap(),
        "relative\n"
    );
}

#[test]
fn read_only_preopens_refuse_writes() {
    let sandbox = Sandbox::new();
    let module = p1(
        &format!(
            r#"
    ;; reading works
    (local.set $fd (call $open (i32.const 3) (i32.const 1024) (i32.const 11) (i32.const 0) {RIGHT_READ}))
    (if (i32.lt_s (local.get $fd) (i32.const 0)) (then (call $proc_exit (i32.const 100))))
    (if (i32.ne (call $read (local.get $fd) (i32.const 4096) (i32.const 1024)) (i32.const {len}))
      (then (call $proc_exit (i32.const 101))))
    ;; opening an existing file for writing is refused
    (local.set $fd (call $open (i32.const 3) (i32.const 1024) (i32.const 11) (i32.const 0) {RIGHT_WRITE}))
    (if (i32.ge_s (local.get $fd) (i32.const 0)) (then (call $proc_exit (i32.const 102))))
    ;; creating a file in "/" is refused
    (local.set $fd (call $open (i32.const 3) (i32.const 1040) (i32.const 7) {O_CREAT_TRUNC} {RIGHT_WRITE}))
    (if (i32.ge_s (local.get $fd) (i32.const 0)) (then (call $proc_exit (i32.const 103))))
    ;; and in "."; exit with its errno
    (local.set $fd (call $open (i32.const 4) (i32.const 1056) (i32.const 7) {O_CREAT_TRUNC} {RIGHT_WRITE}))
    (if (i32.ge_s (local.get $fd) (i32.const 0)) (then (call $proc_exit (i32.const 104))))
    (call $proc_exit (i32.sub (i32.const 0) (local.get $fd)))"#,
            len = IN_TXT.len()
        ),
        PATHS,
    );
    let code = run(module, sandbox.wasi(&["app.wasm"], &[], true)).unwrap();
    // errno 63 is WASI's EPERM (not 0: the guest did exit through the
    // refused open; not 100..=104: every step behaved).
    assert_eq!(code, 63, "guest exited with {code}");
    assert_eq!(
        std::fs::read_to_string(sandbox.path("/data/in.txt")).unwrap(),
        IN_TXT
    );
    assert!(!sandbox.path("/out.txt").exists());
    assert!(!sandbox.path("/work/rel.txt").exists());
}

#[test]
fn proc_exit_is_the_exit_code() {
    let sandbox = Sandbox::new();
    let module = p1("(call $proc_exit (i32.const 3))", "");
    assert_eq!(
        run(module, sandbox.wasi(&["app.wasm"], &[], false)).unwrap(),
        3
    );
}

#[test]
fn wasi_unstable_modules_link_too() {
    let sandbox = Sandbox::new();
    let module = wat(r#"(module
      (import "wasi_unstable" "proc_exit" (func $exit (param i32)))
      (memory (export "memory") 1)
      (func (export "_start") (call $exit (i32.const 5))))"#);
    assert_eq!(
        run(module, sandbox.wasi(&["app.wasm"], &[], false)).unwrap(),
        5
    );
}

#[test]
fn an_out_of_range_exit_status_is_an_engine_error_not_that_code() {
    let sandbox = Sandbox::new();
    let module = p1("(call $proc_exit (i32.const 137))", "");
    match run(module, sandbox.wasi(&["app.wasm"], &[], false)) {
        Err(ExecutorError::Engine { engine, message }) => {
            assert_eq!(engine, EngineKind::Wasmtime);
            assert_eq!(message, "exit with invalid exit status outside of [0..126)");
        }
        other => panic!("expected an engine error, got {other:?}"),
    }
}

#[test]
fn unreachable_is_a_one_line_trap() {
    let sandbox = Sandbox::new();
    let module = p1("unreachable", "");
    let err = run(module, sandbox.wasi(&["app.wasm"], &[], false)).unwrap_err();
    match &err {
        ExecutorError::Trap(msg) => assert_eq!(msg, "wasm `unreachable` instruction executed"),
        other => panic!("expected a trap, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "wasm trap: wasm `unreachable` instruction executed"
    );
    assert_eq!(err.exit_code(), 134);
}

#[test]
fn prepare_runs_no_guest_code() {
    // A start function that traps: prepare (at `create`) must not run it,
    // run (at `start`) must.
    let sandbox = Sandbox::new();
    let module = wat(r#"(module
      (memory (export "memory") 1)
      (func $boom unreachable)
      (start $boom)
      (func (export "_start")))"#);
    let prepared = prepare(module, sandbox.wasi(&["app.wasm"], &[], false)).unwrap();
    assert!(matches!(prepared.run(), Err(ExecutorError::Trap(_))));
}

/// Asserts a `Compile` error for `/app.wasm` and returns its message.
fn compile_message(err: ExecutorError) -> String {
    match err {
        ExecutorError::Compile {
            engine,
            path,
            message,
        } => {
            assert_eq!(engine, EngineKind::Wasmtime);
            assert_eq!(path, std::path::Path::new("/app.wasm"));
            assert!(!message.contains('\n'), "not one line: {message:?}");
            assert!(!message.ends_with('.'), "trailing period: {message:?}");
            message
        }
        other => panic!("expected a compile error, got {other:?}"),
    }
}

#[test]
fn invalid_module_fails_prepare() {
    let sandbox = Sandbox::new();
    let module = binary(b"\0asm\x01\0\0\0\x01\xff\xff".to_vec());
    let message = compile_message(prepare_err(module, sandbox.wasi(&["app.wasm"], &[], false)));
    assert!(
        message.starts_with("failed to parse WebAssembly module"),
        "{message}"
    );
}

#[test]
fn missing_import_fails_prepare_not_run() {
    let sandbox = Sandbox::new();
    let module = wat(r#"(module
      (import "env" "nope" (func))
      (memory (export "memory") 1)
      (func (export "_start")))"#);
    let message = compile_message(prepare_err(module, sandbox.wasi(&["app.wasm"], &[], false)));
    assert_eq!(message, "unknown import: `env::nope` has not been defined");
}

#[test]
fn mistyped_wasi_import_fails_prepare() {
    let sandbox = Sandbox::new();
    let module = wat(r#"(module
      (import "wasi_snapshot_preview1" "proc_exit" (func (param i64)))
      (memory (export "memory") 1)
      (func (export "_start")))"#);
    let message = compile_message(prepare_err(module, sandbox.wasi(&["app.wasm"], &[], false)));
    assert!(
        message.starts_with("incompatible import type for `wasi_snapshot_preview1::proc_exit`"),
        "{message}"
    );
}

#[test]
fn module_without_start_fails_prepare() {
    let sandbox = Sandbox::new();
    let module = wat(r#"(module (memory (export "memory") 1) (func (export "main")))"#);
    let message = compile_message(prepare_err(module, sandbox.wasi(&["app.wasm"], &[], false)));
    assert_eq!(
        message,
        "module exports no _start function (not a wasi command)"
    );
}

#[test]
fn missing_preopen_directory_fails_prepare() {
    let sandbox = Sandbox::new();
    let wasi = WasiConfig {
        preopens: vec![Preopen {
            host: sandbox.path("/nonexistent"),
            guest: "/".into(),
            readonly: false,
        }],
        ..sandbox.wasi(&["app.wasm"], &[], false)
    };
    match prepare_err(p1("", ""), wasi) {
        ExecutorError::Engine { engine, message } => {
            assert_eq!(engine, EngineKind::Wasmtime);
            assert!(message.starts_with("opening "), "{message}");
            assert!(message.contains("nonexistent"), "{message}");
            assert!(!message.contains('\n'), "{message}");
        }
        other => panic!("expected an engine error, got {other:?}"),
    }
}
