//! Container state on disk: one directory per container under `--root`.
//!
//! ```text
//! <root>/            0700
//! <root>/<id>/       0700, flock()ed by every command that uses it
//!     state.json     written atomically (write, fsync, rename)
//!     config.json    the spec as created, for later commands
//!     exec.fifo      exists from create until start
//! ```
//!
//! The status is derived, never stored: init alive and the fifo present is
//! `created`, alive without it `running` (or `paused` when frozen), and
//! init gone — or its pid reused by another process — `stopped`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};

use crate::cgroups::CgroupSet;
use crate::error::{Context, Error, Result};

/// The runtime-spec version hako implements.
pub const OCI_VERSION: &str = "1.2.1";

/// What hako remembers about a container.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerState {
    /// Container id.
    pub id: String,
    /// Container init's pid in hako's pid namespace.
    pub pid: i32,
    /// Init's start time (clock ticks since boot), to notice pid reuse.
    pub pid_start: u64,
    /// Absolute bundle path.
    pub bundle: PathBuf,
    /// Absolute rootfs path.
    pub rootfs: PathBuf,
    /// Creation time, RFC 3339 UTC.
    pub created: String,
    /// Owner user name (runc reports it; empty for root as runc does).
    pub owner: String,
    /// The spec's annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// The container's cgroup directories.
    pub cgroups: CgroupSet,
    /// Whether the container has its own pid namespace (killing init then
    /// kills everything in it).
    pub own_pid_ns: bool,
}

/// Container status, as `state` and `list` report it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Set up, waiting for `start`.
    Created,
    /// Started and running.
    Running,
    /// Frozen by `pause`.
    Paused,
    /// Init has exited.
    Stopped,
}

impl Status {
    /// The runtime-spec name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a command locks a container directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lock {
    /// Readers (`state`, `list`): wait for writers, run alongside readers.
    Shared,
    /// Writers (`create`, `start`, `delete`, …): one at a time.
    Exclusive,
}

/// The state root.
#[derive(Clone, Debug)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// A store at `root` (created on first use).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Store { root: root.into() }
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn ensure_root(&self) -> Result<()> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.root)
            .ctx(|| format!("creating state root {}", self.root.display()))
    }

    /// Claims a new container directory, locked exclusively; fails if the
    /// id is taken. The directory is made and locked under a name no id
    /// can have, then renamed into place without replacing anything: two
    /// concurrent creates of one id cannot both succeed, and a `delete`
    /// racing the create finds the directory already locked.
    pub fn claim(&self, id: &str) -> Result<ContainerDir> {
        crate::id::validate(id)?;
        self.ensure_root()?;
        let path = self.root.join(id);
        // '#' is not allowed in ids, so `list` never shows a claim in
        // progress.
        let tmp = self.root.join(format!("#{id}#{}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&tmp)
            .ctx(|| format!("creating state directory {}", tmp.display()))?;
        let dir = match ContainerDir::lock_unchecked(id, tmp.clone(), Lock::Exclusive) {
            Ok(dir) => dir,
            Err(e) => {
                let _ = std::fs::remove_dir(&tmp);
                return Err(e);
            }
        };
        match nix::fcntl::renameat2(
            nix::fcntl::AT_FDCWD,
            &tmp,
            nix::fcntl::AT_FDCWD,
            &path,
            nix::fcntl::RenameFlags::RENAME_NOREPLACE,
        ) {
            Ok(()) => Ok(ContainerDir { path, ..dir }),
            Err(e) => {
                let _ = std::fs::remove_dir(&tmp);
                match e {
                    nix::errno::Errno::EEXIST => Err(Error::Exists(id.into())),
                    e => Err(e).ctx(|| format!("creating state directory {}", path.display())),
                }
            }
        }
    }

    /// Opens an existing container directory with a lock.
    pub fn open(&self, id: &str, lock: Lock) -> Result<ContainerDir> {
        crate::id::validate(id)?;
        let path = self.root.join(id);
        if !path.is_dir() {
            return Err(Error::NotFound(id.into()));
        }
        ContainerDir::lock(id, path, lock)
    }

    /// Ids of every container directory, sorted.
    pub fn ids(&self) -> Result<Vec<String>> {
        let entries = match std::fs::read_dir(&self.root) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![]),
            Err(e) => return Err(e).ctx(|| format!("reading state root {}", self.root.display())),
        };
        let mut ids: Vec<String> = entries
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|id| crate::id::validate(id).is_ok())
            .collect();
        ids.sort();
        Ok(ids)
    }
}

/// A locked container directory.
#[derive(Debug)]
pub struct ContainerDir {
    id: String,
    path: PathBuf,
    // Held for the lifetime of the value; dropping it releases the lock.
    lock: Flock<File>,
}

impl ContainerDir {
    /// Locks the directory at `path`, then checks that the path still
    /// names the locked directory: a `delete` that held the lock first may
    /// have removed it, and the container is then gone.
    fn lock(id: &str, path: PathBuf, lock: Lock) -> Result<ContainerDir> {
        use std::os::unix::fs::MetadataExt;
        let dir = match Self::lock_unchecked(id, path, lock) {
            Err(Error::Io { err, .. }) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound(id.into()))
            }
            other => other?,
        };
        let locked = dir
            .lock
            .metadata()
            .ctx(|| format!("inspecting {}", dir.path.display()))?;
        match std::fs::symlink_metadata(&dir.path) {
            Ok(now) if now.ino() == locked.ino() && now.dev() == locked.dev() => Ok(dir),
            _ => Err(Error::NotFound(id.into())),
        }
    }

    fn lock_unchecked(id: &str, path: PathBuf, lock: Lock) -> Result<ContainerDir> {
        let file =
            File::open(&path).ctx(|| format!("opening state directory {}", path.display()))?;
        let arg = match lock {
            Lock::Shared => FlockArg::LockShared,
            Lock::Exclusive => FlockArg::LockExclusive,
        };
        let lock = Flock::lock(file, arg)
            .map_err(|(_, errno)| errno)
            .ctx(|| format!("locking {}", path.display()))?;
        Ok(ContainerDir {
            id: id.into(),
            path,
            lock,
        })
    }

    /// The container id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The start fifo.
    pub fn fifo(&self) -> PathBuf {
        self.path.join("exec.fifo")
    }

    /// Whether state.json exists (it does not while create is running, or
    /// after a create that was killed half-way).
    pub fn has_state(&self) -> bool {
        self.path.join("state.json").exists()
    }

    /// Loads state.json.
    pub fn load(&self) -> Result<ContainerState> {
        let file = self.path.join("state.json");
        let raw = match std::fs::read(&file) {
            Ok(raw) => raw,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::NotFound(self.id.clone()))
            }
            Err(e) => return Err(e).ctx(|| format!("reading {}", file.display())),
        };
        serde_json::from_slice(&raw).map_err(|e| Error::invalid(format!("{}: {e}", file.display())))
    }

    /// Writes state.json atomically.
    pub fn save(&self, state: &ContainerState) -> Result<()> {
        let data = serde_json::to_vec(state)
            .map_err(|e| Error::invalid(format!("encoding state: {e}")))?;
        write_atomic(&self.path.join("state.json"), &data, 0o600)
    }

    /// Records the cgroups a create is about to make, before it makes
    /// them: if that create is killed half-way, `delete` finds them here.
    pub fn save_pending_cgroups(&self, cgroups: &crate::cgroups::CgroupSet) -> Result<()> {
        let data = serde_json::to_vec(cgroups)
            .map_err(|e| Error::invalid(format!("encoding cgroups: {e}")))?;
        write_atomic(&self.path.join("cgroups.json"), &data, 0o600)
    }

    /// The cgroups a half-done create recorded, if any.
    pub fn load_pending_cgroups(&self) -> Option<crate::cgroups::CgroupSet> {
        let raw = std::fs::read(self.path.join("cgroups.json")).ok()?;
        serde_json::from_slice(&raw).ok()
    }

    /// Stores a copy of the spec for later commands.
    pub fn save_spec(&self, spec: &oci_spec::runtime::Spec) -> Result<()> {
        let data =
            serde_json::to_vec(spec).map_err(|e| Error::invalid(format!("encoding spec: {e}")))?;
        write_atomic(&self.path.join("config.json"), &data, 0o600)
    }

    /// Loads the stored spec.
    pub fn load_spec(&self) -> Result<oci_spec::runtime::Spec> {
        let file = self.path.join("config.json");
        let raw = std::fs::read(&file).ctx(|| format!("reading {}", file.display()))?;
        crate::spec::parse(&raw).map_err(|e| Error::invalid(format!("{}: {e}", file.display())))
    }

    /// Removes the directory and everything in it.
    pub fn destroy(self) -> Result<()> {
        std::fs::remove_dir_all(&self.path)
            .ctx(|| format!("removing state directory {}", self.path.display()))
    }
}

/// Writes a file by writing a temporary sibling and renaming it over:
/// readers see the whole old file or the whole new one. Not synced to
/// disk: container state lives in a runtime directory (`/run`) and
/// describes processes that do not survive the machine either, so a sync
/// per write (four per lifecycle) would buy nothing but time.
pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    write_via_rename(path, data, mode, false)
}

/// [`write_atomic`], synced to disk before the rename: for files that
/// outlive a reboot (compiled modules).
pub fn write_durable(path: &Path, data: &[u8], mode: u32) -> Result<()> {
    write_via_rename(path, data, mode, true)
}

fn write_via_rename(path: &Path, data: &[u8], mode: u32, sync: bool) -> Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(data)?;
        if sync {
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.ctx(|| format!("writing {}", path.display()))
}

/// The current time in RFC 3339 UTC with nanoseconds, as runc prints it.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A state for container `id` whose init is `pid`, started at `start`.
    pub(crate) fn state(id: &str, pid: i32, start: u64) -> ContainerState {
        ContainerState {
            id: id.into(),
            pid,
            pid_start: start,
            bundle: "/b".into(),
            rootfs: "/b/rootfs".into(),
            created: now_rfc3339(),
            owner: String::new(),
            annotations: BTreeMap::new(),
            cgroups: CgroupSet::default(),
            own_pid_ns: true,
        }
    }

    #[test]
    fn claim_is_exclusive_and_ids_are_checked() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path().join("root"));
        let dir = store.claim("c1").unwrap();
        assert!(matches!(store.claim("c1"), Err(Error::Exists(_))));
        assert!(matches!(store.claim("../x"), Err(Error::Invalid(_))));
        assert!(!tmp.path().join("x").exists());
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(store.root())
                .unwrap()
                .permissions()
                .mode()
                & 0o777,
            0o700
        );
        assert_eq!(
            std::fs::metadata(dir.path()).unwrap().permissions().mode() & 0o777,
            0o700
        );
        assert_eq!(store.ids().unwrap(), vec!["c1"]);
        drop(dir);
        assert!(matches!(
            store.open("nope", Lock::Shared),
            Err(Error::NotFound(_))
        ));
    }

    #[test]
    fn state_round_trips() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path());
        let dir = store.claim("c1").unwrap();
        assert!(!dir.has_state());
        assert!(matches!(dir.load(), Err(Error::NotFound(_))));

        // This test process stands in for container init.
        let me = std::process::id() as i32;
        let start = crate::process::proc::start_time(me).unwrap();
        let s = state("c1", me, start);
        dir.save(&s).unwrap();
        assert_eq!(dir.load().unwrap(), s);

        dir.destroy().unwrap();
        assert!(store.ids().unwrap().is_empty());
    }

    #[test]
    fn shared_locks_coexist_and_exclusive_waits() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::new(tmp.path());
        drop(store.claim("c1").unwrap());
        let a = store.open("c1", Lock::Shared).unwrap();
        let b = store.open("c1", Lock::Shared).unwrap();
        let store2 = store.clone();
        let (tx, rx) = std::sync::mpsc::channel();
        let t = std::thread::spawn(move || {
            let _w = store2.open("c1", Lock::Exclusive).unwrap();
            tx.send(()).unwrap();
        });
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(
            rx.try_recv().is_err(),
            "writer ran while readers held the lock"
        );
        drop((a, b));
        rx.recv_timeout(std::time::Duration::from_secs(5)).unwrap();
        t.join().unwrap();
    }

    #[test]
    fn atomic_write_replaces() {
        let tmp = tempfile::tempdir().unwrap();
        let f = tmp.path().join("x.json");
        write_atomic(&f, b"one", 0o600).unwrap();
        write_durable(&f, b"two", 0o600).unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"two");
        write_atomic(&f, b"three", 0o640).unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"three");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o640
        );
        assert_eq!(
            std::fs::read_dir(tmp.path()).unwrap().count(),
            1,
            "no temporary left"
        );
    }
}
