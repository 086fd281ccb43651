//! Linux security modules: AppArmor profiles and SELinux labels.
//!
//! A spec that asks for a profile or label the host cannot apply is an
//! error at `create`, never silently ignored.

use std::path::Path;

use oci_spec::runtime::{Process, Spec};

use crate::error::{Error, Result};

/// Whether AppArmor is enabled on this host.
pub fn apparmor_enabled() -> bool {
    std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y")
}

/// Whether SELinux is enabled on this host.
pub fn selinux_enabled() -> bool {
    Path::new("/sys/fs/selinux/enforce").exists()
}

/// Checks the spec's LSM requests against what this host has.
pub fn check(spec: &Spec) -> Result<()> {
    check_with(spec, apparmor_enabled(), selinux_enabled())
}

/// [`check`] with the host's answers given (for tests).
pub fn check_with(spec: &Spec, apparmor: bool, selinux: bool) -> Result<()> {
    let process = spec.process().as_ref();
    if let Some(profile) = process
        .and_then(|p| p.apparmor_profile().as_deref())
        .filter(|p| !p.is_empty())
    {
        if !apparmor {
            return Err(Error::invalid(format!(
                "process.apparmorProfile {profile:?}: AppArmor is not enabled on this host"
            )));
        }
        if profile.contains('\n') {
            return Err(Error::invalid(format!(
                "process.apparmorProfile {profile:?}: invalid profile name"
            )));
        }
    }
    let labels = [
        (
            "process.selinuxLabel",
            process.and_then(|p| p.selinux_label().clone()),
        ),
        (
            "linux.mountLabel",
            spec.linux().as_ref().and_then(|l| l.mount_label().clone()),
        ),
    ];
    for (field, label) in labels {
        let Some(label) = label.filter(|l| !l.is_empty()) else {
            continue;
        };
        if !selinux {
            return Err(Error::invalid(format!(
                "{field} {label:?}: SELinux is not enabled on this host"
            )));
        }
        if label.split(':').count() < 3 {
            return Err(Error::invalid(format!(
                "{field} {label:?}: not an SELinux context (user:role:type[:level])"
            )));
        }
    }
    Ok(())
}

/// Sets the labels the next execve (or, for an in-process engine, the
/// process itself from now on) runs with.
pub fn apply_process_labels(process: &Process) -> Result<()> {
    if let Some(profile) = process
        .apparmor_profile()
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        let attr = if Path::new("/proc/self/attr/apparmor/exec").exists() {
            "/proc/self/attr/apparmor/exec"
        } else {
            "/proc/self/attr/exec"
        };
        std::fs::write(attr, format!("exec {profile}")).map_err(|e| {
            Error::invalid(format!(
                "applying AppArmor profile {profile:?}: {}",
                crate::error::describe_io(&e)
            ))
        })?;
    }
    if let Some(label) = process.selinux_label().as_deref().filter(|l| !l.is_empty()) {
        std::fs::write("/proc/self/attr/exec", label).map_err(|e| {
            Error::invalid(format!(
                "applying SELinux label {label:?}: {}",
                crate::error::describe_io(&e)
            ))
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(v: serde_json::Value) -> Spec {
        let mut base = serde_json::json!({"ociVersion": "1.2.0", "process": {"cwd": "/", "user": {"uid": 0, "gid": 0}}});
        if let Some(p) = v.get("process") {
            for (k, val) in p.as_object().unwrap() {
                base["process"][k] = val.clone();
            }
        }
        if let Some(l) = v.get("linux") {
            base["linux"] = l.clone();
        }
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn requests_the_host_cannot_apply_are_errors() {
        let s = spec(serde_json::json!({"process": {"apparmorProfile": "podman-default"}}));
        assert!(check_with(&s, false, false)
            .unwrap_err()
            .to_string()
            .contains("AppArmor is not enabled"));
        check_with(&s, true, false).unwrap();
        let s = spec(
            serde_json::json!({"process": {"selinuxLabel": "system_u:system_r:container_t:s0:c1,c2"}}),
        );
        assert!(check_with(&s, false, false)
            .unwrap_err()
            .to_string()
            .starts_with("process.selinuxLabel"));
        check_with(&s, false, true).unwrap();
        let s = spec(serde_json::json!({"linux": {"mountLabel": "bogus"}}));
        assert!(check_with(&s, false, true)
            .unwrap_err()
            .to_string()
            .contains("not an SELinux context"));
        check_with(&spec(serde_json::json!({})), false, false).unwrap();
    }
}
