//! Core modules: the conformance suite every engine passes, then what is
//! wasmtime's own (wasi_unstable, its exit-status rule, its messages).

use hako_executor_wasmtime::Wasmtime;
use hako_executors::testing::guests::{guest, guest_importing};
use hako_executors::testing::{prepare, prepare_err, serial, wat, Sandbox};
use hako_executors::{EngineKind, ExecutorError};

hako_executors::conformance_tests!(Wasmtime);

/// Prepares and runs in this test's process (no output is looked at).
fn run(module: hako_executors::wasm::WasmModule) -> Result<i32, ExecutorError> {
    let sandbox = Sandbox::new();
    prepare::<Wasmtime>(module, sandbox.wasi(&["app.wasm"], &[], false))?.run()
}

#[test]
fn wasi_unstable_modules_link_too() {
    let _serial = serial();
    let module = wat(r#"(module
      (import "wasi_unstable" "proc_exit" (func $exit (param i32)))
      (memory (export "memory") 1)
      (func (export "_start") (call $exit (i32.const 5))))"#);
    assert_eq!(run(module).unwrap(), 5);
}

#[test]
fn an_out_of_range_exit_status_is_an_engine_error_not_that_code() {
    let _serial = serial();
    let module = guest(r#"(func (export "_start") (call $proc_exit (i32.const 137)))"#);
    match run(module) {
        Err(ExecutorError::Engine { engine, message }) => {
            assert_eq!(engine, EngineKind::Wasmtime);
            assert_eq!(message, "exit with invalid exit status outside of [0..126)");
        }
        other => panic!("expected an engine error, got {other:?}"),
    }
}

#[test]
fn traps_are_named_as_wasmtime_names_them() {
    let _serial = serial();
    let err = run(guest(r#"(func (export "_start") unreachable)"#)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "wasm trap: wasm `unreachable` instruction executed"
    );
    assert_eq!(err.exit_code(), 134);
}

/// The message of a `Compile` error for `/app.wasm`.
fn compile_message(err: ExecutorError) -> String {
    match err {
        ExecutorError::Compile { message, .. } => message,
        other => panic!("expected a compile error, got {other:?}"),
    }
}

#[test]
fn prepare_errors_keep_wasmtimes_words_on_one_lowercase_line() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    let wasi = || sandbox.wasi(&["app.wasm"], &[], false);
    let start = r#"(func (export "_start"))"#;
    let invalid = hako_executors::testing::binary(b"\0asm\x01\0\0\0\x01\xff\xff".to_vec());
    let message = compile_message(prepare_err::<Wasmtime>(invalid, wasi()));
    assert!(
        message.starts_with("failed to parse WebAssembly module"),
        "{message}"
    );
    let missing = guest_importing(r#"(import "env" "nope" (func))"#, start);
    let message = compile_message(prepare_err::<Wasmtime>(missing, wasi()));
    assert_eq!(message, "unknown import: `env::nope` has not been defined");
    let mistyped = guest_importing(
        r#"(import "wasi_snapshot_preview1" "random_get" (func (param i64)))"#,
        start,
    );
    let message = compile_message(prepare_err::<Wasmtime>(mistyped, wasi()));
    assert!(
        message.starts_with("incompatible import type for `wasi_snapshot_preview1::random_get`"),
        "{message}"
    );
    let no_start = guest(r#"(func (export "main"))"#);
    let message = compile_message(prepare_err::<Wasmtime>(no_start, wasi()));
    assert_eq!(
        message,
        "module exports no _start function (not a wasi command)"
    );
}
