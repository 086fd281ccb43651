//! `process.scheduler`: the CPU scheduling policy and its parameters, set
//! with sched_setattr(2) and inherited by the workload.

use oci_spec::runtime::{LinuxSchedulerFlag, LinuxSchedulerPolicy, Scheduler};

use crate::error::{Error, Result};
use crate::syscall::Syscall;

/// struct sched_attr (SCHED_ATTR_SIZE_VER1, with the utilization clamps).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SchedAttr {
    size: u32,
    /// SCHED_* policy number.
    pub policy: u32,
    /// SCHED_FLAG_* bits.
    pub flags: u64,
    /// Nice value (SCHED_OTHER, SCHED_BATCH).
    pub nice: i32,
    /// Static priority (SCHED_FIFO, SCHED_RR).
    pub priority: u32,
    /// SCHED_DEADLINE runtime, deadline and period, in nanoseconds.
    pub runtime: u64,
    /// See `runtime`.
    pub deadline: u64,
    /// See `runtime`.
    pub period: u64,
    util_min: u32,
    util_max: u32,
}

fn policy_number(p: LinuxSchedulerPolicy) -> u32 {
    match p {
        LinuxSchedulerPolicy::SchedOther => 0,
        LinuxSchedulerPolicy::SchedFifo => 1,
        LinuxSchedulerPolicy::SchedRr => 2,
        LinuxSchedulerPolicy::SchedBatch => 3,
        LinuxSchedulerPolicy::SchedIso => 4,
        LinuxSchedulerPolicy::SchedIdle => 5,
        LinuxSchedulerPolicy::SchedDeadline => 6,
    }
}

fn flag_bit(f: LinuxSchedulerFlag) -> u64 {
    match f {
        LinuxSchedulerFlag::SchedResetOnFork => 0x01,
        LinuxSchedulerFlag::SchedFlagReclaim => 0x02,
        LinuxSchedulerFlag::SchedFlagDLOverrun => 0x04,
        LinuxSchedulerFlag::SchedFlagKeepPolicy => 0x08,
        LinuxSchedulerFlag::SchedFlagKeepParams => 0x10,
        LinuxSchedulerFlag::SchedFlagUtilClampMin => 0x20,
        LinuxSchedulerFlag::SchedFlagUtilClampMax => 0x40,
    }
}

/// The attributes for the spec's scheduler, checked the way runc checks
/// them: each parameter only with the policies that use it.
pub fn attr(s: &Scheduler) -> Result<SchedAttr, String> {
    let policy = *s.policy();
    let nice = s.nice().unwrap_or(0);
    let priority = s.priority().unwrap_or(0);
    let (runtime, deadline, period) = (
        s.runtime().unwrap_or(0),
        s.deadline().unwrap_or(0),
        s.period().unwrap_or(0),
    );
    if !(-20..=19).contains(&nice) {
        return Err(format!(
            "process.scheduler.nice {nice} is not between -20 and 19"
        ));
    }
    if policy == LinuxSchedulerPolicy::SchedIso {
        return Err("process.scheduler.policy SCHED_ISO is not implemented by Linux".into());
    }
    let fifo_or_rr = matches!(
        policy,
        LinuxSchedulerPolicy::SchedFifo | LinuxSchedulerPolicy::SchedRr
    );
    if priority != 0 && !fifo_or_rr {
        return Err(format!(
            "process.scheduler.priority is only for SCHED_FIFO and SCHED_RR, not {policy}"
        ));
    }
    if fifo_or_rr && !(1..=99).contains(&priority) {
        return Err(format!(
            "process.scheduler.priority {priority} is not between 1 and 99 for {policy}"
        ));
    }
    if policy != LinuxSchedulerPolicy::SchedDeadline && (runtime, deadline, period) != (0, 0, 0) {
        return Err(format!(
            "process.scheduler runtime, deadline and period are only for SCHED_DEADLINE, not {policy}"
        ));
    }
    let flags = s
        .flags()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .fold(0, |acc, f| acc | flag_bit(*f));
    Ok(SchedAttr {
        size: std::mem::size_of::<SchedAttr>() as u32,
        policy: policy_number(policy),
        flags,
        nice,
        priority: priority as u32,
        runtime,
        deadline,
        period,
        util_min: 0,
        util_max: 0,
    })
}

/// Sets the calling thread's scheduling attributes.
pub fn apply(sys: &dyn Syscall, attr: &SchedAttr) -> Result<()> {
    sys.sched_setattr(attr).map_err(|errno| {
        let why = if errno == nix::errno::Errno::EPERM {
            " (a real-time or deadline policy needs CAP_SYS_NICE, and SCHED_DEADLINE \
             cannot be used inside a restricted cpuset)"
        } else {
            ""
        };
        Error::Sys {
            context: format!("setting process.scheduler{why}"),
            errno,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(v: serde_json::Value) -> Scheduler {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn layout_matches_the_kernel() {
        assert_eq!(std::mem::size_of::<SchedAttr>(), 56);
    }

    #[test]
    fn policies_and_parameters() {
        let a = attr(&sched(
            serde_json::json!({"policy": "SCHED_BATCH", "nice": 1}),
        ))
        .unwrap();
        assert_eq!((a.policy, a.nice, a.priority), (3, 1, 0));
        let a = attr(&sched(
            serde_json::json!({"policy": "SCHED_FIFO", "priority": 10}),
        ))
        .unwrap();
        assert_eq!((a.policy, a.priority), (1, 10));
        let a = attr(&sched(serde_json::json!({
            "policy": "SCHED_DEADLINE", "runtime": 42000, "deadline": 1000000, "period": 1000000,
            "flags": ["SCHED_RESET_ON_FORK", "SCHED_FLAG_D_L_OVERRUN"]
        })))
        .unwrap();
        assert_eq!(
            (a.policy, a.runtime, a.deadline, a.period, a.flags),
            (6, 42000, 1000000, 1000000, 5)
        );
    }

    #[test]
    fn parameters_of_other_policies_are_refused() {
        let e = attr(&sched(
            serde_json::json!({"policy": "SCHED_OTHER", "priority": 3}),
        ))
        .unwrap_err();
        assert!(e.contains("only for SCHED_FIFO"), "{e}");
        let e = attr(&sched(
            serde_json::json!({"policy": "SCHED_OTHER", "nice": 20}),
        ))
        .unwrap_err();
        assert!(e.contains("nice 20"), "{e}");
        let e = attr(&sched(
            serde_json::json!({"policy": "SCHED_BATCH", "runtime": 1}),
        ))
        .unwrap_err();
        assert!(e.contains("only for SCHED_DEADLINE"), "{e}");
        let e = attr(&sched(serde_json::json!({"policy": "SCHED_ISO"}))).unwrap_err();
        assert!(e.contains("SCHED_ISO"), "{e}");
        let e = attr(&sched(serde_json::json!({"policy": "SCHED_RR"}))).unwrap_err();
        assert!(e.contains("between 1 and 99"), "{e}");
    }
}
