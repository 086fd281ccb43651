//! `process.rlimits`.

use oci_spec::runtime::PosixRlimit;

use crate::error::{Error, Result};
use crate::syscall::Syscall;

/// One limit to set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// RLIMIT_* resource number.
    pub resource: libc::__rlimit_resource_t,
    /// Its name, for messages.
    pub name: &'static str,
    /// Soft limit.
    pub soft: u64,
    /// Hard limit.
    pub hard: u64,
}

const RESOURCES: &[(&str, libc::__rlimit_resource_t)] = &[
    ("RLIMIT_CPU", libc::RLIMIT_CPU),
    ("RLIMIT_FSIZE", libc::RLIMIT_FSIZE),
    ("RLIMIT_DATA", libc::RLIMIT_DATA),
    ("RLIMIT_STACK", libc::RLIMIT_STACK),
    ("RLIMIT_CORE", libc::RLIMIT_CORE),
    ("RLIMIT_RSS", libc::RLIMIT_RSS),
    ("RLIMIT_NPROC", libc::RLIMIT_NPROC),
    ("RLIMIT_NOFILE", libc::RLIMIT_NOFILE),
    ("RLIMIT_MEMLOCK", libc::RLIMIT_MEMLOCK),
    ("RLIMIT_AS", libc::RLIMIT_AS),
    ("RLIMIT_LOCKS", libc::RLIMIT_LOCKS),
    ("RLIMIT_SIGPENDING", libc::RLIMIT_SIGPENDING),
    ("RLIMIT_MSGQUEUE", libc::RLIMIT_MSGQUEUE),
    ("RLIMIT_NICE", libc::RLIMIT_NICE),
    ("RLIMIT_RTPRIO", libc::RLIMIT_RTPRIO),
    ("RLIMIT_RTTIME", libc::RLIMIT_RTTIME),
];

/// Converts the spec's limits, refusing a type given twice and a soft
/// limit above its hard limit, each named as the kernel names it.
pub fn plan(rlimits: &[PosixRlimit]) -> Result<Vec<Limit>> {
    let mut seen = Vec::new();
    rlimits
        .iter()
        .map(|r| {
            // oci-spec displays a type as the kernel names it (RLIMIT_NOFILE).
            let name = r.typ().to_string();
            let (name, resource) = RESOURCES
                .iter()
                .find(|(n, _)| *n == name)
                .copied()
                .ok_or_else(|| Error::invalid(format!("process.rlimits: unknown type {name:?}")))?;
            if seen.contains(&name) {
                return Err(Error::invalid(format!(
                    "process.rlimits: duplicate type {name}"
                )));
            }
            seen.push(name);
            if r.soft() > r.hard() {
                return Err(Error::invalid(format!(
                    "process.rlimits: {name} soft limit {} is above hard limit {}",
                    r.soft(),
                    r.hard()
                )));
            }
            Ok(Limit {
                resource,
                name,
                soft: r.soft(),
                hard: r.hard(),
            })
        })
        .collect()
}

/// Sets the limits. Raising a hard limit needs CAP_SYS_RESOURCE; without
/// it the kernel answers EPERM, reported with the limit and the reason.
pub fn apply(sys: &dyn Syscall, limits: &[Limit]) -> Result<()> {
    for l in limits {
        sys.setrlimit(l.resource, l.soft, l.hard).map_err(|errno| {
            let why = if errno == nix::errno::Errno::EPERM {
                " (raising a hard limit needs CAP_SYS_RESOURCE)"
            } else {
                ""
            };
            Error::Sys {
                context: format!("setting {} to soft {} hard {}{why}", l.name, l.soft, l.hard),
                errno,
            }
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_names() {
        let r: Vec<PosixRlimit> = serde_json::from_value(serde_json::json!([
            {"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 4096},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}
        ]))
        .unwrap();
        let p = plan(&r).unwrap();
        assert_eq!(
            p[0],
            Limit {
                resource: libc::RLIMIT_NOFILE,
                name: "RLIMIT_NOFILE",
                soft: 1024,
                hard: 4096
            }
        );
        assert_eq!(p[1].resource, libc::RLIMIT_CORE);
    }
}
