//! Room under `pids.max` for the engine while a wasm container is created.
//!
//! At `create`, container init compiles the guest's module when it is not
//! in the cache, and compiling may take threads: wasmer's Cranelift
//! compiles on a pool of one thread per CPU, and WasmEdge's ahead-of-time
//! compiler runs in a child process with threads of its own. Those are
//! hako's set-up, not the container's, and gone (or going) by the time
//! init reports ready; as with the intermediate process, only the
//! container's own processes may count against its limit (runc's rule).
//! So while a wasm container with a small `linux.resources.pids.limit` is
//! created, hako raises its `pids.max` by [`extra`], and puts the
//! container's limit back once init is ready, before `create` returns:
//! nothing of the container's own runs in between. A limit that cannot be
//! put back fails `create`.

use std::path::PathBuf;

use super::set::CgroupSet;
use crate::error::{Context, Result};

/// How much room set-up gets: a compiler thread per CPU, and two more for
/// a compiler process and its main thread.
pub fn extra() -> i64 {
    std::thread::available_parallelism().map_or(1, |n| n.get() as i64) + 2
}

/// A raised `pids.max`, to be put back with [`Room::close`].
#[derive(Debug)]
pub struct Room {
    file: PathBuf,
    limit: i64,
}

/// The container's `pids.max`: the pids hierarchy's on v1, else the v2
/// directory's, if the file is there.
fn pids_max(cgroups: &CgroupSet) -> Option<PathBuf> {
    let dir = cgroups.v1_dir("pids").or_else(|| cgroups.v2_dir())?;
    let file = dir.path.join("pids.max");
    file.exists().then_some(file)
}

impl Room {
    /// Raises `pids.max` from `limit` (what `create` just wrote) by
    /// `extra`; `None` for no limit (0 or below) or no pids controller.
    pub fn open(cgroups: &CgroupSet, limit: i64, extra: i64) -> Result<Option<Room>> {
        if limit <= 0 {
            return Ok(None);
        }
        let Some(file) = pids_max(cgroups) else {
            return Ok(None);
        };
        super::file::write(&file, &limit.saturating_add(extra).to_string())
            .ctx(|| format!("making room for set-up in {}", file.display()))?;
        Ok(Some(Room { file, limit }))
    }

    /// Puts the container's own limit back.
    pub fn close(self) -> Result<()> {
        super::file::write(&self.file, &self.limit.to_string())
            .ctx(|| format!("restoring the pids limit in {}", self.file.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::hierarchy::{Hierarchy, Version};
    use crate::cgroups::path::{parse_proc_cgroup, CgroupsPath};

    fn set_in(root: &std::path::Path) -> CgroupSet {
        let hs = vec![Hierarchy {
            version: Version::V1,
            controllers: vec!["pids".into()],
            mount_point: root.join("pids"),
            root: "/".into(),
        }];
        let path = CgroupsPath::from_spec(None, "c1").unwrap();
        let set = CgroupSet::resolve(&hs, &parse_proc_cgroup("2:pids:/\n"), &path);
        std::fs::create_dir_all(&set.dirs[0].path).unwrap();
        set
    }

    #[test]
    fn raises_then_puts_the_limit_back() {
        let tmp = tempfile::tempdir().unwrap();
        let set = set_in(tmp.path());
        let file = set.dirs[0].path.join("pids.max");
        std::fs::write(&file, "1").unwrap();
        let room = Room::open(&set, 1, 4).unwrap().unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "5");
        room.close().unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "1");
    }

    #[test]
    fn no_limit_or_no_controller_needs_no_room() {
        let tmp = tempfile::tempdir().unwrap();
        let set = set_in(tmp.path());
        assert!(Room::open(&set, 0, 4).unwrap().is_none());
        assert!(Room::open(&set, -1, 4).unwrap().is_none());
        // No pids.max in the directory: no pids controller there.
        assert!(Room::open(&set, 1, 4).unwrap().is_none());
    }
}
