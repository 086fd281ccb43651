//! Bad input: one clear line, a non-zero exit, nothing left behind.

use hako_tests::{unique_id, Bundle, Hako};
use serde_json::json;

fn create_fails(h: &Hako, b: &Bundle, id: &str, needle: &str) {
    h.run(&["create", "--bundle", &b.arg(), id])
        .fails_with(needle);
    h.assert_gone(id, b, None);
    assert!(
        std::fs::read_dir(h.root()).map(|d| d.count()).unwrap_or(0) == 0,
        "state root not empty"
    );
}

#[test]
fn missing_or_malformed_config() {
    let h = Hako::new();
    let b = Bundle::sh("true");
    std::fs::remove_file(b.path().join("config.json")).unwrap();
    create_fails(
        &h,
        &b,
        &unique_id("nocfg"),
        "config.json: no such file or directory",
    );
    std::fs::write(b.path().join("config.json"), "{ not json").unwrap();
    create_fails(&h, &b, &unique_id("badjson"), "config.json: invalid json");
    let out = h.run(&["create", "--bundle", "/no/such/bundle", "x"]);
    out.fails_with("bundle /no/such/bundle: no such file or directory");
}

#[test]
fn invalid_oci_version() {
    let h = Hako::new();
    let mut b = Bundle::sh("true");
    b.edit(|s| s["ociVersion"] = json!("invalid"));
    create_fails(
        &h,
        &b,
        &unique_id("badver"),
        "ociVersion \"invalid\" is not a 1.x.y version",
    );
}

#[test]
fn missing_rootfs() {
    let h = Hako::new();
    let mut b = Bundle::sh("true");
    b.edit(|s| s["root"]["path"] = json!("nowhere"));
    create_fails(&h, &b, &unique_id("noroot"), "rootfs");
    let out = h.run(&["create", "--bundle", &b.arg(), "x"]);
    assert!(out.stderr.contains("nowhere"), "{out:?}");
}

#[test]
fn invalid_and_duplicate_ids() {
    let h = Hako::new();
    let b = Bundle::busybox(&["sleep", "100"]);
    for bad in ["../x", "a/b", "", &"x".repeat(300), "."] {
        let out = h.run(&["create", "--bundle", &b.arg(), bad]);
        out.fails_with("container id");
    }
    assert!(!h.root().join("x").exists());
    let id = unique_id("dup");
    h.create(&id, &b);
    h.run(&["create", "--bundle", &b.arg(), &id])
        .fails_with("already exists");
    assert_eq!(h.status(&id), "created", "the first container is untouched");
    h.run(&["delete", &id]).ok();
    h.assert_gone(&id, &b, None);
}

#[test]
fn unknown_namespace_type() {
    let h = Hako::new();
    let mut b = Bundle::sh("true");
    b.edit(|s| {
        s["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "bogus"}))
    });
    create_fails(
        &h,
        &b,
        &unique_id("badns"),
        "linux.namespaces[6].type: unknown variant `bogus`",
    );
    // Asked for and not supported: refused, never ignored.
    let mut b = Bundle::sh("true");
    b.edit(|s| s["linux"]["intelRdt"] = json!({"l3CacheSchema": "L3:0=ff"}));
    create_fails(&h, &b, &unique_id("rdt"), "linux.intelRdt");
}

#[test]
fn impossible_mount() {
    let h = Hako::new();
    let mut b = Bundle::sh("true");
    b.edit(|s| s["mounts"].as_array_mut().unwrap().push(json!({"destination": "/data", "type": "bind", "source": "/no/such/dir", "options": ["rbind"]})));
    create_fails(
        &h,
        &b,
        &unique_id("badmount"),
        "mounts[7] (/data): bind mount source /no/such/dir: no such file or directory",
    );
    let mut b = Bundle::sh("true");
    b.edit(|s| {
        s["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": "/x", "type": "nosuchfs", "source": "none"}))
    });
    create_fails(
        &h,
        &b,
        &unique_id("badfs"),
        "mounts[7] (/x): mounting nosuchfs",
    );
    let mut b = Bundle::sh("true");
    b.edit(|s| s["mounts"].as_array_mut().unwrap().push(json!({"destination": "/proc/sys/kernel/core_pattern", "type": "bind", "source": "/etc/hostname", "options": ["bind"]})));
    create_fails(&h, &b, &unique_id("procmount"), "inside /proc");
    // The same, through a symlink the image ships: the destination only
    // lands in procfs once the link is followed inside the rootfs.
    for (i, kind) in ["tmpfs", "bind"].into_iter().enumerate() {
        let mut b = Bundle::sh("true");
        std::os::unix::fs::symlink("/proc/sys/kernel", b.rootfs().join("run")).unwrap();
        b.edit(|s| {
            let m = if kind == "bind" {
                json!({"destination": "/run/core_pattern", "type": "bind", "source": "/etc/hostname", "options": ["bind"]})
            } else {
                // (/run itself is a symlink: refused as not an ordinary
                // directory before anything resolves.)
                json!({"destination": "/run/random", "type": "tmpfs", "source": "tmpfs"})
            };
            s["mounts"].as_array_mut().unwrap().push(m)
        });
        create_fails(
            &h,
            &b,
            &unique_id(&format!("proclink{i}")),
            "resolves into procfs",
        );
    }
}

/// A container never moves into a cgroup that already has processes: its
/// kill and delete would reach them. "/" is the extreme case: the host.
#[test]
fn an_occupied_cgroup_is_refused() {
    let h = Hako::new();
    let mut b = Bundle::sh("true");
    b.edit(|s| s["linux"]["cgroupsPath"] = json!("/"));
    create_fails(&h, &b, &unique_id("cgroot"), "already has");
    // A cgroup with one process in it, made by hand (pids is v1 on a
    // hybrid or legacy host; a pure cgroup2 host has one tree).
    let base = [
        "/sys/fs/cgroup/pids",
        "/sys/fs/cgroup/unified",
        "/sys/fs/cgroup",
    ]
    .into_iter()
    .map(std::path::Path::new)
    .find(|p| p.join("cgroup.procs").exists())
    .expect("no cgroup hierarchy mounted under /sys/fs/cgroup");
    let dir = base.join(unique_id("occupied"));
    std::fs::create_dir(&dir).unwrap();
    let mut sleeper =
        hako_tests::reaper::spawn(std::process::Command::new("sleep").arg("100")).unwrap();
    std::fs::write(dir.join("cgroup.procs"), sleeper.id().to_string()).unwrap();
    let mut b = Bundle::sh("true");
    let rel = format!("/{}", dir.file_name().unwrap().to_string_lossy());
    b.edit(|s| s["linux"]["cgroupsPath"] = json!(rel));
    let id = unique_id("cgbusy");
    h.run(&["create", "--bundle", &b.arg(), &id])
        .fails_with("already has 1 process");
    assert!(
        sleeper.try_wait().unwrap().is_none(),
        "the process that owned the cgroup was killed"
    );
    assert!(dir.exists(), "the occupied cgroup was removed");
    sleeper.kill().unwrap();
    sleeper.wait().unwrap();
    hako_tests::reaper::untrack(sleeper.id());
    std::fs::remove_dir(&dir).unwrap();
}

#[test]
fn missing_executable_fails_create() {
    let h = Hako::new();
    let b = Bundle::busybox(&["no-such-program"]);
    create_fails(
        &h,
        &b,
        &unique_id("noexe"),
        "exec: \"no-such-program\": executable file not found in $PATH",
    );
    let b = Bundle::busybox(&["/etc/passwd"]);
    create_fails(
        &h,
        &b,
        &unique_id("noexec"),
        "exec: \"/etc/passwd\": permission denied",
    );
}

#[test]
fn bad_process_fields() {
    let h = Hako::new();
    let mut b = Bundle::sh("true");
    b.edit(|s| s["process"]["cwd"] = json!("relative"));
    create_fails(
        &h,
        &b,
        &unique_id("cwd"),
        "process.cwd must be an absolute path",
    );
    let mut b = Bundle::sh("true");
    b.edit(|s| s["process"]["args"] = json!([]));
    create_fails(&h, &b, &unique_id("args"), "process.args must not be empty");
    let mut b = Bundle::sh("true");
    b.edit(|s| s["process"]["capabilities"]["bounding"] = json!(["CAP_NOPE"]));
    create_fails(&h, &b, &unique_id("cap"), "CAP_NOPE");
    let mut b = Bundle::sh("true");
    b.edit(|s| s["linux"]["sysctl"] = json!({"vm.swappiness": "10"}));
    create_fails(
        &h,
        &b,
        &unique_id("sysctl"),
        "linux.sysctl: \"vm.swappiness\" is not namespaced",
    );
}

#[test]
fn failure_inside_init_cleans_up_processes() {
    // The failure happens in container init itself, after its namespaces,
    // cgroup and mounts exist: a createRuntime hook records init's pid,
    // then init fails writing a sysctl the kernel refuses. Init and
    // everything it made must be gone.
    let h = Hako::new();
    let rec = tempfile::tempdir().unwrap();
    let pid_file = rec.path().join("state.json");
    let mut b = Bundle::sh("true");
    b.edit(|s| {
        s["hooks"] = json!({"createRuntime": [{
            "path": "/bin/sh",
            "args": ["sh", "-c", format!("cat > {}", pid_file.display())],
        }]});
        s["linux"]["sysctl"] = json!({"kernel.shm_rmid_forced": "7"});
    });
    let id = unique_id("initfail");
    create_fails(
        &h,
        &b,
        &id,
        "setting sysctl kernel.shm_rmid_forced=\"7\": invalid argument",
    );
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&pid_file).unwrap()).unwrap();
    let pid = state["pid"].as_i64().unwrap() as i32;
    assert!(pid > 0, "{state}");
    h.assert_gone(&id, &b, Some(pid));
}

/// On a host without AppArmor (or without the profile) and without
/// SELinux a profile or process label cannot be applied, so `create`
/// refuses it; a mount label has nothing to
/// label and is ignored (crun, youki), the mounts made as usual.
#[test]
fn lsm_requests_the_host_cannot_apply() {
    let apparmor = std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
        .is_ok_and(|s| s.trim() == "Y");
    let selinux = std::path::Path::new("/sys/fs/selinux/enforce").exists();
    assert!(
        !selinux,
        "this test needs a host without SELinux (its refusal and the ignored mount label are checked)"
    );
    let h = Hako::new();
    let mut b = Bundle::sh("true");
    b.edit(|s| s["process"]["apparmorProfile"] = json!("hako-test-profile"));
    // Without AppArmor the profile cannot be had; with it, this profile is
    // not loaded: either way `create` fails, naming it.
    let needle = if apparmor {
        "hako-test-profile"
    } else {
        "process.apparmorProfile \"hako-test-profile\": AppArmor is not enabled on this host"
    };
    create_fails(&h, &b, &unique_id("apparmor"), needle);
    let mut b = Bundle::sh("true");
    b.edit(|s| s["process"]["selinuxLabel"] = json!("system_u:system_r:container_t:s0"));
    create_fails(
        &h,
        &b,
        &unique_id("selinux"),
        "process.selinuxLabel \"system_u:system_r:container_t:s0\": SELinux is not enabled on this host",
    );
    let out = hako_tests::run_sh("grep -c ' /data tmpfs ' /proc/self/mounts", |s| {
        s["linux"]["mountLabel"] = json!("system_u:object_r:container_file_t:s0");
        s["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs"}));
    })
    .ok();
    assert_eq!(out.stdout, "1\n", "{out:?}");
}

/// A proc, sysfs or other filesystem mount whose destination in the image
/// is a symlink would land wherever the image points it: `create` refuses
/// it at once with runc's words, and nothing is mounted or left behind.
#[test]
fn special_filesystems_on_symlinked_destinations_are_refused() {
    let h = Hako::new();
    for (dest, fstype, target) in [
        ("proc", "proc", "tmp"),
        ("sys", "sysfs", "/etc"),
        ("data", "tmpfs", "/root"),
    ] {
        let mut b = Bundle::sh("true");
        b.edit(|s| {
            s["mounts"]
                .as_array_mut()
                .unwrap()
                .push(json!({"destination": format!("/{dest}"), "type": fstype, "source": fstype}))
        });
        let link = b.rootfs().join(dest);
        let _ = std::fs::remove_dir(&link);
        std::os::unix::fs::symlink(target, &link).unwrap();
        let id = unique_id("symdest");
        create_fails(
            &h,
            &b,
            &id,
            &format!("filesystem \"{fstype}\" must be mounted on ordinary directory"),
        );
        assert!(
            hako_tests::host_mounts_under(b.path()).is_empty(),
            "{dest}: something stayed mounted"
        );
    }
}

/// `config.json` must be a regular file of sane size holding an object:
/// a symlink to /dev/zero, a fifo or a huge file are refused before they
/// are read, and so is a top-level array.
#[test]
fn config_json_that_is_not_a_bounded_regular_object() {
    let h = Hako::new();
    let b = Bundle::sh("true");
    let config = b.path().join("config.json");
    std::fs::remove_file(&config).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &config).unwrap();
    create_fails(
        &h,
        &b,
        &unique_id("zero"),
        "config.json: not a regular file",
    );
    std::fs::remove_file(&config).unwrap();
    nix::unistd::mkfifo(&config, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    create_fails(
        &h,
        &b,
        &unique_id("fifo"),
        "config.json: not a regular file",
    );
    std::fs::remove_file(&config).unwrap();
    let mut huge = serde_json::to_vec(&b.spec).unwrap();
    huge.pop();
    huge.extend_from_slice(b",\"annotations\":{\"x\":\"");
    huge.resize(huge.len() + (5 << 20), b'a');
    huge.extend_from_slice(b"\"}}");
    std::fs::write(&config, &huge).unwrap();
    create_fails(&h, &b, &unique_id("huge"), "is above the limit of 4194304");
    std::fs::write(&config, "[]").unwrap();
    create_fails(
        &h,
        &b,
        &unique_id("array"),
        "config.json: expected a JSON object, found an array",
    );
}

/// Limits are named as the kernel names them.
#[test]
fn rlimit_errors_name_the_limit() {
    let h = Hako::new();
    let mut b = Bundle::sh("true");
    b.edit(|s| {
        s["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 4096, "hard": 1024}])
    });
    create_fails(
        &h,
        &b,
        &unique_id("rlim"),
        "process.rlimits: RLIMIT_NOFILE soft limit 4096 is above hard limit 1024",
    );
}

/// An id that looks like a flag is one error line, not a usage screen.
#[test]
fn an_id_starting_with_a_dash_is_one_line() {
    let h = Hako::new();
    let b = Bundle::sh("true");
    h.run(&["create", "--bundle", &b.arg(), "-x"])
        .fails_with("unexpected argument '-x'");
    h.run(&["delete", "-nope"])
        .fails_with("unexpected argument '-n'");
}
