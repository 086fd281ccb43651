//! The compiled-module cache, lent across the plugin boundary.
//!
//! A plugin links its own copy of this crate, and no Rust trait object
//! crosses a C ABI. For the length of one `prepare` call the host lends
//! the plugin its [`ArtifactCache`] as a [`CacheAbi`]: a context pointer
//! and three C functions over it; an artifact found crosses as a
//! descriptor. The plugin wraps that in a [`Bridge`], an `ArtifactCache`
//! of its copy of the crate, and compiles through it like any other
//! engine, with the same keys and the same trust rules.

use std::ffi::{c_int, c_void};
use std::os::fd::{FromRawFd, IntoRawFd};

use crate::cache::ArtifactCache;

/// The host's cache as a context and three C functions over it.
#[repr(C)]
pub struct CacheAbi {
    /// The host's cache (a `*const &dyn ArtifactCache`), valid while the
    /// `prepare` call it was lent to lasts.
    pub ctx: *const c_void,
    /// Looks `key` up: on a hit, a descriptor of the artifact, open for
    /// reading, that the caller owns; else -1.
    pub get: unsafe extern "C" fn(ctx: *const c_void, key: *const u8, key_len: usize) -> c_int,
    /// Stores `artifact` under `key` (best effort).
    pub put: unsafe extern "C" fn(
        ctx: *const c_void,
        key: *const u8,
        key_len: usize,
        artifact: *const u8,
        len: usize,
    ),
    /// The cache's scratch directory descriptor, or -1.
    pub scratch_fd: unsafe extern "C" fn(ctx: *const c_void) -> c_int,
}

impl CacheAbi {
    /// Lends `cache`: the result is only valid while `cache` is borrowed.
    pub(crate) fn lend(cache: &&dyn ArtifactCache) -> CacheAbi {
        CacheAbi {
            ctx: (cache as *const &dyn ArtifactCache).cast(),
            get: host_get,
            put: host_put,
            scratch_fd: host_scratch_fd,
        }
    }
}

/// The cache behind a lent context.
///
/// # Safety
/// `ctx` must be the `ctx` of a [`CacheAbi::lend`] whose borrow is live.
unsafe fn cache_of<'a>(ctx: *const c_void) -> &'a dyn ArtifactCache {
    // SAFETY: per the contract, ctx points to a live `&dyn ArtifactCache`.
    unsafe { *ctx.cast::<&dyn ArtifactCache>() }
}

/// # Safety
/// `ctx` as for [`cache_of`]; `key` valid for `key_len` bytes.
unsafe extern "C" fn host_get(ctx: *const c_void, key: *const u8, key_len: usize) -> c_int {
    // SAFETY: the plugin passes the lent context and a valid key buffer.
    let (cache, key) = unsafe { (cache_of(ctx), std::slice::from_raw_parts(key, key_len)) };
    std::str::from_utf8(key)
        .ok()
        .and_then(|key| cache.open(key))
        .map_or(-1, IntoRawFd::into_raw_fd)
}

/// # Safety
/// `ctx` as for [`cache_of`]; `key` and `artifact` valid for their lengths.
unsafe extern "C" fn host_put(
    ctx: *const c_void,
    key: *const u8,
    key_len: usize,
    artifact: *const u8,
    len: usize,
) {
    // SAFETY: the plugin passes the lent context and valid buffers.
    let (cache, key, artifact) = unsafe {
        (
            cache_of(ctx),
            std::slice::from_raw_parts(key, key_len),
            std::slice::from_raw_parts(artifact, len),
        )
    };
    if let Ok(key) = std::str::from_utf8(key) {
        cache.put(key, artifact);
    }
}

/// # Safety
/// `ctx` as for [`cache_of`].
unsafe extern "C" fn host_scratch_fd(ctx: *const c_void) -> c_int {
    // SAFETY: the plugin passes the lent context.
    unsafe { cache_of(ctx) }.scratch_fd().unwrap_or(-1)
}

/// The plugin's side: an [`ArtifactCache`] that is the host's, for the
/// length of the `prepare` call that received `CacheAbi`.
pub(crate) struct Bridge<'a>(pub(crate) &'a CacheAbi);

impl ArtifactCache for Bridge<'_> {
    fn open(&self, key: &str) -> Option<std::fs::File> {
        // SAFETY: the context is lent for this call; the key buffer is
        // live.
        let fd = unsafe { (self.0.get)(self.0.ctx, key.as_ptr(), key.len()) };
        // SAFETY: a descriptor of the host's, handed over to this side.
        (fd >= 0).then(|| unsafe { std::fs::File::from_raw_fd(fd) })
    }

    fn put(&self, key: &str, artifact: &[u8]) {
        // SAFETY: the context is lent; both buffers are live for the call.
        unsafe {
            (self.0.put)(
                self.0.ctx,
                key.as_ptr(),
                key.len(),
                artifact.as_ptr(),
                artifact.len(),
            )
        }
    }

    fn scratch_fd(&self) -> Option<std::os::fd::RawFd> {
        // SAFETY: the context is lent for this call.
        let fd = unsafe { (self.0.scratch_fd)(self.0.ctx) };
        (fd >= 0).then_some(fd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashMap;

    #[derive(Default)]
    struct Map(RefCell<HashMap<String, Vec<u8>>>);
    impl ArtifactCache for Map {
        fn open(&self, key: &str) -> Option<std::fs::File> {
            Some(crate::artifact::file_of(self.0.borrow().get(key)?).unwrap())
        }
        fn put(&self, key: &str, artifact: &[u8]) {
            self.0.borrow_mut().insert(key.into(), artifact.to_vec());
        }
        fn scratch_fd(&self) -> Option<std::os::fd::RawFd> {
            Some(42)
        }
    }

    #[test]
    fn the_bridge_reaches_the_hosts_cache() {
        let map = Map::default();
        let cache: &dyn ArtifactCache = &map;
        let abi = CacheAbi::lend(&cache);
        let bridge = Bridge(&abi);
        let read = |file: std::fs::File| std::io::read_to_string(file).unwrap();
        assert!(bridge.open("k").is_none());
        bridge.put("k", b"artifact");
        assert_eq!(bridge.open("k").map(read).as_deref(), Some("artifact"));
        assert_eq!(map.0.borrow()["k"], b"artifact");
        assert_eq!(bridge.scratch_fd(), Some(42));
    }
}
