//! The systemd cgroup driver (`--systemd-cgroup`): the container's cgroup
//! is a transient scope systemd knows, with the spec's limits as unit
//! properties, and nothing is left of it after `delete` or a failed
//! `create`.
//!
//! These need systemd as PID 1 (the test VM). On a host without it, each
//! test checks the other half of the contract instead: the flag is a clear
//! error that leaves nothing behind.

use std::path::{Path, PathBuf};
use std::process::Command;

use hako_tests::{reaper, unique_id, Bundle, Hako};
use serde_json::json;

fn systemd_runs() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// `systemctl show -p NAME --value UNIT`.
fn show(unit: &str, prop: &str) -> String {
    // Through the harness's reaper: it reaps every child of the test
    // process, and a plain output() could lose the race to it.
    let out = reaper::output(Command::new("systemctl").args(["show", "-p", prop, "--value", unit]))
        .expect("systemctl");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn cgroup_dir(control_group: &str) -> PathBuf {
    Path::new("/sys/fs/cgroup").join(control_group.trim_start_matches('/'))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .trim()
        .to_string()
}

/// Asserts the unit is gone from systemd and its cgroup from the tree.
fn assert_unit_gone(unit: &str, dir: &Path) {
    let state = show(unit, "ActiveState");
    let load = show(unit, "LoadState");
    assert!(
        load == "not-found" || state == "inactive",
        "systemd still has {unit}: LoadState={load} ActiveState={state}"
    );
    assert!(!dir.exists(), "{} left behind", dir.display());
}

/// Without systemd, the flag is refused before anything exists.
fn refused_without_systemd(h: &Hako, b: &Bundle, id: &str) {
    let out = h.run(&["--systemd-cgroup", "create", "--bundle", &b.arg(), id]);
    out.fails_with("systemd is not running");
    h.assert_gone(id, b, None);
}

#[test]
fn a_container_is_a_transient_scope_with_its_limits() {
    let h = Hako::new();
    let id = unique_id("sd");
    let mut b = Bundle::busybox(&["sleep", "1000"]);
    b.edit(|s| {
        s["linux"]["cgroupsPath"] = json!(format!("machine.slice:hako-test:{id}"));
        s["linux"]["resources"] = json!({
            "memory": {"limit": 67108864},
            "pids": {"limit": 50},
            "cpu": {"shares": 1024, "quota": 50000, "period": 100000}
        });
    });
    if !systemd_runs() {
        return refused_without_systemd(&h, &b, &id);
    }
    h.run(&["--systemd-cgroup", "create", "--bundle", &b.arg(), &id])
        .ok();
    let unit = format!("hako-test-{id}.scope");
    assert_eq!(show(&unit, "ActiveState"), "active");
    assert_eq!(show(&unit, "Delegate"), "yes");
    assert_eq!(show(&unit, "Slice"), "machine.slice");
    let group = show(&unit, "ControlGroup");
    assert_eq!(group, format!("/machine.slice/{unit}"));
    // systemd holds the limits, and the cgroup has them.
    assert_eq!(show(&unit, "MemoryMax"), "67108864");
    assert_eq!(show(&unit, "TasksMax"), "50");
    assert_eq!(show(&unit, "CPUWeight"), "39");
    assert_eq!(show(&unit, "CPUQuotaPerSecUSec"), "500ms");
    let dir = cgroup_dir(&group);
    assert_eq!(read(&dir.join("memory.max")), "67108864");
    assert_eq!(read(&dir.join("pids.max")), "50");
    assert_eq!(read(&dir.join("cpu.max")), "50000 100000");
    let pid = h.pid(&id);
    assert_eq!(
        read(Path::new(&format!("/proc/{pid}/cgroup"))),
        format!("0::{group}")
    );
    // The unit's main processes are the container's.
    let procs = read(&dir.join("cgroup.procs"));
    assert_eq!(procs, pid.to_string(), "only init is in the scope");

    // update reaches both systemd and the cgroup.
    h.run(&["update", "--memory", "134217728", "--pids-limit", "60", &id])
        .ok();
    assert_eq!(show(&unit, "MemoryMax"), "134217728");
    assert_eq!(show(&unit, "TasksMax"), "60");
    assert_eq!(read(&dir.join("memory.max")), "134217728");
    assert_eq!(read(&dir.join("pids.max")), "60");

    // pause freezes the scope's cgroup.
    h.run(&["start", &id]).ok();
    h.run(&["pause", &id]).ok();
    assert_eq!(h.status(&id), "paused");
    assert_eq!(read(&dir.join("cgroup.freeze")), "1");
    h.run(&["resume", &id]).ok();
    assert_eq!(read(&dir.join("cgroup.freeze")), "0");
    assert_eq!(h.status(&id), "running");

    h.run(&["delete", "--force", &id]).ok();
    assert_unit_gone(&unit, &dir);
    h.assert_gone(&id, &b, Some(pid));
}

#[test]
fn a_nested_slice_and_runcs_defaults() {
    let h = Hako::new();
    let id = unique_id("sdn");
    let mut b = Bundle::busybox(&["sleep", "1000"]);
    b.edit(|s| s["linux"]["cgroupsPath"] = json!(format!("hako-test-nested.slice:ctr:{id}")));
    if !systemd_runs() {
        return refused_without_systemd(&h, &b, &id);
    }
    h.run(&["--systemd-cgroup", "create", "--bundle", &b.arg(), &id])
        .ok();
    let unit = format!("ctr-{id}.scope");
    let group = show(&unit, "ControlGroup");
    assert_eq!(
        group,
        format!("/hako.slice/hako-test.slice/hako-test-nested.slice/{unit}")
    );
    let pid = h.pid(&id);
    assert_eq!(
        read(Path::new(&format!("/proc/{pid}/cgroup"))),
        format!("0::{group}")
    );
    h.run(&["delete", "--force", &id]).ok();
    assert_unit_gone(&unit, &cgroup_dir(&group));

    // No cgroupsPath: runc's default, system.slice and no prefix.
    let id = unique_id("sdd");
    let mut b = Bundle::busybox(&["sleep", "1000"]);
    b.edit(|s| {
        s["linux"].as_object_mut().unwrap().remove("cgroupsPath");
    });
    h.run(&["--systemd-cgroup", "create", "--bundle", &b.arg(), &id])
        .ok();
    let unit = format!("hako-{id}.scope");
    assert_eq!(show(&unit, "ControlGroup"), format!("/system.slice/{unit}"));
    h.run(&["delete", "--force", &id]).ok();
    assert_unit_gone(&unit, &cgroup_dir(&format!("/system.slice/{unit}")));
    h.assert_gone(&id, &b, None);
}

/// A create that fails after systemd started the unit (here a failing
/// createRuntime hook) stops it: no unit, no cgroup, no state.
#[test]
fn a_failed_create_leaves_no_unit() {
    let h = Hako::new();
    let id = unique_id("sdf");
    let mut b = Bundle::busybox(&["sleep", "1000"]);
    b.edit(|s| {
        s["linux"]["cgroupsPath"] = json!(format!("machine.slice:hako-test:{id}"));
        s["hooks"] = json!({"createRuntime": [{"path": "/bin/false"}]});
    });
    if !systemd_runs() {
        return refused_without_systemd(&h, &b, &id);
    }
    h.run(&["--systemd-cgroup", "create", "--bundle", &b.arg(), &id])
        .fails_with("createRuntime");
    let unit = format!("hako-test-{id}.scope");
    assert_unit_gone(&unit, &cgroup_dir(&format!("/machine.slice/{unit}")));
    h.assert_gone(&id, &b, None);
}

/// `run` under systemd: the workload's exit code comes back and the unit
/// is gone with the container.
#[test]
fn run_and_exit_code() {
    let h = Hako::new();
    let id = unique_id("sdr");
    let mut b = Bundle::busybox(&["sh", "-c", "cat /proc/self/cgroup; exit 7"]);
    // (The bundle has a cgroup namespace of its own.)
    b.edit(|s| s["linux"]["cgroupsPath"] = json!(format!("machine.slice:hako-test:{id}")));
    if !systemd_runs() {
        return refused_without_systemd(&h, &b, &id);
    }
    let out = h.run(&["--systemd-cgroup", "run", "--bundle", &b.arg(), &id]);
    assert_eq!(out.code, 7, "{out:?}");
    // In its own cgroup namespace, the scope is the container's root.
    assert_eq!(out.stdout.trim(), "0::/");
    // run deletes the container when the workload ends, as runc.
    let unit = format!("hako-test-{id}.scope");
    assert_unit_gone(&unit, &cgroup_dir(&format!("/machine.slice/{unit}")));
    h.assert_gone(&id, &b, None);
}

/// hako run by a systemd service with `Delegate=yes` (how a node agent or
/// a CI job runs it), with the cgroupfs driver: the service moves itself
/// into a leaf of its delegated subtree (cgroup v2's no-internal-process
/// rule) and the container's cgroup is a sibling there, with its memory
/// controller enabled by hako and its limit applied; nothing is left when
/// the service ends.
#[test]
fn inside_a_delegated_service() {
    let h = Hako::new();
    let id = unique_id("sdg");
    let unit = format!("hako-deleg-{id}.service");
    let mut b = Bundle::busybox(&["sh", "-c", "cat /sys/fs/cgroup/memory.max; exit 5"]);
    b.edit(|s| {
        s["linux"]["cgroupsPath"] = json!(format!("/system.slice/{unit}/ctr"));
        s["linux"]["resources"] = json!({"memory": {"limit": 33554432}});
    });
    if !systemd_runs() {
        return refused_without_systemd(&h, &b, &id);
    }
    let script = format!(
        "cg=/sys/fs/cgroup/system.slice/{unit}; mkdir $cg/supervisor && echo 0 > $cg/supervisor/cgroup.procs && \
         exec {} --root {} run --bundle {} {id}",
        h.bin.display(),
        h.root().display(),
        b.arg()
    );
    let out = reaper::output(Command::new("systemd-run").args([
        "--unit",
        &unit,
        "-p",
        "Delegate=yes",
        "--wait",
        "--pipe",
        "--quiet",
        "--",
        "/bin/sh",
        "-c",
        &script,
    ]))
    .expect("systemd-run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stdout.trim(), "33554432", "{stderr}");
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    let dir = Path::new("/sys/fs/cgroup/system.slice").join(&unit);
    assert!(!dir.exists(), "{} left behind", dir.display());
    h.assert_gone(&id, &b, None);
}

/// hako killed in the middle of `create` (here while a createRuntime hook
/// runs, the unit already started): `delete` then leaves no unit, no
/// cgroup and no state.
#[test]
fn a_killed_create_is_cleaned_up_by_delete() {
    let h = Hako::new();
    let id = unique_id("sdk");
    let mut b = Bundle::busybox(&["sleep", "1000"]);
    b.edit(|s| {
        s["linux"]["cgroupsPath"] = json!(format!("machine.slice:hako-test:{id}"));
        s["hooks"] = json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "5"]}]});
    });
    if !systemd_runs() {
        return refused_without_systemd(&h, &b, &id);
    }
    let unit = format!("hako-test-{id}.scope");
    let mut cmd = h.cmd();
    cmd.args(["--systemd-cgroup", "create", "--bundle", &b.arg(), &id]);
    let mut child = reaper::spawn(&mut cmd).unwrap();
    let mut started = false;
    for _ in 0..500 {
        if show(&unit, "ActiveState") == "active" {
            started = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(started, "{unit} never became active");
    child.kill().unwrap();
    let _ = child.wait();
    reaper::untrack(child.id());
    h.run(&["delete", "--force", &id]).ok();
    assert_unit_gone(&unit, &cgroup_dir(&format!("/machine.slice/{unit}")));
    h.assert_gone(&id, &b, None);
}
