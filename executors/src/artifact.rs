//! A cached artifact, mapped rather than read.
//!
//! An engine loading a cached artifact copies what it needs out of it
//! (its own code memory, its own metadata) and is done with the bytes.
//! Reading the file first would zero a buffer, copy the file into it, and
//! (across the plugin boundary) copy it once more: three passes over every
//! page, each a page fault of the guest's process. A private read-only
//! mapping costs one pass, by the engine, over pages shared with the
//! page cache. The mapping and the file go away as soon as the engine has
//! loaded, before the guest runs.

use std::ffi::c_void;
use std::os::fd::AsRawFd;

/// The bytes of an artifact file, mapped read-only (empty for an empty
/// file).
pub struct Artifact {
    ptr: *mut c_void,
    len: usize,
}

impl Artifact {
    /// Maps `file` whole; anything but a regular file is refused. Only
    /// hako writes the cache, and only by renaming a complete new file
    /// into place, so the bytes do not change under the mapping (a file
    /// cut short in place by someone else would end the process with
    /// SIGBUS while the engine reads it).
    pub fn map(file: &std::fs::File) -> std::io::Result<Artifact> {
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
        }
        let len = usize::try_from(meta.len())
            .map_err(|_| std::io::Error::from_raw_os_error(libc::EFBIG))?;
        if len == 0 {
            return Ok(Artifact {
                ptr: std::ptr::null_mut(),
                len,
            });
        }
        // SAFETY: a fresh private read-only mapping of an open file; the
        // kernel picks the address, nothing else is affected.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                file.as_raw_fd(),
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Artifact { ptr, len })
    }
}

impl std::ops::Deref for Artifact {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: `ptr` maps `len` readable bytes until drop.
        unsafe { std::slice::from_raw_parts(self.ptr.cast::<u8>(), self.len) }
    }
}

impl Drop for Artifact {
    fn drop(&mut self) {
        if self.len != 0 {
            // SAFETY: the mapping made in `map`, unmapped once; no slice of
            // it outlives `self`.
            unsafe { libc::munmap(self.ptr, self.len) };
        }
    }
}

/// An artifact held in memory as a file, the way a cache hands it out:
/// a temporary file holding `bytes`, positioned at its start (for the
/// in-memory caches of tests).
#[cfg(any(test, feature = "testing"))]
pub fn file_of(bytes: &[u8]) -> std::io::Result<std::fs::File> {
    use std::io::{Seek, Write};
    let mut file = tempfile::tempfile()?;
    file.write_all(bytes)?;
    file.rewind()?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn maps_the_file_as_it_is() {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(b"compiled artifact").unwrap();
        assert_eq!(&*Artifact::map(&file).unwrap(), b"compiled artifact");
        assert!(Artifact::map(&tempfile::tempfile().unwrap())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn a_directory_is_refused() {
        let dir = std::fs::File::open(std::env::temp_dir()).unwrap();
        assert!(Artifact::map(&dir).is_err());
    }
}
