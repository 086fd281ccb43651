//! Resource statistics of a container's cgroup, in the shape of runc's
//! `events --stats`: cpu, memory and pids here, blkio and hugetlb in their
//! own modules.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{json, Value};

use super::hierarchy::Version;
use super::set::CgroupSet;

mod blkio;
mod hugetlb;

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

fn num(path: &Path) -> u64 {
    read(path)
        .and_then(|s| {
            if s == "max" {
                Some(u64::MAX)
            } else {
                s.parse().ok()
            }
        })
        .unwrap_or(0)
}

/// `key value` lines (memory.stat, cpu.stat, cpuacct.stat).
pub fn keyed(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.parse().ok()?))
        })
        .collect()
}

fn dir(set: &CgroupSet, controller: &str) -> Option<(Version, std::path::PathBuf)> {
    set.dirs
        .iter()
        .find(|d| d.version == Version::V1 && d.controllers.iter().any(|c| c == controller))
        .or_else(|| set.dirs.iter().find(|d| d.version == Version::V2))
        .map(|d| (d.version, d.path.clone()))
}

/// How many times the kernel's OOM killer has killed a process of the
/// cgroup (`oom_kill` in v1's memory.oom_control or v2's memory.events);
/// `None` where the host does not count.
pub fn oom_kills(set: &CgroupSet) -> Option<u64> {
    let (version, path) = dir(set, "memory")?;
    let file = match version {
        Version::V1 => "memory.oom_control",
        Version::V2 => "memory.events",
    };
    keyed(&read(&path.join(file))?).get("oom_kill").copied()
}

/// Collects what the host offers; missing files read as zero.
pub fn collect(set: &CgroupSet) -> Value {
    json!({
        "cpu": cpu(set),
        "memory": memory(set),
        "pids": pids(set),
        "blkio": dir(set, "blkio").map_or(json!({}), |(v, d)| blkio::collect(v, &d)),
        "hugetlb": dir(set, "hugetlb").map_or(json!({}), |(v, d)| hugetlb::collect(v, &d)),
    })
}

fn cpu(set: &CgroupSet) -> Value {
    let ticks_ns = 1_000_000_000
        / nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .unwrap_or(100) as u64;
    match dir(set, "cpuacct") {
        Some((Version::V1, d)) => {
            let stat = keyed(&read(&d.join("cpuacct.stat")).unwrap_or_default());
            let percpu: Vec<u64> = read(&d.join("cpuacct.usage_percpu"))
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect();
            let throttle = dir(set, "cpu")
                .map(|(_, c)| keyed(&read(&c.join("cpu.stat")).unwrap_or_default()))
                .unwrap_or_default();
            json!({
                "usage": {
                    "total": num(&d.join("cpuacct.usage")),
                    "percpu": percpu,
                    "kernel": stat.get("system").copied().unwrap_or(0) * ticks_ns,
                    "user": stat.get("user").copied().unwrap_or(0) * ticks_ns,
                },
                "throttling": {
                    "periods": throttle.get("nr_periods").copied().unwrap_or(0),
                    "throttled_periods": throttle.get("nr_throttled").copied().unwrap_or(0),
                    "throttled_time": throttle.get("throttled_time").copied().unwrap_or(0),
                }
            })
        }
        Some((Version::V2, d)) => {
            let stat = keyed(&read(&d.join("cpu.stat")).unwrap_or_default());
            let us = |k: &str| stat.get(k).copied().unwrap_or(0) * 1000;
            json!({
                "usage": {"total": us("usage_usec"), "percpu": [], "kernel": us("system_usec"), "user": us("user_usec")},
                "throttling": {
                    "periods": stat.get("nr_periods").copied().unwrap_or(0),
                    "throttled_periods": stat.get("nr_throttled").copied().unwrap_or(0),
                    "throttled_time": us("throttled_usec"),
                }
            })
        }
        None => json!({}),
    }
}

fn memory(set: &CgroupSet) -> Value {
    match dir(set, "memory") {
        Some((Version::V1, d)) => {
            let raw = keyed(&read(&d.join("memory.stat")).unwrap_or_default());
            json!({
                "cache": raw.get("cache").copied().unwrap_or(0),
                "usage": {
                    "usage": num(&d.join("memory.usage_in_bytes")),
                    "max": num(&d.join("memory.max_usage_in_bytes")),
                    "failcnt": num(&d.join("memory.failcnt")),
                    "limit": num(&d.join("memory.limit_in_bytes")),
                },
                "swap": {
                    "usage": num(&d.join("memory.memsw.usage_in_bytes")),
                    "max": num(&d.join("memory.memsw.max_usage_in_bytes")),
                    "failcnt": num(&d.join("memory.memsw.failcnt")),
                    "limit": num(&d.join("memory.memsw.limit_in_bytes")),
                },
                "raw": raw,
            })
        }
        Some((Version::V2, d)) => {
            let raw = keyed(&read(&d.join("memory.stat")).unwrap_or_default());
            let events = keyed(&read(&d.join("memory.events")).unwrap_or_default());
            json!({
                "cache": raw.get("file").copied().unwrap_or(0),
                "usage": {
                    "usage": num(&d.join("memory.current")),
                    "max": num(&d.join("memory.peak")),
                    "failcnt": events.get("max").copied().unwrap_or(0),
                    "limit": num(&d.join("memory.max")),
                },
                "swap": {"usage": num(&d.join("memory.swap.current")), "limit": num(&d.join("memory.swap.max"))},
                "raw": raw,
            })
        }
        None => json!({}),
    }
}

fn pids(set: &CgroupSet) -> Value {
    match dir(set, "pids") {
        Some((_, d)) => {
            let limit = num(&d.join("pids.max"));
            json!({"current": num(&d.join("pids.current")), "limit": if limit == u64::MAX { 0 } else { limit }})
        }
        None => json!({}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::set::CgroupDir;

    #[test]
    fn v2_stats_from_a_fake_tree() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path().join("c1");
        std::fs::create_dir(&d).unwrap();
        std::fs::write(d.join("cpu.stat"), "usage_usec 1500\nuser_usec 1000\nsystem_usec 500\nnr_periods 3\nnr_throttled 1\nthrottled_usec 20\n").unwrap();
        std::fs::write(d.join("memory.current"), "4096\n").unwrap();
        std::fs::write(d.join("memory.max"), "max\n").unwrap();
        std::fs::write(d.join("memory.stat"), "anon 100\nfile 200\n").unwrap();
        std::fs::write(d.join("pids.current"), "3\n").unwrap();
        std::fs::write(d.join("pids.max"), "32\n").unwrap();
        let set = CgroupSet {
            systemd: None,
            dirs: vec![CgroupDir {
                version: Version::V2,
                controllers: vec![],
                mount_point: tmp.path().into(),
                path: d,
            }],
        };
        let s = collect(&set);
        assert_eq!(s["cpu"]["usage"]["total"], 1_500_000);
        assert_eq!(s["cpu"]["usage"]["kernel"], 500_000);
        assert_eq!(s["cpu"]["throttling"]["throttled_periods"], 1);
        assert_eq!(s["memory"]["usage"]["usage"], 4096);
        assert_eq!(s["memory"]["usage"]["limit"], u64::MAX);
        assert_eq!(s["memory"]["cache"], 200);
        assert_eq!(s["pids"]["current"], 3);
        assert_eq!(s["pids"]["limit"], 32);
        assert_eq!(oom_kills(&set), None);
        std::fs::write(
            set.dirs[0].path.join("memory.events"),
            "low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\n",
        )
        .unwrap();
        assert_eq!(oom_kills(&set), Some(2));
    }
}
