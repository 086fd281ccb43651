//! `hako features`: what this build supports, in the runtime-spec
//! features.md format.

use std::collections::HashMap;

use oci_spec::runtime::{
    Apparmor, Arch, Cgroup, Features, IDMap, IntelRdt, LinuxFeature, LinuxNamespaceType,
    LinuxSeccompAction, MemoryPolicy, MountExtensions, NetDevices, Seccomp, Selinux,
};

use crate::error::{Error, Result};

fn strings(list: &[&str]) -> Option<Vec<String>> {
    Some(list.iter().map(|s| s.to_string()).collect())
}

/// The features document.
pub fn document() -> Features {
    let engines: Vec<&str> = crate::engines::built_in()
        .iter()
        .map(|e| e.name())
        .collect();
    let mut capabilities: Vec<String> = caps::all().into_iter().map(|c| c.to_string()).collect();
    capabilities.sort();
    let mut linux = LinuxFeature::default();
    linux
        .set_namespaces(Some(vec![
            LinuxNamespaceType::Cgroup,
            LinuxNamespaceType::Ipc,
            LinuxNamespaceType::Mount,
            LinuxNamespaceType::Network,
            LinuxNamespaceType::Pid,
            LinuxNamespaceType::Time,
            LinuxNamespaceType::User,
            LinuxNamespaceType::Uts,
        ]))
        .set_capabilities(Some(capabilities))
        .set_cgroup(Some(cgroup()))
        .set_seccomp(Some(seccomp()))
        .set_apparmor(Some(enabled(
            crate::lsm::apparmor_enabled(),
            Apparmor::default(),
            Apparmor::set_enabled,
        )))
        .set_selinux(Some(enabled(
            crate::lsm::selinux_enabled(),
            Selinux::default(),
            Selinux::set_enabled,
        )))
        .set_intel_rdt(Some(enabled(
            false,
            IntelRdt::default(),
            IntelRdt::set_enabled,
        )))
        .set_mount_extensions(Some({
            let mut m = MountExtensions::default();
            m.set_idmap(Some(enabled(true, IDMap::default(), IDMap::set_enabled)));
            m
        }))
        .set_memory_policy(Some({
            let mut m = MemoryPolicy::default();
            m.set_modes(strings(&crate::tuning::memory_policy::MODES))
                .set_flags(strings(&crate::tuning::memory_policy::FLAGS));
            m
        }))
        .set_net_devices(Some(enabled(
            true,
            NetDevices::default(),
            NetDevices::set_enabled,
        )));
    let annotations = HashMap::from([
        (
            "io.hako.version".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
        (
            "io.hako.commit".to_string(),
            crate::version::COMMIT.to_string(),
        ),
        ("io.hako.wasm.engines".to_string(), engines.join(",")),
        // runc's `exec --cgroup [controller:]path`.
        ("io.hako.exec.cgroup".to_string(), "true".to_string()),
    ]);
    let mut f = Features::default();
    f.set_oci_version_min("1.0.0".into())
        .set_oci_version_max(crate::state::OCI_VERSION.into())
        .set_hooks(strings(crate::hooks::NAMES))
        .set_mount_options(strings(crate::rootfs::options::KNOWN))
        .set_linux(Some(linux))
        .set_annotations(Some(annotations))
        .set_potentially_unsafe_config_annotations(strings(&[
            "run.oci.handler",
            "module.wasm.image/variant",
            "io.hako.",
        ]));
    f
}

/// A feature with only `enabled`.
fn enabled<T>(on: bool, mut t: T, set: fn(&mut T, Option<bool>) -> &mut T) -> T {
    set(&mut t, Some(on));
    t
}

fn cgroup() -> Cgroup {
    let mut c = Cgroup::default();
    c.set_v1(Some(true))
        .set_v2(Some(true))
        .set_systemd(Some(true))
        .set_systemd_user(Some(true))
        .set_rdma(Some(false));
    c
}

/// What hako's seccomp support can do (libseccomp 2.5).
fn seccomp() -> Seccomp {
    use LinuxSeccompAction as A;
    let flags = strings(&[
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    ]);
    let mut s = Seccomp::default();
    s.set_enabled(Some(true))
        .set_actions(Some(vec![
            A::ScmpActAllow,
            A::ScmpActErrno,
            A::ScmpActKill,
            A::ScmpActKillProcess,
            A::ScmpActKillThread,
            A::ScmpActLog,
            A::ScmpActNotify,
            A::ScmpActTrace,
            A::ScmpActTrap,
        ]))
        .set_operators(strings(&[
            "SCMP_CMP_EQ",
            "SCMP_CMP_GE",
            "SCMP_CMP_GT",
            "SCMP_CMP_LE",
            "SCMP_CMP_LT",
            "SCMP_CMP_MASKED_EQ",
            "SCMP_CMP_NE",
        ]))
        .set_archs(Some(vec![
            Arch::ScmpArchAarch64,
            Arch::ScmpArchArm,
            Arch::ScmpArchX32,
            Arch::ScmpArchX86,
            Arch::ScmpArchX86_64,
        ]))
        .set_known_flags(flags.clone())
        .set_supported_flags(flags);
    s
}

/// `features`.
pub fn run() -> Result<()> {
    let text = serde_json::to_string_pretty(&document())
        .map_err(|e| Error::invalid(format!("encoding features: {e}")))?;
    crate::output::print(&format!("{text}\n"));
    Ok(())
}
