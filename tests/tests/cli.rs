//! The command line itself: version, help, bad input, spec, features.

use hako_tests::{Bundle, Hako};

#[test]
fn version_has_runc_three_lines() {
    let h = Hako::new();
    let out = h.run(&["--version"]).ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{out:?}");
    assert!(lines[0].starts_with("hako version "), "{}", lines[0]);
    assert!(
        lines[1].starts_with("commit: ") && lines[1].len() > "commit: ".len(),
        "{}",
        lines[1]
    );
    assert!(lines[2].starts_with("spec: 1."), "{}", lines[2]);
}

#[test]
fn unknown_commands_and_flags_fail() {
    let h = Hako::new();
    assert_ne!(h.run(&["frobnicate"]).code, 0);
    assert_ne!(h.run(&["create", "--no-such-flag", "x"]).code, 0);
    assert_ne!(h.run(&["kill"]).code, 0, "missing id");
    h.run(&["kill", "nope", "SIGFOO"])
        .fails_with("unknown signal \"SIGFOO\"");
    h.run(&["--log-level", "loud", "list"])
        .fails_with("unknown log level");
}

#[test]
fn checkpoint_and_restore_are_refused_by_name() {
    let h = Hako::new();
    h.run(&[
        "checkpoint",
        "--image-path",
        "/tmp/hako-no-image",
        "--leave-running",
        "web",
    ])
    .fails_with("checkpoint of container \"web\" is not supported: hako has no criu support");
    h.run(&[
        "restore",
        "--bundle",
        "/tmp",
        "--image-path",
        "/tmp/hako-no-image",
        "web",
    ])
    .fails_with("restore of container \"web\" is not supported: hako has no criu support");
    assert!(
        !h.root().join("web").exists(),
        "a refused restore must leave no state behind"
    );
}

#[test]
fn spec_writes_a_valid_config_and_refuses_to_overwrite() {
    let h = Hako::new();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    h.run(&["spec", "--bundle", &d]).ok();
    let spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("config.json")).unwrap()).unwrap();
    assert_eq!(spec["process"]["args"][0], "sh");
    assert!(spec["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["type"] == "mount"));
    h.run(&["spec", "--bundle", &d])
        .fails_with("already exists");

    let rootless = tempfile::tempdir().unwrap();
    h.run(&[
        "spec",
        "--rootless",
        "-b",
        &rootless.path().display().to_string(),
    ])
    .ok();
    let spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(rootless.path().join("config.json")).unwrap())
            .unwrap();
    assert!(spec["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .any(|n| n["type"] == "user"));
    assert!(spec["linux"]["uidMappings"]
        .as_array()
        .is_some_and(|m| !m.is_empty()));
}

#[test]
fn spec_output_runs() {
    // The generated spec, with a busybox rootfs, is a working container.
    let h = Hako::new();
    let b = Bundle::busybox(&["true"]);
    std::fs::remove_file(b.path().join("config.json")).unwrap();
    h.run(&["spec", "-b", &b.arg()]).ok();
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.path().join("config.json")).unwrap()).unwrap();
    spec["process"]["terminal"] = false.into();
    spec["process"]["args"] = serde_json::json!(["sh", "-c", "echo spec-ok; hostname"]);
    std::fs::write(b.path().join("config.json"), spec.to_string()).unwrap();
    let out = h.run_bundle(&hako_tests::unique_id("spec"), &b).ok();
    assert_eq!(out.stdout, "spec-ok\nhako\n");
}

#[test]
fn features_document() {
    let h = Hako::new();
    let out = h.run(&["features"]).ok();
    let f: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(f["ociVersionMin"], "1.0.0");
    assert!(f["ociVersionMax"].as_str().unwrap().starts_with("1."));
    let ns: Vec<&str> = f["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for n in ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"] {
        assert!(ns.contains(&n), "{n} missing from {ns:?}");
    }
    let opts = f["mountOptions"].as_array().unwrap();
    assert!(opts.iter().any(|o| o == "rbind") && opts.iter().any(|o| o == "rprivate"));
    assert!(f["linux"]["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "CAP_SYS_ADMIN"));
    assert_eq!(f["linux"]["cgroup"]["v1"], true);
    assert_eq!(f["linux"]["cgroup"]["v2"], true);
}

#[test]
fn list_of_nothing() {
    let h = Hako::new();
    let out = h.run(&["list"]).ok();
    assert_eq!(out.stdout.lines().count(), 1, "header only: {out:?}");
    assert!(out.stdout.starts_with("ID"));
    let out = h.run(&["list", "--format", "json"]).ok();
    assert_eq!(out.stdout.trim(), "[]");
    h.run(&["state", "missing"])
        .fails_with("container \"missing\" does not exist");
}
