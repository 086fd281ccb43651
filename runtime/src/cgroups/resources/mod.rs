//! `linux.resources`: limits written to the container's cgroup.
//!
//! The spec's resources become a list of [`Write`]s — controller, file,
//! value — by pure functions, one module per [`Controller`], each with
//! its v1 and its v2 writes; each controller uses the version the host
//! mounts it on (on a hybrid host, v1 for memory/cpu/…, and v2 for
//! whatever only the unified tree has). [`apply`] then writes them.
//! Device rules are [`devices`]: a v1 allow/deny list, or a v2 eBPF
//! program.

pub mod controllers;
pub mod devices;
pub mod unified;

pub use controllers::Controller;

use std::path::PathBuf;

use oci_spec::runtime::LinuxResources;

use super::hierarchy::Version;
use super::set::{CgroupDir, CgroupSet};
use crate::error::{Context, Error, Result};

/// One file to write in the container's cgroup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Write {
    /// The controller whose hierarchy holds the file (`memory`, `cpu`, …).
    pub controller: &'static str,
    /// The file name.
    pub file: String,
    /// What to write.
    pub value: String,
}

impl Write {
    /// A write.
    pub fn new(controller: &'static str, file: impl Into<String>, value: impl ToString) -> Write {
        Write {
            controller,
            file: file.into(),
            value: value.to_string(),
        }
    }
}

/// The directory that holds a controller's files.
fn dir_for<'a>(set: &'a CgroupSet, controller: &str, version: Version) -> Option<&'a CgroupDir> {
    match version {
        Version::V1 => set.v1_dir(controller),
        Version::V2 => set.v2_dir(),
    }
}

/// Every write the resources need on this host, in order.
pub fn plan(set: &CgroupSet, res: &LinuxResources) -> Result<Vec<(Version, Write)>> {
    let mut out = Vec::new();
    for controller in Controller::ALL {
        let v1_name = controller.v1_name();
        let writes = if set.has_v1(v1_name) {
            controller
                .v1(res, &|file| read_v1(set, v1_name, file))?
                .into_iter()
                .map(|w| (Version::V1, w))
                .collect()
        } else if set.layout() == Some(super::Layout::Unified) || v2_has(set, controller.v2_name())
        {
            controller
                .v2(res)?
                .into_iter()
                .map(|w| (Version::V2, w))
                .collect()
        } else {
            // A limit asked for and not applied is a silent gap in the
            // container's confinement: refuse it, as runc and crun do.
            if !controller.v1(res, &|_| None)?.is_empty() {
                return Err(Error::invalid(format!(
                    "{}: no {v1_name} controller on this host",
                    controller.field()
                )));
            }
            Vec::new()
        };
        out.extend(writes);
    }
    if let Some(unified) = res.unified() {
        if !set.dirs.iter().any(|d| d.version == Version::V2) {
            return Err(Error::invalid(
                "linux.resources.unified needs a cgroup v2 hierarchy, and this host has none",
            ));
        }
        out.extend(
            unified::unified(unified)?
                .into_iter()
                .map(|w| (Version::V2, w)),
        );
    }
    Ok(out)
}

/// Whether the v2 tree offers a controller (its root's cgroup.controllers).
fn v2_has(set: &CgroupSet, controller: &str) -> bool {
    set.dirs
        .iter()
        .find(|d| d.version == Version::V2)
        .and_then(|d| std::fs::read_to_string(d.mount_point.join("cgroup.controllers")).ok())
        .is_some_and(|c| c.split_whitespace().any(|x| x == controller))
}

fn read_v1(set: &CgroupSet, controller: &str, file: &str) -> Option<String> {
    super::file::read(&dir_for(set, controller, Version::V1)?.path.join(file))
}

/// The writes `linux.resources` needs on this host, and the device rules,
/// planned once and written later.
#[derive(Clone, Debug)]
pub struct Planned {
    writes: Vec<(Version, Write)>,
    device_rules: Option<Vec<devices::Rule>>,
    /// The limits systemd also holds, when a unit owns the cgroup.
    unit_properties: Vec<crate::cgroups::systemd::properties::Property>,
}

impl Planned {
    /// Plans the writes for `res` (and the device rules, when given).
    pub fn new(
        set: &CgroupSet,
        res: &LinuxResources,
        device_rules: Option<Vec<devices::Rule>>,
    ) -> Result<Planned> {
        let unit_properties = match set.systemd {
            Some(_) => crate::cgroups::systemd::properties::from_resources(res),
            None => Vec::new(),
        };
        Ok(Planned {
            writes: plan(set, res)?,
            device_rules,
            unit_properties,
        })
    }

    /// The limits systemd also holds, when a unit owns the cgroup.
    pub fn unit_properties(&self) -> &[crate::cgroups::systemd::properties::Property] {
        &self.unit_properties
    }

    /// Writes the resources into the container's cgroup files, and the
    /// device rules when given (v1 lists where the devices controller is
    /// mounted, else an eBPF program on the v2 cgroup). A unit's
    /// properties are the manager's part ([`crate::cgroups::Manager`]).
    pub fn apply_files(&self, set: &CgroupSet) -> Result<()> {
        if set.dirs.iter().any(|d| d.version == Version::V2) {
            unified::enable_controllers(set)?;
        }
        if let Some(rules) = &self.device_rules {
            if let Some(dir) = dir_for(set, "devices", Version::V1) {
                for (file, rule) in devices::v1_writes(rules) {
                    let path = dir.path.join(file);
                    super::file::write(&path, &rule)
                        .ctx(|| format!("writing {rule:?} to {}", path.display()))?;
                }
            } else if let Some(dir) = set.dirs.iter().find(|d| d.version == Version::V2) {
                devices::attach_v2(&crate::syscall::LinuxSyscall, &dir.path, rules)?;
            }
        }
        for (version, w) in &self.writes {
            let dir = dir_for(set, w.controller, *version).ok_or_else(|| {
                Error::invalid(format!(
                    "no cgroup hierarchy for controller {}",
                    w.controller
                ))
            })?;
            let path: PathBuf = dir.path.join(&w.file);
            if *version == Version::V1 && !path.exists() && optional_v1(&w.file) {
                tracing::warn!(
                    "{} is not supported by this kernel, {} ignored",
                    path.display(),
                    w.value
                );
                continue;
            }
            super::file::write(&path, &w.value).map_err(|e| describe_failure(&path, w, e))?;
        }
        Ok(())
    }
}

/// A failed write, explained: a memory limit below what the cgroup already
/// uses is refused by the kernel (EBUSY), and runc's words say why.
fn describe_failure(path: &std::path::Path, w: &Write, e: std::io::Error) -> Error {
    let limit_file = matches!(
        w.file.as_str(),
        "memory.limit_in_bytes" | "memory.memsw.limit_in_bytes"
    );
    if limit_file && e.raw_os_error() == Some(libc::EBUSY) {
        let read = |f: &str| {
            std::fs::read_to_string(path.with_file_name(f))
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "unknown".into())
        };
        return Error::invalid(format!(
            "unable to set memory limit to {} (current usage: {}, peak usage: {})",
            w.value,
            read("memory.usage_in_bytes"),
            read("memory.max_usage_in_bytes")
        ));
    }
    Error::Io {
        context: format!("setting {} to {:?}", path.display(), w.value),
        err: e,
    }
}

/// v1 files some kernels lack (swap accounting off, no burst, no bfq).
fn optional_v1(file: &str) -> bool {
    file.starts_with("memory.memsw")
        || file == "cpu.cfs_burst_us"
        || file == "cpu.idle"
        || file.starts_with("memory.kmem")
}

#[cfg(test)]
mod tests;
