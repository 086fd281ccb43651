//! Components exporting `wasi:http/incoming-handler`, served for real: the
//! guest in tests/guests/http-hello is built with `cargo build --target
//! wasm32-wasip2` and answered over a TCP connection.

mod common;

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use common::{binary, prepare, prepare_err, Sandbox};
use hako_executors::wasm::WasmModule;
use hako_executors::{EngineKind, ExecutorError};

/// Builds the http-hello guest and returns it as hako would load it.
///
/// Fails loudly when the wasm32-wasip2 target is missing rather than
/// skipping: a skipped test cannot fail.
fn http_hello() -> WasmModule {
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .unwrap();
    let sysroot = PathBuf::from(String::from_utf8(sysroot.stdout).unwrap().trim());
    let target_lib = sysroot.join("lib/rustlib/wasm32-wasip2/lib");
    assert!(
        target_lib.is_dir(),
        "the wasm32-wasip2 target is not installed ({} is missing): rustup target add wasm32-wasip2",
        target_lib.display()
    );

    // Read at run time: a target dir shared between clones keeps test
    // binaries whose compile-time paths point at another checkout.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    let guest = manifest_dir.join("tests/guests/http-hello");
    let target_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("http-hello");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--locked",
            "--target",
            "wasm32-wasip2",
        ])
        .arg("--manifest-path")
        .arg(guest.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target_dir)
        // Flags meant for the host build must not reach the wasm one.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .status()
        .unwrap();
    assert!(status.success(), "building the http-hello guest failed");
    let wasm = target_dir.join("wasm32-wasip2/release/http_hello.wasm");
    let module = binary(std::fs::read(&wasm).unwrap());
    assert!(module.component, "{} is not a component", wasm.display());
    module
}

/// A localhost address nobody listens on (there is a small race with other
/// processes picking ports, acceptable in tests).
fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// A response as the test sees it.
#[derive(Debug)]
struct Response {
    status_line: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends one HTTP/1.1 request on a fresh connection and reads the response
/// (decoding a chunked body).
fn get(addr: SocketAddr, path: &str) -> Response {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let raw = String::from_utf8(raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("no end of headers");
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap().to_string();
    let headers: Vec<(String, String)> = lines
        .map(|l| {
            let (k, v) = l.split_once(':').unwrap();
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v == "chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_string()
    };
    Response {
        status_line,
        headers,
        body,
    }
}

/// Decodes a chunked HTTP/1.1 body.
fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    loop {
        let (size, after) = rest.split_once("\r\n").expect("bad chunk header");
        let size = usize::from_str_radix(size.trim(), 16).expect("bad chunk size");
        if size == 0 {
            return body;
        }
        body.push_str(&after[..size]);
        rest = after[size..].strip_prefix("\r\n").expect("bad chunk end");
    }
}

#[test]
fn wasi_http_component_answers_real_requests() {
    let module = http_hello();
    let sandbox = Sandbox::new();
    let addr = free_addr();
    let mut wasi = sandbox.wasi(&["http-hello.wasm"], &["GREETING=hi from hako"], false);
    wasi.http_addr = addr;

    // `run` serves until the process dies, so it gets a thread of its own;
    // the thread ends with the test process. Preparing happens there too
    // (a prepared workload is not Send); the outcome comes back first.
    let (prepared_tx, prepared_rx) = mpsc::channel();
    std::thread::spawn(move || match prepare(module, wasi) {
        Ok(prepared) => {
            prepared_tx.send(Ok(())).unwrap();
            let outcome = prepared.run();
            panic!("run returned: {outcome:?}");
        }
        Err(err) => prepared_tx.send(Err(err.to_string())).unwrap(),
    });
    prepared_rx
        .recv_timeout(Duration::from_secs(300))
        .expect("prepare took too long")
        .expect("prepare failed");

    // The listener is bound by prepare: connecting needs no retry loop.
    let hello = get(addr, "/hello?x=1");
    assert_eq!(hello.status_line, "HTTP/1.1 200 OK", "{hello:?}");
    assert_eq!(
        hello.header("content-type"),
        Some("text/plain"),
        "{hello:?}"
    );
    assert_eq!(hello.body, "hi from hako: GET /hello?x=1\n");

    // A guest that traps gets a 500; the server and later requests (each in
    // a fresh store) are unaffected.
    let trap = get(addr, "/trap");
    assert_eq!(
        trap.status_line, "HTTP/1.1 500 Internal Server Error",
        "{trap:?}"
    );
    let again = get(addr, "/again");
    assert_eq!(again.status_line, "HTTP/1.1 200 OK", "{again:?}");
    assert_eq!(again.body, "hi from hako: GET /again\n");
}

#[test]
fn a_taken_port_fails_prepare() {
    let sandbox = Sandbox::new();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut wasi = sandbox.wasi(&["h.wasm"], &[], false);
    wasi.http_addr = taken.local_addr().unwrap();
    match prepare_err(handler_stub(), wasi) {
        ExecutorError::Engine { engine, message } => {
            assert_eq!(engine, EngineKind::Wasmtime);
            let addr = taken.local_addr().unwrap();
            assert!(
                message.starts_with(&format!("listening on {addr}: ")),
                "{message}"
            );
        }
        other => panic!("expected an engine error, got {other:?}"),
    }
}

#[test]
fn mistyped_handler_fails_prepare() {
    let sandbox = Sandbox::new();
    let module = common::wat(
        r#"(component
      (core module $M (func (export "handle")))
      (core instance $m (instantiate $M))
      (func $handle (canon lift (core func $m "handle")))
      (instance $i (export "handle" (func $handle)))
      (export "wasi:http/incoming-handler@0.2.0" (instance $i)))"#,
    );
    match prepare_err(module, sandbox.wasi(&["h.wasm"], &[], false)) {
        ExecutorError::Compile { message, .. } => assert_eq!(
            message,
            "wasi:http/incoming-handler@0.2.0: handle is not a \
             func(own<incoming-request>, own<response-outparam>)"
        ),
        other => panic!("expected a compile error, got {other:?}"),
    }
}

/// A component that only looks like a handler from outside: enough to get
/// past the type checks to the bind, without building a guest.
fn handler_stub() -> WasmModule {
    common::wat(
        r#"(component
  (import "wasi:http/types@0.2.0" (instance $types
    (export "incoming-request" (type (sub resource)))
    (export "response-outparam" (type (sub resource)))))
  (alias export $types "incoming-request" (type $incoming-request))
  (alias export $types "response-outparam" (type $response-outparam))
  (core module $M (func (export "handle") (param i32 i32)))
  (core instance $m (instantiate $M))
  (type $own-request (own $incoming-request))
  (type $own-outparam (own $response-outparam))
  (func $handle (param "request" $own-request) (param "response-out" $own-outparam)
    (canon lift (core func $m "handle")))
  (instance $i
    (export "incoming-request" (type $incoming-request))
    (export "response-outparam" (type $response-outparam))
    (export "handle" (func $handle)))
  (export "wasi:http/incoming-handler@0.2.0" (instance $i)))"#,
    )
}
