//! The behaviour every engine owes hako, as generic scenarios.
//!
//! Each engine crate runs them all with [`crate::conformance_tests!`]: the
//! guest sees exactly its arguments, environment, stdio and the one `/`
//! preopen (and nothing outside it), exit codes and traps mean the same,
//! every error a module can have surfaces at `prepare`, and an artifact
//! from the cache is loaded instead of compiled. Engine-specific
//! behaviour (components, start-function timing of one engine, threads)
//! stays in the engine's own tests.

use super::guests::{guest, guest_importing, O_CREAT_TRUNC, RIGHT_READ, RIGHT_WRITE};
use super::{in_child, prepare, prepare_err, run, serial, Counting, MemoryCache, Outcome, Sandbox};
use super::{IN_TXT, SECRET};
use crate::error::ExecutorError;
use crate::wasm::{prepare_guest, WasiConfig, WasmEngine, WasmModule};

/// Defines one `#[test]` per scenario of this module for an engine type
/// (`WasmEngine + Default`), in the crate that invokes it.
#[macro_export]
macro_rules! conformance_tests {
    ($engine:ty) => {
        $crate::conformance_tests!(@each $engine;
            argv_is_exactly_args,
            environment_is_exactly_process_env,
            stdout_and_stderr_are_kept_apart,
            stdin_is_the_process_stdin,
            files_through_the_root_preopen,
            read_only_root_refuses_every_write,
            paths_cannot_leave_the_root,
            proc_exit_code_is_returned,
            returning_from_start_is_exit_zero,
            unreachable_is_a_one_line_trap,
            no_guest_code_runs_at_prepare,
            invalid_module_fails_at_prepare,
            unknown_import_fails_at_prepare,
            module_without_start_fails_at_prepare,
            cached_artifacts_are_loaded_not_compiled
        );
    };
    (@each $engine:ty; $($scenario:ident),*) => {
        $(
            #[test]
            fn $scenario() {
                $crate::testing::conformance::$scenario::<$engine>();
            }
        )*
    };
}

/// Prepares `module` with `wasi` and runs it in a child, fed `stdin`.
fn go<E: WasmEngine + Default>(module: WasmModule, wasi: WasiConfig, stdin: &[u8]) -> super::Run {
    let prepared = prepare::<E>(module, wasi).unwrap_or_else(|e| panic!("prepare: {e}"));
    run(prepared, stdin)
}

/// Writes `count` NUL-terminated strings, laid out at 1024 by an
/// `*_get` call, to stdout as they are.
const PRINT_STRINGS: &str = r#"
  (func $print_block (param $sizes i32)
    (drop (call $write (i32.const 1) (i32.const 1024) (i32.load (i32.add (local.get $sizes) (i32.const 4))))))"#;

/// The guest sees `process.args`, and nothing more, verbatim.
pub fn argv_is_exactly_args<E: WasmEngine + Default>() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    let body = format!(
        r#"{PRINT_STRINGS}
        (func (export "_start")
          (drop (call $args_sizes_get (i32.const 32) (i32.const 36)))
          (drop (call $args_get (i32.const 512) (i32.const 1024)))
          (call $print_block (i32.const 32)))"#
    );
    let args = ["app.wasm", "a b", "", "--flag=x y", "last"];
    let done = go::<E>(guest(&body), sandbox.wasi(&args, &[], false), b"");
    assert_eq!(done.outcome, Outcome::Exit(0), "{}", done.stderr);
    assert_eq!(done.stdout, "app.wasm\0a b\0\0--flag=x y\0last\0");
    assert_eq!(done.stderr, "");
}

/// The guest sees exactly `process.env`, never the runtime's environment.
pub fn environment_is_exactly_process_env<E: WasmEngine + Default>() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    assert!(
        std::env::var_os("PATH").is_some(),
        "the test needs a host env"
    );
    let body = format!(
        r#"{PRINT_STRINGS}
        (func (export "_start")
          (drop (call $environ_sizes_get (i32.const 32) (i32.const 36)))
          (drop (call $environ_get (i32.const 512) (i32.const 1024)))
          (call $print_block (i32.const 32)))"#
    );
    let env = ["A=1", "B=x=y z", "EMPTY="];
    let done = go::<E>(guest(&body), sandbox.wasi(&["app.wasm"], &env, false), b"");
    assert_eq!(done.outcome, Outcome::Exit(0), "{}", done.stderr);
    assert_eq!(done.stdout, "A=1\0B=x=y z\0EMPTY=\0");
}

/// fd 1 is stdout and fd 2 is stderr, unbuffered past the guest's end.
pub fn stdout_and_stderr_are_kept_apart<E: WasmEngine + Default>() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    let body = r#"(data (i32.const 256) "to stdout\n")
        (data (i32.const 272) "to stderr")
        (func (export "_start")
          (drop (call $write (i32.const 1) (i32.const 256) (i32.const 10)))
          (drop (call $write (i32.const 2) (i32.const 272) (i32.const 9)))
          (drop (call $write (i32.const 1) (i32.const 256) (i32.const 9))))"#;
    let done = go::<E>(guest(body), sandbox.wasi(&["app.wasm"], &[], false), b"");
    assert_eq!(done.outcome, Outcome::Exit(0), "{}", done.stderr);
    // The last writes have no newline: nothing may be left in a buffer.
    assert_eq!(done.stdout, "to stdout\nto stdout");
    assert_eq!(done.stderr, "to stderr");
}

/// fd 0 is the process's stdin, read to its end.
pub fn stdin_is_the_process_stdin<E: WasmEngine + Default>() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    let body = r#"(func (export "_start")
          (local $n i32)
          (loop $next
            (local.set $n (call $read (i32.const 0) (i32.const 1024) (i32.const 7)))
            (if (i32.lt_s (local.get $n) (i32.const 0)) (then (call $proc_exit (i32.const 30))))
            (if (i32.gt_s (local.get $n) (i32.const 0))
              (then
                (drop (call $write (i32.const 1) (i32.const 1024) (local.get $n)))
                (br $next)))))"#;
    let done = go::<E>(
        guest(body),
        sandbox.wasi(&["app.wasm"], &[], false),
        b"line one\nline two\n",
    );
    assert_eq!(done.outcome, Outcome::Exit(0), "{}", done.stderr);
    assert_eq!(done.stdout, "line one\nline two\n");
}

/// Files are read and written through the `/` preopen, on the host
/// directory behind it; a file left open is complete after the guest.
pub fn files_through_the_root_preopen<E: WasmEngine + Default>() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    let body = format!(
        r#"(data (i32.const 256) "/")
           (data (i32.const 264) "data/in.txt")
           (data (i32.const 280) "out.txt")
           (data (i32.const 288) "work/out.txt")
           (func (export "_start")
             (local $root i32) (local $fd i32) (local $n i32)
             (local.set $root (call $preopen (i32.const 256) (i32.const 1)))
             (if (i32.lt_s (local.get $root) (i32.const 0)) (then (call $proc_exit (i32.const 20))))
             (local.set $fd (call $open (local.get $root) (i32.const 264) (i32.const 11) (i32.const 0) (i64.const {RIGHT_READ})))
             (if (i32.lt_s (local.get $fd) (i32.const 0)) (then (call $proc_exit (i32.const 22))))
             (local.set $n (call $read (local.get $fd) (i32.const 1024) (i32.const 200)))
             (if (i32.le_s (local.get $n) (i32.const 0)) (then (call $proc_exit (i32.const 23))))
             (drop (call $write (i32.const 1) (i32.const 1024) (local.get $n)))
             (local.set $fd (call $open (local.get $root) (i32.const 280) (i32.const 7) (i32.const {O_CREAT_TRUNC}) (i64.const {RIGHT_WRITE})))
             (if (i32.lt_s (local.get $fd) (i32.const 0)) (then (call $proc_exit (i32.const 24))))
             (if (call $write (local.get $fd) (i32.const 1024) (local.get $n)) (then (call $proc_exit (i32.const 25))))
             (drop (call $fd_close (local.get $fd)))
             (local.set $fd (call $open (local.get $root) (i32.const 288) (i32.const 12) (i32.const {O_CREAT_TRUNC}) (i64.const {RIGHT_WRITE})))
             (if (i32.lt_s (local.get $fd) (i32.const 0)) (then (call $proc_exit (i32.const 26))))
             (if (call $write (local.get $fd) (i32.const 1024) (local.get $n)) (then (call $proc_exit (i32.const 27)))))"#
    );
    let done = go::<E>(guest(&body), sandbox.wasi(&["app.wasm"], &[], false), b"");
    assert_eq!(done.outcome, Outcome::Exit(0), "{}", done.stderr);
    assert_eq!(done.stdout, IN_TXT);
    let read =
        |p: &str| std::fs::read_to_string(sandbox.path(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    assert_eq!(read("out.txt"), IN_TXT);
    assert_eq!(read("work/out.txt"), IN_TXT);
}

/// A read-only root refuses creating and writing files through every
/// preopened descriptor the engine offers, and still reads.
pub fn read_only_root_refuses_every_write<E: WasmEngine + Default>() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    // Exit 10: created new.txt; 11: wrote data/in.txt; 13, 14: the same
    // in a subdirectory; 12: could not read.
    let body = format!(
        r#"(data (i32.const 256) "new.txt")
           (data (i32.const 264) "data/in.txt")
           (data (i32.const 280) "/")
           (data (i32.const 288) "x")
           (data (i32.const 296) "work/new.txt")
           (func (export "_start")
             (local $dir i32) (local $fd i32)
             (local.set $dir (i32.const 3))
             (block $done
               (loop $next
                 (br_if $done (call $fd_prestat_get (local.get $dir) (i32.const 16)))
                 (if (i32.ge_s (call $open (local.get $dir) (i32.const 256) (i32.const 7) (i32.const {O_CREAT_TRUNC}) (i64.const {RIGHT_WRITE})) (i32.const 0))
                   (then (call $proc_exit (i32.const 10))))
                 (local.set $fd (call $open (local.get $dir) (i32.const 264) (i32.const 11) (i32.const 0) (i64.const {RIGHT_WRITE})))
                 (if (i32.ge_s (local.get $fd) (i32.const 0))
                   (then (if (i32.eqz (call $write (local.get $fd) (i32.const 288) (i32.const 1)))
                     (then (call $proc_exit (i32.const 11))))))
                 (if (i32.ge_s (call $open (local.get $dir) (i32.const 296) (i32.const 12) (i32.const {O_CREAT_TRUNC}) (i64.const {RIGHT_WRITE})) (i32.const 0))
                   (then (call $proc_exit (i32.const 13))))
                 (local.set $dir (i32.add (local.get $dir) (i32.const 1)))
                 (br $next)))
             (local.set $fd (call $open (call $preopen (i32.const 280) (i32.const 1)) (i32.const 264) (i32.const 11) (i32.const 0) (i64.const {RIGHT_READ})))
             (if (i32.lt_s (local.get $fd) (i32.const 0)) (then (call $proc_exit (i32.const 12))))
             (if (i32.le_s (call $read (local.get $fd) (i32.const 1024) (i32.const 100)) (i32.const 0))
               (then (call $proc_exit (i32.const 12)))))"#
    );
    let done = go::<E>(guest(&body), sandbox.wasi(&["app.wasm"], &[], true), b"");
    assert_eq!(done.outcome, Outcome::Exit(0), "{}", done.stderr);
    assert!(!sandbox.path("new.txt").exists());
    assert!(!sandbox.path("work/new.txt").exists());
    assert_eq!(
        std::fs::read_to_string(sandbox.path("data/in.txt")).unwrap(),
        IN_TXT
    );
}

/// The attack of a guest on the host: `..`, a symlink to an absolute host
/// path and a symlink climbing out must all fail to open the file next to
/// the root; a symlink that stays inside works (so the probe can tell).
pub fn paths_cannot_leave_the_root<E: WasmEngine + Default>() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    std::os::unix::fs::symlink(sandbox.secret(), sandbox.path("abs-link")).unwrap();
    std::os::unix::fs::symlink("../secret", sandbox.path("rel-link")).unwrap();
    std::os::unix::fs::symlink("data/in.txt", sandbox.path("in-link")).unwrap();
    // Prints what each open reads; exits with the number of escapes.
    let body = format!(
        r#"(data (i32.const 256) "/")
           (data (i32.const 264) "../secret")
           (data (i32.const 280) "work/../../secret")
           (data (i32.const 304) "abs-link")
           (data (i32.const 320) "rel-link")
           (data (i32.const 336) "in-link")
           (func $cat (param $root i32) (param $path i32) (param $len i32) (result i32)
             (local $fd i32) (local $n i32)
             (local.set $fd (call $open (local.get $root) (local.get $path) (local.get $len) (i32.const 0) (i64.const {RIGHT_READ})))
             (if (i32.lt_s (local.get $fd) (i32.const 0)) (then (return (i32.const 0))))
             (local.set $n (call $read (local.get $fd) (i32.const 1024) (i32.const 200)))
             (if (i32.gt_s (local.get $n) (i32.const 0))
               (then (drop (call $write (i32.const 1) (i32.const 1024) (local.get $n)))))
             (i32.const 1))
           (func (export "_start")
             (local $root i32) (local $escapes i32)
             (local.set $root (call $preopen (i32.const 256) (i32.const 1)))
             (if (i32.lt_s (local.get $root) (i32.const 0)) (then (call $proc_exit (i32.const 20))))
             (local.set $escapes (i32.add (local.get $escapes) (call $cat (local.get $root) (i32.const 264) (i32.const 9))))
             (local.set $escapes (i32.add (local.get $escapes) (call $cat (local.get $root) (i32.const 280) (i32.const 17))))
             (local.set $escapes (i32.add (local.get $escapes) (call $cat (local.get $root) (i32.const 304) (i32.const 8))))
             (local.set $escapes (i32.add (local.get $escapes) (call $cat (local.get $root) (i32.const 320) (i32.const 8))))
             (if (i32.eqz (call $cat (local.get $root) (i32.const 336) (i32.const 7)))
               (then (call $proc_exit (i32.const 21))))
             (call $proc_exit (local.get $escapes)))"#
    );
    let done = go::<E>(guest(&body), sandbox.wasi(&["app.wasm"], &[], false), b"");
    assert!(
        !done.stdout.contains(SECRET.trim()),
        "the guest read the host file: {:?}",
        done.stdout
    );
    assert_eq!(
        done.outcome,
        Outcome::Exit(0),
        "escapes; stderr {}",
        done.stderr
    );
    assert_eq!(done.stdout, IN_TXT, "the symlink inside the root must work");
}

/// `proc_exit(n)` is exit code n.
pub fn proc_exit_code_is_returned<E: WasmEngine + Default>() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    let body = r#"(func (export "_start") (call $proc_exit (i32.const 3)))"#;
    let done = go::<E>(guest(body), sandbox.wasi(&["app.wasm"], &[], false), b"");
    assert_eq!(done.outcome, Outcome::Exit(3));
}

/// Returning from `_start` is exit code 0.
pub fn returning_from_start_is_exit_zero<E: WasmEngine + Default>() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    let done = go::<E>(
        guest(r#"(func (export "_start"))"#),
        sandbox.wasi(&["app.wasm"], &[], false),
        b"",
    );
    assert_eq!(done.outcome, Outcome::Exit(0));
}

/// A trap is [`ExecutorError::Trap`] with one line naming it.
pub fn unreachable_is_a_one_line_trap<E: WasmEngine + Default>() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    let body = r#"(func $inner unreachable)
        (func (export "_start") (call $inner))"#;
    let done = go::<E>(guest(body), sandbox.wasi(&["app.wasm"], &[], false), b"");
    let Outcome::Trap(message) = done.outcome else {
        panic!("not a trap: {:?}", done.outcome);
    };
    assert!(message.contains("unreachable"), "{message}");
    assert!(
        !message.contains('\n') && !message.ends_with('.'),
        "{message:?}"
    );
}

/// A start function is guest code: `prepare` must not run it (it would
/// trap there), `run` does.
pub fn no_guest_code_runs_at_prepare<E: WasmEngine + Default>() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    let body = r#"(func $init unreachable)
        (start $init)
        (func (export "_start"))"#;
    let done = go::<E>(guest(body), sandbox.wasi(&["app.wasm"], &[], false), b"");
    assert!(
        matches!(done.outcome, Outcome::Trap(_)),
        "{:?}",
        done.outcome
    );
}

/// The message of a compile error, checked to name the engine and module
/// and to be one line.
fn compile_message<E: WasmEngine + Default>(err: ExecutorError) -> String {
    let shown = err.to_string();
    let ExecutorError::Compile {
        engine,
        path,
        message,
    } = err
    else {
        panic!("not a compile error: {shown}");
    };
    assert_eq!(engine, E::default().kind());
    assert_eq!(path, std::path::Path::new("/app.wasm"));
    assert!(!shown.contains('\n') && !shown.ends_with('.'), "{shown:?}");
    message
}

/// Bytes that are no module fail at `prepare`.
pub fn invalid_module_fails_at_prepare<E: WasmEngine + Default>() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    for bytes in [
        &b"\0asm\x01\0\0\0\xff\xff"[..],
        b"\0asm\x01\0\0\0\x01\x04\x01\x60",
    ] {
        let err = prepare_err::<E>(
            super::binary(bytes.to_vec()),
            sandbox.wasi(&["app.wasm"], &[], false),
        );
        assert!(!compile_message::<E>(err).is_empty());
    }
}

/// An import no engine provides, or a WASI one with the wrong type, fails
/// at `prepare`, not at `start`.
pub fn unknown_import_fails_at_prepare<E: WasmEngine + Default>() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    for import in [
        r#"(import "env" "nowhere" (func (param i32)))"#,
        r#"(import "wasi_snapshot_preview1" "nosuch_call" (func))"#,
        r#"(import "wasi_snapshot_preview1" "random_get" (func (param i64)))"#,
    ] {
        let module = guest_importing(import, r#"(func (export "_start"))"#);
        let err = prepare_err::<E>(module, sandbox.wasi(&["app.wasm"], &[], false));
        compile_message::<E>(err);
    }
}

/// A module that is no WASI command fails at `prepare`.
pub fn module_without_start_fails_at_prepare<E: WasmEngine + Default>() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    let module = guest(r#"(func (export "main"))"#);
    let err = prepare_err::<E>(module, sandbox.wasi(&["app.wasm"], &[], false));
    let message = compile_message::<E>(err);
    assert!(message.contains("_start"), "{message}");
}

/// With a cache, the first `prepare` precompiles and stores one artifact,
/// the next loads it and compiles nothing, a damaged artifact is compiled
/// again and replaced, and the guest runs the same every time. Runs in a
/// child: an engine whose compiler forks (WasmEdge) only does so in a
/// single-threaded process, as container init is.
pub fn cached_artifacts_are_loaded_not_compiled<E: WasmEngine + Default>() {
    let _serial = serial();
    let sandbox = Sandbox::new();
    let body = r#"(data (i32.const 256) "cached\n")
        (func (export "_start") (drop (call $write (i32.const 1) (i32.const 256) (i32.const 7))))"#;
    let done = in_child(b"", || {
        let engine = Counting::<E>::default();
        let cache = MemoryCache::default();
        let mut report = Vec::new();
        for round in ["miss", "hit", "damaged"] {
            if round == "damaged" {
                cache.damage(b"\0asm\x01\0\0\0\xff");
            }
            let wasi = sandbox.wasi(&["app.wasm"], &[], false);
            let prepared = prepare_guest(&engine, guest(body), wasi, Some(&cache))
                .unwrap_or_else(|e| panic!("{round}: {e}"));
            let code = prepared.run();
            report.push(format!(
                "{round}: run {} compiles {} precompiles {} loads {} gets {} hits {} puts {} keys {}",
                super::child::encode(&code),
                engine.compiles.get(),
                engine.precompiles.get(),
                engine.loads.get(),
                cache.gets.get(),
                cache.hits.get(),
                cache.puts.get(),
                cache.keys().len(),
            ));
        }
        report.join("\n")
    });
    assert_eq!(
        done.outcome,
        "miss: run exit 0 compiles 0 precompiles 1 loads 1 gets 1 hits 0 puts 1 keys 1\n\
         hit: run exit 0 compiles 0 precompiles 1 loads 2 gets 2 hits 1 puts 1 keys 1\n\
         damaged: run exit 0 compiles 0 precompiles 2 loads 3 gets 3 hits 2 puts 2 keys 1",
        "stderr: {}",
        done.stderr
    );
    assert_eq!(done.stdout, "cached\n".repeat(3));
}

/// The engine as hako really runs it: its plugin (`libhako_executor_*.so`
/// built next to the test binary) loaded with [`PluginEngine::load`],
/// prepared across the C boundary with the cache lent to it (a miss, then
/// a hit: one artifact stored), and run in a child. An engine error
/// crosses back with its kind.
pub fn through_the_plugin(engine: crate::EngineKind) {
    use crate::plugin::PluginEngine;
    use crate::wasm::Preparer;
    let _serial = serial();
    let sandbox = Sandbox::new();
    let name = format!("libhako_executor_{}.so", engine.name());
    let deps = std::env::current_exe().unwrap();
    let path = deps.parent().unwrap().join(&name);
    assert!(
        path.is_file(),
        "{} is missing: cargo builds the plugin with the crate's tests",
        path.display()
    );
    let body = r#"(data (i32.const 256) "via plugin\n")
        (func (export "_start")
          (drop (call $write (i32.const 1) (i32.const 256) (i32.const 11)))
          (call $proc_exit (i32.const 4)))"#;
    let done = in_child(b"", || {
        let plugin = PluginEngine::load(engine, &path).unwrap_or_else(|e| panic!("{e}"));
        let cache = MemoryCache::default();
        let mut report = Vec::new();
        for round in ["miss", "hit"] {
            let wasi = sandbox.wasi(&["app.wasm"], &[], false);
            let prepared = plugin
                .prepare(guest(body), wasi, Some(&cache))
                .unwrap_or_else(|e| panic!("{round}: {e}"));
            let code = prepared.run();
            report.push(format!(
                "{round}: {} hits {} puts {}",
                super::child::encode(&code),
                cache.hits.get(),
                cache.puts.get()
            ));
        }
        let wasi = sandbox.wasi(&["app.wasm"], &[], false);
        let bad = super::binary(b"\0asm\x01\0\0\0\xff\xff".to_vec());
        match plugin.prepare(bad, wasi, None) {
            Err(ExecutorError::Compile { engine: e, .. }) if e == engine => {
                report.push("invalid: compile error".into())
            }
            Err(e) => report.push(format!("invalid: {e:?}")),
            Ok(_) => report.push("invalid: accepted".into()),
        }
        report.join("\n")
    });
    assert_eq!(
        done.outcome,
        "miss: exit 4 hits 0 puts 1\nhit: exit 4 hits 1 puts 1\ninvalid: compile error",
        "stderr: {}",
        done.stderr
    );
    assert_eq!(done.stdout, "via plugin\n".repeat(2));
}
