//! Everything wrong with a module surfaces at prepare (`hako create`), in
//! WasmEdge's words (the conformance suite checks the kinds of error every
//! engine shares).

mod common;

use common::{config, lock, module, prepare};
use hako_executor_wasmedge::WasmEdge;
use hako_executors::wasm::{WasmEngine, WasmModule};
use hako_executors::{EngineKind, ExecutorError};

/// The `Compile` message, or a panic naming what came instead.
fn compile_error(m: WasmModule) -> String {
    let _engine = lock();
    match prepare(m, config(&["x"], &[])) {
        Err(ExecutorError::Compile {
            engine,
            path,
            message,
        }) => {
            assert_eq!(engine, EngineKind::WasmEdge);
            assert_eq!(path, std::path::Path::new("/app.wasm"));
            assert!(!message.contains('\n'), "{message:?}");
            assert!(
                !message.starts_with(|c: char| c.is_uppercase()),
                "{message:?}"
            );
            message
        }
        Err(other) => panic!("expected a compile error, got {other}"),
        Ok(_) => panic!("expected a compile error, got a prepared guest"),
    }
}

#[test]
fn kind_is_wasmedge() {
    fn make<E: WasmEngine + Default>() -> E {
        E::default()
    }
    assert_eq!(WasmEdge.kind(), EngineKind::WasmEdge);
    assert_eq!(make::<WasmEdge>().kind(), EngineKind::WasmEdge);
}

#[test]
fn malformed_binary() {
    let m = WasmModule {
        path: "/app.wasm".into(),
        bytes: b"\0asm\x01\0\0\0\x01\xff\xff".to_vec(),
        component: false,
    };
    let message = compile_error(m);
    assert!(message.starts_with("invalid module: "), "{message}");
}

#[test]
fn invalid_module() {
    // Leaves an i32 on the stack of a function that returns nothing.
    let message = compile_error(module(r#"(module (func (export "_start") i32.const 1))"#));
    assert!(message.starts_with("validation failed: "), "{message}");
}

#[test]
fn unknown_import() {
    let message = compile_error(module(
        r#"(module (import "env" "nope" (func)) (func (export "_start")))"#,
    ));
    assert_eq!(
        message,
        "import env::nope: unknown import (wasmedge provides only wasi_snapshot_preview1)"
    );
    let message = compile_error(module(
        r#"(module (import "wasi_snapshot_preview1" "nope" (func)) (func (export "_start")))"#,
    ));
    assert!(
        message.starts_with("import wasi_snapshot_preview1::nope: unknown import"),
        "{message}"
    );
}

#[test]
fn wasi_import_with_wrong_type() {
    let message = compile_error(module(
        r#"(module (import "wasi_snapshot_preview1" "proc_exit" (func (param i64))) (func (export "_start")))"#,
    ));
    assert_eq!(
        message,
        "import wasi_snapshot_preview1::proc_exit: has type (i64) -> (), but wasi_snapshot_preview1 defines it as (i32) -> ()"
    );
    let message = compile_error(module(
        r#"(module (import "wasi_snapshot_preview1" "memory" (memory 1)) (func (export "_start")))"#,
    ));
    assert!(message.contains("is a memory"), "{message}");
}

#[test]
fn missing_or_odd_start() {
    let message = compile_error(module(r#"(module (func (export "main")))"#));
    assert_eq!(
        message,
        "no _start function exported (not a wasi command module)"
    );
    let message = compile_error(module(r#"(module (func (export "_start") (param i32)))"#));
    assert_eq!(message, "_start has type (i32) -> (), expected () -> ()");
}

#[test]
fn instantiation_errors_surface_at_prepare() {
    // An active data segment past the end of memory fails instantiation.
    let message = compile_error(module(
        r#"(module (memory 1) (data (i32.const 65535) "ab") (func (export "_start")))"#,
    ));
    assert!(message.starts_with("instantiation failed: "), "{message}");
}

#[test]
fn component_is_unsupported() {
    let _engine = lock();
    let m = WasmModule {
        path: "/app.wasm".into(),
        bytes: wat::parse_str("(component)").unwrap(),
        component: true,
    };
    let err = prepare(m, config(&["x"], &[])).err().unwrap();
    assert!(
        matches!(
            err,
            ExecutorError::ComponentUnsupported {
                engine: EngineKind::WasmEdge,
                ..
            }
        ),
        "{err}"
    );
}
