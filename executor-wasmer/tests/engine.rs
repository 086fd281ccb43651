//! The wasmer engine end to end: real modules, compiled and run in-process.
//!
//! `run` uses the process's fds 0, 1 and 2 and the guest decides the exit
//! status, so each guest runs in a forked child whose stdio are files; the
//! child reports what `run` returned and ends with `_exit` right away, which
//! also proves that no output is left in a buffer. Tests take a lock so that
//! no other test thread is inside wasmer or tokio while one forks.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use hako_executor_wasmer::Wasmer;
use hako_executors::wasm::{Preopen, WasiConfig, WasmEngine, WasmModule};
use hako_executors::{EngineKind, ExecutorError, Prepared};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// WASI imports and helpers every test guest shares. Memory layout:
/// 0..8 iovec, 16..24 prestat, 24 opened fd, 28 byte count, 32..40 sizes,
/// 64..128 preopen name, 256..512 constant strings, 1024.. buffers.
const PRELUDE: &str = r#"
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $fd_read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_close" (func $fd_close (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_get" (func $args_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_get" (func $environ_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_get" (func $fd_prestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_dir_name" (func $fd_prestat_dir_name (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $path_open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (memory (export "memory") 1)

  ;; fd_write of one buffer; the errno.
  (func $write (param $fd i32) (param $ptr i32) (param $len i32) (result i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (call $fd_write (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 28)))

  ;; fd_read into one buffer; the byte count, or -1.
  (func $read (param $fd i32) (param $ptr i32) (param $len i32) (result i32)
    (i32.store (i32.const 0) (local.get $ptr))
    (i32.store (i32.const 4) (local.get $len))
    (if (call $fd_read (local.get $fd) (i32.const 0) (i32.const 1) (i32.const 28))
      (then (return (i32.const -1))))
    (i32.load (i32.const 28)))

  ;; Whether len bytes at a and b are equal.
  (func $eq (param $a i32) (param $b i32) (param $len i32) (result i32)
    (local $i i32)
    (loop $next
      (if (i32.eq (local.get $i) (local.get $len)) (then (return (i32.const 1))))
      (if (i32.ne (i32.load8_u (i32.add (local.get $a) (local.get $i)))
                  (i32.load8_u (i32.add (local.get $b) (local.get $i))))
        (then (return (i32.const 0))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))
    (i32.const 0))

  ;; The last preopen with this name (what wasi-libc picks), or -1.
  (func $preopen (param $ptr i32) (param $len i32) (result i32)
    (local $fd i32) (local $found i32)
    (local.set $found (i32.const -1))
    (local.set $fd (i32.const 3))
    (block $done
      (loop $next
        (br_if $done (call $fd_prestat_get (local.get $fd) (i32.const 16)))
        (if (i32.eq (i32.load (i32.const 20)) (local.get $len))
          (then
            (drop (call $fd_prestat_dir_name (local.get $fd) (i32.const 64) (local.get $len)))
            (if (call $eq (i32.const 64) (local.get $ptr) (local.get $len))
              (then (local.set $found (local.get $fd))))))
        (local.set $fd (i32.add (local.get $fd) (i32.const 1)))
        (br $next)))
    (local.get $found))

  ;; path_open with the same base and inheriting rights; the fd, or -errno.
  (func $open (param $dir i32) (param $ptr i32) (param $len i32) (param $oflags i32) (param $rights i64) (result i32)
    (local $err i32)
    (local.set $err
      (call $path_open (local.get $dir) (i32.const 1) (local.get $ptr) (local.get $len)
        (local.get $oflags) (local.get $rights) (local.get $rights) (i32.const 0) (i32.const 24)))
    (if (result i32) (local.get $err)
      (then (i32.sub (i32.const 0) (local.get $err)))
      (else (i32.load (i32.const 24)))))
"#;

/// path_open flags and rights used below.
const O_CREAT_TRUNC: u32 = 1 | 8;
const RIGHT_READ: u64 = 1 << 1;
const RIGHT_WRITE: u64 = 1 << 6;

fn module(body: &str) -> WasmModule {
    module_importing("", body)
}

/// A guest with imports of its own, which must come before any function.
fn module_importing(imports: &str, body: &str) -> WasmModule {
    let text = format!("(module {imports} {PRELUDE} {body})");
    WasmModule {
        path: "/app/guest.wasm".into(),
        bytes: wat::parse_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}")),
        component: false,
    }
}

fn config(args: &[&str], env: &[(&str, &str)], preopens: Vec<Preopen>) -> WasiConfig {
    WasiConfig {
        args: args.iter().map(|s| s.to_string()).collect(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        preopens,
        http_addr: "0.0.0.0:8080".parse().unwrap(),
    }
}

/// A container-like layout: `root` as `/`, hako's only preopen, with a
/// `work` directory in it.
struct Tree {
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Tree {
    fn new() -> Tree {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("work")).unwrap();
        Tree { _dir: dir, root }
    }

    fn preopens(&self, readonly: bool) -> Vec<Preopen> {
        vec![Preopen {
            host: self.root.clone(),
            guest: "/".into(),
            readonly,
        }]
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
}

/// What a guest run in a child did.
#[derive(Debug)]
struct Finished {
    /// What `run` returned: the code, or the error's variant and message.
    result: Result<i32, (String, String)>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

fn prepare(module: WasmModule, wasi: WasiConfig) -> Box<dyn Prepared> {
    Wasmer
        .prepare(module, wasi)
        .unwrap_or_else(|e| panic!("prepare: {e}"))
}

fn prepare_err(module: WasmModule, wasi: WasiConfig) -> ExecutorError {
    match Wasmer.prepare(module, wasi) {
        Ok(_) => panic!("prepare accepted the module"),
        Err(e) => e,
    }
}

/// Runs `prepared` in a forked child with `stdin` as fd 0 and files as fds
/// 1 and 2.
fn run_in_child(prepared: Box<dyn Prepared>, stdin: &[u8]) -> Finished {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str| dir.path().join(name);
    std::fs::write(file("stdin"), stdin).unwrap();
    let open = |name: &str, write: bool| {
        std::fs::OpenOptions::new()
            .read(!write)
            .write(write)
            .create(write)
            .truncate(write)
            .open(file(name))
            .unwrap()
    };
    let (fd0, fd1, fd2) = (
        open("stdin", false),
        open("stdout", true),
        open("stderr", true),
    );
    let result_path = file("result");

    // SAFETY: the tests hold SERIAL, so no other test thread is inside
    // wasmer or tokio; the child only rearranges its fds, runs the guest,
    // writes a file and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        use std::os::fd::AsRawFd;
        for (from, to) in [(&fd0, 0), (&fd1, 1), (&fd2, 2)] {
            // SAFETY: both are open descriptors of this process.
            unsafe { libc::dup2(from.as_raw_fd(), to) };
        }
        let report = match prepared.run() {
            Ok(code) => format!("ok\n{code}"),
            Err(ExecutorError::Trap(m)) => format!("trap\n{m}"),
            Err(e @ ExecutorError::Engine { .. }) => format!("engine\n{e}"),
            Err(e) => format!("other\n{e}"),
        };
        let _ = std::fs::write(&result_path, report);
        // SAFETY: ends the child without running the parent's destructors
        // or flushing anything: whatever the guest wrote must be out already.
        unsafe { libc::_exit(0) };
    }
    let mut status = 0;
    // SAFETY: pid is our child; status is a valid out pointer.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child died: status {status:#x}, stderr {:?}",
        String::from_utf8_lossy(&std::fs::read(file("stderr")).unwrap_or_default())
    );
    let report = std::fs::read_to_string(&result_path).expect("the child reported nothing");
    let (kind, rest) = report.split_once('\n').unwrap();
    let result = match kind {
        "ok" => Ok(rest.parse().unwrap()),
        _ => Err((kind.to_string(), rest.to_string())),
    };
    Finished {
        result,
        stdout: std::fs::read(file("stdout")).unwrap(),
        stderr: std::fs::read(file("stderr")).unwrap(),
    }
}

fn run(body: &str, wasi: WasiConfig, stdin: &[u8]) -> Finished {
    run_in_child(prepare(module(body), wasi), stdin)
}

#[test]
fn argv_is_exactly_args_including_spaces_and_empty_ones() {
    let _serial = serial();
    let tree = Tree::new();
    let args = ["app.wasm", "a b", "", "--flag=x y", "last"];
    let done = run(
        r#"(func (export "_start")
             (drop (call $args_sizes_get (i32.const 32) (i32.const 36)))
             (drop (call $args_get (i32.const 512) (i32.const 1024)))
             (drop (call $write (i32.const 1) (i32.const 1024) (i32.load (i32.const 36)))))"#,
        config(&args, &[], tree.preopens(false)),
        b"",
    );
    assert_eq!(done.result, Ok(0));
    assert_eq!(done.stdout, b"app.wasm\0a b\0\0--flag=x y\0last\0");
    assert_eq!(done.stderr, b"");
}

#[test]
fn environment_is_exactly_the_configured_one() {
    let _serial = serial();
    let tree = Tree::new();
    assert!(
        std::env::var_os("PATH").is_some(),
        "the test needs a host env"
    );
    let env = [("A", "1"), ("B", "x=y z"), ("EMPTY", "")];
    let done = run(
        r#"(func (export "_start")
             (drop (call $environ_sizes_get (i32.const 32) (i32.const 36)))
             (drop (call $environ_get (i32.const 512) (i32.const 1024)))
             (drop (call $write (i32.const 1) (i32.const 1024) (i32.load (i32.const 36)))))"#,
        config(&["app.wasm"], &env, tree.preopens(false)),
        b"",
    );
    assert_eq!(done.result, Ok(0));
    assert_eq!(done.stdout, b"A=1\0B=x=y z\0EMPTY=\0");
}

#[test]
fn files_through_the_root_preopen() {
    let _serial = serial();
    let tree = Tree::new();
    std::fs::write(tree.path("in.txt"), "hello from the host").unwrap();
    // Reads /in.txt through "/", copies it to /abs.txt and to work/rel.txt
    // (leaving that one open: exit must flush it).
    let body = format!(
        r#"(data (i32.const 256) "/")
           (data (i32.const 264) "in.txt")
           (data (i32.const 272) "abs.txt")
           (data (i32.const 280) "work/rel.txt")
           (func (export "_start")
             (local $root i32) (local $fd i32) (local $n i32)
             (local.set $root (call $preopen (i32.const 256) (i32.const 1)))
             (if (i32.lt_s (local.get $root) (i32.const 0)) (then (call $proc_exit (i32.const 20))))
             (local.set $fd (call $open (local.get $root) (i32.const 264) (i32.const 6) (i32.const 0) (i64.const {RIGHT_READ})))
             (if (i32.lt_s (local.get $fd) (i32.const 0)) (then (call $proc_exit (i32.const 22))))
             (local.set $n (call $read (local.get $fd) (i32.const 1024) (i32.const 200)))
             (if (i32.le_s (local.get $n) (i32.const 0)) (then (call $proc_exit (i32.const 23))))
             (local.set $fd (call $open (local.get $root) (i32.const 272) (i32.const 7) (i32.const {O_CREAT_TRUNC}) (i64.const {RIGHT_WRITE})))
             (if (i32.lt_s (local.get $fd) (i32.const 0)) (then (call $proc_exit (i32.const 24))))
             (if (call $write (local.get $fd) (i32.const 1024) (local.get $n)) (then (call $proc_exit (i32.const 25))))
             (drop (call $fd_close (local.get $fd)))
             (local.set $fd (call $open (local.get $root) (i32.const 280) (i32.const 12) (i32.const {O_CREAT_TRUNC}) (i64.const {RIGHT_WRITE})))
             (if (i32.lt_s (local.get $fd) (i32.const 0)) (then (call $proc_exit (i32.const 26))))
             (if (call $write (local.get $fd) (i32.const 1024) (local.get $n)) (then (call $proc_exit (i32.const 27)))))"#
    );
    let done = run(&body, config(&["app.wasm"], &[], tree.preopens(false)), b"");
    assert_eq!(
        done.result,
        Ok(0),
        "{:?}",
        String::from_utf8_lossy(&done.stderr)
    );
    let read =
        |p: &str| std::fs::read_to_string(tree.path(p)).unwrap_or_else(|e| panic!("{p}: {e}"));
    assert_eq!(read("abs.txt"), "hello from the host");
    assert_eq!(read("work/rel.txt"), "hello from the host");
}

#[test]
fn read_only_preopens_refuse_every_write() {
    let _serial = serial();
    let tree = Tree::new();
    std::fs::write(tree.path("ro.txt"), "original").unwrap();
    std::fs::write(tree.path("work/ro.txt"), "original").unwrap();
    // Through every preopened fd (wasmer's virtual root included): creating
    // new.txt must fail (exit 10 otherwise), writing ro.txt must fail (11),
    // and so must both in a subdirectory (13, 14); reading ro.txt must
    // still work (12).
    let body = format!(
        r#"(data (i32.const 256) "new.txt")
           (data (i32.const 264) "ro.txt")
           (data (i32.const 272) "/")
           (data (i32.const 280) "x")
           (data (i32.const 288) "work/new.txt")
           (data (i32.const 304) "work/ro.txt")
           (func (export "_start")
             (local $dir i32) (local $fd i32)
             (local.set $dir (i32.const 3))
             (block $done
               (loop $next
                 (br_if $done (call $fd_prestat_get (local.get $dir) (i32.const 16)))
                 (if (i32.ge_s (call $open (local.get $dir) (i32.const 256) (i32.const 7) (i32.const {O_CREAT_TRUNC}) (i64.const {RIGHT_WRITE})) (i32.const 0))
                   (then (call $proc_exit (i32.const 10))))
                 (local.set $fd (call $open (local.get $dir) (i32.const 264) (i32.const 6) (i32.const 0) (i64.const {RIGHT_WRITE})))
                 (if (i32.ge_s (local.get $fd) (i32.const 0))
                   (then (if (i32.eqz (call $write (local.get $fd) (i32.const 280) (i32.const 1)))
                     (then (call $proc_exit (i32.const 11))))))
                 (if (i32.ge_s (call $open (local.get $dir) (i32.const 288) (i32.const 12) (i32.const {O_CREAT_TRUNC}) (i64.const {RIGHT_WRITE})) (i32.const 0))
                   (then (call $proc_exit (i32.const 13))))
                 (local.set $fd (call $open (local.get $dir) (i32.const 304) (i32.const 11) (i32.const 0) (i64.const {RIGHT_WRITE})))
                 (if (i32.ge_s (local.get $fd) (i32.const 0))
                   (then (if (i32.eqz (call $write (local.get $fd) (i32.const 280) (i32.const 1)))
                     (then (call $proc_exit (i32.const 14))))))
                 (local.set $dir (i32.add (local.get $dir) (i32.const 1)))
                 (br $next)))
             (local.set $fd (call $open (call $preopen (i32.const 272) (i32.const 1)) (i32.const 264) (i32.const 6) (i32.const 0) (i64.const {RIGHT_READ})))
             (if (i32.lt_s (local.get $fd) (i32.const 0)) (then (call $proc_exit (i32.const 12))))
             (if (i32.ne (call $read (local.get $fd) (i32.const 1024) (i32.const 100)) (i32.const 8))
               (then (call $proc_exit (i32.const 12)))))"#
    );
    let done = run(&body, config(&["app.wasm"], &[], tree.preopens(true)), b"");
    assert_eq!(
        done.result,
        Ok(0),
        "{:?}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(!tree.path("new.txt").exists());
    assert!(!tree.path("work/new.txt").exists());
    assert_eq!(
        std::fs::read_to_string(tree.path("ro.txt")).unwrap(),
        "original"
    );
    assert_eq!(
        std::fs::read_to_string(tree.path("work/ro.txt")).unwrap(),
        "original"
    );
}

#[test]
fn proc_exit_code_is_returned() {
    let _serial = serial();
    let tree = Tree::new();
    let done = run(
        r#"(func (export "_start") (call $proc_exit (i32.const 3)))"#,
        config(&["app.wasm"], &[], tree.preopens(false)),
        b"",
    );
    assert_eq!(done.result, Ok(3));
}

#[test]
fn returning_from_start_is_exit_zero() {
    let _serial = serial();
    let tree = Tree::new();
    let done = run(
        r#"(func (export "_start"))"#,
        config(&["app.wasm"], &[], tree.preopens(false)),
        b"",
    );
    assert_eq!(done.result, Ok(0));
}

#[test]
fn unreachable_is_a_one_line_trap() {
    let _serial = serial();
    let tree = Tree::new();
    let done = run(
        r#"(func $inner unreachable)
           (func (export "_start") (call $inner))"#,
        config(&["app.wasm"], &[], tree.preopens(false)),
        b"",
    );
    let Err((kind, message)) = done.result else {
        panic!("no trap: {:?}", done.result);
    };
    assert_eq!(kind, "trap", "{message}");
    assert!(message.contains("unreachable"), "{message}");
    assert!(!message.contains('\n'), "{message:?}");
    assert!(!message.ends_with('.'), "{message:?}");
}

#[test]
fn stdout_and_stderr_are_kept_apart() {
    let _serial = serial();
    let tree = Tree::new();
    let done = run(
        r#"(data (i32.const 256) "to stdout\n")
           (data (i32.const 272) "to stderr\n")
           (func (export "_start")
             (drop (call $write (i32.const 1) (i32.const 256) (i32.const 10)))
             (drop (call $write (i32.const 2) (i32.const 272) (i32.const 10)))
             (drop (call $write (i32.const 1) (i32.const 256) (i32.const 10))))"#,
        config(&["app.wasm"], &[], tree.preopens(false)),
        b"",
    );
    assert_eq!(done.result, Ok(0));
    assert_eq!(done.stdout, b"to stdout\nto stdout\n");
    assert_eq!(done.stderr, b"to stderr\n");
}

#[test]
fn stdin_is_the_process_stdin() {
    let _serial = serial();
    let tree = Tree::new();
    // Copies stdin to stdout until end of file.
    let done = run(
        r#"(func (export "_start")
             (local $n i32)
             (loop $next
               (local.set $n (call $read (i32.const 0) (i32.const 1024) (i32.const 7)))
               (if (i32.lt_s (local.get $n) (i32.const 0)) (then (call $proc_exit (i32.const 30))))
               (if (i32.gt_s (local.get $n) (i32.const 0))
                 (then
                   (drop (call $write (i32.const 1) (i32.const 1024) (local.get $n)))
                   (br $next)))))"#,
        config(&["app.wasm"], &[], tree.preopens(false)),
        b"line one\nline two\n",
    );
    assert_eq!(done.result, Ok(0));
    assert_eq!(done.stdout, b"line one\nline two\n");
}

#[test]
fn invalid_module_fails_at_prepare() {
    let _serial = serial();
    let tree = Tree::new();
    let module = WasmModule {
        path: "/app/bad.wasm".into(),
        bytes: b"\0asm\x01\0\0\0\x01\xff\xff".to_vec(),
        component: false,
    };
    match prepare_err(module, config(&["bad.wasm"], &[], tree.preopens(false))) {
        ExecutorError::Compile {
            engine,
            path,
            message,
        } => {
            assert_eq!(engine, EngineKind::Wasmer);
            assert_eq!(path, Path::new("/app/bad.wasm"));
            assert!(
                !message.contains('\n') && !message.ends_with('.'),
                "{message:?}"
            );
            assert!(message.starts_with(char::is_lowercase), "{message:?}");
        }
        e => panic!("not a compile error: {e:?}"),
    }
}

#[test]
fn unknown_or_mistyped_imports_fail_at_prepare() {
    let _serial = serial();
    let tree = Tree::new();
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
        let wasi = config(&["app.wasm"], &[], tree.preopens(false));
        match prepare_err(module_importing(imports, body), wasi) {
            ExecutorError::Compile { message, .. } => {
                assert!(message.contains(culprit), "{culprit}: {message}");
            }
            e => panic!("{culprit}: not a compile error: {e:?}"),
        }
    }
}

#[test]
fn components_are_refused_at_prepare() {
    let _serial = serial();
    let tree = Tree::new();
    let module = WasmModule {
        path: "/app/c.wasm".into(),
        bytes: wat::parse_str("(component)").unwrap(),
        component: true,
    };
    match prepare_err(module, config(&["c.wasm"], &[], tree.preopens(false))) {
        ExecutorError::ComponentUnsupported { engine, path } => {
            assert_eq!(engine, EngineKind::Wasmer);
            assert_eq!(path, Path::new("/app/c.wasm"));
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn missing_preopen_directory_fails_at_prepare() {
    let _serial = serial();
    let tree = Tree::new();
    let mut preopens = tree.preopens(false);
    preopens[0].host = tree.path("no-such-dir");
    let err = prepare_err(
        module(r#"(func (export "_start"))"#),
        config(&["app.wasm"], &[], preopens),
    );
    assert!(matches!(err, ExecutorError::Compile { .. }), "{err:?}");
    assert!(err.to_string().contains("no-such-dir"), "{err}");
}

#[test]
fn preopens_other_than_the_root_fail_at_prepare() {
    let _serial = serial();
    let tree = Tree::new();
    let mut preopens = tree.preopens(false);
    preopens.push(Preopen {
        host: tree.path("work"),
        guest: ".".into(),
        readonly: false,
    });
    let err = prepare_err(
        module(r#"(func (export "_start"))"#),
        config(&["app.wasm"], &[], preopens),
    );
    assert!(matches!(err, ExecutorError::Compile { .. }), "{err:?}");
    assert!(err.to_string().contains("single preopen"), "{err}");
}

#[test]
fn prepare_leaves_no_runtime_thread_behind() {
    let _serial = serial();
    let tree = Tree::new();
    let _prepared = prepare(
        module(r#"(func (export "_start"))"#),
        config(&["app.wasm"], &[], tree.preopens(false)),
    );
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
