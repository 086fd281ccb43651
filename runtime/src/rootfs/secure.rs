//! Resolving paths inside a rootfs without ever leaving it.
//!
//! Every lookup uses openat2(2) with RESOLVE_IN_ROOT, so `..` and absolute
//! symlinks in the rootfs resolve against the rootfs, not the host, and
//! magic links (/proc/self/root, …) are refused. Missing components are
//! created one at a time relative to an already-resolved parent. The
//! result is an O_PATH descriptor; mounts target `/proc/self/fd/N`, which
//! names exactly that inode, so a symlink swapped in afterwards changes
//! nothing.

use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::Mode;

use crate::error::{Context, Error, Result};

/// Most symlinks followed while creating one path (as the kernel's limit).
const MAX_LINKS: usize = 40;

/// What to create at the end of a path if it is missing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Create {
    /// Nothing: the path must exist.
    Nothing,
    /// A directory (mode 0755), with missing parents.
    Dir,
    /// An empty file (mode 0644), with missing parent directories.
    File,
}

/// A rootfs, held open.
#[derive(Debug)]
pub struct SafeRoot {
    fd: OwnedFd,
    path: PathBuf,
}

/// The `/proc/self/fd/N` path naming a descriptor.
pub fn fd_path(fd: &impl AsRawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

fn how(flags: OFlag) -> OpenHow {
    OpenHow::new()
        .flags(flags | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS)
}

/// Splits a path into normal components; `..` is kept (RESOLVE_IN_ROOT
/// clamps it at the root) and `.` dropped.
fn components(path: &Path) -> Vec<&OsStr> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s),
            Component::ParentDir => Some(OsStr::new("..")),
            _ => None,
        })
        .collect()
}

impl SafeRoot {
    /// Opens a rootfs directory.
    pub fn open(path: &Path) -> Result<SafeRoot> {
        let fd = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .ctx(|| format!("opening rootfs {}", path.display()))?;
        Ok(SafeRoot {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The host path a container path would have if nothing were a
    /// symlink (for messages only, never for access).
    pub fn display(&self, path: &Path) -> PathBuf {
        self.path.join(path.strip_prefix("/").unwrap_or(path))
    }

    /// Resolves `path` (absolute inside the container) to an O_PATH
    /// descriptor, creating what is missing as asked.
    pub fn resolve(&self, path: &Path, create: Create) -> Result<OwnedFd> {
        self.resolve_inner(path, create).ctx(|| {
            format!(
                "resolving {} in rootfs {}",
                path.display(),
                self.path.display()
            )
        })
    }

    fn resolve_inner(&self, path: &Path, create: Create) -> nix::Result<OwnedFd> {
        let mut target: Vec<std::ffi::OsString> =
            components(path).into_iter().map(Into::into).collect();
        let mut links = 0;
        'restart: loop {
            let full: PathBuf = target.iter().collect();
            match openat2(self.fd.as_fd(), rel(&full), how(OFlag::O_PATH)) {
                Ok(fd) => return Ok(fd),
                Err(Errno::ENOENT) if create != Create::Nothing => {}
                Err(e) => return Err(e),
            }
            // Walk down, creating what is missing.
            let mut parent = nix::unistd::dup(&self.fd)?;
            for i in 0..target.len() {
                let prefix: PathBuf = target[..=i].iter().collect();
                match openat2(self.fd.as_fd(), rel(&prefix), how(OFlag::O_PATH)) {
                    Ok(fd) => {
                        parent = fd;
                        continue;
                    }
                    Err(Errno::ENOENT) => {}
                    Err(e) => return Err(e),
                }
                let name = target[i].as_os_str();
                let last = i + 1 == target.len();
                let made = if last && create == Create::File {
                    nix::fcntl::openat(
                        parent.as_fd(),
                        name,
                        OFlag::O_CREAT
                            | OFlag::O_EXCL
                            | OFlag::O_WRONLY
                            | OFlag::O_NOFOLLOW
                            | OFlag::O_CLOEXEC,
                        Mode::from_bits_truncate(0o644),
                    )
                    .map(drop)
                } else {
                    nix::sys::stat::mkdirat(parent.as_fd(), name, Mode::from_bits_truncate(0o755))
                };
                match made {
                    Ok(()) => {}
                    Err(Errno::EEXIST) => {
                        // ENOENT on open but EEXIST on create: a dangling
                        // symlink. Follow it inside the rootfs and start over.
                        links += 1;
                        if links > MAX_LINKS {
                            return Err(Errno::ELOOP);
                        }
                        let link = nix::fcntl::readlinkat(parent.as_fd(), name)?;
                        let link = PathBuf::from(link);
                        let mut next: Vec<std::ffi::OsString> = if link.is_absolute() {
                            Vec::new()
                        } else {
                            target[..i].to_vec()
                        };
                        next.extend(components(&link).into_iter().map(Into::into));
                        next.extend(target[i + 1..].iter().cloned());
                        target = next;
                        continue 'restart;
                    }
                    Err(e) => return Err(e),
                }
                parent = openat2(self.fd.as_fd(), rel(&prefix), how(OFlag::O_PATH))?;
            }
            return Ok(parent);
        }
    }

    /// Resolves the parent of `path` (creating directories) and returns it
    /// with the final component's name, for creating nodes and links.
    pub fn parent_of<'p>(&self, path: &'p Path) -> Result<(OwnedFd, &'p OsStr)> {
        let name = path
            .file_name()
            .ok_or_else(|| Error::invalid(format!("{}: no file name", path.display())))?;
        let parent = path.parent().unwrap_or(Path::new("/"));
        Ok((self.resolve(parent, Create::Dir)?, name))
    }
}

fn rel(path: &Path) -> &Path {
    if path.as_os_str().is_empty() {
        Path::new(".")
    } else {
        path
    }
}

/// Whether an O_PATH descriptor is a directory.
pub fn is_dir(fd: &OwnedFd) -> bool {
    nix::sys::stat::fstat(fd).is_ok_and(|s| {
        SFlag::from_bits_truncate(s.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFDIR
    })
}

use nix::sys::stat::SFlag;

/// The path a descriptor names now (for messages and tests).
pub fn real_path(fd: &OwnedFd) -> PathBuf {
    std::fs::read_link(fd_path(fd)).unwrap_or_default()
}

/// Bytes of a path, for building `/proc/self/fd/N/<name>`.
pub fn join_fd(fd: &OwnedFd, name: &OsStr) -> PathBuf {
    let mut p = fd_path(fd).into_os_string();
    p.push("/");
    p.push(OsStr::from_bytes(name.as_bytes()));
    PathBuf::from(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn creates_dirs_and_files_inside() {
        let tmp = tempfile::tempdir().unwrap();
        let root = SafeRoot::open(tmp.path()).unwrap();
        let fd = root.resolve(Path::new("/a/b/c"), Create::Dir).unwrap();
        assert_eq!(real_path(&fd), tmp.path().join("a/b/c"));
        assert!(is_dir(&fd));
        let fd = root.resolve(Path::new("/a/f"), Create::File).unwrap();
        assert_eq!(real_path(&fd), tmp.path().join("a/f"));
        assert!(!is_dir(&fd));
        assert!(root
            .resolve(Path::new("/missing"), Create::Nothing)
            .is_err());
    }

    #[test]
    fn symlinks_cannot_escape() {
        let tmp = tempfile::tempdir().unwrap();
        let rootfs = tmp.path().join("rootfs");
        let outside = tmp.path().join("outside");
        std::fs::create_dir_all(&rootfs).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        // Absolute, relative and dangling links all pointing out.
        symlink(&outside, rootfs.join("abs")).unwrap();
        symlink("../../../../outside", rootfs.join("rel")).unwrap();
        symlink(outside.join("new"), rootfs.join("dangling")).unwrap();
        let root = SafeRoot::open(&rootfs).unwrap();

        let fd = root.resolve(Path::new("/abs/x"), Create::Dir).unwrap();
        assert!(real_path(&fd).starts_with(&rootfs), "{:?}", real_path(&fd));
        let fd = root.resolve(Path::new("/rel/y"), Create::File).unwrap();
        assert!(real_path(&fd).starts_with(&rootfs), "{:?}", real_path(&fd));
        let fd = root.resolve(Path::new("/dangling"), Create::Dir).unwrap();
        assert!(real_path(&fd).starts_with(&rootfs), "{:?}", real_path(&fd));
        let fd = root
            .resolve(Path::new("/../../.."), Create::Nothing)
            .unwrap();
        assert_eq!(real_path(&fd), rootfs);
        assert_eq!(
            std::fs::read_dir(&outside).unwrap().count(),
            0,
            "nothing created outside"
        );
    }

    #[test]
    fn magic_links_are_refused() {
        let tmp = tempfile::tempdir().unwrap();
        symlink("/proc/self/root/etc", tmp.path().join("magic")).unwrap();
        std::fs::create_dir(tmp.path().join("proc")).unwrap();
        let root = SafeRoot::open(tmp.path()).unwrap();
        // Inside the root, /proc/self/... is just a missing path, never the host's.
        let fd = root.resolve(Path::new("/magic"), Create::Dir).unwrap();
        assert!(real_path(&fd).starts_with(tmp.path()));
    }

    #[test]
    fn symlink_loops_end() {
        let tmp = tempfile::tempdir().unwrap();
        symlink("b", tmp.path().join("a")).unwrap();
        symlink("a", tmp.path().join("b")).unwrap();
        let root = SafeRoot::open(tmp.path()).unwrap();
        assert!(root.resolve(Path::new("/a/x"), Create::Dir).is_err());
    }
}
