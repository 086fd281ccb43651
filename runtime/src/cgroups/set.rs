//! The container's cgroup: one directory in every hierarchy.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::hierarchy::{self, Hierarchy, Layout, Version};
use super::path::{self, CgroupsPath};
use super::systemd::{self, Unit};
use crate::error::{Context, Error, Result};

/// The container's directory in one hierarchy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupDir {
    /// Hierarchy version.
    pub version: Version,
    /// v1 controllers of the hierarchy; empty for v2.
    pub controllers: Vec<String>,
    /// The hierarchy's mount point.
    pub mount_point: PathBuf,
    /// The container's directory.
    pub path: PathBuf,
}

/// One write of [`CgroupSet::join_plan`].
///
/// Moving a whole process (`cgroup.procs`) takes the kernel's cgroup
/// threadgroup lock for writing, and the first such move after a quiet
/// spell waits out an RCU grace period: 5–10 ms of idle time, the largest
/// single cost of `create` on a host with v1 hierarchies. A thread that
/// moves itself alone (`0` written to a v1 `tasks` file) needs no such
/// lock: it cannot exit or exec under the kernel's hands. For a
/// single-threaded process, as hako's forked set-up processes are, that
/// moves the whole process. cgroup v2 has no such move across domains,
/// so there the process is forked into its directory (`clone_into`), or
/// moves whole.
#[derive(Debug, PartialEq, Eq)]
pub struct JoinPlan {
    /// The file `0` (the writer itself) is written to.
    pub file: PathBuf,
    /// Where the process moves whole, with its pid, if `file` refuses.
    pub fallback: Option<PathBuf>,
}

impl CgroupDir {
    /// The directory name used inside the container's `/sys/fs/cgroup`.
    pub fn name(&self) -> String {
        self.mount_point
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The container's path relative to the hierarchy's mount point.
    pub fn relative(&self) -> &Path {
        self.path
            .strip_prefix(&self.mount_point)
            .unwrap_or(&self.path)
    }
}

/// The container's cgroup across every mounted hierarchy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupSet {
    /// One entry per hierarchy, in mount order.
    pub dirs: Vec<CgroupDir>,
    /// The systemd unit that owns the cgroup (`--systemd-cgroup`); the
    /// directories are then the unit's, made by systemd.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd: Option<Unit>,
}

impl CgroupSet {
    /// Resolves a cgroups path against hierarchies and hako's own cgroups.
    pub fn resolve(
        hierarchies: &[Hierarchy],
        own: &[path::ProcCgroup],
        path: &CgroupsPath,
    ) -> Self {
        let dirs = hierarchies
            .iter()
            .map(|h| CgroupDir {
                version: h.version,
                controllers: h.controllers.clone(),
                mount_point: h.mount_point.clone(),
                path: path.dir_in(h, path::own_path(own, h)),
            })
            .collect();
        CgroupSet {
            dirs,
            systemd: None,
        }
    }

    /// Resolves the spec's cgroups path on this host. With `systemd`, the
    /// path is `slice:prefix:name` and the cgroup will be a systemd unit:
    /// the system instance's, or the user's own when `rootless`.
    pub fn for_container(
        spec_path: Option<&Path>,
        id: &str,
        systemd: bool,
        rootless: bool,
    ) -> Result<Self> {
        let mut unit = None;
        let path = if systemd {
            if !systemd::booted() {
                return Err(Error::invalid(
                    "--systemd-cgroup: systemd is not running on this host (no /run/systemd/system); drop the flag to use cgroupfs",
                ));
            }
            let (slice, name) = path::systemd_unit(spec_path, id).map_err(Error::invalid)?;
            let user = rootless;
            let base = if user {
                systemd::user_manager_base(systemd::host_uid())
            } else {
                PathBuf::from("/")
            };
            if user && !systemd::session_bus_known() {
                // As runc: without a user instance to ask, a rootless
                // container goes on without a cgroup of its own, unless
                // the caller delegated one (best effort, below).
                tracing::warn!("rootless --systemd-cgroup: no session bus (DBUS_SESSION_BUS_ADDRESS, $XDG_RUNTIME_DIR/bus), using cgroupfs");
            } else {
                unit = Some(Unit {
                    name,
                    slice,
                    user,
                    id: id.to_string(),
                });
            }
            CgroupsPath::from_systemd(spec_path, id, &base)
        } else {
            CgroupsPath::from_spec(spec_path, id)
        }
        .map_err(Error::invalid)?;
        let mounts = crate::mountinfo::read_self().ctx(|| "reading /proc/self/mountinfo".into())?;
        let hierarchies = hierarchy::discover(&mounts);
        let own = std::fs::read_to_string("/proc/self/cgroup")
            .ctx(|| "reading /proc/self/cgroup".into())?;
        let mut set = Self::resolve(&hierarchies, &path::parse_proc_cgroup(&own), &path);
        set.systemd = unit;
        Ok(set)
    }

    /// The host layout these directories come from.
    pub fn layout(&self) -> Option<Layout> {
        Layout::of(self.dirs.iter().map(|d| d.version))
    }

    /// Creates the directories; returns those that exist. With
    /// `best_effort` (rootless), hierarchies that are not delegated to the
    /// caller are left out instead of failing; otherwise a failure removes
    /// what was created.
    pub fn create_dirs(&self, best_effort: bool) -> Result<Vec<CgroupDir>> {
        let mut kept = Vec::new();
        for dir in &self.dirs {
            match create_dir(dir) {
                Ok(()) => kept.push(dir.clone()),
                Err(err) if best_effort => {
                    tracing::debug!(path = %dir.path.display(), %err, "cgroup not delegated, skipped");
                }
                Err(err) => {
                    let failed = CgroupSet {
                        dirs: kept,
                        systemd: None,
                    };
                    let _ = failed.remove_dirs();
                    return Err(err).ctx(|| format!("creating cgroup {}", dir.path.display()));
                }
            }
        }
        Ok(kept)
    }

    /// Makes every directory that does not exist yet (after systemd made
    /// its own), each failure an error.
    pub fn ensure_dirs(&self) -> Result<()> {
        for dir in &self.dirs {
            create_dir(dir).ctx(|| format!("creating cgroup {}", dir.path.display()))?;
        }
        Ok(())
    }

    /// The manager for this cgroup: systemd's unit, or plain cgroupfs.
    pub fn manager(&self) -> Box<dyn super::Manager + '_> {
        match &self.systemd {
            Some(unit) => Box::new(super::manager::Systemd { set: self, unit }),
            None => Box::new(super::manager::Cgroupfs { set: self }),
        }
    }

    /// Moves the calling process into every directory, except the v2 one
    /// when it was forked into that already (`v2_joined`). The caller
    /// must be single-threaded: see [`JoinPlan`].
    pub fn join_self(&self, v2_joined: bool) -> Result<()> {
        let pid = std::process::id().to_string();
        for step in self.join_plan(v2_joined) {
            let written = super::file::write(&step.file, "0");
            let written = match (written, &step.fallback) {
                // A v1 `tasks` file this user may not write (a delegation
                // of cgroup.procs alone): the process-wide move instead.
                // Any other error (an empty cpuset, a full pids limit) is
                // the move's own and is reported as it is.
                (Err(e), Some(procs))
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::NotFound
                    ) =>
                {
                    super::file::write(procs, &pid).map_err(|e| (e, procs))
                }
                (other, _) => other.map_err(|e| (e, &step.file)),
            };
            if let Err((e, file)) = written {
                return Err(e).ctx(|| format!("joining cgroup {}", file.display()));
            }
        }
        Ok(())
    }

    /// The writes that move the calling process in: pure, for
    /// [`Self::join_self`].
    pub fn join_plan(&self, v2_joined: bool) -> Vec<JoinPlan> {
        self.dirs
            .iter()
            .filter_map(|dir| match dir.version {
                Version::V1 => Some(JoinPlan {
                    file: dir.path.join("tasks"),
                    fallback: Some(dir.path.join("cgroup.procs")),
                }),
                Version::V2 if v2_joined => None,
                Version::V2 => Some(JoinPlan {
                    file: dir.path.join("cgroup.procs"),
                    fallback: None,
                }),
            })
            .collect()
    }

    /// The processes in the container's cgroup, sub-cgroups included.
    pub fn pids(&self) -> Result<Vec<i32>> {
        // Every hierarchy tracks every process; v2 (or pids, freezer) is
        // the one that always exists, but any will do.
        let dir = self
            .v2_dir()
            .or_else(|| self.dirs.first())
            .ok_or_else(|| Error::invalid("the container has no cgroup"))?;
        let mut pids = Vec::new();
        collect_pids(&dir.path, &mut pids)?;
        pids.sort_unstable();
        pids.dedup();
        Ok(pids)
    }

    /// Removes the directories (and any sub-cgroups the container made),
    /// retrying briefly while the last processes exit.
    pub fn remove_dirs(&self) -> Result<()> {
        let mut first_err = None;
        for dir in &self.dirs {
            if let Err(e) = remove_tree(&dir.path) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// The directory of the v1 hierarchy that has `controller`.
    pub fn v1_dir(&self, controller: &str) -> Option<&CgroupDir> {
        self.dirs
            .iter()
            .find(|d| d.version == Version::V1 && d.controllers.iter().any(|c| c == controller))
    }

    /// The directory in the cgroup v2 tree.
    pub fn v2_dir(&self) -> Option<&CgroupDir> {
        self.dirs.iter().find(|d| d.version == Version::V2)
    }

    /// The container's cgroup v2 directory when hako manages it itself
    /// (no systemd unit): what a process can be forked straight into. The
    /// v1 directories of a hybrid host are joined after that.
    pub fn fork_target(&self) -> Option<&std::path::Path> {
        match &self.systemd {
            None => self.v2_dir().map(|d| d.path.as_path()),
            Some(_) => None,
        }
    }

    /// Whether a v1 hierarchy with this controller is part of the set.
    pub fn has_v1(&self, controller: &str) -> bool {
        self.v1_dir(controller).is_some()
    }

    /// The first existing directory that already holds processes, and how
    /// many: a container never shares a cgroup (killing or removing it
    /// would reach processes that are not the container's).
    pub fn occupied(&self) -> Result<Option<(PathBuf, usize)>> {
        for dir in &self.dirs {
            let mut pids = Vec::new();
            collect_pids(&dir.path, &mut pids)?;
            if !pids.is_empty() {
                return Ok(Some((dir.path.clone(), pids.len())));
            }
        }
        Ok(None)
    }
}

/// mkdir -p of one cgroup directory. A new v1 cpuset cgroup starts with
/// no cpus and mems, and joining it fails (ENOSPC) until they are set:
/// each new level inherits its parent's.
fn create_dir(dir: &CgroupDir) -> std::io::Result<()> {
    let cpuset = dir.version == Version::V1 && dir.controllers.iter().any(|c| c == "cpuset");
    if !cpuset {
        return std::fs::create_dir_all(&dir.path);
    }
    let mut current = dir.mount_point.clone();
    for part in dir.relative().components() {
        let parent = current.clone();
        current.push(part);
        match std::fs::create_dir(&current) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        for file in ["cpuset.cpus", "cpuset.mems"] {
            let own = std::fs::read_to_string(current.join(file)).unwrap_or_default();
            if own.trim().is_empty() {
                let inherited = std::fs::read_to_string(parent.join(file))?;
                std::fs::write(current.join(file), inherited.trim())?;
            }
        }
    }
    Ok(())
}

fn collect_pids(dir: &Path, out: &mut Vec<i32>) -> Result<()> {
    let procs = dir.join("cgroup.procs");
    // A sub-cgroup removed while it is walked (ENOENT, or ENODEV for a
    // directory being torn down) is simply gone.
    let gone = |e: &std::io::Error| {
        e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENODEV)
    };
    let text = match std::fs::read_to_string(&procs) {
        Ok(t) => t,
        Err(e) if gone(&e) => return Ok(()),
        Err(e) => return Err(e).ctx(|| format!("reading {}", procs.display())),
    };
    out.extend(text.lines().filter_map(|l| l.trim().parse::<i32>().ok()));
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if gone(&e) => return Ok(()),
        Err(e) => return Err(e).ctx(|| format!("reading {}", dir.display())),
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            collect_pids(&entry.path(), out)?;
        }
    }
    Ok(())
}

/// rmdir a cgroup depth-first. cgroup directories hold only kernel files,
/// so rmdir is the whole removal.
fn remove_tree(dir: &Path) -> Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e).ctx(|| format!("reading cgroup {}", dir.display())),
    };
    for entry in entries.flatten() {
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&entry.path())?;
        }
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            // Processes that were just killed leave the cgroup shortly after.
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e).ctx(|| format!("removing cgroup {}", dir.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::path::parse_proc_cgroup;

    fn hierarchies(root: &Path) -> Vec<Hierarchy> {
        vec![
            Hierarchy {
                version: Version::V1,
                controllers: vec!["memory".into()],
                mount_point: root.join("memory"),
                root: "/".into(),
            },
            Hierarchy {
                version: Version::V1,
                controllers: vec!["pids".into()],
                mount_point: root.join("pids"),
                root: "/".into(),
            },
            Hierarchy {
                version: Version::V2,
                controllers: vec![],
                mount_point: root.join("unified"),
                root: "/".into(),
            },
        ]
    }

    /// The v2 directory is one to fork into unless systemd owns it.
    #[test]
    fn the_fork_target_is_the_v2_dir_without_systemd() {
        let tmp = tempfile::tempdir().unwrap();
        let hs = hierarchies(tmp.path());
        let path = CgroupsPath::from_spec(None, "c1").unwrap();
        let unified = tmp.path().join("unified/hako/c1");
        let hybrid = CgroupSet::resolve(&hs, &parse_proc_cgroup("0::/\n"), &path);
        assert_eq!(hybrid.fork_target(), Some(unified.as_path()));
        let v1 = CgroupSet::resolve(&hs[..2], &parse_proc_cgroup("0::/\n"), &path);
        assert_eq!(v1.fork_target(), None);
        let mut pure = CgroupSet::resolve(&hs[2..], &parse_proc_cgroup("0::/\n"), &path);
        assert_eq!(pure.fork_target(), Some(unified.as_path()));
        pure.systemd = Some(Unit {
            name: "hako-c1.scope".into(),
            slice: "system.slice".into(),
            user: false,
            id: "c1".into(),
        });
        assert_eq!(pure.fork_target(), None);
    }

    /// v1 hierarchies are joined thread-wise, by the writer itself (no
    /// threadgroup lock); v2 whole, unless the fork did it.
    #[test]
    fn the_join_moves_the_writer_itself() {
        let tmp = tempfile::tempdir().unwrap();
        let hs = hierarchies(tmp.path());
        let set = CgroupSet::resolve(&hs, &[], &CgroupsPath::from_spec(None, "c1").unwrap());
        let dir = |name: &str| tmp.path().join(name).join("hako/c1");
        let v1 = |name: &str| JoinPlan {
            file: dir(name).join("tasks"),
            fallback: Some(dir(name).join("cgroup.procs")),
        };
        let v2 = JoinPlan {
            file: dir("unified").join("cgroup.procs"),
            fallback: None,
        };
        assert_eq!(set.join_plan(true), vec![v1("memory"), v1("pids")]);
        assert_eq!(set.join_plan(false), vec![v1("memory"), v1("pids"), v2]);
    }

    #[test]
    fn lifecycle_on_a_fake_tree() {
        let tmp = tempfile::tempdir().unwrap();
        let hs = hierarchies(tmp.path());
        let own = parse_proc_cgroup("3:memory:/\n2:pids:/\n0::/\n");
        let mut set = CgroupSet::resolve(&hs, &own, &CgroupsPath::from_spec(None, "c1").unwrap());
        assert_eq!(set.layout(), Some(Layout::Hybrid));
        assert_eq!(set.dirs[0].path, tmp.path().join("memory/hako/c1"));
        assert_eq!(set.dirs[2].relative(), Path::new("hako/c1"));
        assert_eq!(set.dirs[2].name(), "unified");
        let created = set.manager().create(false).unwrap();
        set.dirs = created;
        assert!(set.dirs.iter().all(|d| d.path.is_dir()));

        set.join_self(false).unwrap();
        assert_eq!(
            std::fs::read_to_string(set.dirs[1].path.join("tasks")).unwrap(),
            "0"
        );
        // A `tasks` file that is not there: the process moves whole.
        let tasks = set.dirs[0].path.join("tasks");
        std::fs::remove_file(&tasks).unwrap();
        std::os::unix::fs::symlink("/nonexistent/tasks", &tasks).unwrap();
        set.join_self(true).unwrap();
        assert_eq!(
            std::fs::read_to_string(set.dirs[0].path.join("cgroup.procs")).unwrap(),
            std::process::id().to_string()
        );
        std::fs::remove_file(&tasks).unwrap();
        // Any other refusal is the move's own, and names `tasks`.
        std::fs::create_dir(&tasks).unwrap();
        let err = set.join_self(true).unwrap_err().to_string();
        assert!(err.contains(&tasks.display().to_string()), "{err}");
        std::fs::remove_dir(&tasks).unwrap();
        std::fs::write(set.dirs[2].path.join("cgroup.procs"), "7\n8\n").unwrap();
        std::fs::create_dir(set.dirs[2].path.join("sub")).unwrap();
        std::fs::write(set.dirs[2].path.join("sub/cgroup.procs"), "9\n").unwrap();
        assert_eq!(set.pids().unwrap(), vec![7, 8, 9]);

        // A real cgroupfs lets rmdir remove its files; a fake tree must not
        // hold any for remove() to behave the same.
        for d in &set.dirs {
            let _ = std::fs::remove_file(d.path.join("cgroup.procs"));
            let _ = std::fs::remove_file(d.path.join("tasks"));
        }
        let _ = std::fs::remove_file(set.dirs[2].path.join("sub/cgroup.procs"));
        set.manager().remove().unwrap();
        assert!(set.dirs.iter().all(|d| !d.path.exists()));
        assert!(tmp.path().join("memory/hako").is_dir(), "parents stay");
        set.manager().remove().unwrap();
    }

    #[test]
    fn best_effort_skips_what_cannot_be_created() {
        let tmp = tempfile::tempdir().unwrap();
        let mut hs = hierarchies(tmp.path());
        // A file where a directory should be: creation fails there.
        std::fs::write(tmp.path().join("pids"), "").unwrap();
        hs.truncate(2);
        let path = CgroupsPath::from_spec(None, "c1").unwrap();
        let strict = CgroupSet::resolve(&hs, &[], &path);
        assert!(strict.manager().create(false).is_err());
        assert!(
            !tmp.path().join("memory/hako/c1").exists(),
            "cleaned up after failure"
        );
        let mut lenient = CgroupSet::resolve(&hs, &[], &path);
        let created = lenient.manager().create(true).unwrap();
        lenient.dirs = created;
        assert_eq!(lenient.dirs.len(), 1);
        assert_eq!(lenient.dirs[0].controllers, vec!["memory"]);
    }
}
