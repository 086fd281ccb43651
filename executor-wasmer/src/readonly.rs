//! A file system that refuses every change, for read-only preopens.
//!
//! Rights on the preopened descriptor are not enough: wasmer-wasix also
//! gives the guest a virtual root (fd 3) with every right, from which every
//! preopen is reachable. Refusing writes in the file system itself holds
//! whichever descriptor the guest goes through.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use wasmer_wasix::virtual_fs::{
    FileOpener, FileSystem, FsError, Metadata, OpenOptions, OpenOptionsConfig, ReadDir, Result,
    VirtualFile,
};

/// Another file system, read-only.
#[derive(Debug)]
pub(crate) struct ReadOnly(pub(crate) Arc<dyn FileSystem + Send + Sync>);

/// What the guest gets for any change: EPERM, as wasmer-wasix maps it.
const REFUSED: FsError = FsError::PermissionDenied;

impl FileSystem for ReadOnly {
    fn readlink(&self, path: &Path) -> Result<PathBuf> {
        self.0.readlink(path)
    }

    fn read_dir(&self, path: &Path) -> Result<ReadDir> {
        self.0.read_dir(path)
    }

    fn create_dir(&self, _path: &Path) -> Result<()> {
        Err(REFUSED)
    }

    fn create_symlink(&self, _source: &Path, _target: &Path) -> Result<()> {
        Err(REFUSED)
    }

    fn hard_link(&self, _source: &Path, _target: &Path) -> Result<()> {
        Err(REFUSED)
    }

    fn remove_dir(&self, _path: &Path) -> Result<()> {
        Err(REFUSED)
    }

    fn rename<'a>(
        &'a self,
        _from: &'a Path,
        _to: &'a Path,
    ) -> Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>> {
        Box::pin(async { Err(REFUSED) })
    }

    fn metadata(&self, path: &Path) -> Result<Metadata> {
        self.0.metadata(path)
    }

    fn symlink_metadata(&self, path: &Path) -> Result<Metadata> {
        self.0.symlink_metadata(path)
    }

    fn remove_file(&self, _path: &Path) -> Result<()> {
        Err(REFUSED)
    }

    fn new_open_options(&self) -> OpenOptions<'_> {
        OpenOptions::new(self)
    }
}

impl FileOpener for ReadOnly {
    fn open(
        &self,
        path: &Path,
        conf: &OpenOptionsConfig,
    ) -> Result<Box<dyn VirtualFile + Send + Sync + 'static>> {
        if conf.write || conf.append || conf.truncate || conf.create || conf.create_new {
            return Err(REFUSED);
        }
        self.0.new_open_options().options(conf.clone()).open(path)
    }
}
