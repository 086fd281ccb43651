//! Records the git commit for `hako --version`, and links the WasmEdge
//! engine against a private libwasmedge prefix when one is in use.

use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=HAKO_COMMIT={commit}");
    println!("cargo:rerun-if-changed=../.git/HEAD");
    println!("cargo:rerun-if-changed=../.git/logs/HEAD");
    wasmedge_link_args();
    pack_relative_relocs();
    text_layout();
}

/// The text layout made by `scripts/text-layout.sh` (`text-layout.order`):
/// the functions lifecycle commands run, placed together at the start of
/// `.text`. A fault maps up to 16 pages around the one it needs
/// (fault-around), so code scattered over a 5 MB `.text` costs far more
/// resident memory and faults than the code that runs. Names the file
/// lists but the build lacks (another compiler, other features) are
/// skipped: a stale layout costs speed, never correctness. Only given to
/// a linker that takes `--symbol-ordering-file` (lld, Rust's default on
/// x86_64 Linux since 1.90).
fn text_layout() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let order = std::path::Path::new(&dir).join("text-layout.order");
    println!("cargo:rerun-if-changed={}", order.display());
    if !order.is_file() {
        return;
    }
    if !linker_orders_symbols() {
        println!("cargo:warning=the linker does not take --symbol-ordering-file: hako is linked without its text layout");
        return;
    }
    println!(
        "cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}",
        order.display()
    );
    println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
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
    let mut probe = Command::new(rustc);
    probe
        .arg("--crate-type=bin")
        .arg("--crate-name=order_probe")
        .arg("-o")
        .arg(out.join("order-probe"))
        .arg("-C")
        .arg(format!(
            "link-arg=-Wl,--symbol-ordering-file={}",
            order.display()
        ));
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

/// Relative relocations packed (DT_RELR): the loader reads a few
/// kilobytes instead of a 270 KB table at every start. The binary then
/// needs glibc 2.36 or later, so only where the glibc it is linked
/// against (the host's, or a private WasmEdge prefix's, which is newer)
/// is at least that.
fn pack_relative_relocs() {
    let gnu = std::env::var("CARGO_CFG_TARGET_ENV").is_ok_and(|e| e == "gnu");
    let private = std::env::var_os("CARGO_FEATURE_WASMEDGE").is_some()
        && std::env::var_os("HAKO_WASMEDGE_PREFIX").is_some_and(|p| !p.is_empty());
    // The build host's glibc, for a native build (the only kind hako's
    // scripts make).
    let host_glibc_ok = || {
        Command::new("getconf")
            .arg("GNU_LIBC_VERSION")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|v| glibc_at_least(&v, (2, 36)))
            == Some(true)
    };
    if gnu && (private || host_glibc_ok()) {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether `getconf GNU_LIBC_VERSION`'s answer ("glibc 2.36") is at least
/// `min`; `None` if it cannot be read.
fn glibc_at_least(answer: &str, min: (u32, u32)) -> Option<bool> {
    let version = answer.trim().strip_prefix("glibc ")?;
    let mut parts = version.split('.').map(|p| p.parse::<u32>().ok());
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    Some((major, minor) >= min)
}

/// With the WasmEdge engine built against a private libwasmedge prefix
/// (hosts whose glibc is too old for it, see docs/wasmedge.md), the
/// engine plugin needs that prefix's glibc, and a process can only have
/// one: hako itself must start on the prefix's loader. The plugin (not
/// hako) links libwasmedge, so LLVM is only loaded for WasmEdge
/// containers.
fn wasmedge_link_args() {
    println!("cargo:rerun-if-env-changed=HAKO_WASMEDGE_PREFIX");
    if std::env::var_os("CARGO_FEATURE_WASMEDGE").is_none() {
        return;
    }
    let Some(prefix) = std::env::var_os("HAKO_WASMEDGE_PREFIX").filter(|p| !p.is_empty()) else {
        return;
    };
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let (triplet, loader) = match arch.as_str() {
        "x86_64" => ("x86_64-linux-gnu", "ld-linux-x86-64.so.2"),
        "aarch64" => ("aarch64-linux-gnu", "ld-linux-aarch64.so.1"),
        other => panic!("HAKO_WASMEDGE_PREFIX is set but {other} has no private prefix layout"),
    };
    let libdir = std::path::Path::new(&prefix).join("usr/lib").join(triplet);
    println!(
        "cargo:rustc-link-arg-bins=-Wl,--dynamic-linker={}",
        libdir.join(loader).display()
    );
    println!("cargo:rustc-link-arg-bins=-Wl,-rpath,{}", libdir.display());
}
