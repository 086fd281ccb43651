//! The statistics document of `events --stats`, typed, in runc's shape.
//! A controller the host lacks is an empty object; a field a cgroup
//! version does not count is left out.

use std::collections::BTreeMap;

use serde::Serialize;

/// Everything `events --stats` reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// CPU time and throttling.
    pub cpu: Cpu,
    /// Memory and swap.
    pub memory: Memory,
    /// Number of tasks.
    pub pids: Pids,
    /// Block I/O.
    pub blkio: Blkio,
    /// Huge pages, by page size (`2MB`).
    pub hugetlb: BTreeMap<String, Hugetlb>,
}

/// The cpu (and v1 cpuacct) controller.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Cpu {
    /// Time used, in nanoseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<CpuUsage>,
    /// Quota enforcement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub throttling: Option<Throttling>,
}

/// CPU time, in nanoseconds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CpuUsage {
    /// All of it.
    pub total: u64,
    /// Per CPU (v1 only; empty on v2).
    pub percpu: Vec<u64>,
    /// In the kernel.
    pub kernel: u64,
    /// In user space.
    pub user: u64,
}

/// CFS quota enforcement.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Throttling {
    /// Periods elapsed.
    pub periods: u64,
    /// Periods in which the group was throttled.
    pub throttled_periods: u64,
    /// Total throttled time, in nanoseconds.
    pub throttled_time: u64,
}

/// The memory controller.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Memory {
    /// Page cache.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache: Option<u64>,
    /// Memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub usage: Option<MemoryEntry>,
    /// Memory+swap on v1, swap on v2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub swap: Option<MemoryEntry>,
    /// memory.stat as it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw: Option<BTreeMap<String, u64>>,
}

/// One memory counter.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MemoryEntry {
    /// Now.
    pub usage: u64,
    /// Peak (where the kernel keeps one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
    /// Times the limit was hit (where counted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failcnt: Option<u64>,
    /// The limit; u64::MAX when unlimited.
    pub limit: u64,
}

/// The pids controller.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Pids {
    /// Tasks now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current: Option<u64>,
    /// The limit; 0 when unlimited.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

/// Block I/O (blkio on v1, io on v2).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Blkio {
    /// Bytes, per device and operation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub io_service_bytes_recursive: Option<Vec<BlkioEntry>>,
    /// Operations, per device and operation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub io_serviced_recursive: Option<Vec<BlkioEntry>>,
}

/// One device's count of one operation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BlkioEntry {
    /// Device major number.
    pub major: u64,
    /// Device minor number.
    pub minor: u64,
    /// `Read`, `Write`, … (`Total` on v1).
    pub op: String,
    /// The count.
    pub value: u64,
}

/// One huge page size.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Hugetlb {
    /// Bytes in use.
    pub usage: u64,
    /// Peak (v1 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
    /// Failed allocations.
    pub failcnt: u64,
}
