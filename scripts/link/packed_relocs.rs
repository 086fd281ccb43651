// Packed relative relocations, for the build scripts of what the loader
// relocates when hako starts or loads an engine plugin: included
// (`include!`) by runtime/build.rs and the engine plugins' build scripts.
// Uses only std.

/// Links the crate's `targets` ("bins", or "cdylib" for an engine plugin)
/// with relative relocations packed (DT_RELR): the loader reads a bitmap
/// of 7-15 KB instead of a table of 24 bytes per pointer (270 KB for hako,
/// 1 MB for the wasmtime plugin, 1.2 MB for wasmer's) at every start, and
/// a process keeps none of it mapped. What is linked so needs glibc 2.36
/// or later at run time, so only where the glibc it will run on is at
/// least that: the build host's (hako's scripts make native builds only),
/// or a private WasmEdge prefix's (`private_glibc`, newer than any host
/// glibc it is used with, see docs/wasmedge.md).
fn pack_relative_relocs(targets: &str, private_glibc: bool) {
    let gnu = std::env::var("CARGO_CFG_TARGET_ENV").is_ok_and(|e| e == "gnu");
    let host_glibc_ok = || {
        std::process::Command::new("getconf")
            .arg("GNU_LIBC_VERSION")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|v| glibc_at_least(&v, (2, 36)))
            == Some(true)
    };
    if gnu && (private_glibc || host_glibc_ok()) {
        println!("cargo:rustc-link-arg-{targets}=-Wl,-z,pack-relative-relocs");
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
