//! OCI hooks run in order, at the right moments, with the state on stdin.

use hako_tests::{unique_id, Bundle, Hako};
use serde_json::json;

fn hook(dir: &std::path::Path, name: &str) -> serde_json::Value {
    let d = dir.display();
    json!({"path": "/bin/sh", "args": ["sh", "-c", format!("cat > {d}/{name}.json; echo {name} >> {d}/order")]})
}

#[test]
fn hooks_run_in_order_with_state() {
    let h = Hako::new();
    let log = tempfile::tempdir().unwrap();
    let mut b = Bundle::sh("cat /tmp/started; echo workload >> /tmp/started");
    b.edit(|s| {
        s["hooks"] = json!({
            "prestart": [hook(log.path(), "prestart")],
            "createRuntime": [hook(log.path(), "createRuntime")],
            "createContainer": [hook(log.path(), "createContainer")],
            // Runs inside the container, after pivot_root: its path and
            // output are the container's.
            "startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "cat > /tmp/start.json; echo startContainer > /tmp/started"]}],
            "poststart": [hook(log.path(), "poststart")],
            "poststop": [hook(log.path(), "poststop")]
        });
        s["annotations"] = json!({"k": "v"});
    });
    let id = unique_id("hooks");
    let out = h.run_bundle(&id, &b).ok();
    assert_eq!(
        out.stdout, "startContainer\n",
        "startContainer ran before the workload"
    );
    let order = std::fs::read_to_string(log.path().join("order")).unwrap();
    assert_eq!(
        order,
        "prestart\ncreateRuntime\ncreateContainer\npoststart\npoststop\n"
    );
    let read = |name: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(log.path().join(format!("{name}.json"))).unwrap())
            .unwrap()
    };
    for (name, status) in [
        ("prestart", "creating"),
        ("createRuntime", "creating"),
        ("createContainer", "creating"),
        ("poststart", "running"),
        ("poststop", "stopped"),
    ] {
        let st = read(name);
        assert_eq!(st["id"], id.as_str(), "{name}");
        assert_eq!(st["status"], status, "{name}");
        assert_eq!(st["bundle"], b.arg().as_str(), "{name}");
        assert_eq!(st["annotations"]["k"], "v", "{name}");
        assert!(st["ociVersion"].as_str().unwrap().starts_with("1."));
    }
    let pid = read("createRuntime")["pid"].as_i64().unwrap();
    assert!(pid > 0);
    assert_eq!(read("poststart")["pid"].as_i64().unwrap(), pid);
    let inside: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.rootfs().join("tmp/start.json")).unwrap()).unwrap();
    assert_eq!(inside["status"], "running");
    h.assert_gone(&id, &b, None);
}

#[test]
fn a_failing_create_hook_fails_create() {
    let h = Hako::new();
    for stage in ["prestart", "createRuntime", "createContainer"] {
        let mut b = Bundle::busybox(&["sleep", "100"]);
        b.edit(|s| {
            s["hooks"] =
                json!({stage: [{"path": "/bin/sh", "args": ["sh", "-c", "echo nope >&2; exit 4"]}]})
        });
        let id = unique_id("badhook");
        let out = h
            .run(&["create", "--bundle", &b.arg(), &id])
            .fails_with(&format!("{stage} hook 0 (/bin/sh)"));
        assert!(out.stderr.contains("nope"), "{out:?}");
        h.assert_gone(&id, &b, None);
    }
}

#[test]
fn a_failing_poststart_hook_fails_start_and_poststop_only_warns() {
    let h = Hako::new();
    let log = tempfile::tempdir().unwrap();
    let mut b = Bundle::busybox(&["sleep", "100"]);
    b.edit(|s| {
        s["hooks"] = json!({
            "poststart": [{"path": "/bin/false"}],
            // The runtime spec: a failed poststop hook is a warning, and
            // the remaining hooks and lifecycle continue.
            "poststop": [
                hook(log.path(), "poststop0"),
                {"path": "/bin/false"},
                hook(log.path(), "poststop2")
            ]
        })
    });
    let id = unique_id("poststart");
    h.create(&id, &b);
    h.run(&["start", &id])
        .fails_with("poststart hook 0 (/bin/false)");
    h.wait_status(&id, "stopped");
    let log_file = log.path().join("hako.log");
    let out = h
        .run(&["--log", &log_file.display().to_string(), "delete", &id])
        .ok();
    assert_eq!(out.stderr, "", "{out:?}");
    let order = std::fs::read_to_string(log.path().join("order")).unwrap();
    assert_eq!(order, "poststop0\npoststop2\n");
    let logged = std::fs::read_to_string(&log_file).unwrap();
    assert!(
        logged.contains("poststop hook 1 (/bin/false)"),
        "the failure is logged as a warning: {logged}"
    );
    h.assert_gone(&id, &b, None);
}

#[test]
fn hook_timeouts_are_enforced() {
    let h = Hako::new();
    let mut b = Bundle::busybox(&["true"]);
    b.edit(|s| s["hooks"] = json!({"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]}));
    let id = unique_id("timeout");
    let started = std::time::Instant::now();
    h.run(&["create", "--bundle", &b.arg(), &id])
        .fails_with("timed out after 1s");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "the timeout did not end the hook"
    );
    h.assert_gone(&id, &b, None);
}

#[test]
fn start_container_hooks_inherit_the_process_env_unless_they_set_their_own() {
    let out = hako_tests::run_sh("cat /tmp/inherited /tmp/own", |s| {
        s["process"]["env"] = json!(["PATH=/bin", "ONE=two"]);
        s["hooks"] = json!({
            "startContainer": [
                {"path": "/bin/sh", "args": ["sh", "-c", "echo \"ONE=$ONE\" > /tmp/inherited"]},
                {"path": "/bin/sh", "args": ["sh", "-c", "echo \"ONE=$ONE OWN=$OWN\" > /tmp/own"],
                 "env": ["OWN=yes"]}
            ]
        });
    })
    .ok();
    assert_eq!(out.stdout, "ONE=two\nONE= OWN=yes\n");
}
