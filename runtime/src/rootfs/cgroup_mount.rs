//! The container's `/sys/fs/cgroup`.
//!
//! With its own cgroup namespace the container mounts cgroup filesystems
//! itself and sees its own cgroup as the root. Without one, it gets bind
//! mounts of its own cgroup directories, never the host's whole tree.
//! On v1 and hybrid hosts a tmpfs holds one directory per hierarchy, named
//! as on the host (`cpu`, `memory`, `systemd`, `unified`).

use std::path::Path;

use nix::mount::MsFlags;

use super::mounts::remount;
use super::options::MountOptions;
use super::secure::{self, Create, SafeRoot};
use super::RootfsConfig;
use crate::cgroups::{Layout, Version};
use crate::error::{Context, Result};
use crate::syscall::Syscall;

/// Mounts the cgroup tree at `dest`.
pub fn mount(
    sys: &dyn Syscall,
    root: &SafeRoot,
    cfg: &RootfsConfig<'_>,
    dest: &Path,
    fstype: &str,
    opts: &MountOptions,
) -> Result<()> {
    let flags = opts.flags & !(MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
    let set = cfg.cgroups;
    let unified_only = fstype == "cgroup2" || set.layout() == Some(Layout::Unified);
    if set.dirs.is_empty() {
        // Rootless without delegation there is nothing to mount, and
        // nothing wrong: only a privileged container lacking its cgroup
        // is worth a warning.
        if cfg.user_ns {
            tracing::debug!(dest = %dest.display(), "no cgroup hierarchy for the container, cgroup mount skipped");
        } else {
            tracing::warn!(dest = %dest.display(), "no cgroup hierarchy for the container, cgroup mount skipped");
        }
        return Ok(());
    }
    if unified_only {
        let Some(dir) = set.dirs.iter().find(|d| d.version == Version::V2) else {
            tracing::warn!(dest = %dest.display(), "no cgroup2 hierarchy, cgroup2 mount skipped");
            return Ok(());
        };
        return one(sys, root, cfg, dest, Version::V2, "", &dir.path, flags);
    }
    let target = root.resolve(dest, Create::Dir)?;
    super::mounts::check_resolved_target(&target, dest)?;
    sys.mount(
        Some(Path::new("tmpfs")),
        &secure::fd_path(&target),
        Some("tmpfs"),
        flags & !MsFlags::MS_RDONLY,
        Some("mode=755"),
    )
    .ctx(|| format!("mounting tmpfs at {}", root.display(dest).display()))?;
    for dir in &set.dirs {
        let sub = dest.join(dir.name());
        one(
            sys,
            root,
            cfg,
            &sub,
            dir.version,
            &dir.controllers.join(","),
            &dir.path,
            flags,
        )?;
        // Co-mounted controllers (cpu,cpuacct) also answer to each name.
        if dir.controllers.len() > 1 {
            for c in &dir.controllers {
                let link = dest.join(c);
                if c.starts_with("name=") || link == sub {
                    continue;
                }
                let (parent, name) = root.parent_of(&link)?;
                match nix::unistd::symlinkat(dir.name().as_str(), parent, name) {
                    Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
                    Err(e) => return Err(e).ctx(|| format!("linking {}", link.display())),
                }
            }
        }
    }
    if flags.contains(MsFlags::MS_RDONLY) {
        let mounted = root.resolve(dest, Create::Nothing)?;
        sys.mount(
            None,
            &secure::fd_path(&mounted),
            None,
            MsFlags::MS_REMOUNT | flags,
            Some("mode=755"),
        )
        .ctx(|| format!("remounting {} read-only", dest.display()))?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn one(
    sys: &dyn Syscall,
    root: &SafeRoot,
    cfg: &RootfsConfig<'_>,
    dest: &Path,
    version: Version,
    controllers: &str,
    host_dir: &Path,
    flags: MsFlags,
) -> Result<()> {
    let target = root.resolve(dest, Create::Dir)?;
    super::mounts::check_resolved_target(&target, dest)?;
    let at = secure::fd_path(&target);
    if cfg.cgroup_ns {
        let (fstype, data) = match version {
            Version::V1 => ("cgroup", controllers),
            Version::V2 => ("cgroup2", ""),
        };
        sys.mount(
            Some(Path::new(fstype)),
            &at,
            Some(fstype),
            flags,
            Some(data),
        )
        .ctx(|| {
            format!(
                "mounting {fstype} ({controllers}) at {}",
                root.display(dest).display()
            )
        })
    } else {
        sys.mount(
            Some(host_dir),
            &at,
            None,
            MsFlags::MS_BIND | MsFlags::MS_REC,
            None,
        )
        .ctx(|| {
            format!(
                "binding {} to {}",
                host_dir.display(),
                root.display(dest).display()
            )
        })?;
        remount(sys, root, dest, flags)
    }
}
