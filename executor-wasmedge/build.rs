//! Links against a private libwasmedge prefix when one is in use.
//!
//! On hosts whose glibc is older than the one libwasmedge was built for
//! (Debian 12), `scripts/install-wasmedge.sh` unpacks Debian trixie's
//! libwasmedge together with trixie's glibc and libstdc++ into a private
//! prefix, and `scripts/wasmedge-env.sh` exports `HAKO_WASMEDGE_PREFIX`.
//! Binaries that link libwasmedge must then start on that prefix's dynamic
//! loader and find its libraries first. This script
//!
//! * adds those link arguments to this crate's own test binaries and the
//!   plugin, and
//! * publishes the prefix (`links = "hako-wasmedge"`) as
//!   `DEP_HAKO_WASMEDGE_PREFIX`, `_LIBDIR` and `_LOADER` to crates that
//!   depend on this one. hako does not (it loads the plugin at run time):
//!   `runtime/build.rs` reads `HAKO_WASMEDGE_PREFIX` itself and gives the
//!   `hako` binary the prefix's loader.
//!
//! Without `HAKO_WASMEDGE_PREFIX` it emits none of those: the system's
//! libwasmedge is linked the ordinary way.
//!
//! Either way the plugin is linked with packed relative relocations where
//! the glibc it runs on has them.

use std::path::{Path, PathBuf};

include!("../scripts/link/packed_relocs.rs");

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-env-changed=HAKO_WASMEDGE_PREFIX");
    let prefix = std::env::var_os("HAKO_WASMEDGE_PREFIX").filter(|p| !p.is_empty());
    pack_relative_relocs("cdylib", prefix.is_some());
    let Some(prefix) = prefix else {
        return;
    };
    let prefix = PathBuf::from(prefix);
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let (triplet, loader) = match arch.as_str() {
        "x86_64" => ("x86_64-linux-gnu", "ld-linux-x86-64.so.2"),
        "aarch64" => ("aarch64-linux-gnu", "ld-linux-aarch64.so.1"),
        other => fail(&format!(
            "HAKO_WASMEDGE_PREFIX is set but target architecture {other:?} has no private prefix layout"
        )),
    };
    let libdir = prefix.join("usr/lib").join(triplet);
    let loader = libdir.join(loader);
    for needed in [&loader, &libdir.join("libwasmedge.so.0")] {
        if !needed.exists() {
            fail(&format!(
                "HAKO_WASMEDGE_PREFIX={} lacks {}: run scripts/install-wasmedge.sh",
                prefix.display(),
                needed.display()
            ));
        }
    }
    for arg in link_args(&libdir, &loader) {
        println!("cargo::rustc-link-arg={arg}");
    }
    println!("cargo::rerun-if-changed={}", loader.display());
    println!("cargo::metadata=prefix={}", prefix.display());
    println!("cargo::metadata=libdir={}", libdir.display());
    println!("cargo::metadata=loader={}", loader.display());
}

/// Start on the prefix's loader, search the prefix first, and accept that
/// the prefix's libraries need symbols newer than the host's glibc has.
fn link_args(libdir: &Path, loader: &Path) -> [String; 3] {
    [
        format!("-Wl,--dynamic-linker={}", loader.display()),
        format!("-Wl,-rpath,{}", libdir.display()),
        "-Wl,--allow-shlib-undefined".to_string(),
    ]
}

fn fail(message: &str) -> ! {
    eprintln!("hako-executor-wasmedge: {message}");
    std::process::exit(1);
}
