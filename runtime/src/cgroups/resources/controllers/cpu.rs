//! `linux.resources.cpu`: shares, quota and period, burst, idle, and the
//! realtime budget (v1 only).

use oci_spec::runtime::LinuxResources;

use super::max_or;
use crate::cgroups::resources::Write;
use crate::error::{Error, Result};

/// cpu.shares (2..262144) → cpu.weight (1..10000), as runc and crun.
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 100;
    }
    1 + (shares.clamp(2, 262_144) - 2) * 9999 / 262_142
}

/// v1 writes.
pub fn v1(res: &LinuxResources) -> Vec<Write> {
    let Some(c) = res.cpu() else {
        return vec![];
    };
    let mut w = Vec::new();
    let mut push = |file: &str, value: String| w.push(Write::new("cpu", file, value));
    if let Some(s) = c.shares() {
        push("cpu.shares", s.to_string());
    }
    // The period first: the quota is checked against it.
    if let Some(p) = c.period() {
        push("cpu.cfs_period_us", p.to_string());
    }
    if let Some(q) = c.quota() {
        push("cpu.cfs_quota_us", q.to_string());
    }
    if let Some(b) = c.burst() {
        push("cpu.cfs_burst_us", b.to_string());
    }
    if let Some(p) = c.realtime_period() {
        push("cpu.rt_period_us", p.to_string());
    }
    if let Some(r) = c.realtime_runtime() {
        push("cpu.rt_runtime_us", r.to_string());
    }
    if let Some(i) = c.idle() {
        push("cpu.idle", i.to_string());
    }
    w
}

/// v2 writes; the realtime budget has no v2 file and is refused.
pub fn v2(res: &LinuxResources) -> Result<Vec<Write>> {
    let Some(c) = res.cpu() else {
        return Ok(vec![]);
    };
    let mut w = Vec::new();
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
        return Err(Error::invalid(
            "linux.resources.cpu.realtimeRuntime/realtimePeriod are not supported on cgroup v2",
        ));
    }
    Ok(w)
}
