//! `linux.netDevices`: host network devices moved into the container's
//! network namespace at `create`, renamed as asked, with their permanent
//! global addresses kept and the link set up (runtime spec, config-linux).
//! They are never moved back: when the namespace goes, the kernel returns
//! physical devices to the host and destroys virtual ones.

use std::collections::HashSet;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressMessage, AddressScope,
};
use nix::sched::{setns, CloneFlags};
use oci_spec::runtime::Spec;

use super::rtnetlink::Rtnl;
use crate::error::{Context, Error, Result};

/// One device to move: its host name and its name in the container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Move {
    /// The name on the host.
    pub host: String,
    /// The name in the container (the host name unless `name` is set).
    pub name: String,
}

/// The kernel's rule for interface names (dev_valid_name).
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 16
        && name != "."
        && name != ".."
        && !name
            .bytes()
            .any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace())
}

/// The moves the spec asks for, sorted by host name, checked: valid
/// names, distinct targets, and a network namespace for them to go to.
pub fn plan(spec: &Spec) -> Result<Vec<Move>, String> {
    let Some(devices) = spec.linux().as_ref().and_then(|l| l.net_devices().as_ref()) else {
        return Ok(Vec::new());
    };
    if devices.is_empty() {
        return Ok(Vec::new());
    }
    if !crate::spec::has_namespace(spec, oci_spec::runtime::LinuxNamespaceType::Network) {
        return Err(
            "linux.netDevices needs a network namespace in linux.namespaces (it would move host devices into the host)"
                .into(),
        );
    }
    let mut moves: Vec<Move> = devices
        .iter()
        .map(|(host, d)| Move {
            host: host.clone(),
            name: d.name().clone().unwrap_or_else(|| host.clone()),
        })
        .collect();
    moves.sort_by(|a, b| a.host.cmp(&b.host));
    let mut names = HashSet::new();
    for m in &moves {
        if !valid_name(&m.host) {
            return Err(format!(
                "linux.netDevices: {:?} is not a valid interface name",
                m.host
            ));
        }
        if !valid_name(&m.name) {
            return Err(format!(
                "linux.netDevices.{}.name: {:?} is not a valid interface name",
                m.host, m.name
            ));
        }
        if !names.insert(m.name.clone()) {
            return Err(format!(
                "linux.netDevices: two devices would be called {:?} in the container",
                m.name
            ));
        }
    }
    Ok(moves)
}

/// Addresses that move with a device: permanent and of global scope.
fn kept(a: &AddressMessage) -> bool {
    let permanent = a.header.flags.contains(AddressHeaderFlags::Permanent)
        || a.attributes.iter().any(|attr| {
            matches!(attr, AddressAttribute::Flags(f) if f.contains(AddressFlags::Permanent))
        });
    permanent && a.header.scope == AddressScope::Universe
}

/// The parts of a listed address that re-create it, flags included (a
/// label names the old device, lifetimes are the kernel's).
fn recreate(a: &AddressMessage) -> AddressMessage {
    let mut out = AddressMessage::default();
    out.header = a.header.clone();
    out.attributes = a
        .attributes
        .iter()
        .filter(|attr| {
            matches!(
                attr,
                AddressAttribute::Address(_)
                    | AddressAttribute::Local(_)
                    | AddressAttribute::Broadcast(_)
                    | AddressAttribute::Flags(_)
            )
        })
        .cloned()
        .collect();
    out
}

/// Moves the devices into the network namespace of `pid` (container init).
pub fn move_into(moves: &[Move], pid: i32) -> Result<()> {
    if moves.is_empty() {
        return Ok(());
    }
    if !nix::unistd::geteuid().is_root() {
        return Err(Error::invalid(
            "linux.netDevices: moving host network devices needs root",
        ));
    }
    let ns_path = format!("/proc/{pid}/ns/net");
    let theirs: OwnedFd = std::fs::File::open(&ns_path)
        .ctx(|| format!("opening {ns_path}"))?
        .into();
    let ours: OwnedFd = std::fs::File::open("/proc/self/ns/net")
        .ctx(|| "opening /proc/self/ns/net".into())?
        .into();
    let same = |a: &OwnedFd, b: &OwnedFd| -> Result<bool> {
        let (a, b) = (
            nix::sys::stat::fstat(a).ctx(|| format!("stat {ns_path}"))?,
            nix::sys::stat::fstat(b).ctx(|| "stat /proc/self/ns/net".into())?,
        );
        Ok((a.st_dev, a.st_ino) == (b.st_dev, b.st_ino))
    };
    if same(&theirs, &ours)? {
        return Err(Error::invalid(
            "linux.netDevices: the container's network namespace is the host's; devices would only be renamed",
        ));
    }
    let mut host = Rtnl::open().ctx(|| "linux.netDevices: opening an rtnetlink socket".into())?;
    // A socket stays in the namespace it was opened in: open the
    // container's while visiting it, then come straight back.
    setns(theirs.as_fd(), CloneFlags::CLONE_NEWNET)
        .ctx(|| "entering the container's network namespace".into())?;
    let container = Rtnl::open();
    setns(ours.as_fd(), CloneFlags::CLONE_NEWNET)
        .ctx(|| "returning to hako's network namespace".into())?;
    let mut container = container.ctx(|| "opening an rtnetlink socket in the container".into())?;

    // Every device is looked up before any moves: a missing one must not
    // take the others into a namespace that is about to be destroyed.
    let mut found = Vec::new();
    for m in moves {
        let index = nix::net::if_::if_nametoindex(m.host.as_str()).map_err(|_| {
            Error::invalid(format!(
                "linux.netDevices: no network device {:?} on the host",
                m.host
            ))
        })?;
        let addresses: Vec<AddressMessage> = host
            .addresses(index)
            .ctx(|| format!("linux.netDevices: listing the addresses of {:?}", m.host))?
            .iter()
            .filter(|a| kept(a))
            .map(recreate)
            .collect();
        found.push((m, index, addresses));
    }
    for (m, index, addresses) in found {
        let what = || {
            format!(
                "linux.netDevices: moving {:?} into the container as {:?}",
                m.host, m.name
            )
        };
        host.move_link(index, theirs.as_raw_fd(), &m.name)
            .ctx(what)?;
        let index = container.link_index(&m.name).ctx(what)?;
        for a in addresses {
            container.add_address(index, a).ctx(|| {
                format!(
                    "linux.netDevices: adding an address to {:?} in the container",
                    m.name
                )
            })?;
        }
        container
            .set_up(index)
            .ctx(|| format!("linux.netDevices: setting {:?} up in the container", m.name))?;
        tracing::debug!(host = %m.host, name = %m.name, "moved network device");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(linux: serde_json::Value) -> Spec {
        serde_json::from_value(serde_json::json!({"ociVersion": "1.2.0", "linux": linux})).unwrap()
    }

    #[test]
    fn plans() {
        let s = spec(serde_json::json!({
            "namespaces": [{"type": "network"}],
            "netDevices": {"eth1": {"name": "ctr0"}, "eth0": {}}
        }));
        assert_eq!(
            plan(&s).unwrap(),
            vec![
                Move {
                    host: "eth0".into(),
                    name: "eth0".into()
                },
                Move {
                    host: "eth1".into(),
                    name: "ctr0".into()
                }
            ]
        );
        assert_eq!(plan(&spec(serde_json::json!({}))).unwrap(), vec![]);
    }

    #[test]
    fn bad_plans() {
        let e = plan(&spec(serde_json::json!({"netDevices": {"eth0": {}}}))).unwrap_err();
        assert!(e.contains("needs a network namespace"), "{e}");
        let ns = serde_json::json!([{"type": "network"}]);
        let e = plan(&spec(
            serde_json::json!({"namespaces": ns, "netDevices": {"eth0": {"name": "a/b"}}}),
        ))
        .unwrap_err();
        assert!(e.contains("linux.netDevices.eth0.name"), "{e}");
        let e = plan(&spec(
            serde_json::json!({"namespaces": ns, "netDevices": {"averyveryverylongname": {}}}),
        ))
        .unwrap_err();
        assert!(e.contains("not a valid interface name"), "{e}");
        let e = plan(&spec(serde_json::json!({"namespaces": ns, "netDevices": {"a": {"name": "x"}, "b": {"name": "x"}}}))).unwrap_err();
        assert!(e.contains("two devices"), "{e}");
    }

    #[test]
    fn only_permanent_global_addresses_move() {
        let mut a = AddressMessage::default();
        a.header.flags = AddressHeaderFlags::Permanent;
        a.header.scope = AddressScope::Universe;
        a.attributes = vec![
            AddressAttribute::Local("10.1.2.3".parse().unwrap()),
            AddressAttribute::Label("old0".into()),
        ];
        assert!(kept(&a));
        assert_eq!(recreate(&a).attributes.len(), 1, "the label is dropped");
        let mut host_scope = a.clone();
        host_scope.header.scope = AddressScope::Host;
        assert!(!kept(&host_scope));
        let mut dynamic = a.clone();
        dynamic.header.flags = AddressHeaderFlags::empty();
        assert!(!kept(&dynamic));
    }
}
