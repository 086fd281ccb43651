//! `process.execCPUAffinity`: the CPUs an exec process runs on before it
//! joins the container's cgroup (`initial`) and after (`final`). Container
//! init is not affected, as the spec says.

use nix::sched::{sched_setaffinity, CpuSet};
use nix::unistd::Pid;
use oci_spec::runtime::ExecCPUAffinity;

use super::list;
use crate::error::{Context, Result};

/// The two CPU sets, as CPU numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AffinityPlan {
    /// Before joining the cgroup.
    pub initial: Option<Vec<usize>>,
    /// After joining it; without it, an `initial` set is widened again to
    /// every CPU the cgroup allows.
    pub last: Option<Vec<usize>>,
}

/// Parses both lists.
pub fn plan(a: &ExecCPUAffinity) -> Result<AffinityPlan, String> {
    let parse = |field: &str, text: &Option<String>| -> Result<Option<Vec<usize>>, String> {
        match text.as_deref().filter(|t| !t.trim().is_empty()) {
            None => Ok(None),
            Some(t) => list::parse(t, CpuSet::count())
                .map(Some)
                .map_err(|e| format!("process.execCPUAffinity.{field} {e}")),
        }
    };
    Ok(AffinityPlan {
        initial: parse("initial", a.initial())?,
        last: parse("final", a.cpu_affinity_final())?,
    })
}

impl AffinityPlan {
    /// Applies `initial`, before the cgroup is joined.
    pub fn apply_initial(&self) -> Result<()> {
        match &self.initial {
            Some(cpus) => set(cpus, "initial"),
            None => Ok(()),
        }
    }

    /// Applies `final` (or widens `initial` again), after the cgroup join.
    pub fn apply_final(&self) -> Result<()> {
        match (&self.initial, &self.last) {
            (_, Some(cpus)) => set(cpus, "final"),
            // The kernel narrows this to the cgroup's cpuset.
            (Some(_), None) => set(&(0..CpuSet::count()).collect::<Vec<_>>(), "final"),
            (None, None) => Ok(()),
        }
    }
}

fn set(cpus: &[usize], field: &str) -> Result<()> {
    let mut set = CpuSet::new();
    for &cpu in cpus {
        set.set(cpu)
            .ctx(|| format!("process.execCPUAffinity.{field}: cpu {cpu}"))?;
    }
    // runc logs the same line; tools match on it.
    tracing::debug!("affinity: {}", list::hex(cpus));
    sched_setaffinity(Pid::from_raw(0), &set)
        .ctx(|| format!("setting process.execCPUAffinity.{field}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans() {
        let a: ExecCPUAffinity =
            serde_json::from_value(serde_json::json!({"initial": "0,1", "final": "1"})).unwrap();
        let p = plan(&a).unwrap();
        assert_eq!(p.initial, Some(vec![0, 1]));
        assert_eq!(p.last, Some(vec![1]));
        let a: ExecCPUAffinity =
            serde_json::from_value(serde_json::json!({"initial": "0"})).unwrap();
        assert_eq!(plan(&a).unwrap().last, None);
        let a: ExecCPUAffinity =
            serde_json::from_value(serde_json::json!({"initial": "5000"})).unwrap();
        assert!(plan(&a)
            .unwrap_err()
            .contains("process.execCPUAffinity.initial"));
    }
}
