//! The wasmer engine end to end: the conformance suite every engine
//! passes, then what is wasmer's own (messages naming the import at
//! fault, the single preopen, threads).

use std::path::Path;

use hako_executor_wasmer::Wasmer;
use hako_executors::testing::guests::{guest, guest_importing};
use hako_executors::testing::{prepare, prepare_err, serial, wat, Sandbox};
use hako_executors::wasm::Preopen;
use hako_executors::{EngineKind, ExecutorError};

hako_executors::conformance_tests!(Wasmer);

#[test]
fn import_errors_name_the_import() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    let start = r#"(func (export "_start"))"#;
    let cases = [
        (r#"(import "env" "nope" (func))"#, start, "env::nope"),
        (
            r#"(import "wasi_snapshot_preview1" "no_such_call" (func))"#,
            start,
            "wasi_snapshot_preview1::no_such_call",
        ),
        (
            r#"(import "wasi_snapshot_preview1" "random_get" (func (param i64)))"#,
            start,
            "wasi_snapshot_preview1::random_get",
        ),
        (
            r#"(import "env" "table" (table 1 funcref))"#,
            start,
            "env::table",
        ),
        ("", r#"(func (export "main"))"#, "_start"),
    ];
    for (imports, body, culprit) in cases {
        let wasi = sandbox.wasi(&["app.wasm"], &[], false);
        match prepare_err::<Wasmer>(guest_importing(imports, body), wasi) {
            ExecutorError::Compile { message, .. } => {
                assert!(message.contains(culprit), "{culprit}: {message}");
                assert!(message.starts_with(char::is_lowercase), "{message:?}");
            }
            e => panic!("{culprit}: not a compile error: {e:?}"),
        }
    }
}

#[test]
fn components_are_refused_at_prepare() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    match prepare_err::<Wasmer>(wat("(component)"), sandbox.wasi(&["c.wasm"], &[], false)) {
        ExecutorError::ComponentUnsupported { engine, path } => {
            assert_eq!(engine, EngineKind::Wasmer);
            assert_eq!(path, Path::new("/app.wasm"));
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn preopens_other_than_the_root_fail_at_prepare() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    let mut wasi = sandbox.wasi(&["app.wasm"], &[], false);
    wasi.preopens.push(Preopen {
        host: sandbox.path("work"),
        guest: ".".into(),
        readonly: false,
    });
    let err = prepare_err::<Wasmer>(guest(r#"(func (export "_start"))"#), wasi);
    assert!(matches!(err, ExecutorError::Compile { .. }), "{err:?}");
    assert!(err.to_string().contains("single preopen"), "{err}");
}

#[test]
fn prepare_leaves_no_runtime_thread_behind() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    let _prepared = prepare::<Wasmer>(
        guest(r#"(func (export "_start"))"#),
        sandbox.wasi(&["app.wasm"], &[], false),
    )
    .unwrap();
    let names: Vec<String> = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.starts_with("wasmer-tokio") || n.starts_with("tokio")),
        "{names:?}"
    );
}
