//! cgroup v2 files for `linux.resources`, converting v1-shaped values.

use std::collections::HashMap;

use oci_spec::runtime::LinuxResources;

use super::Write;
use crate::cgroups::hierarchy::Version;
use crate::cgroups::set::CgroupSet;
use crate::error::{Error, Result};

/// cpu.shares (2..262144) → cpu.weight (1..10000), as runc and crun.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 100;
    }
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

/// blkio.weight (10..1000) → io.weight (1..10000).
pub fn blkio_to_io_weight(weight: u16) -> u64 {
    let w = u64::from(weight.clamp(10, 1000));
    1 + (w - 10) * 9999 / 990
}

fn max_or(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}

/// memory.swap.max from the spec's v1-style memory+swap limit, converted
/// the way runc does: 0 means unset, -1 unlimited, and an unlimited memory
/// with unset swap makes swap unlimited too.
pub fn swap_max(swap: Option<i64>, limit: Option<i64>) -> Result<Option<String>> {
    let l = limit.unwrap_or(0);
    let s = swap.unwrap_or(0);
    match (s, l) {
        (0, -1) | (-1, _) => Ok(Some("max".into())),
        (0, _) => Ok(None),
        (_, 0 | -1) => Err(Error::invalid(format!(
            "linux.resources.memory.swap {s} needs a memory limit on cgroup v2"
        ))),
        (s, l) if s < 0 || l < 0 => Err(Error::invalid(format!(
            "linux.resources.memory: invalid swap {s} or limit {l}"
        ))),
        (s, l) if s < l => Err(Error::invalid(format!(
            "linux.resources.memory.swap {s} is below the memory limit {l}"
        ))),
        (s, l) => Ok(Some((s - l).to_string())),
    }
}

/// The writes for one controller on v2.
pub fn plan(controller: &'static str, res: &LinuxResources) -> Result<Vec<Write>> {
    let mut w = Vec::new();
    match controller {
        "memory" => {
            let Some(m) = res.memory() else { return Ok(w) };
            // 0 means unset (runc).
            if let Some(l) = m.limit().filter(|l| *l != 0) {
                w.push(Write::new("memory", "memory.max", max_or(l)));
            }
            if let Some(r) = m.reservation() {
                w.push(Write::new("memory", "memory.low", max_or(r)));
            }
            if let Some(value) = swap_max(m.swap(), m.limit())? {
                w.push(Write::new("memory", "memory.swap.max", value));
            }
            if let Some(s) = m.swappiness() {
                // Out of range is bad input on any host, even where the
                // value itself has nowhere to go.
                if s > 100 {
                    return Err(Error::invalid(format!(
                        "linux.resources.memory.swappiness {s} is above 100"
                    )));
                }
                tracing::warn!(
                    "linux.resources.memory.swappiness has no cgroup v2 equivalent, ignored"
                );
            }
            if m.disable_oom_killer() == Some(true) {
                tracing::warn!(
                    "linux.resources.memory.disableOOMKiller has no cgroup v2 equivalent, ignored"
                );
            }
        }
        "cpu" => {
            let Some(c) = res.cpu() else { return Ok(w) };
            if let Some(s) = c.shares() {
                w.push(Write::new("cpu", "cpu.weight", shares_to_weight(s)));
            }
            if c.quota().is_some() || c.period().is_some() {
                let quota = c.quota().map(max_or).unwrap_or_else(|| "max".into());
                w.push(Write::new(
                    "cpu",
                    "cpu.max",
                    format!("{quota} {}", c.period().unwrap_or(100_000)),
                ));
            }
            if let Some(b) = c.burst() {
                w.push(Write::new("cpu", "cpu.max.burst", b));
            }
            if let Some(i) = c.idle() {
                w.push(Write::new("cpu", "cpu.idle", i));
            }
            if c.realtime_runtime().is_some() || c.realtime_period().is_some() {
                return Err(Error::invalid("linux.resources.cpu.realtimeRuntime/realtimePeriod are not supported on cgroup v2"));
            }
        }
        "cpuset" => {
            let Some(c) = res.cpu() else { return Ok(w) };
            if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
                w.push(Write::new("cpuset", "cpuset.cpus", cpus));
            }
            if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
                w.push(Write::new("cpuset", "cpuset.mems", mems));
            }
        }
        "pids" => {
            if let Some(p) = res.pids() {
                w.push(Write::new(
                    "pids",
                    "pids.max",
                    if p.limit() > 0 {
                        p.limit().to_string()
                    } else {
                        "max".into()
                    },
                ));
            }
        }
        "io" => {
            let Some(b) = res.block_io() else {
                return Ok(w);
            };
            if let Some(wt) = b.weight() {
                w.push(Write::new(
                    "io",
                    "io.weight",
                    format!("default {}", blkio_to_io_weight(wt)),
                ));
            }
            for d in b.weight_device().as_deref().unwrap_or_default() {
                if let Some(wt) = d.weight() {
                    w.push(Write::new(
                        "io",
                        "io.weight",
                        format!("{}:{} {}", d.major(), d.minor(), blkio_to_io_weight(wt)),
                    ));
                }
            }
            for (key, list) in [
                ("rbps", b.throttle_read_bps_device()),
                ("wbps", b.throttle_write_bps_device()),
                ("riops", b.throttle_read_iops_device()),
                ("wiops", b.throttle_write_iops_device()),
            ] {
                for d in list.as_deref().unwrap_or_default() {
                    w.push(Write::new(
                        "io",
                        "io.max",
                        format!("{}:{} {key}={}", d.major(), d.minor(), d.rate()),
                    ));
                }
            }
        }
        "hugetlb" => {
            for h in res.hugepage_limits().as_deref().unwrap_or_default() {
                w.push(Write::new(
                    "hugetlb",
                    format!("hugetlb.{}.max", h.page_size()),
                    max_or(h.limit()),
                ));
            }
        }
        "net_cls" | "net_prio"
            if res
                .network()
                .as_ref()
                .is_some_and(|n| n.class_id().is_some() || n.priorities().is_some()) =>
        {
            return Err(Error::invalid(
                "linux.resources.network (net_cls, net_prio) exists only on cgroup v1",
            ));
        }
        _ => {}
    }
    Ok(w)
}

/// `linux.resources.unified`: file names and values, as given. A name
/// must be a file of the container's cgroup, never a path.
pub fn unified(map: &HashMap<String, String>) -> Result<Vec<Write>> {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    keys.into_iter()
        .map(|k| {
            if k.contains('/') || k.starts_with('.') || !k.contains('.') {
                return Err(Error::invalid(format!(
                    "linux.resources.unified: invalid key {k:?}"
                )));
            }
            Ok(Write::new("unified", k.clone(), &map[k]))
        })
        .collect()
}

/// Enables the controllers the container may use in every v2 ancestor of
/// its cgroup (a controller's files appear only once the parent enables
/// it). Controllers the parent does not have are left alone, and so is an
/// ancestor that refuses (one with processes of its own, such as the
/// systemd service hako runs in for a relative cgroupsPath): as runc does,
/// a limit that then cannot be written fails there, naming its file.
pub fn enable_controllers(set: &CgroupSet) -> Result<()> {
    let Some(dir) = set.dirs.iter().find(|d| d.version == Version::V2) else {
        return Ok(());
    };
    let mut current = dir.mount_point.clone();
    for part in dir.relative().components() {
        let available =
            std::fs::read_to_string(current.join("cgroup.controllers")).unwrap_or_default();
        let wanted: Vec<String> = available
            .split_whitespace()
            .map(|c| format!("+{c}"))
            .collect();
        if !wanted.is_empty() {
            let control = current.join("cgroup.subtree_control");
            if crate::cgroups::file::write(&control, &wanted.join(" ")).is_err() {
                for one in &wanted {
                    if let Err(e) = crate::cgroups::file::write(&control, one) {
                        tracing::debug!(path = %control.display(), controller = %one, %e, "controller not enabled");
                    }
                }
            }
        }
        current.push(part);
    }
    Ok(())
}
