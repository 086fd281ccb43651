//! Wasm test fixtures: the example guests (built by examples/build.sh) and
//! bundles annotated for an engine.

use std::path::PathBuf;

use serde_json::json;

use crate::bundle::Bundle;

/// Where the example guests are (`HAKO_EXAMPLES`, else examples/out).
pub fn examples_dir() -> PathBuf {
    let dir = std::env::var_os("HAKO_EXAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join("../examples/out"));
    assert!(
        dir.join("hello.wasm").is_file(),
        "example guests missing in {}: run examples/build.sh (or set HAKO_EXAMPLES)",
        dir.display()
    );
    dir
}

/// This crate's directory, read at run time (cargo test sets it) because a
/// target dir shared between clones keeps binaries built in another one.
fn manifest_dir() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// The path of one example guest.
pub fn example(name: &str) -> PathBuf {
    let p = examples_dir().join(name);
    assert!(
        p.is_file(),
        "{} missing: run examples/build.sh",
        p.display()
    );
    p
}

/// A busybox bundle with the example guests in /app and a data directory
/// in /data (the working directory), running `args`, annotated as wasm
/// for `engine`.
pub fn wasm_bundle(engine: &str, args: &[&str]) -> Bundle {
    let mut b = Bundle::busybox(args);
    let app = b.rootfs().join("app");
    std::fs::create_dir_all(&app).unwrap();
    use std::os::unix::fs::PermissionsExt;
    for name in [
        "hello.wasm",
        "hello",
        "hello.wat",
        "exit3.wat",
        "component.wasm",
        "http.wasm",
    ] {
        std::fs::copy(example(name), app.join(name)).unwrap();
        // Modules ship without an execute bit, as image layers have them.
        let mode = if name == "hello" { 0o755 } else { 0o644 };
        std::fs::set_permissions(app.join(name), std::fs::Permissions::from_mode(mode)).unwrap();
    }
    std::fs::create_dir_all(b.rootfs().join("data")).unwrap();
    std::fs::write(b.rootfs().join("data/note.txt"), "a note in the rootfs\n").unwrap();
    b.edit(|s| {
        s["process"]["cwd"] = json!("/data");
        s["process"]["env"] = json!(["PATH=/app:/bin", "GREETING=hi there"]);
        s["annotations"] =
            json!({"module.wasm.image/variant": "compat", "run.oci.handler": engine});
    });
    b
}

/// A WAT module written into a bundle's rootfs at `/app/<name>`.
pub fn put_wat(b: &Bundle, name: &str, wat: &str) {
    std::fs::write(b.rootfs().join("app").join(name), wat).unwrap();
}
