//! Applying one `mounts[]` entry of the spec inside the rootfs.

use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::mount::MsFlags;
use oci_spec::runtime::Mount;

use super::options::{self, MountOptions};
use super::secure::{self, Create, SafeRoot};
use super::{copyup, RootfsConfig};
use crate::error::{Context, Error, Result};
use crate::syscall::Syscall;

/// Files under /proc a container may mount over (as runc allows, for
/// lxcfs-style emulation); anything else under /proc is refused because a
/// mount there could hide the kernel's protections.
const PROC_ALLOWED: &[&str] = &[
    "/proc/cpuinfo",
    "/proc/diskstats",
    "/proc/meminfo",
    "/proc/stat",
    "/proc/swaps",
    "/proc/uptime",
    "/proc/loadavg",
    "/proc/slabinfo",
    "/proc/net/dev",
    "/proc/sys/kernel/ns_last_pid",
];

/// Makes a destination absolute and removes `.`/`..` lexically (`..`
/// never climbs above `/`).
pub fn clean_destination(dest: &Path) -> PathBuf {
    let mut out = PathBuf::from("/");
    for c in dest.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::ParentDir => {
                out.pop();
            }
            _ => {}
        }
    }
    out
}

/// Refuses mounts over /proc's contents, except the allow-list.
pub fn check_proc_destination(dest: &Path, fstype: &str) -> std::result::Result<(), String> {
    if dest == Path::new("/proc") {
        return if fstype == "proc" || fstype.is_empty() || fstype == "bind" {
            Ok(())
        } else {
            Err(format!("{fstype} cannot be mounted on /proc"))
        };
    }
    if dest.starts_with("/proc") && !PROC_ALLOWED.iter().any(|a| Path::new(a) == dest) {
        return Err(format!(
            "{} is inside /proc and cannot be mounted over",
            dest.display()
        ));
    }
    Ok(())
}

/// Refuses a mount whose destination, once the rootfs's symlinks are
/// followed, lands inside procfs (`/run -> /proc/self/attr`, CVE-2019-19921
/// style): the lexical check on the destination cannot see that.
pub fn check_resolved_target(target: &OwnedFd, dest: &Path) -> Result<()> {
    let on_proc = nix::sys::statfs::fstatfs(target)
        .map(|st| st.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC)
        .ctx(|| format!("statfs of mount destination {}", dest.display()))?;
    if on_proc && dest != Path::new("/proc") && !PROC_ALLOWED.iter().any(|a| Path::new(a) == dest) {
        return Err(Error::invalid(format!(
            "mount destination {} resolves into procfs",
            dest.display()
        )));
    }
    Ok(())
}

/// Refuses a filesystem mount (anything but a bind) whose destination
/// already exists in the rootfs as something other than a directory. A
/// symlink there would carry proc, sysfs or a tmpfs to wherever the image
/// points it, past the checks made on the destination's name; runc refuses
/// it with the same words.
pub fn check_ordinary_directory(root: &SafeRoot, dest: &Path, fstype: &str) -> Result<()> {
    if dest == Path::new("/") {
        return Ok(());
    }
    let (parent, name) = root.parent_of(dest)?;
    match nix::sys::stat::fstatat(&parent, name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) if st.st_mode & libc::S_IFMT != libc::S_IFDIR => Err(Error::invalid(format!(
            "filesystem {fstype:?} must be mounted on ordinary directory"
        ))),
        Ok(_) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(e).ctx(|| format!("inspecting mount destination {}", dest.display())),
    }
}

/// Mount data with `linux.mountLabel` as the SELinux context of the new
/// filesystem (as runc does for every mount but proc and sysfs, which
/// carry their own labels). Callers pass a label only when SELinux is
/// enabled: elsewhere the kernel would refuse the `context=` option.
pub fn labelled_data(data: &str, label: Option<&str>, fstype: &str) -> String {
    let Some(label) = label.filter(|l| !l.is_empty()) else {
        return data.to_string();
    };
    if matches!(fstype, "proc" | "sysfs" | "cgroup" | "cgroup2") {
        return data.to_string();
    }
    let context = format!("context=\"{label}\"");
    if data.is_empty() {
        context
    } else {
        format!("{data},{context}")
    }
}

/// Flags a remount must keep so the kernel accepts it (they are locked in
/// a user namespace), read from the mount itself.
pub fn locked_flags(target: &Path) -> MsFlags {
    use nix::sys::statvfs::FsFlags;
    let Ok(st) = nix::sys::statvfs::statvfs(target) else {
        return MsFlags::empty();
    };
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (st, ms) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(st) {
            out |= ms;
        }
    }
    out
}

/// Per-mount flags that only a remount can apply to a bind mount.
fn remount_flags(o: &MountOptions) -> MsFlags {
    o.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT)
}

/// Mounts one spec entry. Returns the destination if it was mounted
/// read-write but must become read-only once populated (a read-only /dev).
pub fn mount_one(
    sys: &dyn Syscall,
    root: &SafeRoot,
    cfg: &RootfsConfig<'_>,
    m: &Mount,
    detached: Option<BorrowedFd<'_>>,
) -> Result<Option<PathBuf>> {
    let dest = clean_destination(m.destination());
    let fstype = m.typ().as_deref().unwrap_or("");
    let mut opts =
        options::parse(m.options().as_deref().unwrap_or_default()).map_err(Error::invalid)?;
    check_proc_destination(&dest, fstype).map_err(Error::invalid)?;
    if !(opts.is_bind() || fstype == "bind") {
        check_ordinary_directory(root, &dest, fstype)?;
    }

    if fstype == "cgroup" || fstype == "cgroup2" {
        super::cgroup_mount::mount(sys, root, cfg, &dest, fstype, &opts)?;
        return Ok(None);
    }
    let mut ro_later = None;
    if dest == Path::new("/dev") && opts.flags.contains(MsFlags::MS_RDONLY) && !opts.is_bind() {
        // Devices are created in /dev after it is mounted.
        opts.flags.remove(MsFlags::MS_RDONLY);
        ro_later = Some(dest.clone());
    }
    if opts.is_bind() || fstype == "bind" {
        bind(sys, root, cfg, m, &dest, &opts, detached)?;
    } else {
        mount_filesystem(sys, root, cfg, m, &dest, &opts)?;
    }
    apply_after(sys, root, &dest, &opts)?;
    Ok(ro_later)
}

/// Mounts a filesystem (not a bind) at `dest`: with the SELinux mount
/// label, `tmpcopyup` for a tmpfs, and the host's sysfs or mqueue bound
/// instead where the container may not mount its own.
fn mount_filesystem(
    sys: &dyn Syscall,
    root: &SafeRoot,
    cfg: &RootfsConfig<'_>,
    m: &Mount,
    dest: &Path,
    opts: &MountOptions,
) -> Result<()> {
    let fstype = m.typ().as_deref().unwrap_or("");
    let target = root.resolve(dest, Create::Dir)?;
    check_resolved_target(&target, dest)?;
    let source = m.source().clone().unwrap_or_else(|| PathBuf::from(fstype));
    let label = cfg
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.mount_label().as_deref())
        .filter(|_| crate::lsm::selinux_enabled());
    let data = labelled_data(&opts.data_string(), label, fstype);
    let original = if opts.copy_up && fstype == "tmpfs" {
        Some(copyup::open_original(&target)?)
    } else {
        None
    };
    let result = sys.mount(
        Some(&source),
        &secure::fd_path(&target),
        Some(fstype),
        opts.flags,
        Some(&data),
    );
    match result {
        Ok(()) => {}
        // Without a network (or ipc) namespace of its own, a container
        // may not mount sysfs (mqueue); runc binds the host's instead.
        Err(Errno::EPERM) if fstype == "sysfs" || fstype == "mqueue" => {
            bind_hosts_instead(sys, root, dest, fstype, &target, opts)?;
        }
        Err(errno) => {
            return Err(errno)
                .ctx(|| format!("mounting {fstype} at {}", root.display(dest).display()));
        }
    }
    if let Some(original) = original {
        let mounted = root.resolve(dest, Create::Nothing)?;
        copyup::copy_into(&original, &mounted)
            .ctx(|| format!("tmpcopyup to {}", dest.display()))?;
    }
    Ok(())
}

/// Binds the host's /sys or /dev/mqueue where mounting `fstype` is not
/// allowed, with the mount's own flags.
fn bind_hosts_instead(
    sys: &dyn Syscall,
    root: &SafeRoot,
    dest: &Path,
    fstype: &str,
    target: &OwnedFd,
    opts: &MountOptions,
) -> Result<()> {
    let host = if fstype == "sysfs" {
        "/sys"
    } else {
        "/dev/mqueue"
    };
    tracing::debug!(dest = %dest.display(), "cannot mount {fstype}, binding {host}");
    let flags = MsFlags::MS_BIND | MsFlags::MS_REC;
    sys.mount(
        Some(Path::new(host)),
        &secure::fd_path(target),
        None,
        flags,
        None,
    )
    .ctx(|| format!("binding {host} to {}", root.display(dest).display()))?;
    remount(sys, root, dest, remount_flags(opts))
}

fn bind(
    sys: &dyn Syscall,
    root: &SafeRoot,
    cfg: &RootfsConfig<'_>,
    m: &Mount,
    dest: &Path,
    opts: &MountOptions,
    detached: Option<BorrowedFd<'_>>,
) -> Result<()> {
    let source = m
        .source()
        .as_ref()
        .ok_or_else(|| Error::invalid(format!("bind mount on {} has no source", dest.display())))?;
    let source = if source.is_absolute() {
        source.clone()
    } else {
        cfg.bundle.join(source)
    };
    let meta =
        std::fs::metadata(&source).ctx(|| format!("bind mount source {}", source.display()))?;
    let target = root.resolve(
        dest,
        if meta.is_dir() {
            Create::Dir
        } else {
            Create::File
        },
    )?;
    check_resolved_target(&target, dest)?;
    let flags = MsFlags::MS_BIND | (opts.flags & MsFlags::MS_REC);
    match detached {
        // An id-mapped clone of the source, prepared by hako on the host.
        Some(fd) => sys.move_mount(fd, &secure::fd_path(&target)),
        None => sys.mount(Some(&source), &secure::fd_path(&target), None, flags, None),
    }
    .ctx(|| {
        format!(
            "binding {} to {}",
            source.display(),
            root.display(dest).display()
        )
    })?;
    remount(sys, root, dest, remount_flags(opts))
}

/// Applies per-mount flags to the bind mount now at `dest`.
pub fn remount(sys: &dyn Syscall, root: &SafeRoot, dest: &Path, flags: MsFlags) -> Result<()> {
    if flags.is_empty() {
        return Ok(());
    }
    // Re-resolve: the descriptor used for mounting names the covered
    // directory, not the new mount.
    let mounted = root.resolve(dest, Create::Nothing)?;
    let target = secure::fd_path(&mounted);
    let base = MsFlags::MS_BIND | MsFlags::MS_REMOUNT;
    match sys.mount(None, &target, None, base | flags, None) {
        Err(Errno::EPERM) => sys.mount(
            None,
            &target,
            None,
            base | flags | locked_flags(&target),
            None,
        ),
        other => other,
    }
    .ctx(|| {
        format!(
            "remounting {} with {:?}",
            root.display(dest).display(),
            flags
        )
    })
}

/// Propagation changes and recursive attributes, on the new mount.
fn apply_after(sys: &dyn Syscall, root: &SafeRoot, dest: &Path, opts: &MountOptions) -> Result<()> {
    if opts.propagation.is_empty() && opts.attr_set == 0 && opts.attr_clr == 0 {
        return Ok(());
    }
    let mounted = root.resolve(dest, Create::Nothing)?;
    let target = secure::fd_path(&mounted);
    for p in &opts.propagation {
        sys.mount(None, &target, None, *p, None)
            .ctx(|| format!("setting propagation of {}", dest.display()))?;
    }
    if opts.attr_set != 0 || opts.attr_clr != 0 {
        sys.mount_setattr(&target, true, opts.attr_set, opts.attr_clr)
            .ctx(|| format!("setting recursive attributes of {}", dest.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_are_cleaned() {
        assert_eq!(
            clean_destination(Path::new("/a/./b/../c")),
            PathBuf::from("/a/c")
        );
        assert_eq!(
            clean_destination(Path::new("../../etc")),
            PathBuf::from("/etc")
        );
        assert_eq!(clean_destination(Path::new("data")), PathBuf::from("/data"));
    }

    #[test]
    fn mount_label_becomes_the_context() {
        assert_eq!(labelled_data("mode=755", None, "tmpfs"), "mode=755");
        assert_eq!(
            labelled_data(
                "mode=755",
                Some("system_u:object_r:container_file_t:s0:c1,c2"),
                "tmpfs"
            ),
            "mode=755,context=\"system_u:object_r:container_file_t:s0:c1,c2\""
        );
        assert_eq!(
            labelled_data("", Some("u:r:t:s0"), "mqueue"),
            "context=\"u:r:t:s0\""
        );
        assert_eq!(labelled_data("", Some("u:r:t:s0"), "proc"), "");
        assert_eq!(labelled_data("ro", Some("u:r:t:s0"), "sysfs"), "ro");
    }

    #[test]
    fn proc_rules() {
        check_proc_destination(Path::new("/proc"), "proc").unwrap();
        check_proc_destination(Path::new("/proc/cpuinfo"), "bind").unwrap();
        check_proc_destination(Path::new("/procfoo"), "tmpfs").unwrap();
        assert!(check_proc_destination(Path::new("/proc"), "tmpfs").is_err());
        assert!(
            check_proc_destination(Path::new("/proc/sys/kernel/core_pattern"), "bind").is_err()
        );
        assert!(check_proc_destination(Path::new("/proc/self/exe"), "").is_err());
    }
}
