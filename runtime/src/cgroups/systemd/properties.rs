//! `linux.resources` as systemd unit properties.
//!
//! systemd owns the scope's cgroup: it rewrites the files it knows about
//! from its own unit properties (on `daemon-reload`, or when anything else
//! in the slice changes). So the limits systemd can express are also given
//! to it as properties; the cgroupfs writes that follow set everything,
//! these included, exactly as the spec asks. Pure: unit-tested here.

use oci_spec::runtime::LinuxResources;

use crate::cgroups::resources::controllers::{blkio_to_io_weight, shares_to_weight};

/// `infinity` in systemd's u64 properties.
pub const INFINITY: u64 = u64::MAX;

/// One unit property with its D-Bus type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// `b`.
    Bool(bool),
    /// `t`.
    U64(u64),
    /// `s`.
    Str(String),
    /// `ay`: a CPU or NUMA node bitmask.
    Bytes(Vec<u8>),
    /// `au`: process ids.
    Pids(Vec<u32>),
}

/// A named property.
pub type Property = (&'static str, Value);

/// The properties of a new scope (or slice) holding `pid`, before any
/// limit: limits follow once container init is the only process in it
/// (as with cgroupfs, set-up processes must not count against them).
pub fn for_new_unit(description: String, slice: &str, pid: Option<u32>) -> Vec<Property> {
    let mut props = vec![
        ("Description", Value::Str(description)),
        ("Slice", Value::Str(slice.to_string())),
        // The container manages the cgroup below the scope (nested
        // cgroups, its own cgroup2 mount), as runc and crun ask.
        ("Delegate", Value::Bool(true)),
        // No ordering against shutdown.target and friends: a container is
        // not a service of the host's boot.
        ("DefaultDependencies", Value::Bool(false)),
        ("MemoryAccounting", Value::Bool(true)),
        ("CPUAccounting", Value::Bool(true)),
        ("IOAccounting", Value::Bool(true)),
        ("TasksAccounting", Value::Bool(true)),
    ];
    if let Some(pid) = pid {
        props.push(("PIDs", Value::Pids(vec![pid])));
    }
    props
}

/// The limits systemd can hold, converted as runc converts them for
/// cgroup v2. Anything else is written through cgroupfs only.
pub fn from_resources(res: &LinuxResources) -> Vec<Property> {
    let mut props = Vec::new();
    if let Some(m) = res.memory() {
        if let Some(limit) = m.limit() {
            props.push(("MemoryMax", Value::U64(bytes(limit))));
        }
        if let Some(low) = m.reservation() {
            props.push(("MemoryLow", Value::U64(bytes(low))));
        }
        // The spec's swap is memory+swap; systemd's is swap alone.
        match (m.swap(), m.limit()) {
            (Some(-1), _) => props.push(("MemorySwapMax", Value::U64(INFINITY))),
            (Some(swap), Some(limit)) if swap > 0 && limit > 0 && swap >= limit => {
                props.push(("MemorySwapMax", Value::U64((swap - limit) as u64)))
            }
            _ => {}
        }
    }
    if let Some(c) = res.cpu() {
        if let Some(shares) = c.shares().filter(|s| *s > 0) {
            props.push(("CPUWeight", Value::U64(shares_to_weight(shares))));
        }
        let period = c.period().filter(|p| *p > 0).unwrap_or(100_000);
        match c.quota() {
            Some(q) if q > 0 => {
                props.push(("CPUQuotaPerSecUSec", Value::U64(quota_per_sec(q, period))));
                props.push(("CPUQuotaPeriodUSec", Value::U64(period)));
            }
            Some(_) => props.push(("CPUQuotaPerSecUSec", Value::U64(INFINITY))),
            None => {}
        }
        if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
            if let Some(mask) = bitmask(cpus) {
                props.push(("AllowedCPUs", Value::Bytes(mask)));
            }
        }
        if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
            if let Some(mask) = bitmask(mems) {
                props.push(("AllowedMemoryNodes", Value::Bytes(mask)));
            }
        }
    }
    if let Some(p) = res.pids() {
        let limit = p.limit();
        props.push((
            "TasksMax",
            Value::U64(if limit > 0 { limit as u64 } else { INFINITY }),
        ));
    }
    if let Some(w) = res.block_io().as_ref().and_then(|b| b.weight()) {
        props.push(("IOWeight", Value::U64(blkio_to_io_weight(w))));
    }
    props
}

/// A byte limit; negative means none.
fn bytes(v: i64) -> u64 {
    if v < 0 {
        INFINITY
    } else {
        v as u64
    }
}

/// CPU time per second of wall time, in µs, rounded up to the 10 ms
/// systemd can represent (runc rounds the same way, so that systemd never
/// holds a stricter quota than the spec's; the cgroupfs write that follows
/// sets the exact one).
pub fn quota_per_sec(quota: i64, period: u64) -> u64 {
    let per_sec = (quota as u64).saturating_mul(1_000_000) / period.max(1);
    per_sec.div_ceil(10_000) * 10_000
}

/// A cpuset list (`0-3,8`) as systemd's bitmask: byte `i` holds CPUs
/// `8i..8i+7`, lowest bit first. `None` for a list that does not parse
/// (the cgroupfs write then reports it).
pub fn bitmask(list: &str) -> Option<Vec<u8>> {
    let mut mask = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (lo, hi) = match part.split_once('-') {
            Some((a, b)) => (
                a.trim().parse::<usize>().ok()?,
                b.trim().parse::<usize>().ok()?,
            ),
            None => {
                let n = part.parse::<usize>().ok()?;
                (n, n)
            }
        };
        // A bound on the mask's size: a spec cannot make hako allocate
        // gigabytes (the kernel's limit is 8192 CPUs).
        if lo > hi || hi >= 65_536 {
            return None;
        }
        for bit in lo..=hi {
            if mask.len() <= bit / 8 {
                mask.resize(bit / 8 + 1, 0);
            }
            mask[bit / 8] |= 1 << (bit % 8);
        }
    }
    (!mask.is_empty()).then_some(mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(json: serde_json::Value) -> LinuxResources {
        serde_json::from_value(json).unwrap()
    }

    fn get<'a>(props: &'a [Property], name: &str) -> Option<&'a Value> {
        props.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    #[test]
    fn memory_limits_and_swap() {
        let p = from_resources(&res(serde_json::json!({
            "memory": {"limit": 67108864, "reservation": 1048576, "swap": 134217728}
        })));
        assert_eq!(get(&p, "MemoryMax"), Some(&Value::U64(67_108_864)));
        assert_eq!(get(&p, "MemoryLow"), Some(&Value::U64(1_048_576)));
        assert_eq!(get(&p, "MemorySwapMax"), Some(&Value::U64(67_108_864)));
        let p = from_resources(&res(
            serde_json::json!({"memory": {"limit": -1, "swap": -1}}),
        ));
        assert_eq!(get(&p, "MemoryMax"), Some(&Value::U64(INFINITY)));
        assert_eq!(get(&p, "MemorySwapMax"), Some(&Value::U64(INFINITY)));
        // Swap without a limit is the cgroupfs planner's error to report.
        let p = from_resources(&res(serde_json::json!({"memory": {"swap": 1000}})));
        assert_eq!(get(&p, "MemorySwapMax"), None);
    }

    #[test]
    fn cpu_weight_quota_and_sets() {
        let p = from_resources(&res(serde_json::json!({
            "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-2,9", "mems": "0"}
        })));
        assert_eq!(get(&p, "CPUWeight"), Some(&Value::U64(39)));
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(&Value::U64(500_000)));
        assert_eq!(get(&p, "CPUQuotaPeriodUSec"), Some(&Value::U64(100_000)));
        assert_eq!(
            get(&p, "AllowedCPUs"),
            Some(&Value::Bytes(vec![0b0000_0111, 0b10]))
        );
        assert_eq!(get(&p, "AllowedMemoryNodes"), Some(&Value::Bytes(vec![1])));
        let p = from_resources(&res(serde_json::json!({"cpu": {"quota": -1}})));
        assert_eq!(get(&p, "CPUQuotaPerSecUSec"), Some(&Value::U64(INFINITY)));
    }

    #[test]
    fn quota_rounds_up_to_ten_milliseconds() {
        assert_eq!(quota_per_sec(50_000, 100_000), 500_000);
        assert_eq!(quota_per_sec(1_000, 100_000), 10_000);
        assert_eq!(quota_per_sec(12_345, 100_000), 130_000);
        assert_eq!(quota_per_sec(200_000, 100_000), 2_000_000);
    }

    #[test]
    fn pids_and_io_weight() {
        let p = from_resources(&res(serde_json::json!({
            "pids": {"limit": 5}, "blockIO": {"weight": 500}
        })));
        assert_eq!(get(&p, "TasksMax"), Some(&Value::U64(5)));
        assert_eq!(get(&p, "IOWeight"), Some(&Value::U64(4950)));
        let p = from_resources(&res(serde_json::json!({"pids": {"limit": -1}})));
        assert_eq!(get(&p, "TasksMax"), Some(&Value::U64(INFINITY)));
    }

    #[test]
    fn nothing_asked_nothing_set() {
        assert!(from_resources(&LinuxResources::default()).is_empty());
    }

    #[test]
    fn bitmasks() {
        assert_eq!(bitmask("0"), Some(vec![1]));
        assert_eq!(bitmask("7,8"), Some(vec![0x80, 0x01]));
        assert_eq!(bitmask("0-15"), Some(vec![0xff, 0xff]));
        assert_eq!(bitmask("3-1"), None);
        assert_eq!(bitmask("x"), None);
        assert_eq!(bitmask("0-99999999"), None);
        assert_eq!(bitmask(""), None);
    }

    #[test]
    fn a_new_scope_is_delegated_and_holds_its_pid() {
        let p = for_new_unit("hako container c1".into(), "machine.slice", Some(42));
        assert_eq!(get(&p, "Delegate"), Some(&Value::Bool(true)));
        assert_eq!(get(&p, "Slice"), Some(&Value::Str("machine.slice".into())));
        assert_eq!(get(&p, "PIDs"), Some(&Value::Pids(vec![42])));
        let p = for_new_unit("d".into(), "machine.slice", None);
        assert_eq!(get(&p, "PIDs"), None);
    }
}
