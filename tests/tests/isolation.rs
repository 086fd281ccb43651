//! What a process sees from inside the container.

use hako_tests::{ns_of, run_sh, unique_id, Bundle, Hako};
use serde_json::json;

#[test]
fn hostname_domainname_and_env() {
    let out = run_sh(
        "hostname; cat /proc/sys/kernel/domainname; echo $GREETING; echo $HOME; pwd",
        |s| {
            s["domainname"] = json!("example.test");
            s["process"]["env"]
                .as_array_mut()
                .unwrap()
                .push(json!("GREETING=hi there"));
            s["process"]["cwd"] = json!("/work/here");
        },
    )
    .ok();
    assert_eq!(
        out.stdout,
        "hako-test\nexample.test\nhi there\n/root\n/work/here\n"
    );
}

#[test]
fn user_groups_and_umask() {
    let out = run_sh(
        "id -u; id -g; id -G; umask; touch /tmp/f; stat -c %a /tmp/f",
        |s| {
            s["process"]["user"] =
                json!({"uid": 65534, "gid": 65534, "additionalGids": [5, 100], "umask": 23});
        },
    )
    .ok();
    assert_eq!(out.stdout, "65534\n65534\n65534 5 100\n0027\n640\n");
}

#[test]
fn capability_sets() {
    let out = run_sh(
        "grep ^Cap /proc/self/status; grep NoNewPrivs /proc/self/status",
        |s| {
            s["process"]["capabilities"] = json!({
                "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "effective": ["CAP_KILL"],
                "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
                "inheritable": ["CAP_NET_BIND_SERVICE"],
                "ambient": ["CAP_NET_BIND_SERVICE"]
            });
            s["process"]["user"] = json!({"uid": 1000, "gid": 1000});
        },
    )
    .ok();
    // CAP_CHOWN=0, CAP_KILL=5, CAP_NET_BIND_SERVICE=10. As a non-root
    // user, exec keeps only the ambient set (in P and E).
    let get = |k: &str| {
        out.stdout
            .lines()
            .find(|l| l.starts_with(k))
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .to_string()
    };
    assert_eq!(get("CapBnd:"), "0000000000000421");
    assert_eq!(get("CapInh:"), "0000000000000400");
    assert_eq!(get("CapAmb:"), "0000000000000400");
    assert_eq!(get("CapPrm:"), "0000000000000400");
    assert_eq!(get("CapEff:"), "0000000000000400");
    assert!(out.stdout.contains("NoNewPrivs:\t1"));
}

/// Inheritable capabilities within the bounding set are raised, for root
/// and for another user, including ones that are not permitted. A
/// capability the host never gave hako (root here lacks CAP_SYS_RESOURCE)
/// cannot be raised by any runtime: runc and crun fail the same spec with
/// EPERM, and hako names the set.
#[test]
fn inheritable_capabilities_within_the_bounding_set() {
    for uid in [0, 1000] {
        let out = run_sh("grep -E '^Cap(Inh|Bnd)' /proc/self/status", |s| {
            s["process"]["capabilities"] = json!({
                "bounding": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW"],
                "effective": ["CAP_KILL"],
                "permitted": ["CAP_KILL"],
                "inheritable": ["CAP_CHOWN", "CAP_NET_RAW"]
            });
            s["process"]["user"] = json!({"uid": uid, "gid": uid});
        })
        .ok();
        // CAP_CHOWN=0, CAP_KILL=5, CAP_NET_RAW=13.
        assert!(
            out.stdout.contains("CapInh:\t0000000000002001"),
            "uid {uid}: {out:?}"
        );
        assert!(
            out.stdout.contains("CapBnd:\t0000000000002021"),
            "uid {uid}: {out:?}"
        );
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let bounding = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:\t"))
        .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
        .unwrap();
    const CAP_SYS_RESOURCE: u32 = 24;
    let h = Hako::new();
    let mut b = Bundle::sh("grep CapInh /proc/self/status");
    b.edit(|s| {
        let caps = ["CAP_KILL", "CAP_SYS_RESOURCE"];
        s["process"]["capabilities"] =
            json!({"bounding": caps, "inheritable": caps, "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]});
    });
    let id = unique_id("inh");
    let out = h.run_bundle(&id, &b);
    if bounding & (1 << CAP_SYS_RESOURCE) == 0 {
        out.fails_with(
            "process.capabilities.inheritable: setting the inheritable capabilities (CAP_SYS_RESOURCE not held by hako itself): operation not permitted",
        );
    } else {
        assert!(out.ok().stdout.contains("CapInh:\t0000000001000020"));
    }
    h.assert_gone(&id, &b, None);
}

/// runc's default spec asks for ambient capabilities without inheritable
/// ones; the kernel cannot raise them, and like runc hako warns and runs
/// the container rather than refusing a config straight from `runc spec`.
#[test]
fn ambient_capabilities_without_inheritable_ones_are_skipped_as_runc_does() {
    let runc_caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"];
    let out = run_sh("grep -E '^Cap(Amb|Eff)' /proc/self/status", |s| {
        s["process"]["capabilities"] = json!({
            "bounding": runc_caps, "effective": runc_caps,
            "permitted": runc_caps, "ambient": runc_caps
        });
    })
    .ok();
    assert!(out.stdout.contains("CapAmb:\t0000000000000000"), "{out:?}");
    // CAP_KILL=5, CAP_NET_BIND_SERVICE=10, CAP_AUDIT_WRITE=29.
    assert!(out.stdout.contains("CapEff:\t0000000020000420"), "{out:?}");
    assert!(
        out.stderr.contains("cannot raise ambient capability"),
        "the skipped capabilities are reported: {out:?}"
    );
}

#[test]
fn root_keeps_the_bounding_set() {
    let out = run_sh("grep -E '^Cap(Bnd|Eff)' /proc/self/status", |_| {}).ok();
    // The default podman set: chown, dac_override, fowner, fsetid, kill,
    // setgid, setuid, setpcap, net_bind_service, sys_chroot, setfcap.
    for line in out.stdout.lines() {
        assert!(line.ends_with("00000000800405fb"), "{line}");
    }
}

#[test]
fn rlimits_are_applied() {
    let out = run_sh("ulimit -n; ulimit -Hn; ulimit -c", |s| {
        s["process"]["rlimits"] = json!([
            {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 768},
            {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}
        ]);
    })
    .ok();
    assert_eq!(out.stdout, "512\n768\n0\n");
}

#[test]
fn raising_a_hard_limit_without_cap_sys_resource_is_a_clear_error() {
    // Root on some hosts (this one among them) lacks CAP_SYS_RESOURCE: the
    // error must say so. Where root has it, the limit is simply applied.
    let h = Hako::new();
    let mut b = Bundle::sh("ulimit -Hn");
    let (_, hard) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    let want = hard + 1;
    b.edit(|s| {
        s["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": want, "hard": want}])
    });
    let id = unique_id("rlim");
    let out = h.run(&["create", "--bundle", &b.arg(), &id]);
    if caps_has_sys_resource() {
        out.ok();
        h.run(&["delete", &id]).ok();
    } else {
        out.fails_with("setting RLIMIT_NOFILE");
        let out = h.run(&["create", "--bundle", &b.arg(), &id]);
        assert!(
            out.stderr.contains("operation not permitted")
                && out.stderr.contains("CAP_SYS_RESOURCE"),
            "{out:?}"
        );
    }
    h.assert_gone(&id, &b, None);
}

fn caps_has_sys_resource() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let eff = status
        .lines()
        .find(|l| l.starts_with("CapEff:"))
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    // CAP_SYS_RESOURCE is capability 24.
    u64::from_str_radix(&eff, 16).unwrap() & (1u64 << 24) != 0
}

#[test]
fn oom_score_adj() {
    let out = run_sh("cat /proc/self/oom_score_adj", |s| {
        s["process"]["oomScoreAdj"] = json!(500)
    })
    .ok();
    assert_eq!(out.stdout, "500\n");
}

#[test]
fn mounts_dev_and_links() {
    let out = run_sh(
        "grep -E ' (/proc|/dev|/dev/pts|/dev/shm|/dev/mqueue|/sys|/sys/fs/cgroup) ' /proc/self/mounts | cut -d' ' -f2,3 | sort; \
         ls /dev | sort | tr '\\n' ' '; echo; for l in /dev/ptmx /dev/fd /dev/stdin /dev/stdout /dev/stderr; do readlink $l; done; \
         stat -c '%t:%T %a' /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty; \
         echo x > /dev/null && head -c 3 /dev/zero | od -An -tx1",
        |_| {},
    )
    .ok();
    let mut lines = out.stdout.lines();
    let mounts: Vec<&str> = lines.by_ref().take(7).collect();
    // Pure cgroup v2 mounts the container's cgroup2 tree itself; v1 and
    // hybrid hosts get a tmpfs holding one mount per hierarchy.
    let unified = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .any(|l| l.contains(" /sys/fs/cgroup ") && l.contains(" - cgroup2 "));
    let cgroup = if unified {
        "/sys/fs/cgroup cgroup2"
    } else {
        "/sys/fs/cgroup tmpfs"
    };
    assert_eq!(
        mounts,
        vec![
            "/dev tmpfs",
            "/dev/mqueue mqueue",
            "/dev/pts devpts",
            "/dev/shm tmpfs",
            "/proc proc",
            "/sys sysfs",
            cgroup
        ]
    );
    let dev = lines.next().unwrap();
    for name in [
        "full", "fd", "mqueue", "null", "ptmx", "pts", "random", "shm", "stderr", "stdin",
        "stdout", "tty", "urandom", "zero",
    ] {
        assert!(
            dev.split_whitespace().any(|d| d == name),
            "/dev/{name} missing: {dev}"
        );
    }
    let links: Vec<&str> = lines.by_ref().take(5).collect();
    assert_eq!(
        links,
        vec![
            "pts/ptmx",
            "/proc/self/fd",
            "/proc/self/fd/0",
            "/proc/self/fd/1",
            "/proc/self/fd/2"
        ]
    );
    let nodes: Vec<&str> = lines.by_ref().take(6).collect();
    assert_eq!(
        nodes,
        vec!["1:3 666", "1:5 666", "1:7 666", "1:8 666", "1:9 666", "5:0 666"]
    );
    assert_eq!(lines.next().unwrap().trim(), "00 00 00");
}

#[test]
fn bind_mounts_with_options() {
    let h = Hako::new();
    let mut b = Bundle::sh("cat /data/file; echo new > /data/file 2>/dev/null && echo writable || echo readonly; cat /rw/file; echo changed > /rw/file; grep ' /data ' /proc/self/mounts | cut -d' ' -f4");
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("file"), "from host\n").unwrap();
    let rw = tempfile::tempdir().unwrap();
    std::fs::write(rw.path().join("file"), "rw\n").unwrap();
    b.edit(|s| {
        let m = s["mounts"].as_array_mut().unwrap();
        m.push(json!({"destination": "/data", "type": "bind", "source": host.path(), "options": ["rbind", "ro", "nosuid", "nodev"]}));
        m.push(json!({"destination": "/rw", "type": "bind", "source": rw.path(), "options": ["bind", "rw"]}));
    });
    let id = unique_id("bind");
    let out = h.run_bundle(&id, &b).ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(&lines[..3], &["from host", "readonly", "rw"]);
    let opts = lines[3];
    assert!(
        opts.starts_with("ro,") && opts.contains("nosuid") && opts.contains("nodev"),
        "{opts}"
    );
    assert_eq!(
        std::fs::read_to_string(rw.path().join("file")).unwrap(),
        "changed\n"
    );
    h.assert_gone(&id, &b, None);
}

#[test]
fn tmpfs_mount_options_and_copyup() {
    let h = Hako::new();
    let mut b = Bundle::sh("grep ' /scratch ' /proc/self/mounts | cut -d' ' -f3,4; stat -c %a /scratch; cat /etc/seed/keep");
    std::fs::create_dir_all(b.rootfs().join("etc/seed")).unwrap();
    std::fs::write(b.rootfs().join("etc/seed/keep"), "kept\n").unwrap();
    b.edit(|s| {
        let m = s["mounts"].as_array_mut().unwrap();
        m.push(json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "noexec", "mode=1777", "size=1m"]}));
        m.push(json!({"destination": "/etc/seed", "type": "tmpfs", "source": "tmpfs", "options": ["tmpcopyup"]}));
    });
    let id = unique_id("tmpfs");
    let out = h.run_bundle(&id, &b).ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(
        lines[0].starts_with("tmpfs rw,nosuid,")
            && lines[0].contains("noexec")
            && lines[0].contains("size=1024k"),
        "{}",
        lines[0]
    );
    assert_eq!(lines[1], "1777");
    assert_eq!(lines[2], "kept");
    h.assert_gone(&id, &b, None);
}

#[test]
fn masked_readonly_and_readonly_root() {
    // Mask whatever this kernel has: a file and a directory.
    let file = ["/proc/timer_list", "/proc/kcore", "/proc/keys"]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_file())
        .expect("no maskable /proc file");
    let dir = ["/proc/acpi", "/sys/firmware", "/proc/scsi"]
        .into_iter()
        .find(|p| std::path::Path::new(p).is_dir())
        .expect("no maskable directory");
    assert!(
        std::fs::read_dir(dir).unwrap().count() > 0
            || std::fs::read(file).is_ok_and(|c| !c.is_empty()),
        "nothing to hide on this host"
    );
    let script = format!(
        "wc -c < {file}; ls {dir} | wc -l; echo 1 > /proc/sys/kernel/ns_last_pid 2>/dev/null && echo sys-writable || echo sys-ro; \
         touch /newfile 2>/dev/null && echo root-writable || echo root-ro; touch /tmp/x 2>/dev/null && echo tmp-writable || echo tmp-ro"
    );
    let out = run_sh(&script, |s| {
        s["root"]["readonly"] = json!(true);
        s["linux"]["maskedPaths"] = json!([file, dir, "/proc/does-not-exist"]);
        s["mounts"]
            .as_array_mut()
            .unwrap()
            .push(json!({"destination": "/tmp", "type": "tmpfs", "source": "tmpfs"}));
    })
    .ok();
    assert_eq!(out.stdout, "0\n0\nsys-ro\nroot-ro\ntmp-writable\n");
}

#[test]
fn namespaces_differ_from_the_host() {
    let h = Hako::new();
    let mut b = Bundle::sh("for n in pid net ipc uts mnt cgroup time; do readlink /proc/self/ns/$n; done; echo $$; ls /proc | grep -cE '^[0-9]+$'");
    b.edit(|s| {
        s["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "time"}))
    });
    let id = unique_id("ns");
    let out = h.run_bundle(&id, &b).ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    for (i, n) in ["pid", "net", "ipc", "uts", "mnt", "cgroup", "time"]
        .iter()
        .enumerate()
    {
        // time's self link shows the namespace of the process's children
        // for a creator, but a member process sees its own.
        assert_ne!(lines[i], ns_of("self", n), "{n} namespace is the host's");
        assert!(lines[i].starts_with(&format!("{n}:[")), "{}", lines[i]);
    }
    assert_eq!(lines[7], "1", "the shell is pid 1");
    assert!(
        lines[8].parse::<u32>().unwrap() <= 3,
        "only the container's processes: {}",
        lines[8]
    );
    h.assert_gone(&id, &b, None);
}

#[test]
fn loopback_is_up_in_a_new_network_namespace() {
    let out = run_sh(
        "cat /sys/class/net/lo/operstate; cat /sys/class/net/lo/flags",
        |_| {},
    )
    .ok();
    let flags = u32::from_str_radix(
        out.stdout.lines().nth(1).unwrap().trim_start_matches("0x"),
        16,
    )
    .unwrap();
    assert_eq!(flags & 1, 1, "lo is up: {}", out.stdout);
}

#[test]
fn joining_a_namespace_by_path() {
    let h = Hako::new();
    let a = Bundle::busybox(&["sleep", "1000"]);
    let ida = unique_id("nsa");
    h.run(&["run", "-d", "--bundle", &a.arg(), &ida]).ok();
    let pid_a = h.pid(&ida).to_string();
    let mut b = Bundle::sh(
        "readlink /proc/self/ns/net; readlink /proc/self/ns/uts; readlink /proc/self/ns/ipc",
    );
    b.edit(|s| {
        s["linux"]["namespaces"] = json!([
            {"type": "pid"}, {"type": "mount"},
            {"type": "network", "path": format!("/proc/{pid_a}/ns/net")},
            {"type": "uts", "path": format!("/proc/{pid_a}/ns/uts")},
            {"type": "ipc", "path": format!("/proc/{pid_a}/ns/ipc")}
        ]);
        s.as_object_mut().unwrap().remove("hostname");
    });
    let idb = unique_id("nsb");
    let out = h.run_bundle(&idb, &b).ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], ns_of(&pid_a, "net"));
    assert_eq!(lines[1], ns_of(&pid_a, "uts"));
    assert_eq!(lines[2], ns_of(&pid_a, "ipc"));
    assert_ne!(lines[0], ns_of("self", "net"));
    h.run(&["delete", "--force", &ida]).ok();
    h.assert_gone(&ida, &a, None);
    h.assert_gone(&idb, &b, None);
}

#[test]
fn user_namespace_with_mappings() {
    let out = run_sh(
        "cat /proc/self/uid_map /proc/self/gid_map; id -u; ls -ln /bin/busybox | awk '{print $3}'",
        |s| {
            s["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "user"}));
            s["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
            s["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 0, "size": 65536}]);
        },
    )
    .ok();
    let lines: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], vec!["0", "0", "65536"]);
    assert_eq!(lines[1], vec!["0", "0", "65536"]);
    assert_eq!(lines[2], vec!["0"]);
}

#[test]
fn user_namespace_with_shifted_ids() {
    let h = Hako::new();
    let mut b = Bundle::sh("cat /proc/self/uid_map; id -u; cat /etc/hostname-file");
    std::fs::write(b.rootfs().join("etc/hostname-file"), "shifted\n").unwrap();
    // The mapped root is an unprivileged host user: it must be able to
    // reach the rootfs.
    std::fs::set_permissions(
        b.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    // The rootfs belongs to root on the host; make it readable to the
    // mapped ids (everything is world-readable already).
    b.edit(|s| {
        s["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(json!({"type": "user"}));
        s["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        s["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        // sysfs and cgroup cannot be mounted by a user-namespaced root
        // without its own network namespace ownership; keep it simple.
        s["mounts"]
            .as_array_mut()
            .unwrap()
            .retain(|m| m["type"] != "cgroup");
    });
    let id = unique_id("userns");
    let out = h.run_bundle(&id, &b).ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        lines[0].split_whitespace().collect::<Vec<_>>(),
        vec!["0", "100000", "65536"]
    );
    assert_eq!(lines[1], "0");
    assert_eq!(lines[2], "shifted");
    h.assert_gone(&id, &b, None);
}

#[test]
fn sysctl_in_the_container_namespace() {
    let out = run_sh(
        "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmni",
        |s| {
            s["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1", "kernel.shmmni": "1234"});
        },
    )
    .ok();
    assert_eq!(out.stdout, "1\n1234\n");
    assert_ne!(
        std::fs::read_to_string("/proc/sys/kernel/shmmni")
            .unwrap()
            .trim(),
        "1234",
        "host untouched"
    );
}

#[test]
fn linux_devices_are_created() {
    let out = run_sh("stat -c '%F %t:%T %a %u:%g' /dev/fuse /dev/loop-hako", |s| {
        s["linux"]["devices"] = json!([
            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438, "uid": 0, "gid": 0},
            {"path": "/dev/loop-hako", "type": "b", "major": 7, "minor": 200, "fileMode": 384, "uid": 1, "gid": 2}
        ]);
    })
    .ok();
    assert_eq!(
        out.stdout,
        "character special file a:e5 666 0:0\nblock special file 7:c8 600 1:2\n"
    );
}

#[test]
fn no_pivot_uses_chroot() {
    let h = Hako::new();
    let b = Bundle::sh("ls / | tr '\\n' ' '");
    let id = unique_id("nopivot");
    let out = h
        .run(&["run", "--no-pivot", "--bundle", &b.arg(), &id])
        .ok();
    assert!(
        out.stdout.contains("bin") && out.stdout.contains("proc"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("vmlinuz"),
        "host root visible: {}",
        out.stdout
    );
    h.assert_gone(&id, &b, None);
}

#[test]
fn rootfs_given_as_absolute_path() {
    let h = Hako::new();
    let mut b = Bundle::sh("echo absolute");
    let root = b.rootfs();
    b.edit(|s| s["root"]["path"] = json!(root));
    let id = unique_id("abs");
    assert_eq!(h.run_bundle(&id, &b).ok().stdout, "absolute\n");
    h.assert_gone(&id, &b, None);
}

/// A spec without a mount namespace shares the host's namespaces, yet runs
/// in its own rootfs, as under runc, crun and youki: hako binds the rootfs
/// in the host's mount namespace, init mounts inside that bind and
/// chroots, masked and read-only paths still hold, and `delete` removes
/// every mount it made.
#[test]
fn without_namespaces_the_container_runs_in_its_rootfs_and_leaves_no_mount() {
    let ns = ["mnt", "pid", "net", "ipc", "uts", "cgroup"];
    let mine: Vec<String> = ns.iter().map(|n| hako_tests::ns_of("self", n)).collect();
    let script = ns
        .iter()
        .map(|n| format!("readlink /proc/self/ns/{n};"))
        .collect::<String>()
        + "cat /marker; wc -c < /proc/timer_list; \
           (echo 1 > /proc/sys/kernel/ns_last_pid) 2>/dev/null && echo sys-writable || echo sys-ro; \
           ls / | tr '\\n' ' '";
    let h = hako_tests::Hako::new();
    let mut b = hako_tests::Bundle::sh(&script);
    b.edit(|s| {
        s["linux"]["namespaces"] = json!([]);
        s.as_object_mut().unwrap().remove("hostname");
    });
    std::fs::write(b.rootfs().join("marker"), "in the bundle's rootfs\n").unwrap();
    let id = hako_tests::unique_id("nomnt");
    let out = h.run_bundle(&id, &b).ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(
        &lines[..ns.len()],
        &mine[..],
        "every namespace is inherited"
    );
    assert_eq!(lines[ns.len()], "in the bundle's rootfs", "{out:?}");
    assert_eq!(
        lines[ns.len() + 1].trim(),
        "0",
        "/proc/timer_list is masked"
    );
    assert_eq!(lines[ns.len() + 2], "sys-ro", "/proc/sys is read-only");
    assert!(
        !lines[ns.len() + 3].contains("work") && lines[ns.len() + 3].contains("marker"),
        "/ is the rootfs, not the host's: {}",
        lines[ns.len() + 3]
    );
    h.assert_gone(&id, &b, None);
    // Every mount made in the host's namespace is gone with the container
    // (other tests mount in parallel: only this bundle's are compared).
    assert_eq!(
        hako_tests::host_mounts_under(b.path()),
        Vec::<String>::new()
    );
    assert_eq!(
        hako_tests::host_mounts_under(h.root()),
        Vec::<String>::new()
    );
}

/// A rootfs that is a mount point already (podman's overlay) stays
/// mounted after a container without a mount namespace is deleted: only
/// hako's own bind goes.
#[test]
fn without_a_mount_namespace_only_hakos_bind_is_removed() {
    let h = hako_tests::Hako::new();
    let mut b = hako_tests::Bundle::sh("cat /marker");
    b.edit(|s| {
        s["linux"]["namespaces"] = json!([]);
        s.as_object_mut().unwrap().remove("hostname");
    });
    let rootfs = b.rootfs();
    nix::mount::mount(
        Some(&rootfs),
        &rootfs,
        None::<&str>,
        nix::mount::MsFlags::MS_BIND | nix::mount::MsFlags::MS_REC,
        None::<&str>,
    )
    .unwrap();
    std::fs::write(rootfs.join("marker"), "kept\n").unwrap();
    let before = hako_tests::host_mounts_under(&rootfs);
    let id = hako_tests::unique_id("nomntbind");
    let out = h.run(&["create", "--bundle", &b.arg(), &id]).ok();
    // init mounted inside hako's bind of the rootfs in the state
    // directory, not on the caller's path.
    let during = hako_tests::host_mounts_under(h.root());
    assert!(during.len() > 1, "init mounted inside the bind: {out:?}");
    assert_eq!(hako_tests::host_mounts_under(&rootfs), before);
    // Nothing is stacked on the host's own root.
    let on_root = |info: &str| {
        info.lines()
            .filter(|l| l.split(' ').nth(4) == Some("/"))
            .count()
    };
    assert_eq!(
        on_root(&std::fs::read_to_string("/proc/self/mountinfo").unwrap()),
        1,
        "a mount was stacked on the host's /"
    );
    h.run(&["start", &id]).ok();
    h.run(&["delete", "--force", &id]).ok();
    let after = hako_tests::host_mounts_under(&rootfs);
    let left = hako_tests::host_mounts_under(h.root());
    nix::mount::umount2(&rootfs, nix::mount::MntFlags::MNT_DETACH).unwrap();
    assert_eq!(after, before, "the caller's own mount of the rootfs stays");
    assert_eq!(left, Vec::<String>::new(), "hako's bind is gone");
    h.assert_gone(&id, &b, None);
}

/// `linux.timeOffsets` in a new time namespace, with and without a new
/// user namespace (the offsets are written by a process holding
/// CAP_SYS_TIME in the user namespace that owns the time namespace), and
/// an exec'd process sees the same clocks as init.
#[test]
fn time_offsets_with_and_without_a_user_namespace_and_for_exec() {
    const DAYS_400: u64 = 400 * 86400;
    for userns in [false, true] {
        let h = Hako::new();
        let mut b = Bundle::busybox(&["sleep", "1000"]);
        b.edit(|s| {
            let ns = s["linux"]["namespaces"].as_array_mut().unwrap();
            ns.push(json!({"type": "time"}));
            s["linux"]["timeOffsets"] = json!({
                "boottime": {"secs": DAYS_400, "nanosecs": 0},
                "monotonic": {"secs": DAYS_400, "nanosecs": 0}
            });
            if userns {
                s["linux"]["namespaces"]
                    .as_array_mut()
                    .unwrap()
                    .push(json!({"type": "user"}));
                s["linux"]["uidMappings"] =
                    json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
                s["linux"]["gidMappings"] =
                    json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
                // A user-namespaced root may not mount the host's cgroups.
                s["mounts"]
                    .as_array_mut()
                    .unwrap()
                    .retain(|m| m["type"] != "cgroup");
            }
        });
        let id = unique_id(if userns { "timeuser" } else { "time" });
        h.run(&["run", "-d", "--bundle", &b.arg(), &id]).ok();
        let init_pid = h.pid(&id);
        // init's own view, read from the host.
        let offsets = std::fs::read_to_string(format!("/proc/{init_pid}/timens_offsets")).unwrap();
        let offsets: Vec<Vec<&str>> = offsets
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        let days = DAYS_400.to_string();
        for clock in ["monotonic", "boottime"] {
            assert!(
                offsets.contains(&vec![clock, days.as_str(), "0"]),
                "userns {userns}: {offsets:?}"
            );
        }
        assert_eq!(
            ns_of(&init_pid.to_string(), "time"),
            ns_of(&init_pid.to_string(), "time_for_children")
        );
        // An exec'd process: the same namespace, so the same clocks.
        let out = h
            .run(&[
                "exec",
                &id,
                "sh",
                "-c",
                "readlink /proc/self/ns/time; cut -d. -f1 /proc/uptime",
            ])
            .ok();
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(lines[0], ns_of(&init_pid.to_string(), "time"), "{out:?}");
        let uptime: u64 = lines[1].parse().unwrap();
        assert!(
            uptime >= DAYS_400,
            "userns {userns}: uptime {uptime} lacks the offset"
        );
        h.run(&["delete", "--force", &id]).ok();
        h.assert_gone(&id, &b, None);
    }
}
