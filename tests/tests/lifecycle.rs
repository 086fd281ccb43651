//! create, start, state, kill, delete, run, list.

use hako_tests::{unique_id, Bundle, Hako};

#[test]
fn create_start_kill_delete() {
    let h = Hako::new();
    let b = Bundle::busybox(&["sleep", "1000"]);
    let id = unique_id("life");
    let pid_file = b.path().join("pid");
    h.run(&[
        "create",
        "--bundle",
        &b.arg(),
        "--pid-file",
        &pid_file.display().to_string(),
        &id,
    ])
    .ok();

    let state = h.state(&id);
    assert_eq!(state["status"], "created");
    assert_eq!(state["id"], id.as_str());
    assert_eq!(
        state["ociVersion"].as_str().unwrap().split('.').next(),
        Some("1")
    );
    assert_eq!(state["bundle"], b.arg().as_str());
    assert_eq!(state["rootfs"], b.rootfs().display().to_string().as_str());
    assert!(state["created"].as_str().unwrap().ends_with('Z'));
    let pid = state["pid"].as_i64().unwrap() as i32;
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap(),
        pid.to_string(),
        "pid file holds init's pid"
    );
    assert!(hako_tests::process_alive(pid));
    // Created: init waits, the workload has not run.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap();
    assert_ne!(comm.trim(), "sleep", "workload ran before start");

    h.run(&["start", &id]).ok();
    assert_eq!(h.status(&id), "running");
    for _ in 0..100 {
        if std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .unwrap_or_default()
            .trim()
            == "sleep"
        {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert_eq!(
        std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .unwrap()
            .trim(),
        "sleep"
    );
    h.run(&["start", &id])
        .fails_with("only a created container can be started");

    h.run(&["delete", &id]).fails_with("delete --force");
    h.run(&["kill", &id, "KILL"]).ok();
    h.wait_status(&id, "stopped");
    assert_eq!(h.pid(&id), 0, "a stopped container reports pid 0");
    h.run(&["kill", &id]).fails_with("container not running");
    h.run(&["delete", &id]).ok();
    h.assert_gone(&id, &b, Some(pid));
    h.run(&["state", &id]).fails_with("does not exist");
}

#[test]
fn run_in_foreground_returns_the_exit_code() {
    let h = Hako::new();
    let b = Bundle::sh("echo out; echo err >&2; exit 7");
    let id = unique_id("run");
    let out = h.run_bundle(&id, &b);
    assert_eq!(out.code, 7, "{out:?}");
    assert_eq!(out.stdout, "out\n");
    assert_eq!(out.stderr, "err\n");
    h.assert_gone(&id, &b, None);
}

#[test]
fn run_killed_by_signal_is_128_plus_n() {
    let h = Hako::new();
    let b = Bundle::sh("kill -USR1 $$; sleep 5");
    let mut b = b;
    // A shell that is not PID 1 of its namespace receives its own signal.
    b.edit(|s| {
        s["linux"]["namespaces"] =
            serde_json::json!([{"type": "mount"}, {"type": "uts"}, {"type": "ipc"}]);
    });
    let out = h.run_bundle(&unique_id("sig"), &b);
    assert_eq!(out.code, 128 + libc::SIGUSR1, "{out:?}");
}

#[test]
fn run_forwards_signals() {
    let h = Hako::new();
    let b = Bundle::sh(
        "trap 'echo got-term; exit 42' TERM; echo ready; while true; do sleep 0.05; done",
    );
    let id = unique_id("fwd");
    let mut cmd = h.cmd();
    cmd.args(["run", "--bundle", &b.arg(), &id]);
    cmd.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = hako_tests::reaper::spawn(&mut cmd).unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut buf = [0u8; 6];
    std::io::Read::read_exact(&mut stdout, &mut buf).unwrap();
    assert_eq!(&buf, b"ready\n");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    hako_tests::reaper::untrack(child.id());
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert_eq!(rest, "got-term\n");
    assert_eq!(status.code(), Some(42));
    h.assert_gone(&id, &b, None);
}

#[test]
fn run_detached_then_delete_force() {
    let h = Hako::new();
    let b = Bundle::busybox(&["sleep", "1000"]);
    let id = unique_id("det");
    let out = h.run(&["run", "-d", "--bundle", &b.arg(), &id]).ok();
    assert!(out.stdout.is_empty());
    assert_eq!(h.status(&id), "running");
    let pid = h.pid(&id);
    let list = h.run(&["list", "--format", "json"]).ok();
    let list: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == id.as_str() && c["status"] == "running"));
    let table = h.run(&["list"]).ok();
    assert!(
        table
            .stdout
            .lines()
            .any(|l| l.starts_with(&id) && l.contains("running")),
        "{}",
        table.stdout
    );
    let quiet = h.run(&["list", "-q"]).ok();
    assert_eq!(quiet.stdout.trim(), id);
    h.run(&["delete", "--force", &id]).ok();
    h.assert_gone(&id, &b, Some(pid));
    // --force on what does not exist succeeds, as containerd expects.
    h.run(&["delete", "--force", &id]).ok();
    h.run(&["delete", &id]).fails_with("does not exist");
}

#[test]
fn created_container_can_be_deleted_without_force() {
    let h = Hako::new();
    let b = Bundle::busybox(&["sleep", "1000"]);
    let id = unique_id("cdel");
    h.create(&id, &b);
    let pid = h.pid(&id);
    h.run(&["delete", &id]).ok();
    h.assert_gone(&id, &b, Some(pid));
}

#[test]
fn a_container_that_exits_on_its_own_is_stopped() {
    let h = Hako::new();
    let b = Bundle::sh("exit 0");
    let id = unique_id("exit");
    h.create(&id, &b);
    h.run(&["start", &id]).ok();
    h.wait_status(&id, "stopped");
    let list = h.run(&["list", "--format", "json"]).ok();
    assert!(list.stdout.contains("\"stopped\""));
    h.run(&["delete", &id]).ok();
    h.assert_gone(&id, &b, None);
}

#[test]
fn kill_accepts_names_and_numbers_and_all() {
    let h = Hako::new();
    // 34 is SIGRTMIN and 36 SIGRTMIN+2: runc sends real-time signals by
    // number and by name too.
    let b = Bundle::sh("trap 'echo usr1 >> /tmp/log' USR1; trap 'echo usr2 >> /tmp/log' USR2; trap 'echo rt34 >> /tmp/log' 34; trap 'echo rt36 >> /tmp/log' 36; echo ready > /tmp/ready; sleep 1000 & while true; do sleep 0.05; done");
    let id = unique_id("kill");
    h.run(&["run", "-d", "--bundle", &b.arg(), &id]).ok();
    let log = b.rootfs().join("tmp/log");
    let wait_for = |lines: usize| {
        for _ in 0..300 {
            if std::fs::read_to_string(&log)
                .unwrap_or_default()
                .lines()
                .count()
                >= lines
            {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        std::fs::read_to_string(&log).unwrap_or_default()
    };
    for _ in 0..300 {
        if b.rootfs().join("tmp/ready").exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    // One at a time: the shell runs a trap once per pending signal kind.
    for (signal, lines) in [("USR1", 1), ("SIGUSR2", 2), ("34", 3), ("RTMIN+2", 4)] {
        h.run(&["kill", &id, signal]).ok();
        wait_for(lines);
    }
    let text = wait_for(4);
    assert_eq!(text, "usr1\nusr2\nrt34\nrt36\n");
    for bad in ["65", "RTMAX+1", "SIGNOPE"] {
        h.run(&["kill", &id, bad])
            .fails_with(&format!("unknown signal {bad:?}"));
    }
    let pid = h.pid(&id);
    h.run(&["kill", "--all", &id, "9"]).ok();
    h.wait_status(&id, "stopped");
    h.run(&["delete", &id]).ok();
    h.assert_gone(&id, &b, Some(pid));
}

#[test]
fn concurrent_creates_of_one_id_cannot_both_win() {
    let h = std::sync::Arc::new(Hako::new());
    let b = std::sync::Arc::new(Bundle::busybox(&["sleep", "1000"]));
    let id = unique_id("race");
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (h, b, id) = (h.clone(), b.clone(), id.clone());
            std::thread::spawn(move || h.run(&["create", "--bundle", &b.arg(), &id]))
        })
        .collect();
    let outs: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(outs.iter().filter(|o| o.code == 0).count(), 1, "{outs:#?}");
    for o in outs.iter().filter(|o| o.code != 0) {
        assert!(o.stderr.contains("already exists"), "{o:?}");
    }
    assert_eq!(h.status(&id), "created");
    h.run(&["delete", &id]).ok();
    h.assert_gone(&id, &b, None);
}

#[test]
fn state_and_delete_are_serialised_with_create() {
    // Many parallel readers while the container starts and stops.
    let h = std::sync::Arc::new(Hako::new());
    let b = Bundle::busybox(&["sleep", "1000"]);
    let id = unique_id("lock");
    h.create(&id, &b);
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (h, id) = (h.clone(), id.clone());
            std::thread::spawn(move || {
                for _ in 0..10 {
                    let out = h.run(&["state", &id]);
                    assert!(
                        out.code == 0 || out.stderr.contains("does not exist"),
                        "{out:?}"
                    );
                }
            })
        })
        .collect();
    h.run(&["start", &id]).ok();
    h.run(&["delete", "--force", &id]).ok();
    for r in readers {
        r.join().unwrap();
    }
    h.assert_gone(&id, &b, None);
}

/// A create killed half-way (here while a createContainer hook runs) leaves
/// init, the hook and the cgroup behind; `delete` must clear all of them.
#[test]
fn delete_cleans_up_after_a_killed_create() {
    let h = Hako::new();
    let marker = tempfile::tempdir().unwrap();
    let started = marker.path().join("hook-started");
    // A unique sleep argument finds the hook's process later.
    let nap = format!("600.{}", std::process::id());
    let mut b = Bundle::sh("true");
    b.edit(|s| {
        s["hooks"] = serde_json::json!({"createContainer": [{
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("touch {}; exec sleep {nap}", started.display())]
        }]});
    });
    let id = unique_id("halfway");
    let mut cmd = h.cmd();
    cmd.args(["create", "--bundle", &b.arg(), &id])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = hako_tests::reaper::spawn(&mut cmd).unwrap();
    for _ in 0..1000 {
        if started.exists() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(started.exists(), "the createContainer hook never ran");
    child.kill().unwrap();
    child.wait().unwrap();
    hako_tests::reaper::untrack(child.id());
    let hook_alive = || {
        std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
            std::fs::read(e.path().join("cmdline"))
                .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&nap))
        })
    };
    assert!(hook_alive(), "the hook should outlive the killed create");
    assert!(!hako_tests::cgroup_dirs_named(&id).is_empty());

    h.run(&["delete", &id]).ok();
    h.assert_gone(&id, &b, None);
    for _ in 0..500 {
        if !hook_alive() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(!hook_alive(), "the hook's process survived delete");
}

/// Commands racing on one id: two `delete --force` both succeed (the
/// loser finds the container already gone), and a `create` racing a
/// `delete` either wins cleanly or loses to a clean "does not exist";
/// nothing is left behind either way.
#[test]
fn concurrent_commands_on_one_id_end_cleanly() {
    let h = Hako::new();
    let b = Bundle::busybox(&["sleep", "1000"]);
    for round in 0..10 {
        let id = unique_id("race");
        h.create(&id, &b);
        let (a, c) = std::thread::scope(|s| {
            let a = s.spawn(|| h.run(&["delete", "--force", &id]));
            let c = s.spawn(|| h.run(&["delete", "--force", &id]));
            (a.join().unwrap(), c.join().unwrap())
        });
        assert_eq!((a.code, c.code), (0, 0), "round {round}: {a:?} {c:?}");
        h.assert_gone(&id, &b, None);

        let id = unique_id("race");
        let (created, deleted) = std::thread::scope(|s| {
            let created = s.spawn(|| h.run(&["create", "--bundle", &b.arg(), &id]));
            let deleted = s.spawn(|| h.run(&["delete", "--force", &id]));
            (created.join().unwrap(), deleted.join().unwrap())
        });
        assert_eq!(deleted.code, 0, "round {round}: {deleted:?}");
        if created.code != 0 {
            created.fails_with(&format!("container \"{id}\" does not exist"));
        }
        h.run(&["delete", "--force", &id]).ok();
        h.assert_gone(&id, &b, None);
    }
}
