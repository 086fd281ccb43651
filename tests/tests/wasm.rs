//! The WebAssembly conformance list, run against every engine.
//!
//! Each case is a function taking the engine name; `engine_matrix!` makes
//! one test per engine. An engine missing from the hako under test fails
//! its tests: the README's test command builds all three.

use std::time::{Duration, Instant};

use hako_tests::wasm::{put_wat, wasm_bundle};
use hako_tests::{unique_id, Hako};
use serde_json::json;

macro_rules! engine_matrix {
    ($($case:ident),* $(,)?) => {
        mod wasmtime { $( #[test] fn $case() { super::$case("wasmtime") } )* }
        mod wasmedge { $( #[test] fn $case() { super::$case("wasmedge") } )* }
        mod wasmer { $( #[test] fn $case() { super::$case("wasmer") } )* }
    };
}

engine_matrix!(
    args_env_cwd_and_files,
    relative_paths_resolve_from_root,
    host_files_are_unreachable,
    the_guest_sees_only_its_preopen,
    exit_codes,
    trap_is_reported_not_137,
    stdout_and_stderr_stay_apart,
    sigterm_stops_a_busy_guest,
    sigterm_stops_a_blocked_guest,
    wat_modules_run,
    compat_smart_sniffs,
    sandbox_containers_stay_native,
    hako_wasm_argv0_mode,
    validation_errors_surface_at_create,
    components,
    readonly_root,
    one_thread_before_the_guest_runs,
    exec_runs_native_tools_and_modules,
    a_guest_carries_on_after_pause_and_stop,
);

mod threadless {
    #[test]
    fn wasmtime_runs_under_pids_limit_one() {
        super::a_threadless_guest_runs_under_pids_limit_one("wasmtime")
    }
    #[test]
    fn wasmedge_runs_under_pids_limit_one() {
        super::a_threadless_guest_runs_under_pids_limit_one("wasmedge")
    }
    #[test]
    fn wasmer_runs_under_pids_limit_one() {
        super::a_threadless_guest_runs_under_pids_limit_one("wasmer")
    }
}

fn run(h: &Hako, b: &hako_tests::Bundle) -> hako_tests::Out {
    let id = unique_id("wasm");
    let out = h.run_bundle(&id, b);
    h.assert_gone(&id, b, None);
    out
}

fn args_env_cwd_and_files(engine: &str) {
    let h = Hako::new();
    let mut b = wasm_bundle(engine, &["hello.wasm", "3", "two words", ""]);
    b.push_env("HELLO_FILE=/data/out.txt");
    let out = run(&h, &b);
    assert_eq!(out.code, 3, "{out:?}");
    let expected = "hello from wasm\narg[0]=hello.wasm\narg[1]=3\narg[2]=two words\narg[3]=\n\
                    env GREETING=hi there\nenv HELLO_FILE=/data/out.txt\nenv HOME=/root\nenv PATH=/app:/bin\n";
    assert!(
        out.stdout.starts_with(expected),
        "argv and env, exactly:\n{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("file /data/out.txt: written by hello\n"),
        "{}",
        out.stdout
    );
    assert_eq!(
        std::fs::read_to_string(b.rootfs().join("data/out.txt")).unwrap(),
        "written by hello"
    );
}

fn relative_paths_resolve_from_root(engine: &str) {
    // WASI preview 1 has no working directory: wasi-libc starts guests in
    // "/" whatever process.cwd says (docs/wasm.md).
    let h = Hako::new();
    let b = wasm_bundle(engine, &["/app/hello.wasm"]);
    let out = run(&h, &b);
    assert!(out.stdout.contains("cwd=/\n"), "{}", out.stdout);
    assert!(
        out.stdout.contains("file hello.txt: written by hello\n"),
        "{}",
        out.stdout
    );
    assert_eq!(
        std::fs::read_to_string(b.rootfs().join("hello.txt")).unwrap(),
        "written by hello"
    );
}

fn host_files_are_unreachable(engine: &str) {
    let h = Hako::new();
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), "host secret").unwrap();
    let mut b = wasm_bundle(engine, &["/app/hello.wasm"]);
    let path = secret.path().display().to_string();
    b.edit(|s| {
        let env = s["process"]["env"].as_array_mut().unwrap();
        env.push(json!(format!("HELLO_READ=/../../..{path}")));
    });
    let out = run(&h, &b);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        !out.stdout.contains("host secret"),
        "the guest read a host file: {}",
        out.stdout
    );
    assert!(
        out.stdout.contains(&format!("read /../../..{path}: error")),
        "{}",
        out.stdout
    );
    // A file of the rootfs is readable by its absolute path.
    let mut b = wasm_bundle(engine, &["/app/hello.wasm"]);
    b.push_env("HELLO_READ=/data/note.txt");
    let out = run(&h, &b);
    assert!(
        out.stdout
            .contains("read /data/note.txt: a note in the rootfs"),
        "{}",
        out.stdout
    );
}

fn exit_codes(engine: &str) {
    let h = Hako::new();
    assert_eq!(run(&h, &wasm_bundle(engine, &["/app/hello.wasm"])).code, 0);
    assert_eq!(
        run(&h, &wasm_bundle(engine, &["/app/hello.wasm", "42"])).code,
        42
    );
    let out = run(&h, &wasm_bundle(engine, &["/app/exit3.wat"]));
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(out.stdout, "exiting with code 3\n");
}

fn trap_is_reported_not_137(engine: &str) {
    let h = Hako::new();
    let b = wasm_bundle(engine, &["/app/trap.wat"]);
    put_wat(
        &b,
        "trap.wat",
        r#"(module (memory (export "memory") 1) (func (export "_start") unreachable))"#,
    );
    let out = run(&h, &b);
    assert_ne!(out.code, 0);
    assert_ne!(out.code, 137, "a trap must not look like SIGKILL");
    assert_eq!(out.code, 134, "{out:?}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one trap line: {:?}", out.stderr);
    assert!(
        lines[0].contains("wasm trap") && lines[0].contains("unreachable"),
        "{}",
        lines[0]
    );
}

fn stdout_and_stderr_stay_apart(engine: &str) {
    let h = Hako::new();
    let out = run(&h, &wasm_bundle(engine, &["/app/hello.wasm"]));
    assert_eq!(out.stderr, "hello stderr\n");
    assert!(!out.stdout.contains("hello stderr"));
    assert!(out.stdout.starts_with("hello from wasm\n"));
}

/// Runs hello.wasm with `env_var` set, sends SIGTERM once it runs, and
/// returns (exit code, time from kill to exit).
fn stop_with_sigterm(engine: &str, env_var: &str) -> (i32, Duration) {
    let h = Hako::new();
    let mut b = wasm_bundle(engine, &["/app/hello.wasm"]);
    b.push_env(env_var);
    let id = unique_id("stop");
    let mut cmd = h.cmd();
    cmd.args(["run", "--bundle", &b.arg(), &id])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    let mut child = hako_tests::reaper::spawn(&mut cmd).unwrap();
    // The guest prints before it spins or sleeps: wait for that.
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    assert_eq!(&first, b"hello from wasm\n");
    let killed = Instant::now();
    h.run(&["kill", &id, "TERM"]).ok();
    // A liveness bound, not a speed assertion (benches/ measures speed).
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the guest ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(1));
    };
    let took = killed.elapsed();
    hako_tests::reaper::untrack(child.id());
    eprintln!("{engine}: stopped {took:?} after SIGTERM ({env_var})");
    h.assert_gone(&id, &b, None);
    (status.code().unwrap_or(-1), took)
}

fn sigterm_stops_a_busy_guest(engine: &str) {
    let (code, _) = stop_with_sigterm(engine, "HELLO_SPIN=1");
    assert_eq!(code, 128 + libc::SIGTERM);
}

fn sigterm_stops_a_blocked_guest(engine: &str) {
    let (code, _) = stop_with_sigterm(engine, "HELLO_SLEEP=600");
    assert_eq!(code, 128 + libc::SIGTERM);
}

fn wat_modules_run(engine: &str) {
    let h = Hako::new();
    let out = run(&h, &wasm_bundle(engine, &["hello.wat"]));
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "hello from wat\n");
}

fn compat_smart_sniffs(engine: &str) {
    let h = Hako::new();
    // run.oci.handler=<engine> would mean "wasm, definitely": the engine
    // for a sniffing mode comes from io.hako.wasm.engine.
    let smart = json!({"module.wasm.image/variant": "compat-smart", "io.hako.wasm.engine": engine});
    let mut b = wasm_bundle(engine, &["/app/hello.wasm", "5"]);
    b.edit(|s| s["annotations"] = smart.clone());
    let out = run(&h, &b);
    assert_eq!(out.code, 5);
    assert!(
        out.stdout.starts_with("hello from wasm\n"),
        "{}",
        out.stdout
    );
    let mut b = wasm_bundle(engine, &["/app/hello", "6"]);
    b.edit(|s| s["annotations"] = smart.clone());
    let out = run(&h, &b);
    assert_eq!(out.code, 6);
    assert!(
        out.stdout.starts_with("hello from native\n"),
        "{}",
        out.stdout
    );
    // wasm-smart handler: same rule, with the default engine.
    let mut b = wasm_bundle(engine, &["/app/hello.wat"]);
    b.edit(|s| {
        s["annotations"] = json!({"run.oci.handler": "wasm-smart", "io.hako.wasm.engine": engine})
    });
    assert_eq!(run(&h, &b).stdout, "hello from wat\n");
}

fn sandbox_containers_stay_native(engine: &str) {
    let h = Hako::new();
    let mut b = wasm_bundle(engine, &["/app/hello"]);
    b.edit(|s| s["annotations"]["io.kubernetes.cri.container-type"] = json!("sandbox"));
    let out = run(&h, &b);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.starts_with("hello from native\n"));
}

fn hako_wasm_argv0_mode(engine: &str) {
    let h = Hako::new();
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("hako-wasm");
    std::os::unix::fs::symlink(&h.bin, &link).unwrap();
    for (entry, expect) in [
        ("/app/hello.wasm", "hello from wasm\n"),
        ("/app/hello", "hello from native\n"),
    ] {
        let mut b = wasm_bundle(engine, &[entry]);
        b.edit(|s| s["annotations"] = json!({}));
        let id = unique_id("argv0");
        let mut cmd = std::process::Command::new(&link);
        cmd.args([
            "--root",
            &h.root().display().to_string(),
            "--wasm-engine",
            engine,
            "run",
            "--bundle",
            &b.arg(),
            &id,
        ]);
        cmd.stdin(std::process::Stdio::null());
        let out = h.exec(cmd);
        assert_eq!(out.code, 0, "{out:?}");
        assert!(out.stdout.starts_with(expect), "{entry}: {}", out.stdout);
        h.assert_gone(&id, &b, None);
    }
    // Invoked as plain hako, the same unannotated module is not wasm.
    let mut b = wasm_bundle(engine, &["/app/hello.wasm"]);
    b.edit(|s| s["annotations"] = json!({}));
    let id = unique_id("plain");
    h.run(&["create", "--bundle", &b.arg(), &id])
        .fails_with("permission denied");
}

fn create_fails(h: &Hako, b: &hako_tests::Bundle, needle: &str) {
    let id = unique_id("invalid");
    h.run(&["create", "--bundle", &b.arg(), &id])
        .fails_with(needle);
    h.assert_gone(&id, b, None);
}

fn validation_errors_surface_at_create(engine: &str) {
    let h = Hako::new();
    create_fails(
        &h,
        &wasm_bundle(engine, &["/app/missing.wasm"]),
        "/app/missing.wasm",
    );
    let b = wasm_bundle(engine, &["/app/bad.wasm"]);
    std::fs::write(
        b.rootfs().join("app/bad.wasm"),
        b"\0asm\x01\0\0\0\x01\x05garbage",
    )
    .unwrap();
    create_fails(&h, &b, &format!("{engine}: /app/bad.wasm"));
    let b = wasm_bundle(engine, &["/app/broken.wat"]);
    put_wat(
        &b,
        "broken.wat",
        "(module (memory (export \"memory\") 1) (func $f (export \"_start\") (call $nope)))",
    );
    create_fails(&h, &b, "/app/broken.wat: invalid wasm text");
    let b = wasm_bundle(engine, &["/app/imports.wat"]);
    put_wat(
        &b,
        "imports.wat",
        r#"(module (import "env" "nope" (func)) (memory (export "memory") 1) (func (export "_start")))"#,
    );
    create_fails(&h, &b, "nope");
    let b = wasm_bundle(engine, &["/bin/busybox"]);
    create_fails(&h, &b, "/bin/busybox: not a wasm module");
    let mut b = wasm_bundle(engine, &["/app/hello.wasm"]);
    b.edit(|s| {
        s["annotations"] =
            json!({"module.wasm.image/variant": "compat", "io.hako.wasm.engine": "wasm3"})
    });
    create_fails(&h, &b, "unknown wasm engine \"wasm3\"");
    // start after a successful create is immediate: the module was compiled.
    let b = wasm_bundle(engine, &["/app/hello.wasm"]);
    let id = unique_id("ready");
    h.create(&id, &b);
    h.run(&["start", &id]).ok();
    h.wait_status(&id, "stopped");
    h.run(&["delete", &id]).ok();
    h.assert_gone(&id, &b, None);
}

fn components(engine: &str) {
    let h = Hako::new();
    let b = wasm_bundle(engine, &["/app/component.wasm", "x", "y"]);
    if engine == "wasmtime" {
        let out = run(&h, &b);
        assert_eq!(out.code, 0, "{out:?}");
        assert!(
            out.stdout.contains("hello from a component"),
            "{}",
            out.stdout
        );
        assert!(
            out.stdout.contains('x') && out.stdout.contains('y'),
            "{}",
            out.stdout
        );
    } else {
        create_fails(&h, &b, "is a wasm component");
    }
}

fn readonly_root(engine: &str) {
    let h = Hako::new();
    let mut b = wasm_bundle(engine, &["/app/hello.wasm"]);
    b.edit(|s| s["root"]["readonly"] = json!(true));
    // At the top and below a directory: WasmEdge's own read-only preopen
    // only guards the preopened directory itself, so the read-only mount
    // must stop both.
    for file in ["hello.txt", "app/below.txt"] {
        b.edit(|s| {
            let env = s["process"]["env"].as_array_mut().unwrap();
            env.retain(|e| !e.as_str().unwrap().starts_with("HELLO_FILE="));
            env.push(json!(format!("HELLO_FILE={file}")));
        });
        let out = run(&h, &b);
        assert_eq!(out.code, 0, "{out:?}");
        assert!(
            out.stdout.contains(&format!("file {file}: error")),
            "{engine}: writing {file} must fail on a read-only root: {}",
            out.stdout
        );
        assert!(!b.rootfs().join(file).exists());
    }
}

#[test]
fn default_engine_flag_and_engine_annotation() {
    let h = Hako::new();
    for engine in ["wasmtime", "wasmedge", "wasmer"] {
        let mut b = wasm_bundle(engine, &["/app/hello.wasm", "7"]);
        b.edit(|s| s["annotations"] = json!({"module.wasm.image/variant": "compat"}));
        let id = unique_id("deflt");
        let out = h.run(&["--wasm-engine", engine, "run", "--bundle", &b.arg(), &id]);
        assert_eq!(out.code, 7, "{engine}: {out:?}");
        let mut b = wasm_bundle(engine, &["/app/hello.wasm", "8"]);
        b.edit(|s| {
            s["annotations"] =
                json!({"module.wasm.image/variant": "compat", "io.hako.wasm.engine": engine})
        });
        assert_eq!(h.run_bundle(&unique_id("ann"), &b).code, 8, "{engine}");
    }
    let out = h.run(&["--wasm-engine", "wasm3", "list"]);
    assert_ne!(out.code, 0);
}

#[test]
fn wasi_http_component_answers() {
    let h = Hako::new();
    let mut b = wasm_bundle("wasmtime", &["/app/http.wasm"]);
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    b.edit(|s| {
        s["annotations"]["io.hako.wasi-http.port"] = json!(port.to_string());
        // Share the host's network namespace so the test can connect.
        s["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != "network");
    });
    let id = unique_id("http");
    h.run(&["run", "-d", "--bundle", &b.arg(), &id]).ok();
    let mut response = String::new();
    for _ in 0..500 {
        if let Ok(mut conn) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            use std::io::{Read, Write};
            conn.write_all(b"GET /some/path HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            conn.read_to_string(&mut response).unwrap();
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(response.starts_with("HTTP/1.1 200"), "{response:?}");
    assert!(
        response.contains("hello from wasi-http /some/path"),
        "{response:?}"
    );
    h.run(&["delete", "--force", &id]).ok();
    h.assert_gone(&id, &b, None);
}

#[test]
fn components_inside_a_network_namespace_serve_there() {
    // The default spec has its own network namespace: the server listens
    // inside it, and the host's loopback does not reach it.
    let h = Hako::new();
    let mut b = wasm_bundle("wasmtime", &["/app/http.wasm"]);
    b.edit(|s| s["annotations"]["io.hako.wasi-http.port"] = json!("18080"));
    let id = unique_id("httpns");
    h.run(&["run", "-d", "--bundle", &b.arg(), &id]).ok();
    let pid = h.pid(&id);
    let netns = std::fs::File::open(format!("/proc/{pid}/ns/net")).unwrap();
    let got = std::thread::spawn(move || {
        nix::sched::setns(&netns, nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        for _ in 0..500 {
            if let Ok(mut conn) = std::net::TcpStream::connect(("127.0.0.1", 18080)) {
                use std::io::{Read, Write};
                conn.write_all(b"GET /inside HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    .unwrap();
                let mut r = String::new();
                conn.read_to_string(&mut r).unwrap();
                return r;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        String::new()
    })
    .join()
    .unwrap();
    assert!(got.contains("hello from wasi-http /inside"), "{got:?}");
    h.run(&["delete", "--force", &id]).ok();
    h.assert_gone(&id, &b, None);
}

/// An in-process guest is confined (LSM label on attr/current) just before
/// it runs, which needs a single-threaded process: the compiler's threads
/// (compiled fresh here, the module cache off) must be gone by then.
fn one_thread_before_the_guest_runs(engine: &str) {
    let h = Hako::new();
    let b = wasm_bundle(engine, &["/app/hello.wasm"]);
    let id = unique_id("threads");
    let mut cmd = h.cmd();
    cmd.env("HAKO_MODULE_CACHE", "off")
        .args(["create", "--bundle", &b.arg(), &id])
        .stdin(std::process::Stdio::null());
    h.exec(cmd).ok();
    let pid = h.pid(&id);
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut threads = status_field(pid, "Threads:");
    while threads != "1" && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
        threads = status_field(pid, "Threads:");
    }
    assert_eq!(threads, "1", "{engine}: threads left in created init");
    h.run(&["delete", &id]).ok();
    h.assert_gone(&id, &b, None);
}

fn status_field(pid: i32, key: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with(key))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string()
}

#[test]
fn native_containers_initialise_no_engine() {
    let h = Hako::new();
    let maps_of = |pid: i32| std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
    // A created native container: init waits for start with no engine in
    // it — no signal handler of an engine, one thread, no libwasmedge.
    let native = hako_tests::Bundle::busybox(&["sleep", "100"]);
    let id = unique_id("noengine");
    h.create(&id, &native);
    let pid = h.pid(&id);
    // Rust's runtime catches SIGSEGV and SIGBUS (stack overflows); an
    // engine adds SIGILL (and SIGFPE) for its traps.
    let caught = u64::from_str_radix(&status_field(pid, "SigCgt:"), 16).unwrap();
    assert_eq!(
        caught & (1 << (libc::SIGILL - 1)),
        0,
        "an engine installed its trap handlers: {caught:#x}"
    );
    assert_eq!(status_field(pid, "Threads:"), "1");
    assert!(
        !maps_of(pid).contains("libwasmedge"),
        "libwasmedge loaded for a native container"
    );
    h.run(&["delete", &id]).ok();
    h.assert_gone(&id, &native, None);
    // The same observations do see an engine when there is one.
    let wasm = wasm_bundle("wasmtime", &["/app/hello.wasm"]);
    let id = unique_id("engine");
    h.create(&id, &wasm);
    let caught = u64::from_str_radix(&status_field(h.pid(&id), "SigCgt:"), 16).unwrap();
    assert_ne!(
        caught & (1 << (libc::SIGILL - 1)),
        0,
        "wasmtime's trap handler: {caught:#x}"
    );
    h.run(&["delete", &id]).ok();
    let wasmedge = wasm_bundle("wasmedge", &["/app/hello.wasm"]);
    let id = unique_id("plugin");
    h.create(&id, &wasmedge);
    assert!(
        maps_of(h.pid(&id)).contains("libwasmedge"),
        "the WasmEdge plugin is loaded for a WasmEdge container"
    );
    h.run(&["delete", &id]).ok();
    h.assert_gone(&id, &wasmedge, None);
}

#[test]
fn compiled_modules_are_cached_outside_the_container() {
    let h = Hako::new();
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().join("modules");
    for engine in ["wasmtime", "wasmer", "wasmedge"] {
        let b = wasm_bundle(engine, &["/app/hello.wasm", "4"]);
        let mut outputs = Vec::new();
        for round in 0..2 {
            let id = unique_id("cache");
            let log = tempfile::NamedTempFile::new().unwrap();
            let mut cmd = h.cmd();
            cmd.env("HAKO_MODULE_CACHE", &dir)
                .args(["--debug", "--log"])
                .arg(log.path())
                .args(["run", "--bundle", &b.arg(), &id])
                .stdin(std::process::Stdio::null());
            let out = h.exec(cmd);
            assert_eq!(out.code, 4, "{engine} round {round}: {out:?}");
            outputs.push(out.stdout);
            h.assert_gone(&id, &b, None);
            // The first run compiles and stores; the second loads what
            // the first stored and compiles nothing.
            let text = std::fs::read_to_string(log.path()).unwrap();
            let (hits, misses, puts) = (
                text.matches("module cache hit").count(),
                text.matches("module cache miss").count(),
                text.matches("CachePut").count(),
            );
            let want = if round == 0 { (0, 1, 1) } else { (1, 0, 0) };
            assert_eq!((hits, misses, puts), want, "{engine} round {round}: {text}");
        }
        assert_eq!(
            outputs[0], outputs[1],
            "{engine}: a cached module behaves the same"
        );
        let entries: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            entries.iter().filter(|e| e.starts_with(engine)).count(),
            1,
            "{engine}: one artifact: {entries:?}"
        );
    }
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    // Nothing inside a container can reach the cache: a guest running
    // from it holds no descriptor of it, and its path does not resolve in
    // the container.
    for engine in ["wasmtime", "wasmer", "wasmedge"] {
        let b = sleeping(engine, &["/app/hello.wasm"]);
        let id = unique_id("cacheiso");
        let mut cmd = h.cmd();
        cmd.env("HAKO_MODULE_CACHE", &dir)
            .args(["run", "-d", "--bundle", &b.arg(), &id])
            .stdin(std::process::Stdio::null());
        assert_eq!(h.exec(cmd).code, 0, "{engine}");
        // Seen from the host, so that nothing in the container can hide it.
        let pid = h.pid(&id);
        let fds: Vec<std::path::PathBuf> = std::fs::read_dir(format!("/proc/{pid}/fd"))
            .unwrap()
            .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
            .collect();
        assert!(!fds.is_empty(), "{engine}");
        assert!(
            fds.iter().all(|f| !f.starts_with(&dir)),
            "{engine}: init holds a descriptor of the cache: {fds:?}"
        );
        // The artifact was mapped to be loaded, and unmapped before the
        // guest ran.
        let maps = std::fs::read_to_string(format!("/proc/{pid}/maps")).unwrap();
        assert!(
            !maps.contains(&dir.display().to_string()),
            "{engine}: init still maps a file of the cache:\n{maps}"
        );
        let ls = h.run(&["exec", &id, "/bin/ls", &dir.display().to_string()]);
        assert_ne!(ls.code, 0, "{engine}: the cache is visible: {ls:?}");
        assert!(ls.stderr.contains("No such file"), "{engine}: {ls:?}");
        h.run(&["delete", "--force", &id]).ok();
        h.assert_gone(&id, &b, None);
    }
    let off = wasm_bundle("wasmtime", &["/app/hello.wasm"]);
    let id = unique_id("nocache");
    let mut cmd = h.cmd();
    cmd.env("HAKO_MODULE_CACHE", "off")
        .args(["run", "--bundle", &off.arg(), &id])
        .stdin(std::process::Stdio::null());
    assert_eq!(h.exec(cmd).code, 0);
    h.assert_gone(&id, &off, None);
}

/// A `run.oci.handler` hako does not know fails `create` with a line that
/// names it, instead of running the container natively or on the default
/// engine; crun's other handlers are refused by name.
#[test]
fn unknown_handlers_are_refused_at_create() {
    let h = Hako::new();
    for (handler, needle) in [
        ("wasmfoo", "run.oci.handler=\"wasmfoo\": unknown handler (known: wasm, wasm-smart, wasmtime, wasmedge, wasmer)"),
        ("WasmEdge", "run.oci.handler=\"WasmEdge\": unknown handler"),
        ("krun", "run.oci.handler=\"krun\": crun's libkrun handler is not supported by hako"),
    ] {
        let mut b = wasm_bundle("wasmtime", &["/app/hello.wasm"]);
        b.edit(|s| s["annotations"] = json!({"run.oci.handler": handler}));
        let id = unique_id("handler");
        h.run(&["create", "--bundle", &b.arg(), &id]).fails_with(needle);
        h.assert_gone(&id, &b, None);
    }
}

/// A wasm bundle whose guest prints its greeting, then sleeps ten minutes.
fn sleeping(engine: &str, args: &[&str]) -> hako_tests::Bundle {
    let mut b = wasm_bundle(engine, args);
    b.push_env("HELLO_SLEEP=600");
    b
}

/// `exec` into a wasm container decides per program: the image's shell
/// runs natively (what users do to debug), a module runs on the
/// container's engine.
fn exec_runs_native_tools_and_modules(engine: &str) {
    let h = Hako::new();
    let b = sleeping(engine, &["/app/hello.wasm"]);
    let id = unique_id("wexec");
    h.run(&["run", "-d", "--bundle", &b.arg(), &id]).ok();
    let out = h
        .run(&[
            "exec",
            &id,
            "/bin/sh",
            "-c",
            "echo native-ok; cat /data/note.txt",
        ])
        .ok();
    assert_eq!(
        out.stdout, "native-ok\na note in the rootfs\n",
        "{engine}: {out:?}"
    );
    let out = h.run(&["exec", "-e", "HELLO_SLEEP=0", &id, "/app/hello.wasm", "7"]);
    assert_eq!(out.code, 7, "{engine}: {out:?}");
    assert!(
        out.stdout.starts_with("hello from wasm\n"),
        "{engine}: {out:?}"
    );
    let out = h.run(&["exec", &id, "/no/such/tool"]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("/no/such/tool"), "{engine}: {out:?}");
    h.run(&["delete", "--force", &id]).ok();
    h.assert_gone(&id, &b, None);
}

/// PID 1 of a wasm container shows the guest's argv, never hako's host
/// command line (which names the bundle's host path), and `hako state`
/// says which engine runs the workload.
#[test]
fn a_wasm_init_shows_the_guests_argv_and_state_names_the_engine() {
    for engine in ["wasmtime", "wasmedge", "wasmer"] {
        let h = Hako::new();
        let b = sleeping(engine, &["/app/hello.wasm", "first", "second"]);
        let id = unique_id("title");
        h.run(&["create", "--bundle", &b.arg(), &id]).ok();
        let state = h.state(&id);
        assert_eq!(state["annotations"]["io.hako.engine"], engine, "{state}");
        h.run(&["start", &id]).ok();
        let pid = h.pid(&id);
        let deadline = Instant::now() + Duration::from_secs(10);
        let cmdline = loop {
            let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
            if raw.starts_with(b"/app/hello.wasm\0") || Instant::now() > deadline {
                break raw;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        assert_eq!(args, ["/app/hello.wasm", "first", "second"], "{engine}");
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
        assert_eq!(comm.trim(), "hello.wasm", "{engine}");
        h.run(&["delete", "--force", &id]).ok();
        h.assert_gone(&id, &b, None);
    }
    // A native container says so too.
    let h = Hako::new();
    let b = hako_tests::Bundle::busybox(&["true"]);
    let id = unique_id("native");
    h.run(&["create", "--bundle", &b.arg(), &id]).ok();
    assert_eq!(h.state(&id)["annotations"]["io.hako.engine"], "native");
    h.run(&["delete", "--force", &id]).ok();
    h.assert_gone(&id, &b, None);
}

/// A hako installed without its WasmEdge plugin fails a WasmEdge
/// container at `create` with dlerror's reason, not a bare "dlopen failed".
#[test]
fn a_missing_wasmedge_plugin_names_the_reason() {
    let h = Hako::new();
    let dir = tempfile::tempdir().unwrap();
    let lone = dir.path().join("hako");
    std::fs::copy(&h.bin, &lone).unwrap();
    let b = wasm_bundle("wasmedge", &["/app/hello.wasm"]);
    let id = unique_id("noplugin");
    let mut cmd = std::process::Command::new(&lone);
    cmd.arg("--root")
        .arg(h.root())
        .args(["create", "--bundle", &b.arg(), &id]);
    let out = h
        .exec(cmd)
        .fails_with("cannot open shared object file: No such file or directory");
    let plugin = dir.path().join("libhako_executor_wasmedge.so");
    assert!(
        out.stderr
            .contains(&format!("loading {}", plugin.display())),
        "{out:?}"
    );
    h.assert_gone(&id, &b, None);
}

/// The guest sees its preopen (the container's `/`) and nothing else, on
/// every engine: not the host through a magic link, not through a symlink
/// in the rootfs that points at one or climbs out. The container shares
/// the host's pid namespace here, and a host process without capabilities
/// (so that the container's root may look into it, as a native process of
/// the container does) exposes the host's `/` as /proc/<pid>/root. A
/// symlink that stays inside still works.
/// A helper process, killed and reaped however the test ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        hako_tests::reaper::untrack(self.0.id());
    }
}

fn the_guest_sees_only_its_preopen(engine: &str) {
    let h = Hako::new();
    let secret = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(secret.path(), "host secret").unwrap();
    let secret = secret.path().display().to_string();
    let helper = KillOnDrop(
        hako_tests::reaper::spawn(std::process::Command::new("setpriv").args([
            "--bounding-set",
            "-all",
            "--inh-caps",
            "-all",
            "sleep",
            "60",
        ]))
        .unwrap(),
    );
    let host_root = format!("/proc/{}/root", helper.0.id());
    let mut b = wasm_bundle(engine, &["/app/hello.wasm"]);
    let data = b.rootfs().join("data");
    std::os::unix::fs::symlink(format!("{host_root}{secret}"), data.join("magic")).unwrap();
    std::os::unix::fs::symlink(format!("../../../../../../..{secret}"), data.join("up")).unwrap();
    std::os::unix::fs::symlink("note.txt", data.join("inside")).unwrap();
    b.edit(|s| {
        s["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != "pid");
    });
    // The probe is real: a native process of the same container reads
    // the secret that way.
    let native = h.run_bundle(&hako_tests::unique_id("native"), &{
        let mut n = hako_tests::Bundle::busybox(&["cat", &format!("{host_root}{secret}")]);
        n.edit(|s| {
            s["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .retain(|n| n["type"] != "pid")
        });
        n
    });
    assert_eq!(native.stdout, "host secret", "{native:?}");
    let read = |b: &mut hako_tests::Bundle, probe: &str| {
        b.edit(|s| {
            let env = s["process"]["env"].as_array_mut().unwrap();
            env.retain(|e| !e.as_str().unwrap_or("").starts_with("HELLO_READ="));
            env.push(json!(format!("HELLO_READ={probe}")));
        });
        run(&h, b)
    };
    for probe in [
        format!("{host_root}{secret}"),
        "/data/magic".to_string(),
        "/data/up".to_string(),
        format!("../../../../..{secret}"),
    ] {
        let out = read(&mut b, &probe);
        assert_eq!(out.code, 0, "{engine} {probe}: {out:?}");
        assert!(
            !out.stdout.contains("host secret"),
            "{engine}: the guest read a host file through {probe}: {}",
            out.stdout
        );
        assert!(
            out.stdout.contains(&format!("read {probe}: error")),
            "{engine} {probe}: {}",
            out.stdout
        );
    }
    let out = read(&mut b, "/data/inside");
    assert!(
        out.stdout
            .contains("read /data/inside: a note in the rootfs"),
        "{engine}: {}",
        out.stdout
    );
}

/// A guest frozen and thawed while it sleeps carries on to a clean exit:
/// `pause`/`resume` (the cgroup freezer, as `podman pause` and
/// `ctr task pause` use) and SIGSTOP/SIGCONT (which make an interrupted
/// wait return EINTR even without a handler) must not reach the guest as
/// an error.
fn a_guest_carries_on_after_pause_and_stop(engine: &str) {
    let h = Hako::new();
    let mut b = wasm_bundle(engine, &["/app/hello.wasm"]);
    b.push_env("HELLO_SLEEP=3");
    let id = unique_id("thaw");
    let stderr = tempfile::tempfile().unwrap();
    let mut cmd = h.cmd();
    cmd.args(["run", "--bundle", &b.arg(), &id])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(stderr.try_clone().unwrap());
    let mut child = hako_tests::reaper::spawn(&mut cmd).unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut first = [0u8; 16];
    std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
    assert_eq!(&first, b"hello from wasm\n");
    let pid = h.pid(&id);
    // The greeting comes before the sleep starts: give the guest time to
    // be inside it.
    std::thread::sleep(Duration::from_millis(300));
    h.run(&["pause", &id]).ok();
    assert_eq!(h.status(&id), "paused");
    std::thread::sleep(Duration::from_millis(300));
    h.run(&["resume", &id]).ok();
    std::thread::sleep(Duration::from_millis(300));
    // A guest the thaw killed is gone by now: kill(2) fails and the exit
    // status below says why.
    for signal in [libc::SIGSTOP, libc::SIGCONT] {
        // SAFETY: kill(2) on the container's init, which the test owns.
        unsafe { libc::kill(pid, signal) };
        std::thread::sleep(Duration::from_millis(300));
    }
    let status = child.wait().unwrap();
    hako_tests::reaper::untrack(child.id());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let stderr = std::fs::read_to_string(format!("/proc/self/fd/{}", {
        use std::os::fd::AsRawFd;
        stderr.as_raw_fd()
    }))
    .unwrap();
    assert_eq!(
        status.code(),
        Some(0),
        "{engine}: the thawed guest failed; stderr: {stderr}"
    );
    assert_eq!(stderr, "hello stderr\n", "{engine}");
    assert!(rest.contains("file hello.txt: written by hello"), "{rest}");
    h.assert_gone(&id, &b, None);
}

/// `pids.max` = 1 leaves room for init alone, as runc's `echo ok` needs: a
/// guest that starts no threads of its own must run there, whether its
/// module is compiled at `create` (cache off) or loaded from the cache.
/// A guest that starts no thread runs under `pids.max` = 1, compiled at
/// `create` (the cache off, or a first run) or loaded from the cache, and
/// sleeps with init's thread alone. Compiling may take threads (wasmer's
/// Cranelift, WasmEdge's compiler): `create` makes room for them under
/// the limit, and the container's own limit is back when `create`
/// returns, so the workload can never use that room.
fn a_threadless_guest_runs_under_pids_limit_one(engine: &str) {
    let h = Hako::new();
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().join("modules");
    let mut b = wasm_bundle(engine, &["/app/hello.wasm"]);
    b.edit(|s| s["linux"]["resources"] = json!({"pids": {"limit": 1}}));
    // A fresh cache: the first "on" run compiles, the second loads.
    for cache in [std::path::Path::new("off"), &dir, &dir] {
        let id = unique_id("pids1");
        let mut cmd = h.cmd();
        cmd.env("HAKO_MODULE_CACHE", cache)
            .args(["run", "--bundle", &b.arg(), &id]);
        let out = h.exec(cmd);
        assert_eq!(out.code, 0, "{engine}, cache {cache:?}: {out:?}");
        assert!(
            out.stdout.starts_with("hello from wasm\n")
                && out.stdout.contains("file hello.txt: written by hello"),
            "{engine}, cache {cache:?}: {out:?}"
        );
        h.assert_gone(&id, &b, None);
    }

    // Created (compiled just now) and then sleeping: pids.max is the
    // container's 1, and init is one thread.
    b.push_env("HELLO_SLEEP=30");
    let written = b.rootfs().join("hello.txt");
    std::fs::remove_file(&written).unwrap();
    let id = unique_id("pids1-sleeps");
    let mut cmd = h.cmd();
    cmd.env("HAKO_MODULE_CACHE", "off")
        .args(["create", "--bundle", &b.arg(), &id])
        .stdin(std::process::Stdio::null());
    assert_eq!(h.exec(cmd).code, 0, "{engine}");
    let limits: Vec<String> = hako_tests::cgroup_dirs_named(&id)
        .iter()
        .filter_map(|d| std::fs::read_to_string(d.join("pids.max")).ok())
        .map(|v| v.trim().to_string())
        .collect();
    assert!(!limits.is_empty(), "{engine}: no pids.max for {id}");
    assert!(
        limits.iter().all(|l| l == "1"),
        "{engine}: pids.max {limits:?}"
    );
    let pid = h.pid(&id);
    h.run(&["start", &id]).ok();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !written.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        written.exists(),
        "{engine}: the guest never got to its sleep"
    );
    // Past the file, the guest goes to sleep: give it time to be in it.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(h.status(&id), "running", "{engine}");
    assert_eq!(
        status_field(pid, "Threads:"),
        "1",
        "{engine}: a thread besides init's"
    );
    h.run(&["delete", "--force", &id]).ok();
    h.assert_gone(&id, &b, None);
}

/// WasmEdge runs a cached module as native code, compiled ahead of time by
/// libwasmedge's own compiler: after `create` from the cache, init holds
/// the guest's code in an anonymous executable mapping, which the
/// interpreter (the cache off) never makes. The compiled guest computes
/// what the native build of the same program computes.
#[test]
fn wasmedge_runs_compiled_code_from_the_cache() {
    let h = Hako::new();
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().join("modules");
    let mut b = wasm_bundle("wasmedge", &["/app/hello.wasm"]);
    b.push_env("HELLO_CHECKSUM_MB=1");
    let native = hako_tests::reaper::output(
        std::process::Command::new(hako_tests::wasm::example("hello"))
            .env_clear()
            .env("HELLO_CHECKSUM_MB", "1")
            .current_dir(cache.path()),
    )
    .unwrap();
    let native = String::from_utf8(native.stdout).unwrap();
    let checksum = native.lines().find(|l| l.starts_with("checksum")).unwrap();

    let with_cache = |cmd: &mut std::process::Command, setting: &std::path::Path| {
        cmd.env("HAKO_MODULE_CACHE", setting)
            .stdin(std::process::Stdio::null());
    };
    // Compiles and stores.
    let id = unique_id("aot");
    let mut cmd = h.cmd();
    with_cache(&mut cmd, &dir);
    cmd.args(["run", "--bundle", &b.arg(), &id]);
    let out = h.exec(cmd);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains(checksum),
        "{out:?} vs native {checksum}"
    );
    h.assert_gone(&id, &b, None);
    let stored = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("wasmedge-aot-")
        })
        .count();
    assert_eq!(stored, 1, "one compiled artifact");

    for (setting, native_code) in [(dir.as_path(), true), (std::path::Path::new("off"), false)] {
        let id = unique_id("aot");
        let mut cmd = h.cmd();
        with_cache(&mut cmd, setting);
        cmd.args(["create", "--bundle", &b.arg(), &id]);
        h.exec(cmd).ok();
        let maps = std::fs::read_to_string(format!("/proc/{}/maps", h.pid(&id))).unwrap();
        let anonymous_code = maps.lines().any(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            f.len() == 5 && f[1] == "r-xp"
        });
        assert_eq!(
            anonymous_code, native_code,
            "cache {setting:?}: native code mapped: {maps}"
        );
        h.run(&["start", &id]).ok();
        h.wait_status(&id, "stopped");
        h.run(&["delete", &id]).ok();
        h.assert_gone(&id, &b, None);
    }
}
