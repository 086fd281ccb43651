//! `exec --cgroup`: running an exec'd process in an existing sub-cgroup
//! of its container, as runc does.
//!
//! Each request is `<path>` (every hierarchy) or `<controller>[,…]:<path>`
//! (the v1 hierarchies holding those controllers). The path is relative to
//! the container's cgroup and may not climb out of it.

use std::path::{Component, Path, PathBuf};

use super::hierarchy::Version;
use super::set::CgroupSet;
use crate::error::{Error, Result};

/// One parsed `--cgroup` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubCgroup {
    /// The controllers named, or none for every hierarchy.
    pub controllers: Vec<String>,
    /// The path below the container's cgroup.
    pub path: PathBuf,
}

/// Parses one `--cgroup` value; a path that is empty or leaves the
/// container's cgroup is refused.
pub fn parse(arg: &str) -> Result<SubCgroup> {
    let bad = |why: &str| Error::invalid(format!("exec --cgroup {arg:?}: {why}"));
    let (controllers, path) = match arg.split_once(':') {
        Some((c, p)) => {
            let controllers: Vec<String> = c.split(',').map(str::to_string).collect();
            if controllers.iter().any(|c| c.is_empty()) {
                return Err(bad("empty controller name"));
            }
            (controllers, p)
        }
        None => (Vec::new(), arg),
    };
    let mut clean = PathBuf::new();
    for c in Path::new(path).components() {
        match c {
            Component::Normal(s) => clean.push(s),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(bad("the path must stay inside the container's cgroup"))
            }
        }
    }
    if clean.as_os_str().is_empty() {
        return Err(bad("no sub-cgroup path"));
    }
    Ok(SubCgroup {
        controllers,
        path: clean,
    })
}

/// The cgroups an exec'd process joins: the container's, with each
/// requested sub-cgroup in place of its hierarchy's directory. Every
/// requested sub-cgroup must exist.
pub fn apply(set: &CgroupSet, requests: &[SubCgroup]) -> Result<CgroupSet> {
    let mut out = set.clone();
    for req in requests {
        let mut matched = false;
        for dir in &mut out.dirs {
            let wanted = if req.controllers.is_empty() {
                true
            } else if dir.version == Version::V2 {
                false
            } else {
                req.controllers.iter().any(|c| dir.controllers.contains(c))
            };
            if !wanted {
                continue;
            }
            matched = true;
            let base = set
                .dirs
                .iter()
                .find(|d| d.mount_point == dir.mount_point)
                .map(|d| d.path.clone())
                .unwrap_or_else(|| dir.path.clone());
            let sub = base.join(&req.path);
            if !sub.is_dir() {
                return Err(Error::invalid(format!(
                    "exec --cgroup: sub-cgroup {} does not exist",
                    sub.display()
                )));
            }
            dir.path = sub;
        }
        if !matched {
            let why = if req.controllers.is_empty() {
                "the container has no cgroup".to_string()
            } else if set.dirs.iter().all(|d| d.version == Version::V2) {
                "cgroup v2 has a single hierarchy: give the path without controllers".to_string()
            } else {
                format!(
                    "no v1 hierarchy of the container holds {}",
                    req.controllers.join(",")
                )
            };
            return Err(Error::invalid(format!(
                "exec --cgroup {}{}: {why}",
                if req.controllers.is_empty() {
                    String::new()
                } else {
                    format!("{}:", req.controllers.join(","))
                },
                req.path.display()
            )));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::set::CgroupDir;

    #[test]
    fn parses_paths_and_controllers() {
        assert_eq!(
            parse("sub/a").unwrap(),
            SubCgroup {
                controllers: vec![],
                path: "sub/a".into()
            }
        );
        assert_eq!(
            parse("cpu,memory:/x").unwrap(),
            SubCgroup {
                controllers: vec!["cpu".into(), "memory".into()],
                path: "x".into()
            }
        );
        for bad in ["../escape", "a/../../b", "", "/", "cpu:", ":x", "cpu,:x"] {
            assert!(parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    fn dir(root: &Path, version: Version, controllers: &[&str], name: &str) -> CgroupDir {
        let mount_point = root.join(name);
        let path = mount_point.join("hako/c1");
        std::fs::create_dir_all(path.join("sub")).unwrap();
        CgroupDir {
            version,
            controllers: controllers.iter().map(|c| c.to_string()).collect(),
            mount_point,
            path,
        }
    }

    #[test]
    fn sub_cgroups_replace_the_matching_hierarchies() {
        let tmp = tempfile::tempdir().unwrap();
        let set = CgroupSet {
            systemd: None,
            dirs: vec![
                dir(tmp.path(), Version::V1, &["cpu", "cpuacct"], "cpu"),
                dir(tmp.path(), Version::V1, &["memory"], "memory"),
                dir(tmp.path(), Version::V2, &[], "unified"),
            ],
        };
        let all = apply(&set, &[parse("sub").unwrap()]).unwrap();
        assert!(all.dirs.iter().all(|d| d.path.ends_with("hako/c1/sub")));
        let cpu = apply(&set, &[parse("cpu:sub").unwrap()]).unwrap();
        assert!(cpu.dirs[0].path.ends_with("hako/c1/sub"));
        assert!(cpu.dirs[1].path.ends_with("hako/c1"));
        assert!(cpu.dirs[2].path.ends_with("hako/c1"));
        let e = apply(&set, &[parse("missing").unwrap()]).unwrap_err();
        assert!(e.to_string().contains("does not exist"), "{e}");
        let e = apply(&set, &[parse("pids:sub").unwrap()]).unwrap_err();
        assert!(e.to_string().contains("no v1 hierarchy"), "{e}");
        let v2 = CgroupSet {
            systemd: None,
            dirs: vec![dir(tmp.path(), Version::V2, &[], "v2only")],
        };
        let e = apply(&v2, &[parse("memory:sub").unwrap()]).unwrap_err();
        assert!(e.to_string().contains("single hierarchy"), "{e}");
    }
}
