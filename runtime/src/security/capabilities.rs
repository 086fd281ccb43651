//! The five capability sets of `process.capabilities`.

use std::collections::HashSet;

use caps::{CapSet, Capability, CapsHashSet};
use oci_spec::runtime::LinuxCapabilities;

use crate::error::{Context, Error, Result};
use crate::syscall::Syscall;

/// The parsed sets; `None` (only without a capabilities object at all)
/// leaves a set as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CapabilityPlan {
    /// Bounding set.
    pub bounding: Option<CapsHashSet>,
    /// Effective set.
    pub effective: Option<CapsHashSet>,
    /// Inheritable set.
    pub inheritable: Option<CapsHashSet>,
    /// Permitted set.
    pub permitted: Option<CapsHashSet>,
    /// Ambient set.
    pub ambient: Option<CapsHashSet>,
}

fn convert(
    set: &Option<HashSet<oci_spec::runtime::Capability>>,
    field: &str,
) -> Result<Option<CapsHashSet>> {
    // A set missing from a present capabilities object is empty, as runc
    // reads it: leaving it alone would keep all of root's capabilities.
    let Some(set) = set else {
        return Ok(Some(CapsHashSet::new()));
    };
    let mut out = CapsHashSet::new();
    for cap in set {
        // oci-spec displays a capability without its CAP_ prefix.
        let name = format!("CAP_{cap}");
        match name.parse::<Capability>() {
            Ok(c) => {
                out.insert(c);
            }
            Err(_) => {
                return Err(Error::invalid(format!(
                    "process.capabilities.{field}: unknown capability {name:?}"
                )))
            }
        }
    }
    Ok(Some(out))
}

impl CapabilityPlan {
    /// Parses the spec's sets.
    pub fn from_spec(c: &LinuxCapabilities) -> Result<Self> {
        Ok(CapabilityPlan {
            bounding: convert(c.bounding(), "bounding")?,
            effective: convert(c.effective(), "effective")?,
            inheritable: convert(c.inheritable(), "inheritable")?,
            permitted: convert(c.permitted(), "permitted")?,
            ambient: convert(c.ambient(), "ambient")?,
        })
    }

    /// Capabilities to drop from the bounding set, among those the running
    /// kernel knows (a spec from a newer kernel must not fail here).
    pub fn bounding_drops(&self) -> Vec<Capability> {
        let Some(keep) = &self.bounding else {
            return vec![];
        };
        let mut drop: Vec<_> = caps::runtime::thread_all_supported()
            .into_iter()
            .filter(|c| !keep.contains(c))
            .collect();
        drop.sort_by_key(|c| c.index());
        drop
    }

    /// Drops the bounding set. Needs CAP_SETPCAP, so it runs before the
    /// user changes.
    pub fn apply_bounding(&self, sys: &dyn Syscall) -> Result<()> {
        for cap in self.bounding_drops() {
            sys.prctl(libc::PR_CAPBSET_DROP, cap.index().into())
                .ctx(|| format!("dropping {cap} from the bounding set"))?;
        }
        Ok(())
    }

    /// Sets inheritable, effective, then permitted, then raises ambient
    /// (which must be in both permitted and inheritable; one that is not
    /// is left out with a warning, as runc does). Runs after the
    /// user change, which kept permitted capabilities with PR_SET_KEEPCAPS.
    ///
    /// The order matters because each set is changed by its own capset(2):
    /// inheritable while CAP_SETPCAP may still be effective, and permitted
    /// last, since the effective set must stay a subset of it.
    pub fn apply_sets(&self, sys: &dyn Syscall) -> Result<()> {
        let known: CapsHashSet = caps::runtime::thread_all_supported();
        let filter = |s: &CapsHashSet| -> CapsHashSet {
            s.iter().filter(|c| known.contains(c)).copied().collect()
        };
        for (set, value, name) in [
            (CapSet::Inheritable, &self.inheritable, "inheritable"),
            (CapSet::Effective, &self.effective, "effective"),
            (CapSet::Permitted, &self.permitted, "permitted"),
        ] {
            if let Some(v) = value {
                let wanted = filter(v);
                sys.capset(set, &wanted)
                    .map_err(|errno| unobtainable(set, name, &wanted, errno))?;
            }
        }
        if let Some(ambient) = &self.ambient {
            sys.prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            )
            .ctx(|| "clearing ambient capabilities".into())?;
            // The kernel raises an ambient capability only if it is both
            // permitted and inheritable. runc's own default spec lists
            // ambient capabilities without inheritable ones, and runc
            // warns and goes on: so does hako.
            for cap in filter(ambient) {
                let raised = sys.prctl2(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                    cap.index().into(),
                );
                if let Err(e) = raised {
                    tracing::warn!(
                        "cannot raise ambient capability {cap} (it must be permitted and inheritable): {}",
                        crate::error::describe_errno(e)
                    );
                }
            }
        }
        Ok(())
    }
}

/// Why capset(2) refused a set: the capabilities hako itself does not
/// hold in the set the kernel checks against (its bounding set for
/// inheritable ones, its permitted set otherwise), named. Root on some
/// hosts lacks capabilities (CAP_SYS_RESOURCE); no runtime can pass on
/// what it does not have.
fn unobtainable(set: CapSet, name: &str, wanted: &CapsHashSet, errno: nix::errno::Errno) -> Error {
    let have: CapsHashSet = match set {
        CapSet::Inheritable => {
            let mut h = caps::read(None, CapSet::Bounding).unwrap_or_default();
            h.extend(caps::read(None, CapSet::Inheritable).unwrap_or_default());
            h
        }
        _ => caps::read(None, CapSet::Permitted).unwrap_or_default(),
    };
    let mut missing: Vec<String> = wanted.difference(&have).map(|c| c.to_string()).collect();
    missing.sort();
    let held = match missing.is_empty() {
        true => String::new(),
        false => format!(" ({} not held by hako itself)", missing.join(", ")),
    };
    Error::Sys {
        context: format!("process.capabilities.{name}: setting the {name} capabilities{held}"),
        errno,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_capability_the_kernel_knows_converts_by_name() {
        for cap in caps::all() {
            let name = cap.to_string();
            let c: LinuxCapabilities =
                serde_json::from_value(serde_json::json!({ "bounding": [name] })).unwrap();
            let plan = CapabilityPlan::from_spec(&c).unwrap();
            assert_eq!(
                plan.bounding,
                Some(CapsHashSet::from([cap])),
                "{name} did not convert to itself"
            );
        }
    }

    #[test]
    fn parses_spec_sets() {
        let c: LinuxCapabilities = serde_json::from_value(serde_json::json!({
            "bounding": ["CAP_CHOWN", "CAP_KILL"],
            "effective": ["CAP_KILL"],
            "permitted": ["CAP_CHOWN", "CAP_KILL"]
        }))
        .unwrap();
        let plan = CapabilityPlan::from_spec(&c).unwrap();
        assert_eq!(plan.bounding.as_ref().unwrap().len(), 2);
        assert!(plan
            .effective
            .as_ref()
            .unwrap()
            .contains(&Capability::CAP_KILL));
        assert_eq!(plan.inheritable, Some(CapsHashSet::new()));
        assert_eq!(plan.ambient, Some(CapsHashSet::new()));
        let drops = plan.bounding_drops();
        assert!(drops.contains(&Capability::CAP_SYS_ADMIN));
        assert!(!drops.contains(&Capability::CAP_CHOWN) && !drops.contains(&Capability::CAP_KILL));
    }

    #[test]
    fn no_bounding_means_no_drops() {
        assert!(CapabilityPlan::default().bounding_drops().is_empty());
    }
}
