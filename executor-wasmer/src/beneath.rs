//! A host directory the guest cannot leave: every path is resolved inside
//! it first.
//!
//! wasmer-wasix's host file system joins the guest's path to the host
//! directory and lets the kernel resolve the rest, so a symlink the guest
//! finds (or makes), an absolute one, `..` through one, or a magic link
//! such as `/proc/1/root` leads anywhere in the mount namespace. wasmtime
//! and WasmEdge confine the guest to its preopen instead. This wrapper
//! makes wasmer do the same: before each operation the path (its parent,
//! for operations on the link itself) is resolved with
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS)` from the directory,
//! and a path that would leave it is refused with EPERM (what wasmer-wasix
//! maps [`FsError::PermissionDenied`] to; wasmtime answers EPERM too).
//!
//! Opening a file is one step: [`HostFile::open`] confines and opens in
//! the same openat2. For the other operations the check and the operation
//! are two steps: a guest that swaps a component for a symlink in between
//! could still get out, which needs two racing guest threads or processes.
//! It closes every single-threaded way out, and the container's mount
//! namespace stays the outer wall.

use std::future::Future;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use wasmer_wasix::virtual_fs::{
    FileOpener, FileSystem, FsError, Metadata, OpenOptions, OpenOptionsConfig, ReadDir, Result,
    VirtualFile,
};

use crate::host_file::{open_beneath, HostFile};

/// Another file system, confined to the host directory it serves.
#[derive(Debug)]
pub(crate) struct Beneath {
    inner: Arc<dyn FileSystem + Send + Sync>,
    /// The host directory, what every path is resolved from and files are
    /// opened beneath.
    root: Arc<OwnedFd>,
}

impl Beneath {
    /// Confines `inner`, which serves the host directory `host`.
    pub(crate) fn new(
        inner: Arc<dyn FileSystem + Send + Sync>,
        host: &Path,
    ) -> std::io::Result<Beneath> {
        let root = std::fs::File::open(host)?;
        Ok(Beneath {
            inner,
            root: Arc::new(OwnedFd::from(root)),
        })
    }

    /// Resolves `path` (relative to the directory) without leaving it:
    /// only a path that would leave it is an error; one that does not
    /// exist is the operation's to report.
    fn resolve(&self, path: &Path) -> Result<()> {
        match open_beneath(&self.root, path, libc::O_PATH, 0) {
            Ok(_) => Ok(()),
            Err(FsError::PermissionDenied) => Err(FsError::PermissionDenied),
            // Missing, not a directory, not permitted: the operation itself
            // reports it the way wasmer-wasix expects.
            Err(_) => Ok(()),
        }
    }

    /// For operations on the last component itself (remove, rename,
    /// readlink, lstat, create): its parent must resolve inside, and the
    /// name must not climb.
    fn resolve_parent(&self, path: &Path) -> Result<()> {
        if path.components().next_back() == Some(Component::ParentDir) {
            return self.resolve(path);
        }
        match path.parent() {
            Some(parent) => self.resolve(parent),
            None => Ok(()),
        }
    }
}

impl FileSystem for Beneath {
    fn readlink(&self, path: &Path) -> Result<PathBuf> {
        self.resolve_parent(path)?;
        self.inner.readlink(path)
    }

    fn read_dir(&self, path: &Path) -> Result<ReadDir> {
        self.resolve(path)?;
        self.inner.read_dir(path)
    }

    fn create_dir(&self, path: &Path) -> Result<()> {
        self.resolve_parent(path)?;
        self.inner.create_dir(path)
    }

    fn create_symlink(&self, source: &Path, target: &Path) -> Result<()> {
        // The link may say anything: following it is what is checked.
        self.resolve_parent(target)?;
        self.inner.create_symlink(source, target)
    }

    fn hard_link(&self, source: &Path, target: &Path) -> Result<()> {
        self.resolve_parent(source)?;
        self.resolve_parent(target)?;
        self.inner.hard_link(source, target)
    }

    fn remove_dir(&self, path: &Path) -> Result<()> {
        self.resolve_parent(path)?;
        self.inner.remove_dir(path)
    }

    fn rename<'a>(
        &'a self,
        from: &'a Path,
        to: &'a Path,
    ) -> Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>> {
        Box::pin(async move {
            self.resolve_parent(from)?;
            self.resolve_parent(to)?;
            self.inner.rename(from, to).await
        })
    }

    fn metadata(&self, path: &Path) -> Result<Metadata> {
        self.resolve(path)?;
        self.inner.metadata(path)
    }

    fn symlink_metadata(&self, path: &Path) -> Result<Metadata> {
        self.resolve_parent(path)?;
        self.inner.symlink_metadata(path)
    }

    fn remove_file(&self, path: &Path) -> Result<()> {
        self.resolve_parent(path)?;
        self.inner.remove_file(path)
    }

    fn new_open_options(&self) -> OpenOptions<'_> {
        OpenOptions::new(self)
    }
}

impl FileOpener for Beneath {
    fn open(
        &self,
        path: &Path,
        conf: &OpenOptionsConfig,
    ) -> Result<Box<dyn VirtualFile + Send + Sync + 'static>> {
        // One openat2 both confines and opens: nothing can be swapped
        // between a check and the open.
        Ok(Box::new(HostFile::open(&self.root, path, conf)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn confined(dir: &Path) -> Beneath {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let inner: Arc<dyn FileSystem + Send + Sync> = Arc::new(
            wasmer_wasix::virtual_fs::host_fs::FileSystem::new(rt.handle().clone(), dir).unwrap(),
        );
        // The runtime is only needed for async operations, not used here.
        std::mem::forget(rt);
        Beneath::new(inner, dir).unwrap()
    }

    #[test]
    fn paths_that_leave_the_directory_are_refused() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        let root = tempfile::tempdir().unwrap();
        let r = root.path();
        std::fs::create_dir(r.join("data")).unwrap();
        std::fs::write(r.join("data/note"), "n").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), r.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../../../..", r.join("data/up")).unwrap();
        std::os::unix::fs::symlink("note", r.join("data/rel")).unwrap();
        let fs = confined(r);
        assert!(fs.metadata(Path::new("/data/note")).is_ok());
        assert!(
            fs.metadata(Path::new("/data/rel")).is_ok(),
            "a symlink inside is fine"
        );
        assert_eq!(
            fs.metadata(Path::new("/abs")).unwrap_err(),
            FsError::PermissionDenied
        );
        assert_eq!(
            fs.metadata(Path::new("/data/up/etc/passwd")).unwrap_err(),
            FsError::PermissionDenied
        );
        // The link itself may be looked at and removed, not followed.
        assert!(fs.symlink_metadata(Path::new("/abs")).is_ok());
        assert_eq!(
            fs.new_open_options()
                .read(true)
                .open(Path::new("/abs"))
                .unwrap_err(),
            FsError::PermissionDenied
        );
        assert_eq!(
            fs.read_dir(Path::new("/data/up")).unwrap_err(),
            FsError::PermissionDenied
        );
        // Missing files are the operation's error, not a refusal.
        assert_ne!(
            fs.metadata(Path::new("/data/missing")).unwrap_err(),
            FsError::PermissionDenied
        );
    }

    #[test]
    fn magic_links_are_refused() {
        let fs = confined(Path::new("/"));
        assert_eq!(
            fs.metadata(Path::new("/proc/self/root/etc")).unwrap_err(),
            FsError::PermissionDenied
        );
        assert!(fs.metadata(Path::new("/proc/self/status")).is_ok());
    }
}
