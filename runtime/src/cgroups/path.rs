//! Resolving `linux.cgroupsPath` into a path inside each hierarchy.

use std::path::{Component, Path, PathBuf};

use super::hierarchy::{Hierarchy, Version};

/// Where the container's cgroup goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CgroupsPath {
    /// From the root of every hierarchy (as mounted).
    Absolute(PathBuf),
    /// From hako's own cgroup in every hierarchy.
    Relative(PathBuf),
}

impl CgroupsPath {
    /// Interprets `linux.cgroupsPath`; without one the container goes to
    /// `/hako/<id>`.
    pub fn from_spec(path: Option<&Path>, id: &str) -> Result<Self, String> {
        let path = match path {
            None => return Ok(CgroupsPath::Absolute(Path::new("/hako").join(id))),
            Some(p) if p.as_os_str().is_empty() => {
                return Ok(CgroupsPath::Absolute(Path::new("/hako").join(id)))
            }
            Some(p) => p,
        };
        if path.components().any(|c| c == Component::ParentDir) {
            return Err(format!("linux.cgroupsPath {path:?} must not contain '..'"));
        }
        Ok(if path.is_absolute() {
            CgroupsPath::Absolute(path.to_path_buf())
        } else {
            CgroupsPath::Relative(path.to_path_buf())
        })
    }

    /// Interprets a systemd-style `slice:prefix:name` path as the cgroupfs
    /// path systemd would use (`/a.slice/a-b.slice/prefix-name.scope`),
    /// below `base` (the user manager's own cgroup when rootless, else `/`).
    pub fn from_systemd(path: Option<&Path>, id: &str, base: &Path) -> Result<Self, String> {
        let (slice, unit) = systemd_unit(path, id)?;
        let mut out = base.join(
            expand_slice(&slice)?
                .strip_prefix("/")
                .unwrap_or(Path::new("")),
        );
        out.push(unit);
        Ok(CgroupsPath::Absolute(out))
    }

    /// The directory for this path in one hierarchy; `own` is hako's
    /// cgroup in that hierarchy (from /proc/self/cgroup).
    pub fn dir_in(&self, h: &Hierarchy, own: Option<&Path>) -> PathBuf {
        let rel = match self {
            CgroupsPath::Absolute(p) => p.clone(),
            CgroupsPath::Relative(p) => {
                let own = own.unwrap_or(Path::new("/"));
                // /proc/self/cgroup paths are from the hierarchy's root; the
                // mount may show a subtree.
                let own = own.strip_prefix(&h.root).unwrap_or(own);
                Path::new("/").join(own).join(p)
            }
        };
        h.mount_point.join(rel.strip_prefix("/").unwrap_or(&rel))
    }
}

/// The slice and unit name of a systemd-style `slice:prefix:name`
/// cgroupsPath (podman's `machine.slice:libpod:<id>`, containerd's
/// `kubepods-pod1.slice:cri-containerd:<id>`); empty parts take runc's
/// defaults: `system.slice`, and a `<name>.scope` without prefix. A name
/// ending in `.slice` is a slice of its own.
pub fn systemd_unit(path: Option<&Path>, id: &str) -> Result<(String, String), String> {
    let raw = path
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    let raw = if raw.is_empty() {
        format!("system.slice:hako:{id}")
    } else {
        raw
    };
    let parts: Vec<&str> = raw.split(':').collect();
    let [slice, prefix, name] = parts[..] else {
        return Err(format!(
            "linux.cgroupsPath {raw:?}: expected slice:prefix:name with --systemd-cgroup"
        ));
    };
    let slice = if slice.is_empty() {
        "system.slice"
    } else {
        slice
    };
    // Each part becomes one path component: a '/' or a dot name would
    // let the spec place the cgroup anywhere in the hierarchy.
    let unsafe_part = |s: &str| s.contains('/') || s == "." || s == "..";
    if name.is_empty() || unsafe_part(name) || unsafe_part(prefix) {
        return Err(format!(
            "linux.cgroupsPath {raw:?}: invalid systemd unit prefix or name"
        ));
    }
    expand_slice(slice)?;
    let unit = if name.ends_with(".slice") {
        name.to_string()
    } else if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    };
    Ok((slice.to_string(), unit))
}

/// `a-b.slice` → `/a.slice/a-b.slice`; `-.slice` is the root.
fn expand_slice(slice: &str) -> Result<PathBuf, String> {
    let name = slice
        .strip_suffix(".slice")
        .ok_or_else(|| format!("systemd slice {slice:?} must end in .slice"))?;
    let mut out = PathBuf::from("/");
    if name == "-" {
        return Ok(out);
    }
    if name.contains('/') || name.starts_with('-') || name.ends_with('-') || name.contains("--") {
        return Err(format!("invalid systemd slice {slice:?}"));
    }
    let mut prefix = String::new();
    for part in name.split('-') {
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(part);
        out.push(format!("{prefix}.slice"));
    }
    Ok(out)
}

/// One line of `/proc/<pid>/cgroup`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcCgroup {
    /// Controllers of a v1 hierarchy; empty for the v2 line.
    pub controllers: Vec<String>,
    /// The process's cgroup in that hierarchy.
    pub path: PathBuf,
}

/// Parses `/proc/<pid>/cgroup`.
pub fn parse_proc_cgroup(text: &str) -> Vec<ProcCgroup> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.splitn(3, ':');
            let _id = parts.next()?;
            let controllers = parts.next()?;
            let path = parts.next()?;
            Some(ProcCgroup {
                controllers: controllers
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(String::from)
                    .collect(),
                path: PathBuf::from(path),
            })
        })
        .collect()
}

/// The cgroup a process is in, for one hierarchy.
pub fn own_path<'a>(entries: &'a [ProcCgroup], h: &Hierarchy) -> Option<&'a Path> {
    entries
        .iter()
        .find(|e| match h.version {
            Version::V2 => e.controllers.is_empty(),
            Version::V1 => !e.controllers.is_empty() && e.controllers == h.controllers,
        })
        .map(|e| e.path.as_path())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(version: Version, controllers: &[&str], mp: &str) -> Hierarchy {
        Hierarchy {
            version,
            controllers: controllers.iter().map(|s| s.to_string()).collect(),
            mount_point: mp.into(),
            root: "/".into(),
        }
    }

    #[test]
    fn default_absolute_and_relative() {
        let mem = h(Version::V1, &["memory"], "/sys/fs/cgroup/memory");
        let p = CgroupsPath::from_spec(None, "c1").unwrap();
        assert_eq!(
            p.dir_in(&mem, None),
            PathBuf::from("/sys/fs/cgroup/memory/hako/c1")
        );
        let p = CgroupsPath::from_spec(Some(Path::new("/libpod_parent/libpod-abc")), "c1").unwrap();
        assert_eq!(
            p.dir_in(&mem, None),
            PathBuf::from("/sys/fs/cgroup/memory/libpod_parent/libpod-abc")
        );
        let p = CgroupsPath::from_spec(Some(Path::new("pods/c1")), "c1").unwrap();
        assert_eq!(
            p.dir_in(&mem, Some(Path::new("/user/me"))),
            PathBuf::from("/sys/fs/cgroup/memory/user/me/pods/c1")
        );
        assert!(
            CgroupsPath::from_spec(Some(Path::new("/a/../../etc")), "c1")
                .unwrap_err()
                .contains("..")
        );
    }

    #[test]
    fn relative_to_a_mounted_subtree() {
        let mut v2 = h(Version::V2, &[], "/sys/fs/cgroup");
        v2.root = "/outer".into();
        let p = CgroupsPath::Relative("c".into());
        assert_eq!(
            p.dir_in(&v2, Some(Path::new("/outer/me"))),
            PathBuf::from("/sys/fs/cgroup/me/c")
        );
    }

    #[test]
    fn systemd_paths() {
        let p = CgroupsPath::from_systemd(
            Some(Path::new("machine-pods.slice:libpod:abc")),
            "x",
            Path::new("/"),
        )
        .unwrap();
        assert_eq!(
            p,
            CgroupsPath::Absolute("/machine.slice/machine-pods.slice/libpod-abc.scope".into())
        );
        let p = CgroupsPath::from_systemd(None, "x", Path::new("/")).unwrap();
        assert_eq!(
            p,
            CgroupsPath::Absolute("/system.slice/hako-x.scope".into())
        );
        let p =
            CgroupsPath::from_systemd(Some(Path::new("-.slice::n")), "x", Path::new("/")).unwrap();
        assert_eq!(p, CgroupsPath::Absolute("/n.scope".into()));
        assert!(
            CgroupsPath::from_systemd(Some(Path::new("/plain/path")), "x", Path::new("/")).is_err()
        );
        assert!(
            CgroupsPath::from_systemd(Some(Path::new("bad:p:n")), "x", Path::new("/")).is_err()
        );
        for bad in [
            "system.slice:p:..",
            "system.slice:..:n",
            "system.slice:p:a/../../b",
            "system.slice:a/b:n",
            "system.slice:p:",
            "a/b.slice:p:n",
        ] {
            assert!(
                CgroupsPath::from_systemd(Some(Path::new(bad)), "x", Path::new("/")).is_err(),
                "{bad} accepted"
            );
        }
    }

    #[test]
    fn proc_cgroup_lines() {
        let e = parse_proc_cgroup("12:memory:/a\n11:cpu,cpuacct:/b\n1:name=systemd:/c\n0::/d\n");
        assert_eq!(
            own_path(&e, &h(Version::V1, &["memory"], "/m")),
            Some(Path::new("/a"))
        );
        assert_eq!(
            own_path(&e, &h(Version::V1, &["cpu", "cpuacct"], "/m")),
            Some(Path::new("/b"))
        );
        assert_eq!(
            own_path(&e, &h(Version::V1, &["name=systemd"], "/m")),
            Some(Path::new("/c"))
        );
        assert_eq!(
            own_path(&e, &h(Version::V2, &[], "/m")),
            Some(Path::new("/d"))
        );
        assert_eq!(own_path(&e, &h(Version::V1, &["pids"], "/m")), None);
    }
}
