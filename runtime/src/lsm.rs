//! Linux security modules: AppArmor profiles and SELinux labels.
//!
//! A spec that asks for a profile or process label of an LSM the host
//! does not have, or one that is malformed, is an error at `create`
//! ([`check`]), never silently ignored. `linux.mountLabel` is the exception, as in crun and youki:
//! without SELinux there is nothing to label files with, and the mounts
//! are the same either way, so it is ignored with a debug line.
//!
//! A label the host's policy refuses fails where it is written (see
//! [`label_writes`]). For a workload started by execve that is in init
//! before it reports ready, so the refusal fails `create` (what the
//! policy checks only at the exec itself fails that exec, after `start`).
//! For an in-process wasm guest it is after `start`, right before the
//! guest runs ([`confine_in_process`]): init then prints one line on the
//! container's stderr and exits 1, while `hako start` has already
//! succeeded. `hako exec` splits the same way: a refusal before its
//! process reports ready fails `exec`; an in-process guest's process
//! prints one line and exits 255.

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
        if !selinux && field == "linux.mountLabel" {
            tracing::debug!("{field} {label:?} ignored: SELinux is not enabled on this host");
            continue;
        }
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

/// Where and what to write to confine the workload.
#[derive(Debug, PartialEq, Eq)]
pub struct LabelWrite {
    /// Which `attr` file under `/proc/thread-self`.
    pub attr: &'static str,
    /// The bytes to write.
    pub value: String,
    /// The spec field, for errors.
    pub field: &'static str,
}

/// The writes that confine the workload. `on_exec` when the workload is
/// another program started by execve: the label is then set for that exec
/// (`attr/exec`), as runc does. An in-process engine never execs, so the
/// label must apply to the running process at once (`attr/current`:
/// AppArmor's change_profile, SELinux's dynamic transition), after
/// `start`, right before the guest runs; a policy that forbids this ends
/// the container there (exit 1) rather than running the guest unconfined.
pub fn label_writes(process: &Process, on_exec: bool, apparmor_dir: bool) -> Vec<LabelWrite> {
    let mut out = vec![];
    if let Some(profile) = process
        .apparmor_profile()
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        let verb = if on_exec { "exec" } else { "changeprofile" };
        out.push(LabelWrite {
            attr: match (apparmor_dir, on_exec) {
                (true, true) => "attr/apparmor/exec",
                (true, false) => "attr/apparmor/current",
                (false, true) => "attr/exec",
                (false, false) => "attr/current",
            },
            value: format!("{verb} {profile}"),
            field: "process.apparmorProfile",
        });
    }
    if let Some(label) = process.selinux_label().as_deref().filter(|l| !l.is_empty()) {
        out.push(LabelWrite {
            attr: if on_exec { "attr/exec" } else { "attr/current" },
            value: label.to_string(),
            field: "process.selinuxLabel",
        });
    }
    out
}

/// Whether the spec asks for any label.
pub fn has_labels(process: &Process) -> bool {
    !label_writes(process, true, false).is_empty()
}

/// Confines the workload with the spec's AppArmor profile and SELinux
/// label; see [`label_writes`] for `on_exec`.
pub fn apply_process_labels(process: &Process, on_exec: bool) -> Result<()> {
    let apparmor_dir = Path::new("/proc/thread-self/attr/apparmor").exists();
    for w in label_writes(process, on_exec, apparmor_dir) {
        let path = Path::new("/proc/thread-self").join(w.attr);
        write_attr(&path, &w.value).map_err(|e| {
            Error::invalid(format!(
                "{} {:?}: writing {}: {}",
                w.field,
                w.value,
                path.display(),
                crate::error::describe_io(&e)
            ))
        })?;
    }
    Ok(())
}

/// Confines an in-process guest, right before it runs: after hako's own
/// descriptors are closed (so no check of the new label meets the fifo or
/// the sync socket) and once the process has one thread (SELinux refuses
/// to relabel a multi-threaded process, and an AppArmor change of the
/// calling thread would leave the others unconfined). Threads a compiler
/// pool left behind exit on their own shortly after compiling.
pub fn confine_in_process(process: &Process) -> Result<()> {
    if !has_labels(process) {
        return Ok(());
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let mut threads = thread_count();
    while threads != Some(1) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(5));
        threads = thread_count();
    }
    if threads != Some(1) {
        return Err(Error::invalid(format!(
            "cannot confine the in-process wasm guest with its AppArmor profile or SELinux label: the process has {} threads",
            threads.map_or("an unknown number of".to_string(), |n| n.to_string())
        )));
    }
    apply_process_labels(process, false)
}

fn thread_count() -> Option<u64> {
    std::fs::read_to_string("/proc/self/status")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}

/// Writes an LSM attribute file, refusing anything that is not procfs (a
/// mount or link over /proc would otherwise swallow the label and leave
/// the workload unconfined, CVE-2025-52881 style). No O_CREAT: the files
/// exist on procfs or not at all.
fn write_attr(path: &Path, value: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)?;
    let on_proc = nix::sys::statfs::fstatfs(&f)
        .map(|st| st.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC)
        .map_err(std::io::Error::from)?;
    if !on_proc {
        return Err(std::io::Error::other("not on procfs"));
    }
    f.write_all(value.as_bytes())
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
        // Without SELinux a mount label has nothing to label: ignored.
        check_with(&s, false, false).unwrap();
        check_with(&spec(serde_json::json!({})), false, false).unwrap();
    }

    #[test]
    fn attributes_are_only_written_on_procfs() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("exec");
        std::fs::write(&file, "").unwrap();
        let e = write_attr(&file, "exec p").unwrap_err();
        assert!(e.to_string().contains("not on procfs"), "{e}");
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert_eq!(
            write_attr(&link, "exec p").unwrap_err().raw_os_error(),
            Some(libc::ELOOP)
        );
        assert!(write_attr(&dir.path().join("missing"), "x").is_err());
        assert!(thread_count().is_some_and(|n| n >= 1));
    }

    #[test]
    fn labels_go_to_exec_for_execve_and_current_in_process() {
        let s = spec(serde_json::json!({"process": {
            "apparmorProfile": "p", "selinuxLabel": "u:r:t:s0"}}));
        let p = s.process().as_ref().unwrap();
        let w = label_writes(p, true, true);
        assert_eq!(w[0].attr, "attr/apparmor/exec");
        assert_eq!(w[0].value, "exec p");
        assert_eq!(w[1].attr, "attr/exec");
        assert_eq!(w[1].value, "u:r:t:s0");
        let w = label_writes(p, false, false);
        assert_eq!(w[0].attr, "attr/current");
        assert_eq!(w[0].value, "changeprofile p");
        assert_eq!(w[1].attr, "attr/current");
        assert_eq!(
            label_writes(p, false, true)[0].attr,
            "attr/apparmor/current"
        );
        let none = spec(serde_json::json!({}));
        assert!(label_writes(none.process().as_ref().unwrap(), true, true).is_empty());
    }
}
