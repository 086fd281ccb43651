//! Scheduling and execution settings: process.scheduler, ioPriority,
//! execCPUAffinity, linux.personality and linux.memoryPolicy, checked from
//! inside the container (init and exec processes) and from the host.

use hako_tests::{unique_id, Bundle, Hako};
use serde_json::json;

/// A detached container running `sleep`, shaped by `edit`.
fn sleeping(h: &Hako, edit: impl FnOnce(&mut serde_json::Value)) -> (String, Bundle) {
    let mut b = Bundle::sh("sleep 1000");
    b.edit(edit);
    let id = unique_id("tune");
    h.run(&["run", "-d", "--bundle", &b.arg(), &id]).ok();
    (id, b)
}

fn remove(h: &Hako, id: &str, b: &Bundle) {
    h.run(&["delete", "--force", id]).ok();
    h.assert_gone(id, b, None);
}

/// Fields 19 (nice) and 41 (policy) of a /proc/<pid>/stat line.
fn nice_and_policy(stat: &str) -> (String, String) {
    // The command name may hold spaces: count fields after its ")".
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    (f[16].to_string(), f[38].to_string())
}

/// `create` fails with one clear line naming `needle`, leaving nothing.
fn create_refused(edit: impl FnOnce(&mut serde_json::Value), needle: &str) {
    let h = Hako::new();
    let mut b = Bundle::sh("true");
    b.edit(edit);
    let id = unique_id("tunebad");
    h.run(&["create", "--bundle", &b.arg(), &id])
        .fails_with(needle);
    h.assert_gone(&id, &b, None);
}

#[test]
fn scheduler_applies_to_init_and_exec() {
    let h = Hako::new();
    let (id, b) = sleeping(&h, |s| {
        s["process"]["scheduler"] =
            json!({"policy": "SCHED_BATCH", "nice": 1, "flags": ["SCHED_FLAG_RESET_ON_FORK"]});
    });
    let init = std::fs::read_to_string(format!("/proc/{}/stat", h.pid(&id))).unwrap();
    assert_eq!(
        nice_and_policy(&init),
        ("1".into(), "3".into()),
        "init runs SCHED_BATCH at nice 1"
    );
    // The kernel's own view of the flag, seen from the host.
    let chrt = hako_tests::reaper::output(
        std::process::Command::new("chrt").args(["-p", &h.pid(&id).to_string()]),
    )
    .expect("chrt (util-linux) is needed on the host");
    let chrt = String::from_utf8_lossy(&chrt.stdout);
    assert!(chrt.contains("SCHED_BATCH|SCHED_RESET_ON_FORK"), "{chrt}");
    // exec without --process takes the container's process settings.
    let out = h.run(&["exec", &id, "cat", "/proc/self/stat"]).ok();
    assert_eq!(nice_and_policy(&out.stdout), ("1".into(), "3".into()));
    remove(&h, &id, &b);
}

#[test]
fn bad_scheduler_settings_fail_create() {
    create_refused(
        |s| s["process"]["scheduler"] = json!({"policy": "SCHED_OTHER", "priority": 5}),
        "process.scheduler.priority",
    );
    create_refused(
        |s| s["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 40}),
        "process.scheduler.nice 40",
    );
    create_refused(
        |s| s["process"]["scheduler"] = json!({"nice": 1}),
        "process.scheduler",
    );
}

#[test]
fn io_priority_applies_to_init_and_exec() {
    let h = Hako::new();
    let (id, b) = sleeping(&h, |s| {
        s["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 4});
    });
    let ionice = |pid: &str| {
        let out =
            hako_tests::reaper::output(std::process::Command::new("ionice").args(["-p", pid]))
                .expect("ionice (util-linux) is needed on the host");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(ionice(&h.pid(&id).to_string()), "best-effort: prio 4");
    // An exec process reports its own host pid through a pid file.
    let pid_file = b.path().join("exec.pid");
    h.run(&[
        "exec",
        "-d",
        "--pid-file",
        &pid_file.display().to_string(),
        &id,
        "sleep",
        "1000",
    ])
    .ok();
    let exec_pid = std::fs::read_to_string(&pid_file).unwrap();
    assert_eq!(ionice(exec_pid.trim()), "best-effort: prio 4");
    remove(&h, &id, &b);

    create_refused(
        |s| s["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_IDLE", "priority": 8}),
        "process.ioPriority.priority 8",
    );
}

#[test]
fn personality_linux32_changes_uname() {
    if !cfg!(target_arch = "x86_64") {
        panic!("this test knows the 32-bit machine name on x86_64 only (i686)");
    }
    let h = Hako::new();
    let (id, b) = sleeping(&h, |s| {
        s["linux"]["personality"] = json!({"domain": "LINUX32"});
    });
    let out = h.run(&["exec", &id, "uname", "-m"]).ok();
    assert_eq!(out.stdout.trim(), "i686");
    remove(&h, &id, &b);
    let out = hako_tests::run_sh("uname -m", |s| {
        s["linux"]["personality"] = json!({"domain": "LINUX"});
    });
    assert_eq!(out.stdout.trim(), "x86_64");
}

#[test]
fn memory_policy_applies_to_init_and_exec() {
    assert!(
        std::path::Path::new("/proc/self/numa_maps").exists(),
        "this kernel has no NUMA support (/proc/self/numa_maps): memoryPolicy cannot be tested"
    );
    let h = Hako::new();
    let (id, b) = sleeping(&h, |s| {
        s["linux"]["memoryPolicy"] = json!({"mode": "MPOL_INTERLEAVE", "nodes": "0"});
    });
    let maps = std::fs::read_to_string(format!("/proc/{}/numa_maps", h.pid(&id))).unwrap();
    assert!(maps.contains(" interleave:0 "), "{maps}");
    let out = h.run(&["exec", &id, "cat", "/proc/self/numa_maps"]).ok();
    assert!(out.stdout.contains(" interleave:0 "), "{}", out.stdout);
    remove(&h, &id, &b);

    let out = hako_tests::run_sh("cat /proc/self/numa_maps", |s| {
        s["linux"]["memoryPolicy"] =
            json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]});
    });
    assert!(out.stdout.contains(" bind=static:0 "), "{}", out.stdout);
}

#[test]
fn bad_memory_policies_fail_create() {
    create_refused(
        |s| s["linux"]["memoryPolicy"] = json!({"mode": "MPOL_DEFAULT", "nodes": "0-7"}),
        "takes no nodes, got 8",
    );
    create_refused(
        |s| s["linux"]["memoryPolicy"] = json!({"mode": "MPOL_BIND", "nodes": "0-9876543210"}),
        "linux.memoryPolicy.nodes",
    );
    create_refused(
        |s| s["linux"]["memoryPolicy"] = json!({"mode": "INTERLEAVE", "nodes": "0"}),
        "linux.memoryPolicy.mode",
    );
    create_refused(
        |s| {
            s["linux"]["memoryPolicy"] =
                json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["badflag"]})
        },
        "linux.memoryPolicy.flags",
    );
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

#[test]
fn exec_cpu_affinity_initial_and_final() {
    assert!(
        cpus() >= 2,
        "execCPUAffinity needs at least 2 CPUs to be tested, this machine has {}",
        cpus()
    );
    let h = Hako::new();
    let (id, b) = sleeping(&h, |s| {
        s["process"]["execCPUAffinity"] = json!({"final": "0"});
    });
    let allowed = |status: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .map(|v| v.trim().to_string())
            .unwrap()
    };
    // Init is not affected.
    let init = std::fs::read_to_string(format!("/proc/{}/status", h.pid(&id))).unwrap();
    let cgroup_cpus = allowed(&init);
    assert_ne!(cgroup_cpus, "0");
    // exec without --process takes the container's setting.
    let out = h.run(&["exec", &id, "cat", "/proc/self/status"]).ok();
    assert_eq!(allowed(&out.stdout), "0");

    let process = |affinity: serde_json::Value| {
        let mut p = b.spec["process"].clone();
        p["args"] = json!(["cat", "/proc/self/status"]);
        p["execCPUAffinity"] = affinity;
        let path = b.path().join("process.json");
        std::fs::write(&path, p.to_string()).unwrap();
        path.display().to_string()
    };
    let debug_exec = |path: &str| h.run(&["--debug", "exec", "--process", path, &id]).ok();
    let out = debug_exec(&process(json!({"initial": "0", "final": "1"})));
    assert_eq!(allowed(&out.stdout), "1");
    assert!(out.stderr.contains("affinity: 0x1"), "{}", out.stderr);
    assert!(out.stderr.contains("affinity: 0x2"), "{}", out.stderr);
    // Without "final" the process gets the cgroup's CPUs back; an empty
    // list means "not set".
    let out = debug_exec(&process(json!({"initial": "1", "final": ""})));
    assert_eq!(allowed(&out.stdout), cgroup_cpus);
    assert!(out.stderr.contains("affinity: 0x2"), "{}", out.stderr);

    let bad = process(json!({"initial": "5000"}));
    let out = h.run(&["exec", "--process", &bad, &id]);
    assert_eq!(out.code, 255, "{out:?}");
    assert!(
        out.stderr.contains("process.execCPUAffinity.initial"),
        "{out:?}"
    );
    remove(&h, &id, &b);
}
