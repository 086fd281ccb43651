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
    text_layout("bins");
}

// `text_layout`: shared with the engine plugins' build scripts.
include!("../scripts/text-layout/linker.rs");

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
