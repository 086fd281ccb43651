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
}

/// With the WasmEdge engine linked against a private libwasmedge prefix
/// (hosts whose glibc is too old for it, see docs/wasmedge.md), every
/// binary of this crate must start on that prefix's loader. The prefix is
/// published by hako-executor-wasmedge's build script.
fn wasmedge_link_args() {
    println!("cargo:rerun-if-env-changed=HAKO_WASMEDGE_PREFIX");
    if let (Ok(libdir), Ok(loader)) = (
        std::env::var("DEP_HAKO_WASMEDGE_LIBDIR"),
        std::env::var("DEP_HAKO_WASMEDGE_LOADER"),
    ) {
        println!("cargo:rustc-link-arg=-Wl,--dynamic-linker={loader}");
        println!("cargo:rustc-link-arg=-Wl,-rpath,{libdir}");
        println!("cargo:rustc-link-arg=-Wl,--allow-shlib-undefined");
    }
}
