//! `linux.resources.memory`.

use oci_spec::runtime::LinuxResources;

use super::{max_or, Current};
use crate::cgroups::resources::Write;
use crate::error::{Error, Result};

fn check_swappiness(s: u64) -> Result<()> {
    // Out of range is bad input on any host, even where the value itself
    // has nowhere to go.
    if s > 100 {
        return Err(Error::invalid(format!(
            "linux.resources.memory.swappiness {s} is above 100"
        )));
    }
    Ok(())
}

/// v1: memory and memory+swap limits (in the order the present memsw
/// limit allows), soft limit, kernel TCP, swappiness, OOM killer,
/// hierarchy.
pub fn v1(res: &LinuxResources, current: Current<'_>) -> Result<Vec<Write>> {
    let Some(m) = res.memory() else {
        return Ok(vec![]);
    };
    let mut w = Vec::new();
    let mut push = |file: &str, value: String| w.push(Write::new("memory", file, value));
    // 0 means unset (runc): a zero limit would be refused anyway.
    let limit = m.limit().filter(|l| *l != 0);
    let swap = match (limit, m.swap().filter(|s| *s != 0)) {
        // Unlimited memory with swap unset: memory+swap unlimited too, or
        // a lower memsw would refuse the new limit (runc).
        (Some(-1), None) => Some(-1),
        (_, s) => s,
    };
    // memsw (memory+swap) must never be below the memory limit: when
    // raising, memsw goes first.
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
        check_swappiness(s)?;
        push("memory.swappiness", s.to_string());
    }
    if m.disable_oom_killer() == Some(true) {
        push("memory.oom_control", "1".into());
    }
    if m.use_hierarchy() == Some(true) {
        push("memory.use_hierarchy", "1".into());
    }
    Ok(w)
}

/// v2: memory.max, memory.low, memory.swap.max (converted from the
/// v1-style memory+swap limit); swappiness and the OOM killer have no
/// equivalent and are ignored with a warning.
pub fn v2(res: &LinuxResources) -> Result<Vec<Write>> {
    let Some(m) = res.memory() else {
        return Ok(vec![]);
    };
    let mut w = Vec::new();
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
        check_swappiness(s)?;
        tracing::warn!("linux.resources.memory.swappiness has no cgroup v2 equivalent, ignored");
    }
    if m.disable_oom_killer() == Some(true) {
        tracing::warn!(
            "linux.resources.memory.disableOOMKiller has no cgroup v2 equivalent, ignored"
        );
    }
    Ok(w)
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
