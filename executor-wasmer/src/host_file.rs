//! A host file the guest opened, read and written on the guest's thread.
//!
//! wasmer-wasix's host files go through `tokio::fs`, which runs every read
//! and write on a thread of tokio's blocking pool: a guest that opens a
//! file needs a thread besides its own, and under a small `pids.max` it
//! cannot have one. A [`HostFile`] makes the syscall directly instead, as
//! wasmtime's and WasmEdge's WASI do for regular files.
//!
//! [`HostFile::open`] opens with `openat2(RESOLVE_BENEATH |
//! RESOLVE_NO_MAGICLINKS)` from the guest's root directory, so the file
//! that is opened is the one that was checked: no swap of a path component
//! between a check and the open can lead outside.

use std::ffi::CString;
use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::UNIX_EPOCH;

use wasmer_wasix::virtual_fs::{
    AsyncRead, AsyncSeek, AsyncWrite, FsError, OpenOptionsConfig, ReadBuf, Result, VirtualFile,
};

/// Room reported to a guest polling a file for writing.
const WRITE_ROOM: usize = 8192;

/// `struct open_how` of openat2(2).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_BENEATH: u64 = 0x08;

/// `path` as the guest gave it, relative to its root (`.` for the root).
pub(crate) fn relative(path: &Path) -> PathBuf {
    let rel: PathBuf = path
        .components()
        .filter(|c| !matches!(c, Component::RootDir | Component::CurDir))
        .collect();
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    }
}

/// Opens `path` below `root` with `flags`, never leaving `root`: a path
/// that would (through `..`, an absolute or climbing symlink, or a magic
/// link) is refused with [`FsError::PermissionDenied`], what wasmer-wasix
/// answers EPERM for.
pub(crate) fn open_beneath(root: &OwnedFd, path: &Path, flags: i32, mode: u32) -> Result<OwnedFd> {
    let c =
        CString::new(relative(path).as_os_str().as_bytes()).map_err(|_| FsError::InvalidInput)?;
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        // openat2 refuses a mode unless a file may be created.
        mode: if flags & libc::O_CREAT != 0 {
            u64::from(mode)
        } else {
            0
        },
        resolve: RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: `c` is a valid C string, `how` an initialised open_how of the
    // size passed; openat2 returns a new descriptor or -1.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root.as_raw_fd(),
            c.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if fd >= 0 {
        // SAFETY: openat2 just returned this descriptor; we own it.
        return Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) });
    }
    Err(refusal_or(io::Error::last_os_error()))
}

/// EXDEV (out of the directory, or an absolute symlink) and ELOOP (a magic
/// link) are refusals; anything else is the error itself.
fn refusal_or(err: io::Error) -> FsError {
    match err.raw_os_error() {
        Some(libc::EXDEV) | Some(libc::ELOOP) => FsError::PermissionDenied,
        _ => FsError::from(err),
    }
}

/// The open(2) flags for what the guest asked, with std's rules: creating
/// or truncating needs write access, and truncating wins over appending
/// (wasmer-wasix's own host files do the same).
fn flags(conf: &OpenOptionsConfig) -> Result<i32> {
    let append = conf.append && !conf.truncate;
    let write = conf.write || append;
    if (conf.create || conf.create_new || conf.truncate) && !write {
        return Err(FsError::InvalidInput);
    }
    let mut flags = match (conf.read, write) {
        (true, true) => libc::O_RDWR,
        (false, true) => libc::O_WRONLY,
        _ => libc::O_RDONLY,
    };
    if conf.create_new {
        flags |= libc::O_CREAT | libc::O_EXCL;
    } else if conf.create {
        flags |= libc::O_CREAT;
    }
    if conf.truncate {
        flags |= libc::O_TRUNC;
    }
    if append {
        flags |= libc::O_APPEND;
    }
    Ok(flags)
}

/// An open host file below the guest's root.
#[derive(Debug)]
pub(crate) struct HostFile {
    file: File,
    /// The guest's root and the file's path in it, for `unlink`.
    root: Arc<OwnedFd>,
    path: PathBuf,
    /// Where the last `start_seek` went.
    seek: Option<io::Result<u64>>,
}

impl HostFile {
    /// Opens `path` below `root` as `conf` says (new files get mode 0666
    /// less the umask, as std's do).
    pub(crate) fn open(root: &Arc<OwnedFd>, path: &Path, conf: &OpenOptionsConfig) -> Result<Self> {
        let fd = open_beneath(root, path, flags(conf)?, 0o666)?;
        Ok(HostFile {
            file: File::from(fd),
            root: Arc::clone(root),
            path: path.to_path_buf(),
            seek: None,
        })
    }

    fn metadata(&self) -> Option<std::fs::Metadata> {
        self.file.metadata().ok()
    }

    /// One of the file's times, in nanoseconds since the epoch (0 if the
    /// kernel or the file system has none).
    fn time(&self, which: fn(&std::fs::Metadata) -> io::Result<std::time::SystemTime>) -> u64 {
        self.metadata()
            .and_then(|m| which(&m).ok())
            .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos() as u64)
    }
}

/// Runs a read or write syscall again when a signal interrupted it.
fn retrying<T>(mut op: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

impl AsyncRead for HostFile {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let unfilled = buf.initialize_unfilled();
        let result = retrying(|| self.file.read(unfilled));
        Poll::Ready(result.map(|n| buf.advance(n)))
    }
}

impl AsyncWrite for HostFile {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(retrying(|| self.file.write(buf)))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // Every write went straight to the kernel.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncSeek for HostFile {
    fn start_seek(mut self: Pin<&mut Self>, position: io::SeekFrom) -> io::Result<()> {
        let to = self.file.seek(position);
        self.seek = Some(to);
        Ok(())
    }

    fn poll_complete(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<u64>> {
        Poll::Ready(match self.seek.take() {
            Some(to) => to,
            None => self.file.stream_position(),
        })
    }
}

impl VirtualFile for HostFile {
    fn last_accessed(&self) -> u64 {
        self.time(std::fs::Metadata::accessed)
    }

    fn last_modified(&self) -> u64 {
        self.time(std::fs::Metadata::modified)
    }

    fn created_time(&self) -> u64 {
        self.time(std::fs::Metadata::created)
    }

    fn set_times(&mut self, atime: Option<u64>, mtime: Option<u64>) -> Result<()> {
        let spec = |t: Option<u64>| match t {
            Some(ns) => libc::timespec {
                tv_sec: (ns / 1_000_000_000) as libc::time_t,
                tv_nsec: (ns % 1_000_000_000) as libc::c_long,
            },
            None => libc::timespec {
                tv_sec: 0,
                tv_nsec: libc::UTIME_OMIT,
            },
        };
        let times = [spec(atime), spec(mtime)];
        // SAFETY: the descriptor is open and `times` holds two timespecs.
        if unsafe { libc::futimens(self.file.as_raw_fd(), times.as_ptr()) } == 0 {
            Ok(())
        } else {
            Err(FsError::from(io::Error::last_os_error()))
        }
    }

    fn size(&self) -> u64 {
        self.metadata().map_or(0, |m| m.len())
    }

    fn set_len(&mut self, new_size: u64) -> Result<()> {
        self.file.set_len(new_size).map_err(FsError::from)
    }

    fn unlink(&mut self) -> Result<()> {
        let name = match self.path.file_name() {
            Some(name) => CString::new(name.as_bytes()).map_err(|_| FsError::InvalidInput)?,
            None => return Err(FsError::InvalidInput),
        };
        let parent = self.path.parent().unwrap_or(Path::new("/"));
        let dir = open_beneath(&self.root, parent, libc::O_PATH | libc::O_DIRECTORY, 0)?;
        // SAFETY: `dir` is an open directory and `name` a C string.
        if unsafe { libc::unlinkat(dir.as_raw_fd(), name.as_ptr(), 0) } == 0 {
            Ok(())
        } else {
            Err(FsError::from(io::Error::last_os_error()))
        }
    }

    fn poll_read_ready(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        // A regular file is always ready: say how much is left. Anything
        // else (a FIFO, a device) is said to be ready too, and a read
        // blocks as it would for a native program.
        let regular = self.metadata().is_some_and(|m| m.is_file());
        if !regular {
            return Poll::Ready(Ok(1));
        }
        let size = self.size();
        Poll::Ready(
            self.file
                .stream_position()
                .map(|at| size.saturating_sub(at) as usize),
        )
    }

    fn poll_write_ready(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(WRITE_ROOM))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::block_on;
    use std::future::poll_fn;
    use wasmer_wasix::virtual_fs::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

    fn root(dir: &Path) -> Arc<OwnedFd> {
        Arc::new(OwnedFd::from(File::open(dir).unwrap()))
    }

    fn conf(
        read: bool,
        write: bool,
        create: bool,
        truncate: bool,
        append: bool,
    ) -> OpenOptionsConfig {
        OpenOptionsConfig {
            read,
            write,
            create_new: false,
            create,
            append,
            truncate,
        }
    }

    #[test]
    fn reads_writes_seeks_and_unlinks_on_this_thread() {
        let dir = tempfile::tempdir().unwrap();
        let r = root(dir.path());
        let mut f = HostFile::open(
            &r,
            Path::new("/note"),
            &conf(true, true, true, false, false),
        )
        .unwrap();
        block_on(f.write_all(b"hello world")).unwrap();
        assert_eq!(f.size(), 11);
        block_on(f.seek(io::SeekFrom::Start(6))).unwrap();
        assert_eq!(
            block_on(poll_fn(|cx| Pin::new(&mut f).poll_read_ready(cx))).unwrap(),
            5
        );
        let mut rest = String::new();
        block_on(f.read_to_string(&mut rest)).unwrap();
        assert_eq!(rest, "world");
        f.set_len(5).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("note")).unwrap(),
            "hello"
        );
        f.set_times(Some(1_500_000_000), Some(2_000_000_000_000_000_000))
            .unwrap();
        assert_eq!(f.last_modified(), 2_000_000_000_000_000_000);
        f.unlink().unwrap();
        assert!(!dir.path().join("note").exists());
    }

    #[test]
    fn flags_follow_std() {
        let dir = tempfile::tempdir().unwrap();
        let r = root(dir.path());
        std::fs::write(dir.path().join("log"), "one\n").unwrap();
        // Creating without write access is refused, as std refuses it.
        assert_eq!(
            HostFile::open(&r, Path::new("/x"), &conf(true, false, true, false, false))
                .unwrap_err(),
            FsError::InvalidInput
        );
        let mut f = HostFile::open(
            &r,
            Path::new("log"),
            &conf(false, false, false, false, true),
        )
        .unwrap();
        block_on(f.write_all(b"two\n")).unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.path().join("log")).unwrap(),
            "one\ntwo\n"
        );
        HostFile::open(&r, Path::new("log"), &conf(false, true, false, true, true)).unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("log")).unwrap(), "");
        assert_eq!(
            HostFile::open(
                &r,
                Path::new("missing"),
                &conf(true, false, false, false, false)
            )
            .unwrap_err(),
            FsError::EntryNotFound
        );
    }

    /// What the open follows is what was checked: `..`, absolute and
    /// climbing symlinks, and magic links are refused; a symlink that
    /// stays inside is fine.
    #[test]
    fn opens_never_leave_the_root() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "s").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("data")).unwrap();
        std::fs::write(d.join("data/note"), "n").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), d.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../../..", d.join("data/up")).unwrap();
        std::os::unix::fs::symlink("note", d.join("data/rel")).unwrap();
        std::os::unix::fs::symlink("/proc/self/root", d.join("magic")).unwrap();
        let r = root(d);
        let read = conf(true, false, false, false, false);
        let write = conf(false, true, true, false, false);
        assert!(HostFile::open(&r, Path::new("/data/rel"), &read).is_ok());
        for path in [
            "/abs",
            "/data/up/etc/passwd",
            "/../secret",
            "/magic/etc/passwd",
        ] {
            assert_eq!(
                HostFile::open(&r, Path::new(path), &read).unwrap_err(),
                FsError::PermissionDenied,
                "{path}"
            );
        }
        // A dangling link to the outside does not create a file there.
        std::os::unix::fs::symlink(outside.path().join("new"), d.join("plant")).unwrap();
        assert_eq!(
            HostFile::open(&r, Path::new("plant"), &write).unwrap_err(),
            FsError::PermissionDenied
        );
        assert!(!outside.path().join("new").exists());
    }
}
