//! Scheduling and execution settings of a container process, beyond
//! credentials and limits: CPU scheduler, I/O priority, NUMA memory
//! policy, execution domain, and the CPU affinity of exec processes.
//!
//! Each setting is planned from the spec by pure code (so `create` and
//! `exec` refuse bad values before anything exists) and applied by one
//! syscall in the process it concerns.

pub mod cpu_affinity;
pub mod io_priority;
pub mod list;
pub mod memory_policy;
pub mod personality;
pub mod scheduler;

use oci_spec::runtime::{Linux, Process};

use crate::error::Result;
use crate::syscall::Syscall;

/// The settings a container or exec process gets, checked.
#[derive(Clone, Debug, Default)]
pub struct Tuning {
    scheduler: Option<scheduler::SchedAttr>,
    io_priority: Option<i32>,
    memory_policy: Option<memory_policy::MemoryPolicy>,
    persona: Option<libc::c_ulong>,
}

impl Tuning {
    /// Plans the process's settings and the container's (`linux`).
    pub fn plan(process: &Process, linux: Option<&Linux>) -> Result<Tuning, String> {
        Ok(Tuning {
            scheduler: process
                .scheduler()
                .as_ref()
                .map(scheduler::attr)
                .transpose()?,
            io_priority: process
                .io_priority()
                .as_ref()
                .map(io_priority::value)
                .transpose()?,
            memory_policy: linux
                .and_then(|l| l.memory_policy().as_ref())
                .map(memory_policy::plan)
                .transpose()?,
            persona: linux
                .and_then(|l| l.personality().as_ref())
                .map(personality::persona),
        })
    }

    /// Applies everything to the calling process. It runs while hako is
    /// still privileged: real-time classes need CAP_SYS_NICE or
    /// CAP_SYS_ADMIN, which the workload may not keep.
    pub fn apply(&self, sys: &dyn Syscall) -> Result<()> {
        if let Some(attr) = &self.scheduler {
            scheduler::apply(sys, attr)?;
        }
        if let Some(value) = self.io_priority {
            io_priority::apply(sys, value)?;
        }
        if let Some(policy) = &self.memory_policy {
            memory_policy::apply(sys, policy)?;
        }
        if let Some(persona) = self.persona {
            personality::apply(sys, persona)?;
        }
        Ok(())
    }
}
