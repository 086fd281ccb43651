//! The one interface to a container's cgroup: create it, hand it its
//! first process, join, apply limits, freeze, read statistics and
//! processes, remove. [`Cgroupfs`] writes the files itself; [`Systemd`]
//! has a transient unit own the cgroup and does the rest in its files.

use std::path::Path;

use oci_spec::runtime::LinuxResources;

use super::resources::Planned;
use super::set::{CgroupDir, CgroupSet};
use super::stats::Stats;
use super::systemd::{self, Unit};
use crate::error::{Error, Result};

/// What hako does with a container's cgroup.
pub trait Manager {
    /// The directories managed.
    fn set(&self) -> &CgroupSet;

    /// Makes the cgroup; returns the directories that exist afterwards
    /// (`best_effort`, rootless: the delegated ones).
    fn create(&self, best_effort: bool) -> Result<Vec<CgroupDir>>;

    /// Hands the cgroup its first process, `pid` (set-up's intermediate).
    fn start(&self, pid: i32) -> Result<()>;

    /// Applies planned limits and device rules.
    fn apply(&self, planned: &Planned) -> Result<()>;

    /// Removes the cgroup.
    fn remove(&self) -> Result<()>;

    /// Changes the limits of a live container (`update`).
    fn update(&self, res: &LinuxResources) -> Result<()> {
        self.apply(&Planned::new(self.set(), res, None)?)
    }

    /// Moves the calling single-threaded process in; `v2_joined`: it was
    /// forked into the v2 directory already.
    fn join_self(&self, v2_joined: bool) -> Result<()> {
        self.set().join_self(v2_joined)
    }

    /// Freezes every process (`pause`).
    fn freeze(&self) -> Result<()> {
        super::freezer::freeze(self.set())
    }

    /// Thaws them (`resume`).
    fn thaw(&self) -> Result<()> {
        super::freezer::thaw(self.set())
    }

    /// Whether the cgroup is frozen.
    fn is_frozen(&self) -> bool {
        super::freezer::is_frozen(self.set())
    }

    /// Resource statistics (`events --stats`).
    fn stats(&self) -> Stats {
        super::stats::collect(self.set())
    }

    /// The processes in it, sub-cgroups included.
    fn pids(&self) -> Result<Vec<i32>> {
        self.set().pids()
    }
}

/// hako makes and writes the cgroup directories itself.
pub struct Cgroupfs<'a> {
    /// The directories.
    pub set: &'a CgroupSet,
}

impl Manager for Cgroupfs<'_> {
    fn set(&self) -> &CgroupSet {
        self.set
    }

    fn create(&self, best_effort: bool) -> Result<Vec<CgroupDir>> {
        self.set.create_dirs(best_effort)
    }

    fn start(&self, _pid: i32) -> Result<()> {
        // The intermediate joins the directories itself.
        Ok(())
    }

    fn apply(&self, planned: &Planned) -> Result<()> {
        planned.apply_files(self.set)
    }

    fn remove(&self) -> Result<()> {
        self.set.remove_dirs()
    }
}

/// A transient systemd unit owns the cgroup (`--systemd-cgroup`).
pub struct Systemd<'a> {
    /// The unit's directories (and the v1 ones systemd does not manage).
    pub set: &'a CgroupSet,
    /// The unit.
    pub unit: &'a Unit,
}

impl Manager for Systemd<'_> {
    fn set(&self) -> &CgroupSet {
        self.set
    }

    fn create(&self, _best_effort: bool) -> Result<Vec<CgroupDir>> {
        // systemd makes them when it starts the unit (`start`).
        Ok(self.set.dirs.clone())
    }

    /// Asks systemd for the unit, with `pid` in it, then makes the
    /// directories of the v1 hierarchies systemd does not manage. Checks
    /// that systemd placed the unit where the state says it is.
    fn start(&self, pid: i32) -> Result<()> {
        let unit = self.unit;
        let pid = u32::try_from(pid).map_err(|_| Error::invalid(format!("invalid pid {pid}")))?;
        let group = systemd::bus::start(unit, unit.is_scope().then_some(pid))?;
        let expected = self.set.dirs.first().map(CgroupDir::relative);
        let actual = Path::new(group.trim_start_matches('/'));
        if expected.is_some_and(|e| e != actual) {
            let e = expected.unwrap_or(Path::new(""));
            let _ = systemd::bus::stop(unit);
            return Err(Error::invalid(format!(
                "systemd put unit {} in cgroup {group}, not /{}",
                unit.name,
                e.display()
            )));
        }
        if let Err(e) = self.set.ensure_dirs() {
            let _ = systemd::bus::stop(unit);
            return Err(e);
        }
        Ok(())
    }

    /// The unit's properties first: systemd writes its files when a
    /// property changes, and the exact values in the files must be the
    /// last word.
    fn apply(&self, planned: &Planned) -> Result<()> {
        systemd::bus::set_properties(self.unit, planned.unit_properties())?;
        planned.apply_files(self.set)
    }

    /// Stops the unit (systemd removes its cgroup, sub-cgroups included);
    /// what is left (v1 hierarchies it does not manage) goes as with
    /// cgroupfs.
    fn remove(&self) -> Result<()> {
        let stopped = systemd::bus::stop(self.unit);
        let removed = self.set.remove_dirs();
        stopped.and(removed)
    }
}
