//! The compiled-module cache, lent across the plugin boundary.
//!
//! A plugin links its own copy of this crate, so the cache the runtime
//! installed (`crate::cache`) is not the plugin's. The host hands the
//! plugin a [`CacheAbi`] of two C functions over its own cache, and the
//! plugin installs a [`Bridge`] to them in its copy: an engine in a plugin
//! then compiles through [`crate::cache::compile`] like any other, with
//! the same keys and the same trust rules.

use std::ffi::{c_int, c_void};

/// Called by [`CacheAbi::get`] with the artifact it found.
pub type Sink = unsafe extern "C" fn(sink: *mut c_void, artifact: *const u8, len: usize);

/// The host's cache as two C functions.
#[repr(C)]
pub struct CacheAbi {
    /// Looks `key` up; on a hit calls `found(sink, artifact, len)` once and
    /// returns true.
    pub get: unsafe extern "C" fn(
        key: *const u8,
        key_len: usize,
        sink: *mut c_void,
        found: Sink,
    ) -> bool,
    /// Stores `artifact` under `key` (best effort).
    pub put: unsafe extern "C" fn(key: *const u8, key_len: usize, artifact: *const u8, len: usize),
    /// The cache's scratch directory descriptor, or -1.
    pub scratch_fd: unsafe extern "C" fn() -> c_int,
}

/// The host's [`CacheAbi`], if the runtime installed a cache.
pub(crate) fn host() -> Option<&'static CacheAbi> {
    static ABI: CacheAbi = CacheAbi {
        get: host_get,
        put: host_put,
        scratch_fd: host_scratch_fd,
    };
    crate::cache::installed().map(|_| &ABI)
}

/// # Safety
/// `key` must be valid for `key_len` bytes; `found` must accept `sink`.
unsafe extern "C" fn host_get(
    key: *const u8,
    key_len: usize,
    sink: *mut c_void,
    found: Sink,
) -> bool {
    // SAFETY: the plugin passes a valid key buffer.
    let key = unsafe { std::slice::from_raw_parts(key, key_len) };
    let Ok(key) = std::str::from_utf8(key) else {
        return false;
    };
    match crate::cache::installed().and_then(|cache| cache.get(key)) {
        Some(artifact) => {
            // SAFETY: the plugin's sink copies the bytes before returning.
            unsafe { found(sink, artifact.as_ptr(), artifact.len()) };
            true
        }
        None => false,
    }
}

/// # Safety
/// `key` and `artifact` must be valid for their lengths.
unsafe extern "C" fn host_put(key: *const u8, key_len: usize, artifact: *const u8, len: usize) {
    // SAFETY: the plugin passes valid buffers.
    let (key, artifact) = unsafe {
        (
            std::slice::from_raw_parts(key, key_len),
            std::slice::from_raw_parts(artifact, len),
        )
    };
    if let (Ok(key), Some(cache)) = (std::str::from_utf8(key), crate::cache::installed()) {
        cache.put(key, artifact);
    }
}

unsafe extern "C" fn host_scratch_fd() -> c_int {
    crate::cache::installed()
        .and_then(|cache| cache.scratch_fd())
        .unwrap_or(-1)
}

/// The plugin's side: an [`ArtifactCache`](crate::cache::ArtifactCache)
/// that is the host's.
pub(crate) struct Bridge(pub(crate) &'static CacheAbi);

impl crate::cache::ArtifactCache for Bridge {
    fn get(&self, key: &str) -> Option<Vec<u8>> {
        unsafe extern "C" fn copy(sink: *mut c_void, artifact: *const u8, len: usize) {
            // SAFETY: `sink` is the Vec below, and the host's artifact is
            // valid for `len` bytes during this call.
            unsafe {
                let out = &mut *sink.cast::<Vec<u8>>();
                out.extend_from_slice(std::slice::from_raw_parts(artifact, len));
            }
        }
        let mut out = Vec::new();
        // SAFETY: the key buffer is live; `copy` matches the sink it gets.
        let hit = unsafe {
            (self.0.get)(
                key.as_ptr(),
                key.len(),
                (&mut out as *mut Vec<u8>).cast(),
                copy,
            )
        };
        hit.then_some(out)
    }

    fn put(&self, key: &str, artifact: &[u8]) {
        // SAFETY: both buffers are live for the call.
        unsafe { (self.0.put)(key.as_ptr(), key.len(), artifact.as_ptr(), artifact.len()) }
    }

    fn scratch_fd(&self) -> Option<std::os::fd::RawFd> {
        // SAFETY: takes nothing; the host answers from its own cache.
        let fd = unsafe { (self.0.scratch_fd)() };
        (fd >= 0).then_some(fd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::ArtifactCache;

    #[test]
    fn the_bridge_reaches_the_hosts_cache() {
        crate::cache::install(Box::<crate::cache::tests::Map>::default());
        let bridge = Bridge(host().expect("a cache is installed"));
        assert_eq!(bridge.get("k"), None);
        bridge.put("k", b"artifact");
        assert_eq!(bridge.get("k").as_deref(), Some(&b"artifact"[..]));
        assert_eq!(
            crate::cache::installed().unwrap().get("k").as_deref(),
            Some(&b"artifact"[..])
        );
    }
}
