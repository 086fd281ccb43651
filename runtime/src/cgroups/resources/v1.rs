//! cgroup v1 files for `linux.resources`.

use oci_spec::runtime::LinuxResources;

use super::Write;
use crate::error::{Error, Result};

/// The writes for one v1 controller. `current` reads a file of that
/// controller, for orderings that depend on the present value.
pub fn plan(
    controller: &'static str,
    res: &LinuxResources,
    current: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<Write>> {
    let mut w = Vec::new();
    let mut push = |file: &str, value: String| w.push(Write::new(controller, file, value));
    match controller {
        "memory" => {
            let Some(m) = res.memory() else {
                return Ok(vec![]);
            };
            // 0 means unset (runc): a zero limit would be refused anyway.
            let limit = m.limit().filter(|l| *l != 0);
            let swap = match (limit, m.swap().filter(|s| *s != 0)) {
                // Unlimited memory with swap unset: memory+swap unlimited
                // too, or a lower memsw would refuse the new limit (runc).
                (Some(-1), None) => Some(-1),
                (_, s) => s,
            };
            // memsw (memory+swap) must never be below the memory limit:
            // when raising, memsw goes first.
            let raise_first = match (limit, swap) {
                (Some(l), Some(_)) => {
                    let cur = current("memory.memsw.limit_in_bytes")
                        .and_then(|v| v.parse::<i64>().ok())
                        .unwrap_or(i64::MAX);
                    l == -1 || l > cur
                }
                _ => false,
            };
            if raise_first {
                push(
                    "memory.memsw.limit_in_bytes",
                    swap.unwrap_or(-1).to_string(),
                );
            }
            if let Some(l) = limit {
                push("memory.limit_in_bytes", l.to_string());
            }
            if let (Some(s), false) = (swap, raise_first) {
                push("memory.memsw.limit_in_bytes", s.to_string());
            }
            if let Some(r) = m.reservation() {
                push("memory.soft_limit_in_bytes", r.to_string());
            }
            if let Some(t) = m.kernel_tcp() {
                push("memory.kmem.tcp.limit_in_bytes", t.to_string());
            }
            if let Some(s) = m.swappiness() {
                if s > 100 {
                    return Err(Error::invalid(format!(
                        "linux.resources.memory.swappiness {s} is above 100"
                    )));
                }
                push("memory.swappiness", s.to_string());
            }
            if m.disable_oom_killer() == Some(true) {
                push("memory.oom_control", "1".into());
            }
            if m.use_hierarchy() == Some(true) {
                push("memory.use_hierarchy", "1".into());
            }
        }
        "cpu" => {
            let Some(c) = res.cpu() else {
                return Ok(vec![]);
            };
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
        }
        "cpuset" => {
            let Some(c) = res.cpu() else {
                return Ok(vec![]);
            };
            if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
                push("cpuset.cpus", cpus.to_string());
            }
            if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
                push("cpuset.mems", mems.to_string());
            }
        }
        "pids" => {
            if let Some(p) = res.pids() {
                push(
                    "pids.max",
                    if p.limit() > 0 {
                        p.limit().to_string()
                    } else {
                        "max".into()
                    },
                );
            }
        }
        "blkio" => {
            let Some(b) = res.block_io() else {
                return Ok(vec![]);
            };
            let bfq = current("blkio.weight").is_none() && current("blkio.bfq.weight").is_some();
            let weight_file = if bfq {
                "blkio.bfq.weight"
            } else {
                "blkio.weight"
            };
            if let Some(wt) = b.weight() {
                push(weight_file, wt.to_string());
            }
            if let Some(lw) = b.leaf_weight() {
                push("blkio.leaf_weight", lw.to_string());
            }
            for d in b.weight_device().as_deref().unwrap_or_default() {
                if let Some(wt) = d.weight() {
                    push(
                        &format!("{weight_file}_device"),
                        format!("{}:{} {wt}", d.major(), d.minor()),
                    );
                }
                if let Some(lw) = d.leaf_weight() {
                    push(
                        "blkio.leaf_weight_device",
                        format!("{}:{} {lw}", d.major(), d.minor()),
                    );
                }
            }
            for (file, list) in [
                (
                    "blkio.throttle.read_bps_device",
                    b.throttle_read_bps_device(),
                ),
                (
                    "blkio.throttle.write_bps_device",
                    b.throttle_write_bps_device(),
                ),
                (
                    "blkio.throttle.read_iops_device",
                    b.throttle_read_iops_device(),
                ),
                (
                    "blkio.throttle.write_iops_device",
                    b.throttle_write_iops_device(),
                ),
            ] {
                for d in list.as_deref().unwrap_or_default() {
                    push(file, format!("{}:{} {}", d.major(), d.minor(), d.rate()));
                }
            }
        }
        "hugetlb" => {
            for h in res.hugepage_limits().as_deref().unwrap_or_default() {
                push(
                    &format!("hugetlb.{}.limit_in_bytes", h.page_size()),
                    h.limit().to_string(),
                );
            }
        }
        "net_cls" => {
            if let Some(id) = res.network().as_ref().and_then(|n| n.class_id()) {
                push("net_cls.classid", id.to_string());
            }
        }
        "net_prio" => {
            for p in res
                .network()
                .as_ref()
                .and_then(|n| n.priorities().clone())
                .unwrap_or_default()
            {
                push(
                    "net_prio.ifpriomap",
                    format!("{} {}", p.name(), p.priority()),
                );
            }
        }
        _ => {}
    }
    Ok(w)
}
