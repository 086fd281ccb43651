//! The compiled-module cache, kept by hako outside the container.
//!
//! Container init of a wasm container asks hako for a module's artifact
//! (`CacheGet`) and gets a read-only descriptor of the file; on a miss, or
//! when the engine refuses what it got, it compiles and hands the new
//! artifact to hako (`CachePut`, in a memfd), which writes it atomically
//! in place of any old one. hako answers while `create` waits for init to
//! be ready; `exec` has no cache. Only hako writes the directory (made
//! 0700, outside every container); keys are engine tags and content
//! hashes (`hako_executors::cache`).

use std::io::{Read, Seek, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use hako_executors::cache::ArtifactCache;
use hako_executors::scratch::Scratch;

use super::channel::{ChildEnd, HakoEnd, ToChild, ToHako};
use crate::error::{Context, Result};

/// Where the cache lives: `HAKO_MODULE_CACHE` (`off` or empty disables
/// it), else /var/cache/hako/modules, or rootless
/// `$XDG_CACHE_HOME/hako/modules` (~/.cache/hako/modules without it).
pub fn default_dir(rootless: bool) -> Option<PathBuf> {
    match std::env::var_os("HAKO_MODULE_CACHE") {
        Some(v) if v == "off" || v.is_empty() => return None,
        Some(v) => return Some(PathBuf::from(v)),
        None => {}
    }
    if !rootless {
        return Some(PathBuf::from("/var/cache/hako/modules"));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("hako/modules"))
}

/// Whether a key names a file in the cache directory and nothing else.
pub fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 200
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// hako's side: answers a `CacheGet`.
pub fn serve_get(dir: Option<&Path>, key: &str, channel: &HakoEnd) -> Result<()> {
    // Never through a link, and only a regular file.
    let file = dir
        .filter(|_| valid_key(key))
        .and_then(|d| {
            std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW)
                .open(d.join(key))
                .ok()
        })
        .filter(|f| f.metadata().is_ok_and(|m| m.is_file()));
    match file {
        Some(f) => {
            tracing::debug!("module cache hit for {key}");
            channel.send_fd(&ToChild::CacheHit, f.as_raw_fd())
        }
        None => {
            tracing::debug!("module cache miss for {key}");
            channel.send(&ToChild::CacheMiss)
        }
    }
}

/// hako's side: stores a `CachePut` (best effort: a cache that cannot be
/// written only costs speed).
pub fn serve_put(dir: Option<&Path>, key: &str, artifact: OwnedFd) {
    let Some(dir) = dir.filter(|_| valid_key(key)) else {
        return;
    };
    let store = || -> Result<()> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .ctx(|| format!("creating module cache {}", dir.display()))?;
        let mut f = std::fs::File::from(artifact);
        f.rewind().ctx(|| "reading a compiled module".into())?;
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes)
            .ctx(|| "reading a compiled module".into())?;
        crate::state::write_durable(&dir.join(key), &bytes, 0o600)
    };
    if let Err(e) = store() {
        tracing::warn!("module cache: {e}");
    }
}

/// Init's side: the cache, through hako.
pub struct ChannelCache {
    channel: Mutex<Option<ChildEnd>>,
    /// Where a compiler that works in files builds an artifact; made now,
    /// while init may still mount (see `hako_executors::scratch`).
    scratch: Mutex<Option<Scratch>>,
}

impl ChannelCache {
    /// A cache that talks to hako over (a duplicate of) `channel`, with a
    /// scratch directory if `scratch` (none, with a debug line, if the
    /// tmpfs cannot be made).
    pub fn new(channel: &ChildEnd, scratch: bool) -> Result<ChannelCache> {
        let scratch = scratch
            .then(|| {
                Scratch::new()
                    .inspect_err(|e| {
                        tracing::debug!("module cache without a scratch directory: {e}")
                    })
                    .ok()
            })
            .flatten();
        Ok(ChannelCache {
            channel: Mutex::new(Some(channel.try_clone()?)),
            scratch: Mutex::new(scratch),
        })
    }
}

impl ArtifactCache for ChannelCache {
    fn open(&self, key: &str) -> Option<std::fs::File> {
        let guard = self.channel.lock().ok()?;
        let channel = guard.as_ref()?;
        channel.send(&ToHako::CacheGet(key.into())).ok()?;
        match channel.recv_fd().ok()? {
            Some((ToChild::CacheHit, Some(fd))) => Some(std::fs::File::from(fd)),
            _ => None,
        }
    }

    fn put(&self, key: &str, artifact: &[u8]) {
        let Ok(guard) = self.channel.lock() else {
            return;
        };
        let Some(channel) = guard.as_ref() else {
            return;
        };
        let Ok(fd) =
            nix::sys::memfd::memfd_create("hako-module", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
        else {
            return;
        };
        let mut f = std::fs::File::from(fd);
        if f.write_all(artifact).is_err() {
            return;
        }
        let _ = channel.send_fd(&ToHako::CachePut(key.into()), f.as_fd().as_raw_fd());
    }

    fn close(&self) {
        if let Ok(mut guard) = self.channel.lock() {
            guard.take();
        }
        if let Ok(mut guard) = self.scratch.lock() {
            guard.take();
        }
    }

    fn scratch_fd(&self) -> Option<std::os::fd::RawFd> {
        self.scratch.lock().ok()?.as_ref().map(Scratch::fd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_plain_file_names() {
        assert!(valid_key("wasmtime-module-0123abcd-ff00"));
        for bad in ["", "../x", "a/b", ".hidden", "a b", &"x".repeat(201)] {
            assert!(!valid_key(bad), "{bad:?}");
        }
    }

    #[test]
    fn round_trip_through_a_channel() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("modules");
        let (hako_end, init_end) = super::super::channel::pair().unwrap();
        let cache = ChannelCache::new(&init_end, false).unwrap();
        let server = std::thread::spawn({
            let dir = dir.clone();
            move || {
                for _ in 0..5 {
                    match hako_end.recv_fd().unwrap().unwrap() {
                        (ToHako::CacheGet(k), _) => serve_get(Some(&dir), &k, &hako_end).unwrap(),
                        (ToHako::CachePut(k), Some(fd)) => serve_put(Some(&dir), &k, fd),
                        other => panic!("{other:?}"),
                    }
                }
            }
        });
        let read = |file: std::fs::File| std::io::read_to_string(file).unwrap();
        assert!(cache.open("k1").is_none());
        cache.put("k1", b"compiled");
        // The put is asynchronous: wait for the file.
        for _ in 0..200 {
            if dir.join("k1").exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(cache.open("k1").map(read).as_deref(), Some("compiled"));
        // A link, even to a stored artifact, and a directory are misses.
        std::os::unix::fs::symlink(dir.join("k1"), dir.join("link")).unwrap();
        std::fs::create_dir(dir.join("sub")).unwrap();
        assert!(cache.open("link").is_none());
        assert!(cache.open("sub").is_none());
        server.join().unwrap();
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
}
