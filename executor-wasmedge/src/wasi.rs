//! The WASI preview 1 environment of a guest, from hako's [`WasiConfig`].

use std::path::Path;

use hako_executors::wasm::{Preopen, WasiConfig};
use hako_executors::ExecutorError;
use wasmedge_sdk::wasi::WasiModule;

use crate::errors;

/// Creates WasmEdge's `wasi_snapshot_preview1` module for a guest.
///
/// WasmEdge's C API takes `args[0]` as the program name and the rest as
/// arguments, so the guest sees exactly `wasi.args`. The environment is
/// exactly `wasi.env`. Stdio is the process's fds 0, 1 and 2.
pub(crate) fn module(path: &Path, wasi: &WasiConfig) -> Result<WasiModule, ExecutorError> {
    // wasmedge-sys panics on a NUL byte. `prepare_guest` refused them
    // already (`WasiConfig::check`, with every preopen that is no
    // directory, which WasmEdge would skip with only a log line); this
    // engine's `instantiate` is public, so it refuses them itself too.
    wasi.check_nul()?;
    let env: Vec<String> = wasi.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let preopens = wasi
        .preopens
        .iter()
        .map(|p| preopen(path, p))
        .collect::<Result<Vec<_>, _>>()?;
    WasiModule::create(
        Some(wasi.args.iter().map(String::as_str).collect()),
        Some(env.iter().map(String::as_str).collect()),
        Some(preopens.iter().map(String::as_str).collect()),
    )
    .map_err(|e| errors::compile(path, format_args!("setting up wasi: {e}")))
}

/// The `guest:host[:readonly]` string WasmEdge parses.
///
/// WasmEdge splits at the first `:` and again at the next, which would
/// silently give the guest a different filesystem, so a `:` is an error.
fn preopen(path: &Path, p: &Preopen) -> Result<String, ExecutorError> {
    let host = p.host.to_str().ok_or_else(|| {
        errors::compile(
            path,
            format_args!("preopen {}: host path is not utf-8", p.host.display()),
        )
    })?;
    if p.guest.contains(':') || host.contains(':') || host.contains('\0') {
        return Err(errors::compile(
            path,
            format_args!(
                "preopen {} -> {host}: wasmedge cannot preopen a path containing ':'",
                p.guest
            ),
        ));
    }
    let mode = if p.readonly { ":readonly" } else { "" };
    Ok(format!("{}:{host}{mode}", p.guest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preopen_strings() {
        let dir = tempfile::tempdir().unwrap();
        let host = dir.path().to_str().unwrap();
        let p = |guest: &str, readonly| Preopen {
            host: dir.path().into(),
            guest: guest.into(),
            readonly,
        };
        let m = Path::new("/m.wasm");
        assert_eq!(preopen(m, &p("/", false)).unwrap(), format!("/:{host}"));
        assert_eq!(
            preopen(m, &p(".", true)).unwrap(),
            format!(".:{host}:readonly")
        );
        let colon = Preopen {
            host: "/a:b".into(),
            ..p("/", false)
        };
        let err = preopen(m, &colon).unwrap_err().to_string();
        assert!(err.contains("':'"), "{err}");
    }
}
