// The text layout's part of a build script, included (`include!`) by
// runtime/build.rs and the engine plugins' build scripts. Uses only std.

/// The text layout made by `scripts/text-layout.sh` (the crate's
/// `text-layout.order`): the functions that run, placed together at the
/// start of `.text`, for the crate's `targets` ("bins", or "cdylib" for an
/// engine plugin). A fault maps up to 16 pages around the one it needs
/// (fault-around), so code scattered over a 5 MB `.text` costs far more
/// resident memory and faults than the code that runs. Names the file
/// lists but the build lacks (another compiler, other features) are
/// skipped: a stale layout costs speed, never correctness. Only given to
/// a linker that takes `--symbol-ordering-file` (lld, Rust's default on
/// x86_64 Linux since 1.90).
fn text_layout(targets: &str) {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let order = std::path::Path::new(&dir).join("text-layout.order");
    if !order.is_file() {
        // Cargo reruns a script whose watched file is missing on every
        // build: watch the directory the file would be added to instead.
        println!("cargo:rerun-if-changed={dir}");
        return;
    }
    println!("cargo:rerun-if-changed={}", order.display());
    if !linker_orders_symbols() {
        let target = std::env::var("TARGET").unwrap_or_default();
        println!(
            "cargo:warning=the linker for {target} does not take --symbol-ordering-file: linking without the text layout"
        );
        return;
    }
    // -Xlinker, not -Wl,: the path may hold a comma.
    println!("cargo:rustc-link-arg-{targets}=-Xlinker");
    println!(
        "cargo:rustc-link-arg-{targets}=--symbol-ordering-file={}",
        order.display()
    );
    println!("cargo:rustc-link-arg-{targets}=-Xlinker");
    println!("cargo:rustc-link-arg-{targets}=--no-warn-symbol-ordering");
}

/// Whether the linker rustc uses for this target takes
/// `--symbol-ordering-file`: links an empty program with it, through the
/// same rustc, linker and flags as the real build.
fn linker_orders_symbols() -> bool {
    let Some(out) = std::env::var_os("OUT_DIR").map(std::path::PathBuf::from) else {
        return false;
    };
    let src = out.join("order-probe.rs");
    let order = out.join("order-probe.order");
    if std::fs::write(&src, "fn main() {}\n").is_err() || std::fs::write(&order, "main\n").is_err()
    {
        return false;
    }
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let mut probe = std::process::Command::new(rustc);
    probe
        .arg("--crate-type=bin")
        .arg("--crate-name=order_probe")
        .arg("-o")
        .arg(out.join("order-probe"))
        .arg("-C")
        .arg("link-arg=-Xlinker")
        .arg("-C")
        .arg(format!("link-arg=--symbol-ordering-file={}", order.display()));
    if let Ok(target) = std::env::var("TARGET") {
        probe.arg("--target").arg(target);
    }
    if let Ok(linker) = std::env::var("RUSTC_LINKER") {
        probe.arg("-C").arg(format!("linker={linker}"));
    }
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    probe.args(flags.split('\x1f').filter(|f| !f.is_empty()));
    probe
        .arg(&src)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}
