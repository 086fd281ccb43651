//! The compiled-module cache: compile once, then load.
//!
//! Compiling a module is most of a wasm container's start. The runtime
//! hands the executor chain an [`ArtifactCache`] (container init asks
//! hako, outside the container, to read and write the cache directory,
//! which no container can reach), and [`compile`] drives an engine's
//! [`WasmEngine`] contract through it: engines never see the cache. Keys
//! are the engine's compatibility tag and the SHA-256 of the module: an
//! artifact is only ever used for the exact bytes it was compiled from,
//! by an engine built the same way.

use sha2::{Digest, Sha256};

use crate::error::ExecutorError;
use crate::wasm::{WasmEngine, WasmModule};

/// Where compiled artifacts are kept.
pub trait ArtifactCache {
    /// The artifact stored under `key`, if any.
    fn get(&self, key: &str) -> Option<Vec<u8>>;
    /// Stores an artifact (best effort).
    fn put(&self, key: &str, artifact: &[u8]);
    /// Releases what the cache holds (descriptors) before the guest runs;
    /// later calls miss.
    fn close(&self) {}
    /// A private scratch directory ([`crate::scratch`]) for an engine whose
    /// compiler works in files, as a descriptor of this process, if the
    /// cache has one.
    fn scratch_fd(&self) -> Option<std::os::fd::RawFd> {
        None
    }
}

/// The cache key of a module for an engine tag.
pub fn key(tag: &str, bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{tag}-{hex}")
}

/// Compiles `module` on `engine`, through `cache` when there is one.
///
/// Without a cache the engine compiles as usual ([`WasmEngine::compile`]).
/// With one, a stored artifact is loaded ([`WasmEngine::load`]); a miss,
/// or an artifact the engine refuses (a format change its tag does not
/// capture, a damaged file), is precompiled, stored (replacing the refused
/// one) and loaded. An engine that cannot precompile right now says so
/// with `Ok(None)` and compiles directly; an error of precompiling, or of
/// loading what it just produced, is returned as is.
pub fn compile<E: WasmEngine + ?Sized>(
    engine: &E,
    module: &WasmModule,
    cache: Option<&dyn ArtifactCache>,
) -> Result<E::Compiled, ExecutorError> {
    let Some(cache) = cache else {
        return engine.compile(module);
    };
    let key = key(&engine.cache_tag(module)?, &module.bytes);
    if let Some(artifact) = cache.get(&key) {
        // SAFETY: the artifact is stored under a key made of this engine's
        // tag, so precompile of an engine built the same way produced it;
        // only hako writes the cache, from outside every container.
        match unsafe { engine.load(module, &artifact) } {
            Ok(compiled) => {
                tracing::debug!(%key, "compiled module from the cache");
                return Ok(compiled);
            }
            Err(e) => tracing::debug!(%key, error = %e, "cached artifact refused, compiling"),
        }
    }
    let scratch = cache.scratch_fd().map(crate::scratch::path_of);
    let Some(artifact) = engine.precompile(module, scratch.as_deref())? else {
        return engine.compile(module);
    };
    cache.put(&key, &artifact);
    // SAFETY: precompile of this very engine just produced the artifact.
    unsafe { engine.load(module, &artifact) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_name_engine_and_content() {
        let a = key("wasmtime-1", b"\0asm\x01\0\0\0");
        assert!(a.starts_with("wasmtime-1-") && a.len() == "wasmtime-1-".len() + 64);
        assert_ne!(a, key("wasmtime-2", b"\0asm\x01\0\0\0"));
        assert_ne!(a, key("wasmtime-1", b"\0asm\x01\0\0\x01"));
    }
}
