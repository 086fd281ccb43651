//! A module cache in memory, and an engine wrapper that counts what the
//! cache made it do.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::os::fd::{AsRawFd, RawFd};
use std::path::Path;

use crate::cache::ArtifactCache;
use crate::error::ExecutorError;
use crate::executor::Prepared;
use crate::wasm::{WasiConfig, WasmEngine, WasmModule};

/// Artifacts in a map, with counts of lookups, hits and stores, and a
/// scratch directory (a plain temporary one) for compilers that need it.
pub struct MemoryCache {
    map: RefCell<HashMap<String, Vec<u8>>>,
    /// Lookups so far.
    pub gets: Cell<usize>,
    /// Lookups that found an artifact.
    pub hits: Cell<usize>,
    /// Artifacts stored.
    pub puts: Cell<usize>,
    scratch: (tempfile::TempDir, std::fs::File),
}

impl Default for MemoryCache {
    fn default() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let handle = std::fs::File::open(dir.path()).unwrap();
        MemoryCache {
            map: RefCell::default(),
            gets: Cell::new(0),
            hits: Cell::new(0),
            puts: Cell::new(0),
            scratch: (dir, handle),
        }
    }
}

impl MemoryCache {
    /// The stored artifacts, by key.
    pub fn keys(&self) -> Vec<String> {
        self.map.borrow().keys().cloned().collect()
    }

    /// Replaces every stored artifact with `bytes` (a damaged cache).
    pub fn damage(&self, bytes: &[u8]) {
        for artifact in self.map.borrow_mut().values_mut() {
            *artifact = bytes.to_vec();
        }
    }
}

impl ArtifactCache for MemoryCache {
    fn open(&self, key: &str) -> Option<std::fs::File> {
        self.gets.set(self.gets.get() + 1);
        let map = self.map.borrow();
        let found = map.get(key)?;
        self.hits.set(self.hits.get() + 1);
        crate::artifact::file_of(found).ok()
    }

    fn put(&self, key: &str, artifact: &[u8]) {
        self.puts.set(self.puts.get() + 1);
        self.map.borrow_mut().insert(key.into(), artifact.to_vec());
    }

    fn scratch_fd(&self) -> Option<RawFd> {
        Some(self.scratch.1.as_raw_fd())
    }
}

/// An engine that counts the calls of the compile contract it forwards.
#[derive(Default)]
pub struct Counting<E> {
    inner: E,
    /// Calls of [`WasmEngine::compile`].
    pub compiles: Cell<usize>,
    /// Calls of [`WasmEngine::precompile`] that gave an artifact.
    pub precompiles: Cell<usize>,
    /// Calls of [`WasmEngine::load`] that succeeded.
    pub loads: Cell<usize>,
}

fn bump(c: &Cell<usize>) {
    c.set(c.get() + 1);
}

impl<E: WasmEngine> WasmEngine for Counting<E> {
    type Compiled = E::Compiled;

    fn kind(&self) -> crate::EngineKind {
        self.inner.kind()
    }

    fn runs_components(&self) -> bool {
        self.inner.runs_components()
    }

    fn cache_tag(&self, module: &WasmModule) -> Result<String, ExecutorError> {
        self.inner.cache_tag(module)
    }

    fn precompile(
        &self,
        module: &WasmModule,
        scratch: Option<&Path>,
    ) -> Result<Option<Vec<u8>>, ExecutorError> {
        let artifact = self.inner.precompile(module, scratch)?;
        if artifact.is_some() {
            bump(&self.precompiles);
        }
        Ok(artifact)
    }

    unsafe fn load(
        &self,
        module: &WasmModule,
        artifact: &[u8],
    ) -> Result<Self::Compiled, ExecutorError> {
        // SAFETY: forwards the caller's guarantee unchanged.
        let compiled = unsafe { self.inner.load(module, artifact) }?;
        bump(&self.loads);
        Ok(compiled)
    }

    fn compile(&self, module: &WasmModule) -> Result<Self::Compiled, ExecutorError> {
        bump(&self.compiles);
        self.inner.compile(module)
    }

    fn instantiate(
        &self,
        module: WasmModule,
        compiled: Self::Compiled,
        wasi: WasiConfig,
    ) -> Result<Box<dyn Prepared>, ExecutorError> {
        self.inner.instantiate(module, compiled, wasi)
    }
}
