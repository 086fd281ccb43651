//! `process.ioPriority`: the I/O scheduling class and level, set with
//! ioprio_set(2) and inherited by the workload.

use oci_spec::runtime::{IOPriorityClass, LinuxIOPriority};

use crate::error::{Context, Result};
use crate::syscall::Syscall;

const IOPRIO_CLASS_SHIFT: u32 = 13;

/// The ioprio value (class and level) for the spec's setting.
pub fn value(p: &LinuxIOPriority) -> Result<i32, String> {
    let class = match p.class() {
        IOPriorityClass::IoprioClassRt => 1,
        IOPriorityClass::IoprioClassBe => 2,
        IOPriorityClass::IoprioClassIdle => 3,
    };
    if !(0..=7).contains(&p.priority()) {
        return Err(format!(
            "process.ioPriority.priority {} is not between 0 and 7",
            p.priority()
        ));
    }
    Ok((class << IOPRIO_CLASS_SHIFT) | p.priority() as i32)
}

/// Sets the calling process's I/O priority.
pub fn apply(sys: &dyn Syscall, value: i32) -> Result<()> {
    sys.ioprio_set(value)
        .ctx(|| "setting process.ioPriority".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prio(v: serde_json::Value) -> LinuxIOPriority {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn classes_and_levels() {
        let v = value(&prio(
            serde_json::json!({"class": "IOPRIO_CLASS_RT", "priority": 1}),
        ));
        assert_eq!(v.unwrap(), (1 << 13) | 1);
        let v = value(&prio(
            serde_json::json!({"class": "IOPRIO_CLASS_BE", "priority": 4}),
        ));
        assert_eq!(v.unwrap(), (2 << 13) | 4);
        let v = value(&prio(
            serde_json::json!({"class": "IOPRIO_CLASS_IDLE", "priority": 7}),
        ));
        assert_eq!(v.unwrap(), (3 << 13) | 7);
        let e = value(&prio(
            serde_json::json!({"class": "IOPRIO_CLASS_BE", "priority": 8}),
        ));
        assert!(e.unwrap_err().contains("priority 8"));
        let e = value(&prio(
            serde_json::json!({"class": "IOPRIO_CLASS_BE", "priority": -1}),
        ));
        assert!(e.is_err());
    }
}
