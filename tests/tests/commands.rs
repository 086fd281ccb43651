//! exec, ps, pause, resume, update and events on running containers.

use std::time::Duration;

use hako_tests::{ns_of, unique_id, Bundle, Hako};
use serde_json::json;

fn running(h: &Hako, script: &str) -> (String, Bundle) {
    let b = Bundle::sh(script);
    let id = unique_id("cmd");
    h.run(&["run", "-d", "--bundle", &b.arg(), &id]).ok();
    (id, b)
}

#[test]
fn exec_joins_namespaces_and_cgroup() {
    let h = Hako::new();
    let (id, b) = running(&h, "sleep 1000");
    let init = h.pid(&id).to_string();
    let out = h.run(&["exec", &id, "sh", "-c", "for n in pid net mnt; do readlink /proc/self/ns/$n; done; cat /proc/self/cgroup; hostname; ls /proc | grep -cE '^[0-9]+$'"]).ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[0],
        ns_of(&init, "pid"),
        "exec is in the container's pid namespace"
    );
    assert_eq!(lines[1], ns_of(&init, "net"));
    assert_eq!(lines[2], ns_of(&init, "mnt"));
    let host_cg = std::fs::read_to_string(format!("/proc/{init}/cgroup")).unwrap();
    let container_cg: Vec<&str> = lines.iter().filter(|l| l.contains(":/")).copied().collect();
    assert!(!container_cg.is_empty());
    for l in &container_cg {
        assert!(
            l.ends_with(":/"),
            "exec sees the cgroup namespace root (its container's cgroup): {l}"
        );
    }
    assert!(host_cg.contains(&format!("/hako/{id}")));
    assert!(lines.contains(&"hako-test"));
    h.run(&["delete", "--force", &id]).ok();
    h.assert_gone(&id, &b, None);
}

#[test]
fn exec_exit_codes_flags_and_errors() {
    let h = Hako::new();
    let (id, b) = running(&h, "sleep 1000");
    assert_eq!(h.run(&["exec", &id, "sh", "-c", "exit 7"]).code, 7);
    let out = h
        .run(&[
            "exec",
            "--env",
            "X=from-exec",
            "--cwd",
            "/tmp",
            "--user",
            "65534:65534",
            &id,
            "sh",
            "-c",
            "echo $X; pwd; id -u; id -g",
        ])
        .ok();
    assert_eq!(out.stdout, "from-exec\n/tmp\n65534\n65534\n");
    let out = h.run(&["exec", &id, "no-such-binary"]);
    assert_eq!(out.code, 255, "{out:?}");
    assert!(out.stderr.contains("executable file not found"), "{out:?}");
    // --process
    let process = b.path().join("process.json");
    std::fs::write(&process, json!({"args": ["sh", "-c", "echo via-process-json; exit 3"], "cwd": "/", "user": {"uid": 0, "gid": 0}, "env": ["PATH=/bin"]}).to_string()).unwrap();
    let out = h.run(&["exec", "--process", &process.display().to_string(), &id]);
    assert_eq!(out.code, 3);
    assert_eq!(out.stdout, "via-process-json\n");
    // detached, with a pid file
    let pid_file = b.path().join("exec.pid");
    h.run(&[
        "exec",
        "-d",
        "--pid-file",
        &pid_file.display().to_string(),
        &id,
        "sleep",
        "300",
    ])
    .ok();
    let pid: i32 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert!(hako_tests::process_alive(pid));
    let ps: Vec<i32> =
        serde_json::from_str(&h.run(&["ps", "--format", "json", &id]).ok().stdout).unwrap();
    assert!(ps.contains(&pid) && ps.contains(&h.pid(&id)), "{ps:?}");
    let table = h.run(&["ps", &id]).ok();
    assert!(
        table.stdout.starts_with("UID") && table.stdout.contains("sleep 300"),
        "{}",
        table.stdout
    );
    h.run(&["delete", "--force", &id]).ok();
    h.assert_gone(&id, &b, Some(pid));
    h.run(&["exec", &id, "true"]).fails_with("does not exist");
}

/// How far the container's loop got: the size of the file it appends to.
fn counter(b: &Bundle) -> u64 {
    std::fs::metadata(b.rootfs().join("tmp/count"))
        .map(|m| m.len())
        .unwrap_or(0)
}

#[test]
fn pause_freezes_and_resume_continues() {
    let h = Hako::new();
    let (id, b) = running(&h, "while true; do echo x >> /tmp/count; done");
    std::thread::sleep(Duration::from_millis(200));
    h.run(&["pause", &id]).ok();
    assert_eq!(h.status(&id), "paused");
    let frozen = counter(&b);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(counter(&b), frozen, "the container ran while paused");
    h.run(&["pause", &id])
        .fails_with("only a running container can be paused");
    h.run(&["exec", &id, "true"]).fails_with("--ignore-paused");
    h.run(&["resume", &id]).ok();
    assert_eq!(h.status(&id), "running");
    std::thread::sleep(Duration::from_millis(300));
    assert!(counter(&b) > frozen, "the container did not continue");
    h.run(&["resume", &id])
        .fails_with("only a paused container can be resumed");
    // A paused container can still be killed and deleted.
    h.run(&["pause", &id]).ok();
    h.run(&["delete", "--force", &id]).ok();
    h.assert_gone(&id, &b, None);
}

fn read_cgroup(h: &Hako, id: &str, v1: &str, v2: &str) -> String {
    h.run(&[
        "exec",
        id,
        "sh",
        "-c",
        &format!("cat /sys/fs/cgroup/{v1} 2>/dev/null || cat /sys/fs/cgroup/{v2}"),
    ])
    .ok()
    .stdout
    .trim()
    .to_string()
}

#[test]
fn update_changes_live_limits() {
    let h = Hako::new();
    let (id, b) = running(&h, "sleep 1000");
    h.run(&[
        "update",
        "--memory",
        "96m",
        "--pids-limit",
        "50",
        "--cpu-share",
        "256",
        &id,
    ])
    .ok();
    assert_eq!(
        read_cgroup(&h, &id, "memory/memory.limit_in_bytes", "memory.max"),
        (96u64 << 20).to_string()
    );
    assert_eq!(read_cgroup(&h, &id, "pids/pids.max", "pids.max"), "50");
    let file = b.path().join("res.json");
    std::fs::write(&file, json!({"pids": {"limit": 60}}).to_string()).unwrap();
    h.run(&["update", "--resources", &file.display().to_string(), &id])
        .ok();
    assert_eq!(read_cgroup(&h, &id, "pids/pids.max", "pids.max"), "60");
    for bad in ["lots", "nan", "inf", "1e9"] {
        h.run(&["update", "--memory", bad, &id])
            .fails_with(&format!("invalid size {bad:?}"));
    }
    // A fraction of a unit is bytes, as runc reads it.
    h.run(&["update", "--memory", "1.5m", &id]).ok();
    assert_eq!(
        read_cgroup(&h, &id, "memory/memory.limit_in_bytes", "memory.max"),
        (3u64 << 19).to_string()
    );
    h.run(&["update", "--l3-cache-schema", "L3:0=ff", &id])
        .fails_with("--l3-cache-schema: Intel RDT (resctrl) is not supported");
    h.run(&["delete", "--force", &id]).ok();
    h.assert_gone(&id, &b, None);
}

#[test]
fn events_stats_report_memory_and_pids() {
    let h = Hako::new();
    let (id, b) = running(&h, "sleep 1000 & sleep 1000");
    std::thread::sleep(Duration::from_millis(100));
    let out = h.run(&["events", "--stats", &id]).ok();
    let ev: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(ev["type"], "stats");
    assert_eq!(ev["id"], id.as_str());
    assert!(
        ev["data"]["memory"]["usage"]["usage"].as_u64().unwrap() > 0,
        "{ev}"
    );
    assert!(ev["data"]["pids"]["current"].as_u64().unwrap() >= 2, "{ev}");
    assert!(
        ev["data"]["cpu"]["usage"]["total"].as_u64().is_some(),
        "{ev}"
    );
    assert!(
        ev["data"]["blkio"]["ioServiceBytesRecursive"].is_array(),
        "{ev}"
    );
    // x86_64 always has 2 MB pages; nothing in the container uses them.
    assert_eq!(ev["data"]["hugetlb"]["2MB"]["usage"], 0, "{ev}");
    assert!(ev["data"]["hugetlb"]["2MB"]["failcnt"].is_u64(), "{ev}");
    // Streaming: at least two events before it is stopped.
    let mut cmd = h.cmd();
    cmd.args(["events", "--interval", "100ms", &id])
        .stdout(std::process::Stdio::piped());
    let child = hako_tests::reaper::spawn(&mut cmd).unwrap();
    let cid = child.id();
    std::thread::sleep(Duration::from_millis(450));
    h.run(&["delete", "--force", &id]).ok();
    let out = child.wait_with_output().unwrap();
    hako_tests::reaper::untrack(cid);
    assert!(
        out.status.success(),
        "events ends quietly when the container goes away"
    );
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("\"stats\""))
        .count();
    assert!(lines >= 2, "{lines} events");
    h.assert_gone(&id, &b, None);
}

/// Streaming events report an OOM kill as runc does: `{"type":"oom"}`.
#[test]
fn events_report_oom_kills() {
    let h = Hako::new();
    // The shell waits for a trigger file, so events has its baseline
    // before the memory hog starts; tail /dev/zero grows without bound.
    let mut b = Bundle::sh(
        "while [ ! -e /tmp/go ]; do sleep 0.05; done; tail /dev/zero; touch /tmp/survived; sleep 1000",
    );
    b.edit(|s| {
        s["linux"]["resources"] =
            serde_json::json!({"memory": {"limit": 32 << 20, "swap": 32 << 20}});
    });
    let id = unique_id("oom");
    h.run(&["run", "-d", "--bundle", &b.arg(), &id]).ok();
    let mut cmd = h.cmd();
    cmd.args(["events", "--interval", "10s", &id])
        .stdout(std::process::Stdio::piped());
    let child = hako_tests::reaper::spawn(&mut cmd).unwrap();
    let cid = child.id();
    std::thread::sleep(Duration::from_millis(300));
    // The rootfs's /tmp is the container's (no tmpfs there).
    let tmp = b.rootfs().join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(tmp.join("go"), "").unwrap();
    for _ in 0..400 {
        if tmp.join("survived").exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    assert!(
        tmp.join("survived").exists(),
        "tail /dev/zero was never OOM-killed"
    );
    std::thread::sleep(Duration::from_millis(300));
    h.run(&["delete", "--force", &id]).ok();
    let out = child.wait_with_output().unwrap();
    hako_tests::reaper::untrack(cid);
    let text = String::from_utf8_lossy(&out.stdout);
    let ooms: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["type"] == "oom")
        .collect();
    assert!(!ooms.is_empty(), "no oom event in {text}");
    assert_eq!(ooms[0]["id"], id.as_str());
    h.assert_gone(&id, &b, None);
}
