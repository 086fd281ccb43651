//! linux.resources seen from inside the container, and enforced.

use hako_tests::{run_sh, unique_id, Bundle, Hako};
use serde_json::json;

/// The container's view of a controller file: cgroup v1 per-controller
/// directories or the unified tree.
const READ: &str = r#"r() { for f in /sys/fs/cgroup/$1/$2 /sys/fs/cgroup/$2; do [ -f $f ] && { cat $f; return; }; done; echo missing; }"#;

#[test]
fn memory_cpu_and_pids_limits_are_visible() {
    let v1 = std::path::Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists();
    let script = format!(
        "{READ}; {}",
        if v1 {
            "r memory memory.limit_in_bytes; r cpu cpu.shares; r cpu cpu.cfs_quota_us; r pids pids.max; r memory memory.swappiness"
        } else {
            "r memory memory.max; r cpu cpu.weight; r cpu cpu.max; r pids pids.max; echo 10"
        }
    );
    let out = run_sh(&script, |s| {
        s["linux"]["resources"] = json!({
            "memory": {"limit": 67108864, "swappiness": 10},
            "cpu": {"shares": 512, "quota": 25000, "period": 100000},
            "pids": {"limit": 20}
        });
    })
    .ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "67108864");
    if v1 {
        assert_eq!(&lines[1..], &["512", "25000", "20", "10"]);
    } else {
        assert_eq!(&lines[1..], &["20", "25000 100000", "20", "10"]);
    }
}

#[test]
fn pids_limit_stops_a_fork_loop() {
    let script = "for i in $(seq 40); do sleep 5 & done; echo all-started";
    let free = run_sh(script, |_| {});
    assert!(free.stdout.contains("all-started"), "{free:?}");
    let out = run_sh(script, |s| {
        s["linux"]["resources"] = json!({"pids": {"limit": 10}})
    });
    assert!(
        !out.stdout.contains("all-started"),
        "the pids limit let 40 processes start: {out:?}"
    );
    assert!(out.stderr.contains("fork"), "{out:?}");
}

/// Only the container's own processes count against its pids limit: with
/// `pids.max` 1 the container runs (hako's set-up processes are gone
/// before the limit is set, as under runc), and its one process cannot
/// fork.
#[test]
fn a_pids_limit_of_one_runs_the_container_and_stops_its_forks() {
    let out = run_sh("echo ok; /bin/true && echo forked", |s| {
        s["linux"]["resources"] = json!({"pids": {"limit": 1}})
    });
    assert_eq!(out.stdout, "ok\n", "{out:?}");
    assert!(out.stderr.contains("can't fork"), "{out:?}");
}

/// A memory limit below what set-up already uses is refused with the
/// usage named (cgroup v1 answers EBUSY), and nothing is left behind.
#[test]
fn a_memory_limit_below_current_usage_fails_create_clearly() {
    let h = Hako::new();
    let mut b = Bundle::sh("true");
    b.edit(|s| s["linux"]["resources"] = json!({"memory": {"limit": 1}}));
    let id = unique_id("mem1");
    let out = h.run(&["create", "--bundle", &b.arg(), &id]);
    let v1 = std::path::Path::new("/sys/fs/cgroup/memory/memory.limit_in_bytes").exists();
    if v1 {
        out.fails_with("unable to set memory limit to 1 (current usage: ");
    } else {
        out.fails_with("container init was OOM-killed (memory limit too low?)");
    }
    h.assert_gone(&id, &b, None);
}

#[test]
fn memory_limit_kills_a_hog() {
    // 64 MiB limit, no swap beyond it, a 200 MiB allocation.
    let out = run_sh(
        "head -c 209715200 /dev/zero | tail > /dev/null; echo survived",
        |s| {
            s["linux"]["resources"] = json!({"memory": {"limit": 67108864, "swap": 67108864}});
        },
    );
    assert!(
        !out.stdout.contains("survived") || out.stderr.contains("Killed"),
        "{out:?}"
    );
}

#[test]
fn device_rules_deny_access() {
    let out = run_sh("head -c 1 /dev/zero > /dev/null && echo zero-ok; mknod /dev/mem2 c 1 1 && (head -c 1 /dev/mem2 >/dev/null 2>&1 && echo mem-readable || echo mem-denied)", |s| {
        s["process"]["capabilities"]["bounding"].as_array_mut().unwrap().push(json!("CAP_MKNOD"));
        s["process"]["capabilities"]["effective"].as_array_mut().unwrap().push(json!("CAP_MKNOD"));
        s["process"]["capabilities"]["permitted"].as_array_mut().unwrap().push(json!("CAP_MKNOD"));
        s["linux"]["resources"] = json!({"devices": [{"allow": false, "access": "rwm"}]});
    });
    assert_eq!(out.stdout, "zero-ok\nmem-denied\n", "{out:?}");
    // An explicit allow rule opens a device.
    let out = run_sh(
        "mknod /dev/full2 c 1 7 && head -c 1 /dev/full2 | od -An -tx1",
        |s| {
            s["process"]["capabilities"]["bounding"]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_MKNOD"));
            s["process"]["capabilities"]["effective"]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_MKNOD"));
            s["process"]["capabilities"]["permitted"]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_MKNOD"));
        },
    );
    assert_eq!(out.stdout.trim(), "00", "{out:?}");
}

#[test]
fn bad_resources_fail_create() {
    let h = Hako::new();
    let mut b = Bundle::sh("true");
    b.edit(|s| s["linux"]["resources"] = json!({"memory": {"swappiness": 500}}));
    let id = unique_id("badres");
    let out = h.run(&["create", "--bundle", &b.arg(), &id]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("swappiness"), "{out:?}");
    h.assert_gone(&id, &b, None);
}

/// `hugepageLimits` is enforced wherever the host has the hugetlb
/// controller: on a hybrid host that is the cgroup2 tree, which hako uses
/// for it. The container may take one 2 MB page and is refused a second,
/// with pages free on the host.
#[test]
fn hugetlb_limits_are_enforced() {
    let nr = std::path::Path::new("/proc/sys/vm/nr_hugepages");
    let before: u64 = std::fs::read_to_string(nr).unwrap().trim().parse().unwrap();
    std::fs::write(nr, (before + 4).to_string()).unwrap();
    let out = run_sh(
        "fallocate -l 2M /hp/a && echo first-page; fallocate -l 2M /hp/b && echo second-page || echo refused",
        |s| {
            s["linux"]["resources"] =
                json!({"hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}]});
            s["mounts"]
                .as_array_mut()
                .unwrap()
                .push(json!({"destination": "/hp", "type": "hugetlbfs", "source": "none"}));
        },
    );
    std::fs::write(nr, before.to_string()).unwrap();
    let out = out.ok();
    assert!(
        out.stdout.starts_with("first-page\nrefused\n"),
        "the second huge page must be refused: {out:?}"
    );
    assert!(out.stderr.contains("No space left on device"), "{out:?}");
}

/// `cpu.cpus` confines init and every process exec'd later. hako forks
/// an exec'd process straight into a cgroup v2 directory where it can
/// (no `cgroup.procs` move): the cpuset must apply to it all the same,
/// not the CPUs of hako that forked it.
#[test]
fn a_cpuset_confines_init_and_exec() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    assert!(
        cpus >= 2,
        "a cpuset needs at least 2 CPUs to be tested, this machine has {cpus}"
    );
    let allowed = |status: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("no Cpus_allowed_list in {status}"))
    };
    let own = std::fs::read_to_string("/proc/self/status").unwrap();
    assert_ne!(
        allowed(&own),
        "1",
        "the test itself must not run on CPU 1 alone"
    );
    let h = Hako::new();
    let mut b = Bundle::busybox(&["sleep", "1000"]);
    b.edit(|s| s["linux"]["resources"] = json!({"cpu": {"cpus": "1"}}));
    let id = unique_id("cpuset");
    h.run(&["run", "-d", "--bundle", &b.arg(), &id]).ok();
    let init = std::fs::read_to_string(format!("/proc/{}/status", h.pid(&id))).unwrap();
    assert_eq!(allowed(&init), "1", "init");
    let out = h.run(&["exec", &id, "cat", "/proc/self/status"]).ok();
    assert_eq!(allowed(&out.stdout), "1", "the exec'd process");
    h.run(&["delete", "--force", &id]).ok();
    h.assert_gone(&id, &b, None);
}
