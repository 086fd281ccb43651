//! The controllers `linux.resources` writes to, one module each; every
//! module turns its part of the spec into v1 writes and v2 writes.

mod blkio;
mod cpu;
mod cpuset;
mod hugetlb;
mod memory;
mod network;
mod pids;

use oci_spec::runtime::LinuxResources;

use super::Write;
use crate::error::Result;

pub use blkio::blkio_to_io_weight;
pub use cpu::shares_to_weight;
pub use memory::swap_max;

/// Reads a file of the controller's v1 cgroup (the present value), for
/// writes whose order depends on it.
pub type Current<'a> = &'a dyn Fn(&str) -> Option<String>;

/// A controller `linux.resources` has limits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Controller {
    /// `memory`.
    Memory,
    /// `cpu`: shares, quota, period, burst, idle, realtime.
    Cpu,
    /// `cpuset`: `cpu.cpus`, `cpu.mems`.
    Cpuset,
    /// `pids`.
    Pids,
    /// `blockIO`: blkio on v1, io on v2.
    BlockIo,
    /// `hugepageLimits`.
    Hugetlb,
    /// `network.classID` (v1 only).
    NetCls,
    /// `network.priorities` (v1 only).
    NetPrio,
}

impl Controller {
    /// Every controller, in the order their limits are written.
    pub const ALL: [Controller; 8] = [
        Controller::Memory,
        Controller::Cpu,
        Controller::Cpuset,
        Controller::Pids,
        Controller::BlockIo,
        Controller::Hugetlb,
        Controller::NetCls,
        Controller::NetPrio,
    ];

    /// Its name on cgroup v1.
    pub fn v1_name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Cpu => "cpu",
            Controller::Cpuset => "cpuset",
            Controller::Pids => "pids",
            Controller::BlockIo => "blkio",
            Controller::Hugetlb => "hugetlb",
            Controller::NetCls => "net_cls",
            Controller::NetPrio => "net_prio",
        }
    }

    /// Its name on cgroup v2 (the v1 name for the v1-only ones).
    pub fn v2_name(self) -> &'static str {
        match self {
            Controller::BlockIo => "io",
            other => other.v1_name(),
        }
    }

    /// The spec's field, for errors.
    pub fn field(self) -> &'static str {
        match self {
            Controller::Memory => "linux.resources.memory",
            Controller::Cpu => "linux.resources.cpu",
            Controller::Cpuset => "linux.resources.cpu (cpus, mems)",
            Controller::Pids => "linux.resources.pids",
            Controller::BlockIo => "linux.resources.blockIO",
            Controller::Hugetlb => "linux.resources.hugepageLimits",
            Controller::NetCls => "linux.resources.network.classID",
            Controller::NetPrio => "linux.resources.network.priorities",
        }
    }

    /// The v1 writes for `res`.
    pub fn v1(self, res: &LinuxResources, current: Current<'_>) -> Result<Vec<Write>> {
        match self {
            Controller::Memory => memory::v1(res, current),
            Controller::Cpu => Ok(cpu::v1(res)),
            Controller::Cpuset => Ok(cpuset::writes(res, "cpuset")),
            Controller::Pids => Ok(pids::writes(res, "pids")),
            Controller::BlockIo => Ok(blkio::v1(res, current)),
            Controller::Hugetlb => Ok(hugetlb::v1(res)),
            Controller::NetCls => Ok(network::class_id(res)),
            Controller::NetPrio => Ok(network::priorities(res)),
        }
    }

    /// The v2 writes for `res`; a limit v2 cannot express is an error.
    pub fn v2(self, res: &LinuxResources) -> Result<Vec<Write>> {
        match self {
            Controller::Memory => memory::v2(res),
            Controller::Cpu => cpu::v2(res),
            Controller::Cpuset => Ok(cpuset::writes(res, "cpuset")),
            Controller::Pids => Ok(pids::writes(res, "pids")),
            Controller::BlockIo => Ok(blkio::v2(res)),
            Controller::Hugetlb => Ok(hugetlb::v2(res)),
            Controller::NetCls | Controller::NetPrio => network::v2(res),
        }
    }
}

/// `max` for a negative (unlimited) value, else the value.
fn max_or(v: i64) -> String {
    if v < 0 {
        "max".into()
    } else {
        v.to_string()
    }
}
