//! Finding the cgroup hierarchies mounted on this host.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::mountinfo::MountInfo;

/// cgroup version of a hierarchy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Version {
    /// Legacy, one hierarchy per controller set.
    V1,
    /// The unified hierarchy.
    V2,
}

/// How the host mounts cgroups.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// Only v1 hierarchies.
    Legacy,
    /// v1 controllers plus a v2 tree (often with no controllers of its own).
    Hybrid,
    /// Only the v2 tree.
    Unified,
}

impl Layout {
    /// The layout of hierarchies of these versions, or `None` when there
    /// are none.
    pub fn of(versions: impl IntoIterator<Item = Version>) -> Option<Layout> {
        let (mut v1, mut v2) = (false, false);
        for v in versions {
            match v {
                Version::V1 => v1 = true,
                Version::V2 => v2 = true,
            }
        }
        match (v1, v2) {
            (true, true) => Some(Layout::Hybrid),
            (true, false) => Some(Layout::Legacy),
            (false, true) => Some(Layout::Unified),
            (false, false) => None,
        }
    }
}

/// One mounted hierarchy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hierarchy {
    /// Its version.
    pub version: Version,
    /// v1: its controllers (`cpu`, `memory`, `name=systemd`); v2: empty.
    pub controllers: Vec<String>,
    /// Where it is mounted.
    pub mount_point: PathBuf,
    /// The cgroup shown at the mount point (mountinfo's root field).
    pub root: PathBuf,
}

const V1_CONTROLLERS: &[&str] = &[
    "cpu",
    "cpuacct",
    "cpuset",
    "memory",
    "devices",
    "freezer",
    "net_cls",
    "net_prio",
    "blkio",
    "perf_event",
    "hugetlb",
    "pids",
    "rdma",
    "misc",
];

/// The hierarchies in a mount table, one per distinct hierarchy (bind
/// mounts of the same one are skipped).
pub fn discover(mounts: &[MountInfo]) -> Vec<Hierarchy> {
    let mut out: Vec<Hierarchy> = Vec::new();
    for m in mounts {
        let h = match m.fs_type.as_str() {
            "cgroup2" => Hierarchy {
                version: Version::V2,
                controllers: vec![],
                mount_point: m.mount_point.clone(),
                root: m.root.clone(),
            },
            "cgroup" => {
                let controllers: Vec<String> = m
                    .super_options
                    .iter()
                    .filter(|o| V1_CONTROLLERS.contains(&o.as_str()) || o.starts_with("name="))
                    .cloned()
                    .collect();
                if controllers.is_empty() {
                    continue;
                }
                Hierarchy {
                    version: Version::V1,
                    controllers,
                    mount_point: m.mount_point.clone(),
                    root: m.root.clone(),
                }
            }
            _ => continue,
        };
        if !out
            .iter()
            .any(|o| o.version == h.version && o.controllers == h.controllers)
        {
            out.push(h);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mountinfo::parse;

    fn layout(hierarchies: &[Hierarchy]) -> Option<Layout> {
        Layout::of(hierarchies.iter().map(|h| h.version))
    }

    const HYBRID: &str = "\
24 1 0:22 / /sys rw - sysfs sysfs rw
25 24 0:23 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
26 25 0:24 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
27 25 0:25 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
28 25 0:26 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
29 25 0:27 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
30 25 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
31 1 0:25 / /mnt/memory-again rw - cgroup cgroup rw,memory
";

    #[test]
    fn hybrid_host() {
        let h = discover(&parse(HYBRID));
        let names: Vec<_> = h
            .iter()
            .map(|h| {
                let name = h.mount_point.file_name().unwrap().to_string_lossy();
                (h.version, h.controllers.join(","), name.into_owned())
            })
            .collect();
        assert_eq!(
            names,
            vec![
                (Version::V1, "cpu".into(), "cpu".into()),
                (Version::V1, "memory".into(), "memory".into()),
                (Version::V1, "name=systemd".into(), "systemd".into()),
                (Version::V2, "".into(), "unified".into()),
                (Version::V1, "cpu,cpuacct".into(), "cpu,cpuacct".into()),
            ]
        );
        assert_eq!(layout(&h), Some(Layout::Hybrid));
    }

    #[test]
    fn unified_and_legacy_hosts() {
        let unified = discover(&parse(
            "30 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate",
        ));
        assert_eq!(layout(&unified), Some(Layout::Unified));
        assert_eq!(unified[0].mount_point, PathBuf::from("/sys/fs/cgroup"));
        let legacy = discover(&parse(
            "26 25 0:24 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids",
        ));
        assert_eq!(layout(&legacy), Some(Layout::Legacy));
        assert_eq!(layout(&[]), None);
    }
}
