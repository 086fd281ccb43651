//! The validated plan of a spec: every pure plan made once, by
//! [`super::validate`], and used by `create`, init and `exec`.

use oci_spec::runtime::{Linux, Process};

use crate::cgroups::resources::devices::Rule;
use crate::namespaces::NamespacePlan;
use crate::net::devices::Move;
use crate::rootfs::devices::DeviceNode;
use crate::rootfs::idmapped;
use crate::security::capabilities::CapabilityPlan;
use crate::security::rlimits::Limit;
use crate::tuning::cpu_affinity::AffinityPlan;
use crate::tuning::Tuning;

/// What a valid spec asks for, planned.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Namespaces to create and join.
    pub namespaces: NamespacePlan,
    /// The attributes of the container's process.
    pub process: ProcessPlan,
    /// The device nodes init makes in the rootfs (the defaults too,
    /// unless the spec mounts its own `/dev`).
    pub device_nodes: Vec<DeviceNode>,
    /// The device cgroup's rules.
    pub device_rules: Vec<Rule>,
    /// Id-mapped mounts, by index in `mounts`.
    pub idmapped: Vec<idmapped::Plan>,
    /// `linux.netDevices` moves.
    pub net_moves: Vec<Move>,
}

/// The planned attributes of one process (container init or `exec`).
#[derive(Clone, Debug, Default)]
pub struct ProcessPlan {
    /// Scheduling, I/O priority, memory policy, personality.
    pub tuning: Tuning,
    /// `process.rlimits`.
    pub rlimits: Vec<Limit>,
    /// `process.capabilities`, if set.
    pub capabilities: Option<CapabilityPlan>,
    /// `process.execCPUAffinity`, if set.
    pub exec_affinity: Option<AffinityPlan>,
}

impl ProcessPlan {
    /// Plans `process` (with the container's `linux` section); each error
    /// names the field at fault.
    pub fn new(process: &Process, linux: Option<&Linux>) -> Result<ProcessPlan, String> {
        Ok(ProcessPlan {
            rlimits: crate::security::rlimits::plan(
                process.rlimits().as_deref().unwrap_or_default(),
            )
            .map_err(|e| e.to_string())?,
            tuning: Tuning::plan(process, linux)?,
            capabilities: process
                .capabilities()
                .as_ref()
                .map(CapabilityPlan::from_spec)
                .transpose()
                .map_err(|e| e.to_string())?,
            exec_affinity: process
                .exec_cpu_affinity()
                .as_ref()
                .map(crate::tuning::cpu_affinity::plan)
                .transpose()?,
        })
    }
}
