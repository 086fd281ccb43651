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
    let actions = f["linux"]["seccomp"]["actions"].as_array().unwrap();
    assert!(
        actions.iter().any(|a| a == "SCMP_ACT_NOTIFY"),
        "{actions:?}"
    );
    assert!(f["linux"]["seccomp"]["archs"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "SCMP_ARCH_X86_64"));
    assert_eq!(f["linux"]["memoryPolicy"]["modes"][0], "MPOL_BIND");
    assert_eq!(f["linux"]["mountExtensions"]["idmap"]["enabled"], true);
    assert_eq!(f["annotations"]["io.hako.exec.cgroup"], "true");
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

/// `scripts/install.sh` installs hako, the `hako-wasm` name and the
/// WasmEdge plugin, and drop-ins that podman and containerd read as
/// registering both runtimes (with the wasm annotations allowlisted for
/// CRI); run twice, it changes nothing more.
#[test]
fn install_script_registers_hako_with_podman_and_containerd() {
    let repo = std::path::PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into()),
    )
    .join("..");
    let built = hako_tests::hako_bin();
    let from = built.parent().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("prefix");
    let etc = tmp.path().join("etc");
    let install = || {
        let out = hako_tests::reaper::output(
            std::process::Command::new("bash")
                .arg(repo.join("scripts/install.sh"))
                .args(["--prefix".as_ref(), prefix.as_os_str()])
                .args(["--sysconfdir".as_ref(), etc.as_os_str()])
                .args(["--from".as_ref(), from.as_os_str()])
                .arg("--all"),
        )
        .unwrap();
        assert!(out.status.success(), "{out:?}");
    };
    install();
    install();
    let bin = prefix.join("bin");
    let version = hako_tests::reaper::output(
        std::process::Command::new(bin.join("hako-wasm")).arg("--version"),
    )
    .unwrap();
    assert!(
        String::from_utf8_lossy(&version.stdout).starts_with("hako version "),
        "{version:?}"
    );
    assert_eq!(
        std::fs::read_link(bin.join("hako-wasm")).unwrap(),
        std::path::Path::new("hako")
    );
    for engine in ["wasmtime", "wasmedge", "wasmer"] {
        let plugin = prefix.join(format!("lib/hako/libhako_executor_{engine}.so"));
        assert!(plugin.is_file(), "{} not installed", plugin.display());
    }

    // podman reads the drop-in: the runtime names resolve to the binaries.
    let conf = etc.join("containers/containers.conf.d/50-hako.conf");
    let podman = hako_tests::reaper::output(
        std::process::Command::new("podman")
            .env("CONTAINERS_CONF", &conf)
            .args([
                "--runtime",
                "hako-wasm",
                "info",
                "--format",
                "{{.Host.OCIRuntime.Path}}",
            ]),
    )
    .expect("podman must be installed (scripts/setup.sh installs it)");
    assert_eq!(
        String::from_utf8_lossy(&podman.stdout).trim(),
        bin.join("hako-wasm").display().to_string(),
        "{podman:?}"
    );
    assert!(std::fs::read_to_string(&conf)
        .unwrap()
        .contains("\"wasi/wasm\" = \"hako-wasm\""));

    // containerd loads the snippet through `imports`, exactly once.
    let config = etc.join("containerd/config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert_eq!(text.matches("imports").count(), 1, "{text}");
    let dump = hako_tests::reaper::output(
        std::process::Command::new("containerd")
            .args(["--config".as_ref(), config.as_os_str()])
            .args(["config", "dump"]),
    )
    .expect("containerd must be installed (scripts/setup.sh installs it)");
    let dumped = String::from_utf8_lossy(&dump.stdout);
    assert!(dump.status.success(), "{dump:?}");
    for binary in ["hako", "hako-wasm"] {
        let line = format!("BinaryName = \"{}\"", bin.join(binary).display());
        assert!(dumped.contains(&line), "{line} missing: {dumped}");
    }
    assert!(
        dumped.contains("container_annotations = [\"run.oci.handler\""),
        "{dumped}"
    );
}

/// A reader that goes away (`hako features | head -1`) ends hako quietly
/// with success, as runc ends, not with a panic.
#[test]
fn a_closed_stdout_ends_quietly() {
    use std::io::{Read, Seek};
    let h = Hako::new();
    for args in [vec!["features"], vec!["list"], vec!["--version"]] {
        let (reader, writer) = nix::unistd::pipe().unwrap();
        drop(reader);
        let mut stderr = tempfile::tempfile().unwrap();
        let mut cmd = h.cmd();
        cmd.args(&args)
            .stdout(std::process::Stdio::from(writer))
            .stderr(stderr.try_clone().unwrap());
        let mut child = hako_tests::reaper::spawn(&mut cmd).unwrap();
        let code = child.wait().unwrap().code();
        hako_tests::reaper::untrack(child.id());
        let mut err = String::new();
        stderr.rewind().unwrap();
        stderr.read_to_string(&mut err).unwrap();
        assert_eq!(code, Some(0), "{args:?}: {err}");
        assert_eq!(err, "", "{args:?}");
    }
}
