//! Loading a bundle's `config.json` and checking it before anything is
//! created, so that bad input fails early and leaves nothing behind.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{LinuxNamespaceType, Spec};

use crate::error::{Context, Error, Result};

/// A bundle: its directory, its parsed spec and its resolved rootfs.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Absolute path of the bundle directory.
    pub dir: PathBuf,
    /// The parsed `config.json`.
    pub spec: Spec,
    /// Absolute path of the rootfs (`root.path`, relative to the bundle if
    /// it is relative, as containerd writes it).
    pub rootfs: PathBuf,
}

impl Bundle {
    /// Loads and validates `<dir>/config.json`.
    pub fn load(dir: &Path) -> Result<Bundle> {
        let dir = std::fs::canonicalize(dir).ctx(|| format!("bundle {}", dir.display()))?;
        let config = dir.join("config.json");
        let raw = read_json_file(&config)?;
        let spec = parse(&raw).map_err(|e| Error::invalid(format!("{}: {e}", config.display())))?;
        validate(&spec).map_err(|e| Error::invalid(format!("{}: {e}", config.display())))?;
        let root = spec
            .root()
            .as_ref()
            .map(|r| r.path().clone())
            .unwrap_or_default();
        let rootfs = dir.join(&root);
        let meta = std::fs::metadata(&rootfs).ctx(|| format!("rootfs {}", rootfs.display()))?;
        if !meta.is_dir() {
            return Err(Error::invalid(format!(
                "rootfs {}: not a directory",
                rootfs.display()
            )));
        }
        let rootfs =
            std::fs::canonicalize(&rootfs).ctx(|| format!("rootfs {}", rootfs.display()))?;
        Ok(Bundle { dir, spec, rootfs })
    }
}

/// The largest `config.json` or `--process` file hako reads. Real specs
/// are tens of kilobytes; the limit keeps a hostile bundle (a symlink to
/// /dev/zero, a huge file) from making hako read without end.
pub const MAX_JSON_FILE: u64 = 4 << 20;

/// Reads a JSON input file: a regular file (symlinks followed) of at most
/// [`MAX_JSON_FILE`] bytes. Opened non-blocking so that a fifo cannot
/// hang hako before it is refused.
pub fn read_json_file(path: &Path) -> Result<Vec<u8>> {
    use std::io::Read as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .ctx(|| format!("reading {}", path.display()))?;
    let meta = file
        .metadata()
        .ctx(|| format!("reading {}", path.display()))?;
    if !meta.is_file() {
        return Err(Error::invalid(format!(
            "{}: not a regular file",
            path.display()
        )));
    }
    if meta.len() > MAX_JSON_FILE {
        return Err(Error::invalid(format!(
            "{}: {} bytes is above the limit of {MAX_JSON_FILE}",
            path.display(),
            meta.len()
        )));
    }
    let mut raw = Vec::with_capacity(meta.len() as usize);
    // The file may grow between fstat and read: read one byte past the
    // limit at most.
    file.take(MAX_JSON_FILE + 1)
        .read_to_end(&mut raw)
        .ctx(|| format!("reading {}", path.display()))?;
    if raw.len() as u64 > MAX_JSON_FILE {
        return Err(Error::invalid(format!(
            "{}: larger than the limit of {MAX_JSON_FILE} bytes",
            path.display()
        )));
    }
    Ok(raw)
}

/// Parses a JSON object, refusing any other top-level value by name.
fn parse_object(raw: &[u8]) -> std::result::Result<serde_json::Value, String> {
    let value: serde_json::Value =
        serde_json::from_slice(raw).map_err(|e| format!("invalid json: {e}"))?;
    if !value.is_object() {
        let what = match value {
            serde_json::Value::Array(_) => "an array",
            serde_json::Value::String(_) => "a string",
            serde_json::Value::Number(_) => "a number",
            serde_json::Value::Bool(_) => "a boolean",
            _ => "null",
        };
        return Err(format!("expected a JSON object, found {what}"));
    }
    Ok(value)
}

/// Parses a spec, naming the JSON path of the first bad field.
pub fn parse(raw: &[u8]) -> std::result::Result<Spec, String> {
    let mut value = parse_object(raw)?;
    if let Some(process) = value.get_mut("process") {
        normalize_process(process);
    }
    from_value(value)
}

/// Parses an exec `--process` file (a spec's `process` object).
pub fn parse_process(raw: &[u8]) -> std::result::Result<oci_spec::runtime::Process, String> {
    let mut value = parse_object(raw)?;
    normalize_process(&mut value);
    from_value(value)
}

fn from_value<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> std::result::Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let what = e.into_inner().to_string();
        if path == "." || path == "?" || path.is_empty() {
            format!("invalid config: {what}")
        } else {
            format!("{path}: {what}")
        }
    })
}

/// Rewrites what the runtime spec allows but oci-spec 0.10 cannot read:
/// the spec's names of two scheduler flags, and an empty
/// `execCPUAffinity` list (which means "not set").
fn normalize_process(process: &mut serde_json::Value) {
    if let Some(flags) = process
        .pointer_mut("/scheduler/flags")
        .and_then(|f| f.as_array_mut())
    {
        for flag in flags {
            let renamed = match flag.as_str() {
                Some("SCHED_FLAG_RESET_ON_FORK") => "SCHED_RESET_ON_FORK",
                Some("SCHED_FLAG_DL_OVERRUN") => "SCHED_FLAG_D_L_OVERRUN",
                _ => continue,
            };
            *flag = serde_json::Value::String(renamed.into());
        }
    }
    if let Some(affinity) = process
        .get_mut("execCPUAffinity")
        .and_then(|a| a.as_object_mut())
    {
        affinity.retain(|_, v| v.as_str() != Some(""));
    }
}

/// The spec's annotations, sorted.
pub fn annotations(spec: &Spec) -> std::collections::BTreeMap<String, String> {
    spec.annotations()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// The workload of a process of a started container (init after
/// pivot_root, or an exec process): `/` is the container's root.
pub fn workload(
    spec: &Spec,
    process: &oci_spec::runtime::Process,
    extra_env: &[String],
    options: &hako_executors::RuntimeOptions,
) -> hako_executors::Workload {
    let mut env = process.env().clone().unwrap_or_default();
    env.extend(extra_env.iter().cloned());
    crate::security::credentials::ensure_home(&mut env, process.user().uid(), Path::new("/"));
    hako_executors::Workload {
        args: process.args().clone().unwrap_or_default(),
        env,
        cwd: PathBuf::from(process.cwd()),
        annotations: annotations(spec),
        root: PathBuf::from("/"),
        root_readonly: spec
            .root()
            .as_ref()
            .and_then(|r| r.readonly())
            .unwrap_or(false),
        options: options.clone(),
    }
}

/// Whether the spec asks for a namespace of this type (new or joined).
pub fn has_namespace(spec: &Spec, typ: LinuxNamespaceType) -> bool {
    namespaces(spec).iter().any(|n| n.typ() == typ)
}

/// The spec's `linux.namespaces`, or none.
pub fn namespaces(spec: &Spec) -> Vec<oci_spec::runtime::LinuxNamespace> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default()
}

/// Checks what serde cannot: required fields, relations between fields.
/// Each message names the field at fault.
pub fn validate(spec: &Spec) -> std::result::Result<(), String> {
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
    if let Some(rlimits) = process.rlimits() {
        crate::security::rlimits::plan(rlimits).map_err(|e| e.to_string())?;
    }
    crate::tuning::Tuning::plan(process, linux)?;
    check_deadline_and_hooks(spec, process)?;
    crate::net::devices::plan(spec)?;
    crate::rootfs::idmapped::plan(spec, Path::new("/"))?;
    if let Some(a) = process.exec_cpu_affinity() {
        crate::tuning::cpu_affinity::plan(a)?;
    }
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
fn check_version(version: &str) -> std::result::Result<(), String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn base() -> serde_json::Value {
        json!({
            "ociVersion": "1.2.0",
            "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "root": {"path": "rootfs"},
            "hostname": "h",
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}]}
        })
    }

    fn check(v: serde_json::Value) -> std::result::Result<(), String> {
        let spec = parse(v.to_string().as_bytes())?;
        validate(&spec)
    }

    #[test]
    fn base_spec_is_valid() {
        check(base()).unwrap();
    }

    #[test]
    fn deadline_with_start_container_hooks() {
        let mut v = base();
        v["process"]["scheduler"] = json!({"policy": "SCHED_DEADLINE",
            "runtime": 42000, "deadline": 1000000, "period": 1000000});
        v["hooks"] = json!({"startContainer": [{"path": "/bin/true"}]});
        let e = check(v.clone()).unwrap_err();
        assert!(e.contains("SCHED_DEADLINE process cannot fork"), "{e}");
        v["process"]["scheduler"]["flags"] = json!(["SCHED_FLAG_RESET_ON_FORK"]);
        check(v).unwrap();
    }

    #[test]
    fn versions() {
        for good in ["1.0.0", "1.2.1", "1.3.0-rc.1", "1.0.2-dev", "1.1.0+build"] {
            check_version(good).unwrap();
        }
        for bad in ["invalid", "", "2.0.0", "1.0", "1.x.0", "v1.0.0"] {
            let e = check_version(bad).unwrap_err();
            assert!(e.contains("ociVersion"), "{e}");
        }
    }

    #[test]
    fn spec_names_of_scheduler_flags_and_empty_affinity_parse() {
        let mut v = base();
        v["process"]["scheduler"] = json!({"policy": "SCHED_OTHER",
            "flags": ["SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_RECLAIM"]});
        v["process"]["execCPUAffinity"] = json!({"initial": "0", "final": ""});
        let spec = parse(v.to_string().as_bytes()).unwrap();
        let p = spec.process().as_ref().unwrap();
        assert_eq!(
            p.scheduler()
                .as_ref()
                .unwrap()
                .flags()
                .as_ref()
                .unwrap()
                .len(),
            3
        );
        let a = p.exec_cpu_affinity().as_ref().unwrap();
        assert_eq!(a.initial().as_deref(), Some("0"));
        assert_eq!(a.cpu_affinity_final(), &None);
    }

    #[test]
    fn parse_errors_name_the_field() {
        let mut v = base();
        v["linux"]["namespaces"][1]["type"] = json!("bogus");
        let err = check(v).unwrap_err();
        assert!(
            err.starts_with("linux.namespaces[1].type: unknown variant `bogus`"),
            "{err}"
        );
        let err = parse(b"{not json").unwrap_err();
        assert!(
            err.starts_with("invalid json") || err.contains("key must be a string"),
            "{err}"
        );
    }

    #[test]
    fn missing_pieces() {
        let mut v = base();
        v.as_object_mut().unwrap().remove("process");
        assert_eq!(check(v).unwrap_err(), "process must be set");
        let mut v = base();
        v["process"]["args"] = json!([]);
        assert_eq!(check(v).unwrap_err(), "process.args must not be empty");
        let mut v = base();
        v["process"]["cwd"] = json!("rel");
        assert!(check(v)
            .unwrap_err()
            .starts_with("process.cwd must be an absolute path"));
        let mut v = base();
        v.as_object_mut().unwrap().remove("root");
        assert_eq!(check(v).unwrap_err(), "root must be set");
    }

    #[test]
    fn namespace_relations() {
        let mut v = base();
        v["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "pid"}]);
        assert_eq!(
            check(v).unwrap_err(),
            "linux.namespaces: duplicate namespace type pid"
        );
        let mut v = base();
        v["linux"]["namespaces"] = json!([{"type": "mount"}]);
        assert_eq!(
            check(v).unwrap_err(),
            "hostname needs a uts namespace in linux.namespaces"
        );
        let mut v = base();
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        assert!(check(v).unwrap_err().contains("uidMappings"));
        let mut v = base();
        v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
        assert!(check(v).unwrap_err().contains("need a new user namespace"));
        let mut v = base();
        v["linux"]["namespaces"][0]["path"] = json!("relative/ns");
        assert!(check(v).unwrap_err().contains("must be absolute"));
    }

    #[test]
    fn sysctls_need_their_namespace() {
        let mut v = base();
        v["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
        assert!(check(v).unwrap_err().contains("needs a net namespace"));
        let mut v = base();
        v["linux"]["sysctl"] = json!({"vm.swappiness": "1"});
        assert!(check(v).unwrap_err().contains("not namespaced"));
        let mut v = base();
        v["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "network"}));
        v["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
        check(v).unwrap();
    }

    #[test]
    fn rlimits_and_propagation() {
        let mut v = base();
        v["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5}]);
        assert!(check(v).unwrap_err().contains("above hard limit"));
        let mut v = base();
        v["linux"]["rootfsPropagation"] = json!("sideways");
        assert!(check(v).unwrap_err().contains("rootfsPropagation"));
    }
}
