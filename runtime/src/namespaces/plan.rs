//! Turning `linux.namespaces` into clone flags and setns targets.

use std::os::fd::OwnedFd;
use std::path::PathBuf;

use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::stat::Mode;
use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::error::{Context, Result};

/// CLONE_NEWTIME (not in every nix release).
pub const CLONE_NEWTIME: i32 = 0x80;

/// The clone flag of a namespace type.
pub fn flag(typ: LinuxNamespaceType) -> CloneFlags {
    match typ {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(CLONE_NEWTIME),
    }
}

/// The name used under /proc/<pid>/ns/.
pub fn proc_name(typ: LinuxNamespaceType) -> &'static str {
    match typ {
        LinuxNamespaceType::Mount => "mnt",
        LinuxNamespaceType::Cgroup => "cgroup",
        LinuxNamespaceType::Uts => "uts",
        LinuxNamespaceType::Ipc => "ipc",
        LinuxNamespaceType::User => "user",
        LinuxNamespaceType::Pid => "pid",
        LinuxNamespaceType::Network => "net",
        LinuxNamespaceType::Time => "time",
    }
}

/// Order in which joined namespaces are entered: user first (it grants
/// the rights to enter the others), mount last (its paths change).
pub const JOIN_ORDER: [LinuxNamespaceType; 8] = [
    LinuxNamespaceType::User,
    LinuxNamespaceType::Ipc,
    LinuxNamespaceType::Uts,
    LinuxNamespaceType::Network,
    LinuxNamespaceType::Pid,
    LinuxNamespaceType::Time,
    LinuxNamespaceType::Cgroup,
    LinuxNamespaceType::Mount,
];

/// What to do with namespaces.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NamespacePlan {
    /// Namespaces to join by path, in join order.
    pub join: Vec<(LinuxNamespaceType, PathBuf)>,
    /// Namespaces to create (user excluded: it is created on its own step).
    pub create: Vec<LinuxNamespaceType>,
    /// Whether a new user namespace is created.
    pub new_user: bool,
}

impl NamespacePlan {
    /// Reads the spec's namespaces (already validated: no duplicates).
    pub fn from_spec(spec: &Spec) -> Self {
        let mut plan = NamespacePlan::default();
        let namespaces = crate::spec::namespaces(spec);
        for typ in JOIN_ORDER {
            let Some(ns) = namespaces.iter().find(|n| n.typ() == typ) else {
                continue;
            };
            match ns.path() {
                Some(path) => plan.join.push((typ, path.clone())),
                None if typ == LinuxNamespaceType::User => plan.new_user = true,
                None => plan.create.push(typ),
            }
        }
        plan
    }

    /// The flags to unshare after the user namespace exists.
    pub fn unshare_flags(&self) -> CloneFlags {
        self.create
            .iter()
            .fold(CloneFlags::empty(), |acc, t| acc | flag(*t))
    }

    /// Whether the container has this namespace of its own (new or joined).
    pub fn has(&self, typ: LinuxNamespaceType) -> bool {
        self.create.contains(&typ)
            || self.join.iter().any(|(t, _)| *t == typ)
            || (typ == LinuxNamespaceType::User && self.new_user)
    }

    /// Whether a new namespace of this type is created.
    pub fn creates(&self, typ: LinuxNamespaceType) -> bool {
        self.create.contains(&typ) || (typ == LinuxNamespaceType::User && self.new_user)
    }

    /// Opens every namespace to join (before entering any, since entering
    /// one may change how the other paths resolve).
    pub fn open_joins(&self) -> Result<Vec<(LinuxNamespaceType, OwnedFd)>> {
        self.join
            .iter()
            .map(|(typ, path)| {
                let fd = nix::fcntl::open(path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())
                    .ctx(|| format!("opening {} namespace {}", typ, path.display()))?;
                Ok((*typ, fd))
            })
            .collect()
    }
}

/// The `linux.timeOffsets` text for /proc/self/timens_offsets.
pub fn time_offsets(spec: &Spec) -> Option<String> {
    let offsets = spec.linux().as_ref()?.time_offsets().as_ref()?;
    let mut keys: Vec<_> = offsets.keys().collect();
    keys.sort();
    let text: String = keys
        .into_iter()
        .map(|k| {
            let o = &offsets[k];
            format!(
                "{k} {} {}\n",
                o.secs().unwrap_or(0),
                o.nanosecs().unwrap_or(0)
            )
        })
        .collect();
    (!text.is_empty()).then_some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(namespaces: serde_json::Value) -> Spec {
        serde_json::from_value(
            serde_json::json!({"ociVersion": "1.2.0", "linux": {"namespaces": namespaces}}),
        )
        .unwrap()
    }

    #[test]
    fn new_and_joined() {
        let s = spec(serde_json::json!([
            {"type": "mount"}, {"type": "network", "path": "/proc/1/ns/net"}, {"type": "pid"},
            {"type": "user"}, {"type": "ipc", "path": "/var/run/ipc"}, {"type": "cgroup"}, {"type": "time"}
        ]));
        let p = NamespacePlan::from_spec(&s);
        assert!(p.new_user);
        assert_eq!(
            p.join,
            vec![
                (LinuxNamespaceType::Ipc, "/var/run/ipc".into()),
                (LinuxNamespaceType::Network, "/proc/1/ns/net".into())
            ]
        );
        assert_eq!(
            p.create,
            vec![
                LinuxNamespaceType::Pid,
                LinuxNamespaceType::Time,
                LinuxNamespaceType::Cgroup,
                LinuxNamespaceType::Mount
            ]
        );
        let f = p.unshare_flags();
        assert!(f.contains(
            CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWCGROUP
        ));
        assert!(!f.contains(CloneFlags::CLONE_NEWUSER) && !f.contains(CloneFlags::CLONE_NEWNET));
        assert!(f.bits() & CLONE_NEWTIME != 0);
        assert!(p.has(LinuxNamespaceType::Network) && !p.creates(LinuxNamespaceType::Network));
        assert!(!p.has(LinuxNamespaceType::Uts));
    }

    #[test]
    fn time_offsets_text() {
        let s: Spec = serde_json::from_value(serde_json::json!({"ociVersion": "1.2.0", "linux": {
            "timeOffsets": {"monotonic": {"secs": 10, "nanosecs": 5}, "boottime": {"secs": -3}}
        }}))
        .unwrap();
        assert_eq!(time_offsets(&s).unwrap(), "boottime -3 0\nmonotonic 10 5\n");
    }
}
