//! A cache of compiled modules: compile once, then deserialize.
//!
//! Compiling a module is most of a wasm container's start. An engine that
//! can serialize its compiled code routes compilation through
//! [`compile`]; the runtime installs the process's [`ArtifactCache`]
//! (container init asks hako, outside the container, to read and write
//! the cache, which no container can reach). Keys are the engine's
//! compatibility tag and the SHA-256 of the module: an artifact is only
//! ever used for the exact bytes it was compiled from, by an engine built
//! the same way.

use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// Where compiled artifacts are kept.
pub trait ArtifactCache: Send + Sync {
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

static CACHE: OnceLock<Box<dyn ArtifactCache>> = OnceLock::new();

/// Installs the process's cache (once; later calls are ignored).
pub fn install(cache: Box<dyn ArtifactCache>) {
    let _ = CACHE.set(cache);
}

/// The installed cache, if any.
pub(crate) fn installed() -> Option<&'static dyn ArtifactCache> {
    CACHE.get().map(|cache| cache.as_ref())
}

/// The installed cache's scratch directory, as a path of this process.
pub fn scratch_dir() -> Option<std::path::PathBuf> {
    installed()
        .and_then(|cache| cache.scratch_fd())
        .map(crate::scratch::path_of)
}

/// Closes the installed cache, if any.
pub fn close() {
    if let Some(cache) = CACHE.get() {
        cache.close();
    }
}

/// The cache key of a module for an engine tag.
pub fn key(tag: &str, bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("{tag}-{hex}")
}

/// Compiles through the cache: a hit is loaded with `load`; a miss, or a
/// cached artifact `load` refuses (a format change the tag does not
/// capture, a damaged file), is compiled to an artifact with
/// `precompile`, stored (best effort, replacing the refused one), and
/// loaded. Only without a cache does `direct` compile as usual: with one,
/// an error of `precompile`, or of loading what it produced, is returned
/// as is and `direct` is not tried (an engine that has a fallback, such
/// as WasmEdge's interpreter, takes it itself).
///
/// `load` must only be given artifacts `precompile` of the same `tag`
/// produced: that is what makes an engine's unsafe deserialization sound.
pub fn compile<T, E>(
    tag: &str,
    bytes: &[u8],
    precompile: impl FnOnce() -> Result<Vec<u8>, E>,
    load: impl Fn(&[u8]) -> Result<T, E>,
    direct: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    let Some(cache) = CACHE.get() else {
        return direct();
    };
    let key = key(tag, bytes);
    if let Some(artifact) = cache.get(&key) {
        match load(&artifact) {
            Ok(t) => {
                tracing::debug!(%key, "compiled module from the cache");
                return Ok(t);
            }
            Err(_) => tracing::debug!(%key, "cached artifact refused, compiling"),
        }
    }
    let artifact = precompile()?;
    cache.put(&key, &artifact);
    load(&artifact)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::Mutex;

    #[test]
    fn keys_name_engine_and_content() {
        let a = key("wasmtime-1", b"\0asm\x01\0\0\0");
        assert!(a.starts_with("wasmtime-1-") && a.len() == "wasmtime-1-".len() + 64);
        assert_ne!(a, key("wasmtime-2", b"\0asm\x01\0\0\0"));
        assert_ne!(a, key("wasmtime-1", b"\0asm\x01\0\0\x01"));
    }

    /// A cache in memory, for this crate's tests.
    #[derive(Default)]
    pub(crate) struct Map(Mutex<HashMap<String, Vec<u8>>>);
    impl ArtifactCache for Map {
        fn get(&self, key: &str) -> Option<Vec<u8>> {
            self.0.lock().unwrap().get(key).cloned()
        }
        fn put(&self, key: &str, artifact: &[u8]) {
            self.0.lock().unwrap().insert(key.into(), artifact.to_vec());
        }
    }

    #[test]
    fn compile_once_then_load() {
        install(Box::<Map>::default());
        let compiles = std::cell::Cell::new(0);
        let run = || {
            compile::<String, String>(
                "t",
                b"module",
                || {
                    compiles.set(compiles.get() + 1);
                    Ok(b"artifact".to_vec())
                },
                |a| Ok(String::from_utf8(a.to_vec()).unwrap()),
                || Err("direct must not be used with a cache".into()),
            )
        };
        assert_eq!(run().unwrap(), "artifact");
        assert_eq!(run().unwrap(), "artifact");
        assert_eq!(compiles.get(), 1, "compiled once");
        // A refused artifact is compiled again.
        let again = compile::<String, String>(
            "t",
            b"module",
            || Ok(b"fresh".to_vec()),
            |a| {
                if a == b"artifact" {
                    Err("stale".into())
                } else {
                    Ok("fresh".into())
                }
            },
            || Err("no".into()),
        );
        assert_eq!(again.unwrap(), "fresh");
    }
}
