//! Validation: what serde cannot check, done once, into a [`Plan`].

use std::collections::HashSet;
use std::path::Path;

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use super::{has_namespace, namespaces, Plan, ProcessPlan};

/// Checks what serde cannot (required fields, relations between fields)
/// and plans what the spec asks for, once; `bundle` is the bundle
/// directory (relative mount sources resolve against it). Each message
/// names the field at fault.
///
/// Pure: nothing here looks at the host. What does (the LSMs, building
/// the seccomp filter) is checked by `create`.
pub fn validate(spec: &Spec, bundle: &Path) -> std::result::Result<Plan, String> {
    check_version(spec.version())?;
    let root = spec.root().as_ref().ok_or("root must be set")?;
    if root.path().as_os_str().is_empty() {
        return Err("root.path must not be empty".into());
    }
    let process = spec.process().as_ref().ok_or("process must be set")?;
    let args = process.args().as_deref().unwrap_or_default();
    if args.is_empty() {
        return Err("process.args must not be empty".into());
    }
    if !process.cwd().is_absolute() {
        return Err(format!(
            "process.cwd must be an absolute path, not {:?}",
            process.cwd()
        ));
    }
    check_namespaces(spec)?;
    let linux = spec.linux().as_ref();
    if spec.hostname().as_ref().is_some_and(|h| !h.is_empty())
        && !has_namespace(spec, LinuxNamespaceType::Uts)
    {
        return Err("hostname needs a uts namespace in linux.namespaces".into());
    }
    if spec.domainname().as_ref().is_some_and(|h| !h.is_empty())
        && !has_namespace(spec, LinuxNamespaceType::Uts)
    {
        return Err("domainname needs a uts namespace in linux.namespaces".into());
    }
    if let Some(sysctl) = linux.and_then(|l| l.sysctl().as_ref()) {
        let mut keys: Vec<_> = sysctl.keys().collect();
        keys.sort();
        for key in keys {
            check_sysctl(spec, key)?;
        }
    }
    let process_plan = ProcessPlan::new(process, linux)?;
    check_deadline_and_hooks(spec, process)?;
    let net_moves = crate::net::devices::plan(spec)?;
    let idmapped = crate::rootfs::idmapped::plan(spec, bundle)?;
    if linux
        .and_then(|l| l.personality().as_ref())
        .and_then(|p| p.flags().as_ref())
        .is_some_and(|f| !f.is_empty())
    {
        tracing::warn!("linux.personality.flags are not supported and are ignored");
    }
    if let Some(prop) = linux.and_then(|l| l.rootfs_propagation().as_deref()) {
        crate::rootfs::options::propagation(prop)
            .ok_or_else(|| format!("linux.rootfsPropagation: unknown value {prop:?}"))?;
    }
    if linux.is_some_and(|l| l.intel_rdt().is_some()) {
        return Err("linux.intelRdt: Intel RDT (resctrl) is not supported by hako".into());
    }
    // Init makes the nodes (with the defaults, unless a /dev is bound in).
    let device_nodes =
        crate::rootfs::devices::plan(spec, crate::rootfs::devices::manages_dev(spec))?;
    let device_rules =
        crate::cgroups::resources::devices::rules(spec).map_err(|e| e.to_string())?;
    check_mounts(spec)?;
    Ok(Plan {
        namespaces: crate::namespaces::NamespacePlan::from_spec(spec),
        process: process_plan,
        device_nodes,
        device_rules,
        idmapped,
        net_moves,
    })
}

/// `linux.namespaces` (no duplicates, absolute paths) and the id mappings
/// a new user namespace needs (and only it may have).
fn check_namespaces(spec: &Spec) -> std::result::Result<(), String> {
    let mut seen = HashSet::new();
    for ns in namespaces(spec) {
        if !seen.insert(ns.typ()) {
            return Err(format!(
                "linux.namespaces: duplicate namespace type {}",
                ns.typ()
            ));
        }
        if let Some(path) = ns.path() {
            if !path.is_absolute() {
                return Err(format!(
                    "linux.namespaces: {} path must be absolute, not {:?}",
                    ns.typ(),
                    path
                ));
            }
        }
    }
    let linux = spec.linux().as_ref();
    let new_user = namespaces(spec)
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::User && n.path().is_none());
    let has_maps = linux.is_some_and(|l| {
        l.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
            || l.gid_mappings().as_ref().is_some_and(|m| !m.is_empty())
    });
    if new_user {
        let uid = linux
            .and_then(|l| l.uid_mappings().as_ref())
            .is_some_and(|m| !m.is_empty());
        let gid = linux
            .and_then(|l| l.gid_mappings().as_ref())
            .is_some_and(|m| !m.is_empty());
        if !uid || !gid {
            return Err(
                "linux.uidMappings and linux.gidMappings must be set for a new user namespace"
                    .into(),
            );
        }
    } else if has_maps {
        return Err(
            "linux.uidMappings/gidMappings need a new user namespace in linux.namespaces".into(),
        );
    }
    Ok(())
}

/// Every mount: a destination, options hako can pass on, and nothing but
/// procfs (or a bind) on /proc.
fn check_mounts(spec: &Spec) -> std::result::Result<(), String> {
    for (i, m) in spec
        .mounts()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        if m.destination().as_os_str().is_empty() {
            return Err(format!("mounts[{i}].destination must not be empty"));
        }
    }
    for m in spec.mounts().as_deref().unwrap_or_default() {
        let dest = crate::rootfs::mounts::clean_destination(m.destination());
        crate::rootfs::options::parse(m.options().as_deref().unwrap_or_default())
            .map_err(|e| format!("mounts ({}): {e}", dest.display()))?;
        crate::rootfs::mounts::check_proc_destination(&dest, m.typ().as_deref().unwrap_or(""))
            .map_err(|e| format!("mounts ({}): {e}", dest.display()))?;
    }
    Ok(())
}

/// A SCHED_DEADLINE task cannot fork (unless its children reset the
/// policy), so startContainer hooks, which init forks after taking the
/// policy, could never run.
fn check_deadline_and_hooks(
    spec: &Spec,
    process: &oci_spec::runtime::Process,
) -> std::result::Result<(), String> {
    use oci_spec::runtime::{LinuxSchedulerFlag, LinuxSchedulerPolicy};
    let Some(s) = process.scheduler() else {
        return Ok(());
    };
    let resets = s
        .flags()
        .as_deref()
        .unwrap_or_default()
        .contains(&LinuxSchedulerFlag::SchedResetOnFork);
    let hooks = spec
        .hooks()
        .as_ref()
        .and_then(|h| h.start_container().as_ref())
        .is_some_and(|h| !h.is_empty());
    if *s.policy() == LinuxSchedulerPolicy::SchedDeadline && !resets && hooks {
        return Err("process.scheduler: a SCHED_DEADLINE process cannot fork, so hooks.startContainer cannot run (add SCHED_FLAG_RESET_ON_FORK)".into());
    }
    Ok(())
}

/// `ociVersion` must be a 1.x.y semantic version (with an optional
/// pre-release or build suffix).
pub(super) fn check_version(version: &str) -> std::result::Result<(), String> {
    let core = version.split(['-', '+']).next().unwrap_or_default();
    let parts: Vec<&str> = core.split('.').collect();
    let numeric = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    if !numeric || parts[0] != "1" {
        return Err(format!(
            "ociVersion {version:?} is not a 1.x.y version of the runtime spec"
        ));
    }
    Ok(())
}

/// runc's rule: a sysctl may only be set in a namespace the container owns.
fn check_sysctl(spec: &Spec, key: &str) -> std::result::Result<(), String> {
    const IPC: [&str; 7] = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
    ];
    let needs =
        if IPC.contains(&key) || key.starts_with("fs.mqueue.") || key == "kernel.shm_rmid_forced" {
            LinuxNamespaceType::Ipc
        } else if key.starts_with("net.") {
            LinuxNamespaceType::Network
        } else if key == "kernel.hostname" || key == "kernel.domainname" {
            LinuxNamespaceType::Uts
        } else {
            return Err(format!(
                "linux.sysctl: {key:?} is not namespaced and cannot be set for a container"
            ));
        };
    if !has_namespace(spec, needs) {
        return Err(format!(
            "linux.sysctl: {key:?} needs a {needs} namespace in linux.namespaces"
        ));
    }
    Ok(())
}
