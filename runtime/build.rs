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
    // On a private WasmEdge prefix, its glibc is the one hako runs on.
    let private_glibc = wasmedge_link_args();
    pack_relative_relocs("bins", private_glibc);
    text_layout("bins");
}

// Shared with the engine plugins' build scripts.
include!("../scripts/link/packed_relocs.rs");
include!("../scripts/text-layout/linker.rs");

/// With the WasmEdge engine built against a private libwasmedge prefix
/// (hosts whose glibc is too old for it, see docs/wasmedge.md), the
/// engine plugin needs that prefix's glibc, and a process can only have
/// one: hako itself must start on the prefix's loader. The plugin (not
/// hako) links libwasmedge, so LLVM is only loaded for WasmEdge
/// containers. Returns whether hako starts on such a prefix.
fn wasmedge_link_args() -> bool {
    println!("cargo:rerun-if-env-changed=HAKO_WASMEDGE_PREFIX");
    if std::env::var_os("CARGO_FEATURE_WASMEDGE").is_none() {
        return false;
    }
    let Some(prefix) = std::env::var_os("HAKO_WASMEDGE_PREFIX").filter(|p| !p.is_empty()) else {
        return false;
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
    true
}
