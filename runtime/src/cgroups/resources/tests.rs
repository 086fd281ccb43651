//! Resource writes against fake cgroup trees (v1, v2, hybrid).

use std::path::Path;

use oci_spec::runtime::LinuxResources;

use super::*;
use crate::cgroups::hierarchy::Version;
use crate::cgroups::set::{CgroupDir, CgroupSet};

fn res(v: serde_json::Value) -> LinuxResources {
    serde_json::from_value(v).unwrap()
}

fn dir(root: &Path, version: Version, controllers: &[&str], name: &str) -> CgroupDir {
    let mount_point = root.join(name);
    let path = mount_point.join("hako/c1");
    std::fs::create_dir_all(&path).unwrap();
    CgroupDir {
        version,
        controllers: controllers.iter().map(|s| s.to_string()).collect(),
        mount_point,
        path,
    }
}

fn read(d: &CgroupDir, file: &str) -> String {
    std::fs::read_to_string(d.path.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn pure_cgroup2() {
    let tmp = tempfile::tempdir().unwrap();
    let v2 = dir(tmp.path(), Version::V2, &[], "unified");
    std::fs::write(
        v2.mount_point.join("cgroup.controllers"),
        "cpuset cpu io memory hugetlb pids",
    )
    .unwrap();
    let set = CgroupSet {
        systemd: None,
        dirs: vec![v2.clone()],
    };
    let r = res(serde_json::json!({
        "memory": {"limit": 104857600, "reservation": 52428800, "swap": 209715200},
        "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0", "burst": 1000},
        "pids": {"limit": 32},
        "blockIO": {"weight": 500, "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}],
        "unified": {"memory.high": "90000000"}
    }));
    set.manager()
        .apply(&Planned::new(&set, &r, None).unwrap())
        .unwrap();
    assert_eq!(read(&v2, "memory.max"), "104857600");
    assert_eq!(read(&v2, "memory.low"), "52428800");
    assert_eq!(read(&v2, "memory.swap.max"), "104857600");
    assert_eq!(read(&v2, "cpu.weight"), "39");
    assert_eq!(read(&v2, "cpu.max"), "50000 100000");
    assert_eq!(read(&v2, "cpu.max.burst"), "1000");
    assert_eq!(read(&v2, "cpuset.cpus"), "0");
    assert_eq!(read(&v2, "pids.max"), "32");
    assert_eq!(read(&v2, "io.max"), "8:0 rbps=1048576");
    assert_eq!(read(&v2, "hugetlb.2MB.max"), "2097152");
    assert_eq!(read(&v2, "memory.high"), "90000000");
    // Controllers enabled in the parent chain.
    assert_eq!(
        std::fs::read_to_string(v2.mount_point.join("cgroup.subtree_control")).unwrap(),
        "+cpuset +cpu +io +memory +hugetlb +pids"
    );
}

#[test]
fn cgroup2_refusals() {
    let tmp = tempfile::tempdir().unwrap();
    let set = CgroupSet {
        systemd: None,
        dirs: vec![dir(tmp.path(), Version::V2, &[], "unified")],
    };
    for (r, needle) in [
        (
            serde_json::json!({"cpu": {"realtimeRuntime": 100}}),
            "realtime",
        ),
        (
            serde_json::json!({"memory": {"limit": 200, "swap": 100}}),
            "below the memory limit",
        ),
        (serde_json::json!({"network": {"classID": 7}}), "cgroup v1"),
        (
            serde_json::json!({"unified": {"../../etc/passwd": "x"}}),
            "invalid key",
        ),
    ] {
        let err = plan(&set, &res(r)).unwrap_err().to_string();
        assert!(err.contains(needle), "{err}");
    }
    // unlimited values
    let w = plan(
        &set,
        &res(serde_json::json!({"memory": {"limit": -1, "swap": -1}, "pids": {"limit": 0}})),
    )
    .unwrap();
    let values: Vec<(String, String)> = w.into_iter().map(|(_, w)| (w.file, w.value)).collect();
    assert!(values.contains(&("memory.max".into(), "max".into())));
    assert!(values.contains(&("memory.swap.max".into(), "max".into())));
    assert!(values.contains(&("pids.max".into(), "max".into())));
}

#[test]
fn hybrid_uses_v1_controllers() {
    let tmp = tempfile::tempdir().unwrap();
    let mem = dir(tmp.path(), Version::V1, &["memory"], "memory");
    let cpu = dir(tmp.path(), Version::V1, &["cpu"], "cpu");
    let pids = dir(tmp.path(), Version::V1, &["pids"], "pids");
    let blk = dir(tmp.path(), Version::V1, &["blkio"], "blkio");
    let devs = dir(tmp.path(), Version::V1, &["devices"], "devices");
    let v2 = dir(tmp.path(), Version::V2, &[], "unified");
    std::fs::write(v2.mount_point.join("cgroup.controllers"), "hugetlb").unwrap();
    std::fs::write(
        mem.path.join("memory.memsw.limit_in_bytes"),
        "9223372036854771712",
    )
    .unwrap();
    std::fs::write(blk.path.join("blkio.weight"), "100").unwrap();
    let set = CgroupSet {
        systemd: None,
        dirs: vec![
            mem.clone(),
            cpu.clone(),
            pids.clone(),
            blk.clone(),
            devs.clone(),
            v2.clone(),
        ],
    };
    let r = res(serde_json::json!({
        "memory": {"limit": 104857600, "swap": 209715200, "swappiness": 10, "disableOOMKiller": true},
        "cpu": {"shares": 512, "quota": 20000, "period": 100000},
        "pids": {"limit": 16},
        "blockIO": {"weight": 300},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 0}]
    }));
    let rules = vec![devices::Rule {
        allow: false,
        kind: 'a',
        major: None,
        minor: None,
        access: "rwm".into(),
    }];
    set.manager()
        .apply(&Planned::new(&set, &r, Some(rules)).unwrap())
        .unwrap();
    assert_eq!(read(&mem, "memory.limit_in_bytes"), "104857600");
    assert_eq!(read(&mem, "memory.memsw.limit_in_bytes"), "209715200");
    assert_eq!(read(&mem, "memory.swappiness"), "10");
    assert_eq!(read(&mem, "memory.oom_control"), "1");
    assert_eq!(read(&cpu, "cpu.shares"), "512");
    assert_eq!(read(&cpu, "cpu.cfs_quota_us"), "20000");
    assert_eq!(read(&pids, "pids.max"), "16");
    assert_eq!(read(&blk, "blkio.weight"), "300");
    assert_eq!(read(&devs, "devices.deny"), "a");
    // Only hugetlb (which v1 lacks here) goes to the unified tree.
    assert_eq!(read(&v2, "hugetlb.2MB.max"), "0");
    assert!(!v2.path.join("memory.max").exists());
    assert!(!v2.path.join("io.weight").exists());
}

#[test]
fn memsw_ordering() {
    // Raising: memsw first. Lowering: the limit first.
    let current = |v: &'static str| {
        move |f: &str| (f == "memory.memsw.limit_in_bytes").then(|| v.to_string())
    };
    let up = res(serde_json::json!({"memory": {"limit": 300, "swap": 600}}));
    let w = Controller::Memory.v1(&up, &current("200")).unwrap();
    assert_eq!(w[0].file, "memory.memsw.limit_in_bytes");
    let down = res(serde_json::json!({"memory": {"limit": 100, "swap": 150}}));
    let w = Controller::Memory.v1(&down, &current("600")).unwrap();
    assert_eq!(w[0].file, "memory.limit_in_bytes");
    // Unlimited memory, swap unset: memsw becomes unlimited first.
    let unlimited = res(serde_json::json!({"memory": {"limit": -1}}));
    let w = Controller::Memory.v1(&unlimited, &current("200")).unwrap();
    let w: Vec<(&str, &str)> = w
        .iter()
        .map(|w| (w.file.as_str(), w.value.as_str()))
        .collect();
    assert_eq!(
        w,
        [
            ("memory.memsw.limit_in_bytes", "-1"),
            ("memory.limit_in_bytes", "-1")
        ]
    );
    // Zero means unset: nothing is written.
    let zero = res(serde_json::json!({"memory": {"limit": 0, "swap": 0}}));
    assert!(Controller::Memory
        .v1(&zero, &current("200"))
        .unwrap()
        .is_empty());
}

#[test]
fn weight_conversions() {
    assert_eq!(controllers::shares_to_weight(2), 1);
    assert_eq!(controllers::shares_to_weight(1024), 39);
    assert_eq!(controllers::shares_to_weight(262_144), 10_000);
    assert_eq!(controllers::blkio_to_io_weight(10), 1);
    assert_eq!(controllers::blkio_to_io_weight(1000), 10_000);
}

#[test]
fn v2_swap_is_converted_like_runc() {
    use super::controllers::swap_max;
    let ok = |s, l| swap_max(s, l).unwrap();
    assert_eq!(ok(None, Some(100)), None);
    assert_eq!(ok(Some(0), Some(100)), None, "0 is unset");
    assert_eq!(ok(Some(0), None), None);
    assert_eq!(ok(Some(0), Some(-1)), Some("max".into()));
    assert_eq!(
        ok(None, Some(-1)),
        Some("max".into()),
        "unlimited memory, swap too"
    );
    assert_eq!(ok(Some(-1), Some(100)), Some("max".into()));
    assert_eq!(ok(Some(-1), None), Some("max".into()));
    assert_eq!(ok(Some(300), Some(100)), Some("200".into()));
    assert_eq!(ok(Some(100), Some(100)), Some("0".into()));
    for (s, l, needle) in [
        (Some(50), Some(100), "below the memory limit"),
        (Some(300), None, "needs a memory limit"),
        (Some(300), Some(-1), "needs a memory limit"),
        (Some(-5), Some(100), "invalid swap"),
    ] {
        let err = swap_max(s, l).unwrap_err().to_string();
        assert!(err.contains(needle), "{s:?} {l:?}: {err}");
    }
}
