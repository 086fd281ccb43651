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

use crate::artifact::Artifact;
use crate::error::ExecutorError;
use crate::wasm::{WasmEngine, WasmModule};

/// Where compiled artifacts are kept.
pub trait ArtifactCache {
    /// The artifact stored under `key`, if any, as a file open for
    /// reading (mapped by [`compile`], see [`crate::artifact`]).
    fn open(&self, key: &str) -> Option<std::fs::File>;
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
/// capture, a damaged file), is precompiled, loaded, and stored only once
/// it loaded (replacing the refused one). An engine that cannot
/// precompile right now says so with `Ok(None)`, and a fresh artifact that
/// does not load is dropped: both compile directly, as without a cache.
/// An error of precompiling (an invalid module) is returned as is.
pub fn compile<E: WasmEngine + ?Sized>(
    engine: &E,
    module: &WasmModule,
    cache: Option<&dyn ArtifactCache>,
) -> Result<E::Compiled, ExecutorError> {
    let Some(cache) = cache else {
        return engine.compile(module);
    };
    let key = key(&engine.cache_tag(module)?, &module.bytes);
    let stored = cache.open(&key).and_then(|file| {
        Artifact::map(&file)
            .inspect_err(|e| tracing::debug!(%key, error = %e, "cached artifact not mapped"))
            .ok()
    });
    if let Some(artifact) = stored {
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
    // SAFETY: precompile of this very engine just produced the artifact.
    match unsafe { engine.load(module, &artifact) } {
        Ok(compiled) => {
            cache.put(&key, &artifact);
            Ok(compiled)
        }
        Err(e) => {
            tracing::debug!(%key, error = %e, "fresh artifact refused, compiling without the cache");
            engine.compile(module)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::executor::Prepared;
    use crate::wasm::WasiConfig;
    use crate::workload::EngineKind;
    use std::cell::{Cell, RefCell};
    use std::collections::HashMap;

    /// An engine whose "compiled module" says how it was made; what its
    /// precompile and load do is set per test.
    #[derive(Default)]
    struct Fake {
        /// precompile gives no artifact (Ok(None)).
        cannot_precompile: bool,
        /// precompile fails (an invalid module).
        invalid: bool,
        /// load refuses every artifact.
        refuses: bool,
        calls: RefCell<Vec<&'static str>>,
    }

    impl WasmEngine for Fake {
        type Compiled = &'static str;
        fn kind(&self) -> EngineKind {
            EngineKind::Wasmtime
        }
        fn cache_tag(&self, _: &WasmModule) -> Result<String, ExecutorError> {
            Ok("fake".into())
        }
        fn precompile(
            &self,
            _: &WasmModule,
            _: Option<&std::path::Path>,
        ) -> Result<Option<Vec<u8>>, ExecutorError> {
            self.calls.borrow_mut().push("precompile");
            if self.invalid {
                return Err(ExecutorError::Trap("invalid".into()));
            }
            Ok((!self.cannot_precompile).then(|| b"artifact".to_vec()))
        }
        unsafe fn load(&self, _: &WasmModule, a: &[u8]) -> Result<&'static str, ExecutorError> {
            self.calls.borrow_mut().push("load");
            match (self.refuses, a) {
                (false, b"artifact") => Ok("loaded"),
                _ => Err(ExecutorError::Trap("refused".into())),
            }
        }
        fn compile(&self, _: &WasmModule) -> Result<&'static str, ExecutorError> {
            self.calls.borrow_mut().push("compile");
            Ok("compiled")
        }
        fn instantiate(
            &self,
            _: WasmModule,
            _: &'static str,
            _: WasiConfig,
        ) -> Result<Box<dyn Prepared>, ExecutorError> {
            unreachable!("not used")
        }
    }

    #[derive(Default)]
    struct Map {
        map: RefCell<HashMap<String, Vec<u8>>>,
        puts: Cell<usize>,
    }
    impl ArtifactCache for Map {
        fn open(&self, key: &str) -> Option<std::fs::File> {
            Some(crate::artifact::file_of(self.map.borrow().get(key)?).unwrap())
        }
        fn put(&self, key: &str, artifact: &[u8]) {
            self.puts.set(self.puts.get() + 1);
            self.map.borrow_mut().insert(key.into(), artifact.to_vec());
        }
    }

    fn module() -> WasmModule {
        WasmModule {
            path: "/m.wasm".into(),
            bytes: b"\0asm\x01\0\0\0".to_vec(),
            component: false,
        }
    }

    #[test]
    fn without_a_cache_the_engine_compiles() {
        let engine = Fake::default();
        assert_eq!(compile(&engine, &module(), None).unwrap(), "compiled");
        assert_eq!(*engine.calls.borrow(), ["compile"]);
    }

    #[test]
    fn a_miss_precompiles_loads_and_stores_then_a_hit_only_loads() {
        let (engine, cache) = (Fake::default(), Map::default());
        assert_eq!(compile(&engine, &module(), Some(&cache)).unwrap(), "loaded");
        assert_eq!(compile(&engine, &module(), Some(&cache)).unwrap(), "loaded");
        assert_eq!(*engine.calls.borrow(), ["precompile", "load", "load"]);
        assert_eq!(cache.puts.get(), 1);
        // A damaged artifact is refused, compiled again and replaced.
        cache
            .map
            .borrow_mut()
            .values_mut()
            .for_each(|a| *a = b"junk".to_vec());
        assert_eq!(compile(&engine, &module(), Some(&cache)).unwrap(), "loaded");
        assert_eq!(cache.puts.get(), 2);
        assert_eq!(
            cache.map.borrow()[&key("fake", &module().bytes)],
            b"artifact"
        );
    }

    #[test]
    fn no_artifact_or_a_fresh_one_refused_compiles_and_stores_nothing() {
        let cache = Map::default();
        let engine = Fake {
            cannot_precompile: true,
            ..Fake::default()
        };
        assert_eq!(
            compile(&engine, &module(), Some(&cache)).unwrap(),
            "compiled"
        );
        assert_eq!(*engine.calls.borrow(), ["precompile", "compile"]);
        let engine = Fake {
            refuses: true,
            ..Fake::default()
        };
        assert_eq!(
            compile(&engine, &module(), Some(&cache)).unwrap(),
            "compiled"
        );
        assert_eq!(*engine.calls.borrow(), ["precompile", "load", "compile"]);
        assert_eq!(
            cache.puts.get(),
            0,
            "an artifact that does not load is not kept"
        );
    }

    #[test]
    fn an_invalid_module_is_an_error_not_a_fallback() {
        let (cache, engine) = (
            Map::default(),
            Fake {
                invalid: true,
                ..Fake::default()
            },
        );
        assert!(compile(&engine, &module(), Some(&cache)).is_err());
        assert_eq!(*engine.calls.borrow(), ["precompile"]);
    }

    #[test]
    fn keys_name_engine_and_content() {
        let a = key("wasmtime-1", b"\0asm\x01\0\0\0");
        assert!(a.starts_with("wasmtime-1-") && a.len() == "wasmtime-1-".len() + 64);
        assert_ne!(a, key("wasmtime-2", b"\0asm\x01\0\0\0"));
        assert_ne!(a, key("wasmtime-1", b"\0asm\x01\0\0\x01"));
    }
}
