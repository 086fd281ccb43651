//! `tmpcopyup`: a tmpfs mounted over a directory starts with that
//! directory's contents (runc and crun extension; podman uses it).

use std::os::fd::OwnedFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

use nix::fcntl::OFlag;
use nix::sys::stat::Mode;

use super::secure;
use crate::error::{Context, Result};

/// Opens the directory about to be covered, so it stays readable after
/// the tmpfs hides it.
pub fn open_original(target: &OwnedFd) -> Result<OwnedFd> {
    nix::fcntl::open(
        &secure::fd_path(target),
        OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .ctx(|| {
        format!(
            "opening {} for tmpcopyup",
            secure::real_path(target).display()
        )
    })
}

/// Copies a directory tree (files, directories, symlinks, with modes and
/// owners) from one open directory into another.
pub fn copy_into(from: &OwnedFd, to: &OwnedFd) -> std::io::Result<()> {
    copy_tree(&secure::fd_path(from), &secure::fd_path(to))
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let meta = std::fs::symlink_metadata(&src)?;
        let kind = meta.file_type();
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src)?, &dst)?;
        } else if kind.is_dir() {
            std::fs::create_dir(&dst)?;
            copy_tree(&src, &dst)?;
            std::fs::set_permissions(&dst, std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        } else if kind.is_file() {
            std::fs::copy(&src, &dst)?;
        } else {
            // Device nodes, sockets and fifos are not copied (as runc).
            continue;
        }
        std::os::unix::fs::lchown(&dst, Some(meta.uid()), Some(meta.gid()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_a_tree() {
        let tmp = tempfile::tempdir().unwrap();
        let a = tmp.path().join("a");
        let b = tmp.path().join("b");
        std::fs::create_dir_all(a.join("sub")).unwrap();
        std::fs::write(a.join("sub/f"), "data").unwrap();
        std::fs::set_permissions(a.join("sub/f"), std::fs::Permissions::from_mode(0o640)).unwrap();
        std::os::unix::fs::symlink("sub/f", a.join("link")).unwrap();
        std::fs::create_dir(&b).unwrap();
        let fa = nix::fcntl::open(&a, OFlag::O_PATH, Mode::empty()).unwrap();
        let fb = nix::fcntl::open(&b, OFlag::O_PATH, Mode::empty()).unwrap();
        copy_into(&fa, &fb).unwrap();
        assert_eq!(std::fs::read_to_string(b.join("sub/f")).unwrap(), "data");
        assert_eq!(
            std::fs::metadata(b.join("sub/f")).unwrap().mode() & 0o777,
            0o640
        );
        assert_eq!(
            std::fs::read_link(b.join("link")).unwrap(),
            Path::new("sub/f")
        );
    }
}
