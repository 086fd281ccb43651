//! Components exporting `wasi:cli/run`, run with WASI preview 2, and
//! components hako cannot run.

mod common;

use common::{prepare, prepare_err, run, serial, wat, Outcome, Sandbox};
use hako_executors::wasm::WasmModule;
use hako_executors::{EngineKind, ExecutorError};

/// The message printed by [`hello_component`].
const HELLO: &str = "hello from a component\n";

/// A `wasi:cli/run` command that prints [`HELLO`] through
/// `wasi:cli/stdout` and returns `ok`, written against the 0.2.0 interfaces
/// (older than the host's: semver-compatible linking is part of the test).
fn hello_component() -> WasmModule {
    wat(&format!(
        r#"(component $C
  (import "wasi:io/error@0.2.0" (instance $io-error
    (export "error" (type (sub resource)))))
  (alias export $io-error "error" (type $error))
  (import "wasi:io/streams@0.2.0" (instance $streams
    (export "output-stream" (type $output-stream (sub resource)))
    (alias outer $C $error (type $error-outer))
    (export "error" (type $error-inner (eq $error-outer)))
    (type $own-error (own $error-inner))
    (type $stream-error-def (variant (case "last-operation-failed" $own-error) (case "closed")))
    (export "stream-error" (type $stream-error (eq $stream-error-def)))
    (type $borrow-output-stream (borrow $output-stream))
    (type $bytes (list u8))
    (type $write-result (result (error $stream-error)))
    (export "[method]output-stream.blocking-write-and-flush"
      (func (param "self" $borrow-output-stream) (param "contents" $bytes) (result $write-result)))))
  (alias export $streams "output-stream" (type $output-stream))
  (import "wasi:cli/stdout@0.2.0" (instance $stdout
    (alias outer $C $output-stream (type $output-stream-outer))
    (export "output-stream" (type $output-stream-inner (eq $output-stream-outer)))
    (type $own-output-stream (own $output-stream-inner))
    (export "get-stdout" (func (result $own-output-stream)))))

  (core module $Memory (memory (export "memory") 1))
  (core instance $memory (instantiate $Memory))
  (alias core export $memory "memory" (core memory $mem))
  (core func $get-stdout (canon lower (func $stdout "get-stdout")))
  (core func $write (canon lower
    (func $streams "[method]output-stream.blocking-write-and-flush") (memory $mem)))
  (core func $drop-output-stream (canon resource.drop $output-stream))

  (core module $Main
    (import "host" "memory" (memory 1))
    (import "host" "get-stdout" (func $get-stdout (result i32)))
    (import "host" "write" (func $write (param i32 i32 i32 i32)))
    (import "host" "drop" (func $drop (param i32)))
    (data (i32.const 16) "{hello}")
    (func (export "run") (result i32)
      (local $out i32)
      (local.set $out (call $get-stdout))
      ;; the result (a result<_, stream-error>) lands at 0: tag 0 is ok
      (call $write (local.get $out) (i32.const 16) (i32.const {len}) (i32.const 0))
      (call $drop (local.get $out))
      (i32.load8_u (i32.const 0))))
  (core instance $main (instantiate $Main
    (with "host" (instance
      (export "memory" (memory $mem))
      (export "get-stdout" (func $get-stdout))
      (export "write" (func $write))
      (export "drop" (func $drop-output-stream))))))

  (type $run-result (result))
  (func $run (result $run-result) (canon lift (core func $main "run")))
  (instance $run-instance (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $run-instance)))"#,
        hello = HELLO.replace('\n', "\\n"),
        len = HELLO.len()
    ))
}

/// A `wasi:cli/run` command whose core `run` has body `body` and may call
/// `$exit-with-code` (`wasi:cli/exit`, as of 0.2.12).
fn command(body: &str) -> WasmModule {
    wat(&format!(
        r#"(component
  (import "wasi:cli/exit@0.2.12" (instance $exit
    (export "exit-with-code" (func (param "status-code" u8)))))
  (core func $exit-with-code (canon lower (func $exit "exit-with-code")))
  (core module $Main
    (import "host" "exit-with-code" (func $exit-with-code (param i32)))
    (func (export "run") (result i32) {body}))
  (core instance $main (instantiate $Main
    (with "host" (instance (export "exit-with-code" (func $exit-with-code))))))
  (type $run-result (result))
  (func $run (result $run-result) (canon lift (core func $main "run")))
  (instance $run-instance (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $run-instance)))"#
    ))
}

#[test]
fn cli_run_component_prints_to_the_real_stdout_and_exits_0() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    let prepared = prepare(hello_component(), sandbox.wasi(&["hello.wasm"], &[], false)).unwrap();
    let out = hako_executors::testing::run(prepared, b"");
    assert_eq!(out.outcome, Outcome::Exit(0), "{}", out.stderr);
    assert_eq!(out.stdout, HELLO);
}

#[test]
fn run_returning_err_exits_1() {
    let sandbox = Sandbox::new();
    let code = run(
        command("(i32.const 1)"),
        sandbox.wasi(&["app.wasm"], &[], false),
    );
    assert_eq!(code.unwrap(), 1);
}

#[test]
fn exit_with_code_is_the_exit_code() {
    let sandbox = Sandbox::new();
    let module = command("(call $exit-with-code (i32.const 7)) (i32.const 0)");
    assert_eq!(
        run(module, sandbox.wasi(&["app.wasm"], &[], false)).unwrap(),
        7
    );
}

#[test]
fn trap_in_a_component_is_a_one_line_trap() {
    let sandbox = Sandbox::new();
    let err = run(
        command("unreachable"),
        sandbox.wasi(&["app.wasm"], &[], false),
    )
    .unwrap_err();
    match err {
        ExecutorError::Trap(msg) => assert_eq!(msg, "wasm `unreachable` instruction executed"),
        other => panic!("expected a trap, got {other:?}"),
    }
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
            message
        }
        other => panic!("expected a compile error, got {other:?}"),
    }
}

#[test]
fn component_exporting_neither_run_nor_handler_fails_prepare() {
    let sandbox = Sandbox::new();
    let err = prepare_err(wat("(component)"), sandbox.wasi(&["app.wasm"], &[], false));
    assert_eq!(
        compile_message(err),
        "component exports neither wasi:cli/run nor wasi:http/incoming-handler, \
         so it is neither a command nor an http handler"
    );
}

#[test]
fn component_with_unknown_import_fails_prepare() {
    let sandbox = Sandbox::new();
    let module = wat(r#"(component
      (import "hako:test/nope@1.0.0" (instance $nope (export "f" (func))))
      (core module $M (func (export "run") (result i32) (i32.const 0)))
      (core instance $m (instantiate $M))
      (type $run-result (result))
      (func $run (result $run-result) (canon lift (core func $m "run")))
      (instance $i (export "run" (func $run)))
      (export "wasi:cli/run@0.2.0" (instance $i)))"#);
    let message = compile_message(prepare_err(module, sandbox.wasi(&["app.wasm"], &[], false)));
    assert!(message.contains("hako:test/nope@1.0.0"), "{message}");
}

#[test]
fn mistyped_run_export_fails_prepare() {
    let sandbox = Sandbox::new();
    // `run` must return result<_, _>; this one returns nothing.
    let module = wat(r#"(component
      (core module $M (func (export "run")))
      (core instance $m (instantiate $M))
      (func $run (canon lift (core func $m "run")))
      (instance $i (export "run" (func $run)))
      (export "wasi:cli/run@0.2.0" (instance $i)))"#);
    let message = compile_message(prepare_err(module, sandbox.wasi(&["app.wasm"], &[], false)));
    assert_eq!(message, "wasi:cli/run@0.2.0: run is not a func() -> result");
}

#[test]
fn invalid_component_fails_prepare() {
    let sandbox = Sandbox::new();
    let mut bytes = wat::parse_str("(component)").unwrap();
    bytes.extend_from_slice(b"\xff\xff");
    let module = WasmModule {
        path: "/app.wasm".into(),
        bytes,
        component: true,
    };
    let message = compile_message(prepare_err(module, sandbox.wasi(&["app.wasm"], &[], false)));
    assert!(!message.is_empty());
}
