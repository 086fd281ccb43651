//! Resource statistics of a container's cgroup, in the shape of runc's
//! `events --stats`: cpu, memory and pids here, blkio and hugetlb in their
//! own modules.

use std::collections::BTreeMap;
use std::path::Path;

use super::file::read;
use super::hierarchy::Version;
use super::set::CgroupSet;

mod blkio;
mod hugetlb;
mod types;

pub use types::*;

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
    set.v1_dir(controller)
        .or_else(|| set.v2_dir())
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
pub fn collect(set: &CgroupSet) -> Stats {
    Stats {
        cpu: cpu(set),
        memory: memory(set),
        pids: pids(set),
        blkio: dir(set, "blkio").map_or_else(Blkio::default, |(v, d)| blkio::collect(v, &d)),
        hugetlb: dir(set, "hugetlb").map_or_else(BTreeMap::new, |(v, d)| hugetlb::collect(v, &d)),
    }
}

fn cpu(set: &CgroupSet) -> Cpu {
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
            let get = |m: &BTreeMap<String, u64>, k: &str| m.get(k).copied().unwrap_or(0);
            Cpu {
                usage: Some(CpuUsage {
                    total: num(&d.join("cpuacct.usage")),
                    percpu,
                    kernel: get(&stat, "system") * ticks_ns,
                    user: get(&stat, "user") * ticks_ns,
                }),
                throttling: Some(Throttling {
                    periods: get(&throttle, "nr_periods"),
                    throttled_periods: get(&throttle, "nr_throttled"),
                    throttled_time: get(&throttle, "throttled_time"),
                }),
            }
        }
        Some((Version::V2, d)) => {
            let stat = keyed(&read(&d.join("cpu.stat")).unwrap_or_default());
            let get = |k: &str| stat.get(k).copied().unwrap_or(0);
            Cpu {
                usage: Some(CpuUsage {
                    total: get("usage_usec") * 1000,
                    percpu: vec![],
                    kernel: get("system_usec") * 1000,
                    user: get("user_usec") * 1000,
                }),
                throttling: Some(Throttling {
                    periods: get("nr_periods"),
                    throttled_periods: get("nr_throttled"),
                    throttled_time: get("throttled_usec") * 1000,
                }),
            }
        }
        None => Cpu::default(),
    }
}

fn memory(set: &CgroupSet) -> Memory {
    match dir(set, "memory") {
        Some((Version::V1, d)) => {
            let raw = keyed(&read(&d.join("memory.stat")).unwrap_or_default());
            let entry = |prefix: &str| MemoryEntry {
                usage: num(&d.join(format!("{prefix}usage_in_bytes"))),
                max: Some(num(&d.join(format!("{prefix}max_usage_in_bytes")))),
                failcnt: Some(num(&d.join(format!("{prefix}failcnt")))),
                limit: num(&d.join(format!("{prefix}limit_in_bytes"))),
            };
            Memory {
                cache: Some(raw.get("cache").copied().unwrap_or(0)),
                usage: Some(entry("memory.")),
                swap: Some(entry("memory.memsw.")),
                raw: Some(raw),
            }
        }
        Some((Version::V2, d)) => {
            let raw = keyed(&read(&d.join("memory.stat")).unwrap_or_default());
            let events = keyed(&read(&d.join("memory.events")).unwrap_or_default());
            Memory {
                cache: Some(raw.get("file").copied().unwrap_or(0)),
                usage: Some(MemoryEntry {
                    usage: num(&d.join("memory.current")),
                    max: Some(num(&d.join("memory.peak"))),
                    failcnt: Some(events.get("max").copied().unwrap_or(0)),
                    limit: num(&d.join("memory.max")),
                }),
                swap: Some(MemoryEntry {
                    usage: num(&d.join("memory.swap.current")),
                    max: None,
                    failcnt: None,
                    limit: num(&d.join("memory.swap.max")),
                }),
                raw: Some(raw),
            }
        }
        None => Memory::default(),
    }
}

fn pids(set: &CgroupSet) -> Pids {
    match dir(set, "pids") {
        Some((_, d)) => {
            let limit = num(&d.join("pids.max"));
            Pids {
                current: Some(num(&d.join("pids.current"))),
                limit: Some(if limit == u64::MAX { 0 } else { limit }),
            }
        }
        None => Pids::default(),
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
        let s = serde_json::to_value(collect(&set)).unwrap();
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
