//! What is WasmEdge's own when guests run (the conformance suite in
//! `conformance.rs` covers what every engine shares): its read-only
//! preopen gap, its signal handlers and threads, its trap messages and
//! start-function timing.

mod common;

use common::{config, lock, module, prepare, programs, run_in_child_with, Outcome, Sandbox};
use hako_executors::ExecutorError;

/// Direct writes through a read-only preopen fail; the same program
/// writes fine through a writable one (so the check can fail).
///
/// WasmEdge 0.14 lets a directory opened *below* a read-only preopen
/// create and unlink files (bits 4 and 8): only the preopen itself is
/// restricted. The test pins that; hako's read-only root is also a
/// read-only mount, which `tests/tests/wasm.rs` shows stops the same
/// write on every engine (docs/wasmedge.md).
#[test]
fn readonly_preopen_write_attempts() {
    let _engine = lock();
    for readonly in [false, true] {
        let sandbox = Sandbox::new();
        let root = sandbox.root();
        std::fs::write(root.join("in.txt"), "keep\n").unwrap();
        std::fs::create_dir(root.join("sub")).unwrap();
        std::fs::write(root.join("sub/victim"), "x").unwrap();
        let wasi = sandbox.wasi(&["w"], &[], readonly);
        let guest = prepare(module(&programs::write_attempts()), wasi).unwrap();
        let run = common::run_in_child(guest);
        let Outcome::Exit(bits) = run.outcome else {
            panic!("{run:?}")
        };
        if readonly {
            assert_eq!(bits & (1 | 2 | 16 | 32), 0, "{bits:#b}");
            assert_eq!(
                std::fs::read_to_string(root.join("in.txt")).unwrap(),
                "keep\n"
            );
            assert!(!root.join("new.txt").exists());
            // WasmEdge's known gap, pinned so a change of engine shows up
            // here (and docs/wasmedge.md gets corrected): below the
            // preopen, create and unlink are allowed.
            assert_eq!(bits & (4 | 8), 4 | 8, "{bits:#b}");
            assert!(!root.join("sub/victim").exists());
        } else {
            assert_eq!(bits, 1 | 2 | 4 | 8, "{bits:#b}");
            assert!(root.join("new.txt").exists());
            assert!(!root.join("sub/victim").exists());
        }
    }
}

/// The engine must leave SIGTERM, SIGINT and SIGHUP to hako (the guest is
/// PID 1) and run the guest on the calling thread.
#[test]
fn no_stop_signal_handlers_and_no_threads() {
    let _engine = lock();
    let before = caught_signals();
    let guest = prepare(module(&programs::exit_with(0)), config(&["x"], &[])).unwrap();
    let (outcome, probe) = run_in_child_with(guest, || {
        std::fs::read_to_string("/proc/self/status").unwrap()
    });
    assert_eq!(outcome, Outcome::Exit(0), "{probe}");
    let after = status_field(&probe, "SigCgt");
    let added = after & !before;
    for (name, signal) in [
        ("SIGHUP", libc::SIGHUP),
        ("SIGINT", libc::SIGINT),
        ("SIGTERM", libc::SIGTERM),
    ] {
        assert_eq!(
            added & (1 << (signal - 1)),
            0,
            "wasmedge installed a {name} handler"
        );
    }
    eprintln!("signal handlers added by prepare + run: {added:#x}");
    assert_eq!(
        status_field(&probe, "Threads"),
        1,
        "the child ran the guest on its only thread"
    );
}

fn caught_signals() -> u64 {
    status_field(
        &std::fs::read_to_string("/proc/self/status").unwrap(),
        "SigCgt",
    )
}

/// A field of /proc/PID/status: hex for masks, decimal otherwise.
fn status_field(status: &str, name: &str) -> u64 {
    let value = status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {name} in {status}"))
        .trim();
    if name.starts_with("Sig") {
        u64::from_str_radix(value, 16).unwrap()
    } else {
        value.parse().unwrap()
    }
}

#[test]
fn proc_exit_code_is_returned() {
    let _engine = lock();
    // In this process: run() must return, never exit.
    for code in [3, 0, 255] {
        let guest = prepare(module(&programs::exit_quietly(code)), config(&["x"], &[])).unwrap();
        assert_eq!(guest.run().unwrap(), code);
    }
}

#[test]
fn trap_is_one_line_error() {
    let _engine = lock();
    let wat = r#"(module
        (func $deep (call $deeper))
        (func $deeper unreachable)
        (func (export "_start") (call $deep)))"#;
    let guest = prepare(module(wat), config(&["x"], &[])).unwrap();
    match guest.run() {
        Err(ExecutorError::Trap(message)) => {
            assert_eq!(message, "unreachable");
            let shown = ExecutorError::Trap(message).to_string();
            assert_eq!(shown, "wasm trap: unreachable");
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    let wat = r#"(module (memory 1)
        (func (export "_start") (drop (i32.load (i32.const 70000)))))"#;
    let guest = prepare(module(wat), config(&["x"], &[])).unwrap();
    match guest.run() {
        Err(ExecutorError::Trap(message)) => assert_eq!(message, "out of bounds memory access"),
        other => panic!("expected a trap, got {other:?}"),
    }
}

/// A start function is guest code: it must not run at `create`.
#[test]
fn start_function_runs_at_run_not_at_prepare() {
    let _engine = lock();
    let wat = r#"(module
        (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
        (func $init (call $exit (i32.const 7)))
        (start $init)
        (func (export "_start") unreachable))"#;
    let guest = prepare(module(wat), config(&["x"], &[])).unwrap();
    assert_eq!(guest.run().unwrap(), 7);
}
