//! seccomp from the spec: errno rules, kills, podman's default profile,
//! and a notify listener.

use hako_tests::{run_sh, unique_id, Bundle, Hako};
use serde_json::{json, Value};

/// Converts podman's containers-common profile (Docker format, with
/// capability-conditional rules) into the OCI profile podman would put in
/// config.json for a container with `caps`.
fn podman_profile(caps: &[&str]) -> Value {
    let path = "/usr/share/containers/seccomp.json";
    let raw: Value = serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e} (install podman)")),
    )
    .unwrap();
    let has = |list: &Value| {
        list.as_array()
            .is_none_or(|l| l.iter().all(|c| caps.contains(&c.as_str().unwrap())))
    };
    let none = |list: &Value| {
        list.as_array()
            .is_none_or(|l| l.iter().all(|c| !caps.contains(&c.as_str().unwrap())))
    };
    let arch_ok = |list: &Value| {
        list.as_array()
            .is_none_or(|l| l.iter().any(|a| a == "amd64" || a == "x86_64"))
    };
    let syscalls: Vec<Value> = raw["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| {
            has(&r["includes"]["caps"])
                && none(&r["excludes"]["caps"])
                && arch_ok(&r["includes"]["arches"])
        })
        .map(|r| {
            let mut r = r.clone();
            let o = r.as_object_mut().unwrap();
            for k in ["includes", "excludes", "comment"] {
                o.remove(k);
            }
            r
        })
        .collect();
    json!({
        "defaultAction": raw["defaultAction"],
        "defaultErrnoRet": raw["defaultErrnoRet"],
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": syscalls
    })
}

#[test]
fn errno_rules_return_their_errno() {
    let out = run_sh(
        "touch /tmp/f; chmod 600 /tmp/f; echo chmod=$?; mkdir /tmp/d; echo mkdir=$?",
        |s| {
            s["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["chmod", "fchmodat", "fchmodat2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}
            ]});
        },
    );
    assert_eq!(out.stdout, "chmod=1\nmkdir=1\n", "{out:?}");
    assert!(
        out.stderr.contains("Permission denied"),
        "errnoRet 13: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains("Operation not permitted"),
        "EPERM by default: {}",
        out.stderr
    );
}

#[test]
fn kill_process_action() {
    let out = run_sh("uname", |s| {
        s["process"]["args"] = json!(["uname"]);
        s["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["uname"], "action": "SCMP_ACT_KILL_PROCESS"}
        ]});
    });
    assert_eq!(out.code, 128 + libc::SIGSYS, "{out:?}");
}

#[test]
fn argument_conditions() {
    // Deny only personality(0xffffffff) (the query), allow the rest.
    let out = run_sh("setarch linux32 true; echo linux32=$?; uname -m", |s| {
        s["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
             "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}
        ]});
    });
    assert!(
        out.stdout.contains("linux32=1"),
        "personality(PER_LINUX32) denied: {out:?}"
    );
    assert!(out.stdout.contains("x86_64"), "{out:?}");
}

#[test]
fn podmans_default_profile_loads_and_denies() {
    let default_caps = hako_tests::bundle::DEFAULT_CAPS;
    let mut with_admin: Vec<&str> = default_caps.to_vec();
    with_admin.push("CAP_SYS_ADMIN");
    // With CAP_SYS_ADMIN the kernel would let sethostname through: any
    // denial comes from the filter.
    let admin_caps =
        json!({"bounding": with_admin, "effective": with_admin, "permitted": with_admin});
    let caps = admin_caps.clone();
    let free = run_sh("hostname changed && hostname", |s| {
        s["process"]["capabilities"] = caps
    });
    assert_eq!(free.stdout, "changed\n", "{free:?}");
    let profile = podman_profile(default_caps);
    let out = run_sh(
        "echo ok; hostname changed; echo hostname=$?; hostname",
        |s| {
            s["process"]["capabilities"] = admin_caps;
            s["linux"]["seccomp"] = profile;
        },
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "ok\nhostname=1\nhako-test\n");
    assert!(out.stderr.contains("Operation not permitted"), "{out:?}");
}

/// A profile from before close_range existed (runtime-tools' default and
/// older Docker profiles deny it): without noNewPrivileges it is loaded
/// before the capability drop, and what hako does after that, in init
/// and in exec, must not need the syscall.
#[test]
fn a_profile_without_close_range_runs_and_execs() {
    let mut profile = podman_profile(hako_tests::bundle::DEFAULT_CAPS);
    let mut removed = 0;
    for rule in profile["syscalls"].as_array_mut().unwrap() {
        let names = rule["names"].as_array_mut().unwrap();
        let before = names.len();
        names.retain(|n| n != "close_range");
        removed += before - names.len();
    }
    assert!(removed > 0, "podman's profile should allow close_range");
    assert_eq!(profile["defaultAction"], "SCMP_ACT_ERRNO");

    let h = Hako::new();
    let mut b = Bundle::sh("echo started; exec sleep 1000");
    b.edit(|s| {
        s["process"]["noNewPrivileges"] = json!(false);
        s["linux"]["seccomp"] = profile;
    });
    let id = unique_id("oldprofile");
    h.create(&id, &b).ok();
    h.run(&["start", &id]).ok();
    h.wait_status(&id, "running");
    let out = h.run(&[
        "exec",
        &id,
        "sh",
        "-c",
        "echo from-exec; grep NoNewPrivs /proc/self/status",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "from-exec\nNoNewPrivs:\t0\n", "{out:?}");
    h.run(&["delete", "--force", &id]).ok();
    h.assert_gone(&id, &b, None);
}

/// The x86_64 syscall numbers, from the kernel headers (linux-libc-dev,
/// which every C toolchain here has).
fn syscall_numbers() -> std::collections::HashMap<String, u32> {
    let path = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h";
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e} (install linux-libc-dev)"));
    text.lines()
        .filter_map(|l| {
            let mut words = l.strip_prefix("#define __NR_")?.split_whitespace();
            Some((words.next()?.to_string(), words.next()?.parse().ok()?))
        })
        .collect()
}

/// podman's profile as it would have been before clone3 (435): nothing
/// newer named, EPERM by default. glibc's pthread_create tries clone3
/// first and falls back to clone only on ENOSYS, so every engine's
/// threads depend on hako answering the unnamed newer syscalls with
/// ENOSYS, as runc does.
#[test]
fn wasm_engines_start_threads_under_a_profile_older_than_clone3() {
    let numbers = syscall_numbers();
    assert!(numbers.get("clone3") == Some(&435), "x86_64 numbering");
    let mut profile = podman_profile(hako_tests::bundle::DEFAULT_CAPS);
    for rule in profile["syscalls"].as_array_mut().unwrap() {
        rule["names"]
            .as_array_mut()
            .unwrap()
            .retain(|n| numbers.get(n.as_str().unwrap()).is_some_and(|nr| *nr < 435));
    }
    profile["defaultErrnoRet"] = Value::Null;
    profile["architectures"] = json!(["SCMP_ARCH_X86_64"]);
    let h = Hako::new();
    for engine in ["wasmtime", "wasmedge", "wasmer"] {
        let mut b = hako_tests::wasm::wasm_bundle(engine, &["/app/hello.wasm", "5"]);
        b.edit(|s| {
            s["process"]["noNewPrivileges"] = json!(false);
            s["linux"]["seccomp"] = profile.clone();
        });
        let id = unique_id("oldwasm");
        let out = h.run_bundle(&id, &b);
        assert_eq!(out.code, 5, "{engine}: {out:?}");
        assert!(out.stdout.contains("hello"), "{engine}: {out:?}");
        h.assert_gone(&id, &b, None);
    }
}

/// With thread creation denied outright, a guest that starts no thread
/// runs on every engine: each runs a command on init's own thread (wasmer
/// too, since its tasks stay there), compiled at `create` (before the
/// filter is loaded: compiling is set-up, not the workload) or loaded from
/// the cache.
#[test]
fn a_threadless_guest_needs_no_clone() {
    let h = Hako::new();
    for engine in ["wasmtime", "wasmedge", "wasmer"] {
        let cache = tempfile::tempdir().unwrap();
        let mut b = hako_tests::wasm::wasm_bundle(engine, &["/app/hello.wasm", "2"]);
        let run = |b: &hako_tests::Bundle, cache: &std::path::Path| {
            let id = unique_id("noclone");
            let mut cmd = h.cmd();
            cmd.env("HAKO_MODULE_CACHE", cache)
                .args(["run", "--bundle", &b.arg(), &id]);
            let out = h.exec(cmd);
            h.assert_gone(&id, b, None);
            out
        };
        b.edit(|s| {
            s["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["clone", "clone3"], "action": "SCMP_ACT_ERRNO"}
            ]});
        });
        // Off: compiled at create. Then compiled into the cache, and loaded.
        for cache in [std::path::Path::new("off"), cache.path(), cache.path()] {
            let out = run(&b, cache);
            assert_eq!(out.code, 2, "{engine}, cache {cache:?}: {out:?}");
            assert!(
                out.stdout.starts_with("hello from wasm\n"),
                "{engine}, cache {cache:?}: {out:?}"
            );
            assert_eq!(
                out.stderr, "hello stderr\n",
                "{engine}, cache {cache:?}: {out:?}"
            );
        }
    }
}

#[test]
fn notify_sends_the_listener_fd_and_state() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("agent.sock");
    let listener = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let agent = std::thread::spawn(move || -> (Value, u32) {
        let (conn, _) = listener.accept().unwrap();
        let (doc, fd) = hako_tests::recv_fd(&conn);
        let state: Value = serde_json::from_slice(&doc).unwrap();
        // Answer the first notification with EACCES.
        #[repr(C)]
        #[derive(Default)]
        struct Notif {
            id: u64,
            pid: u32,
            flags: u32,
            nr: i32,
            arch: u32,
            ip: u64,
            args: [u64; 6],
        }
        #[repr(C)]
        struct Resp {
            id: u64,
            val: i64,
            error: i32,
            flags: u32,
        }
        let mut n = Notif::default();
        // SAFETY: SECCOMP_IOCTL_NOTIF_RECV fills a zeroed seccomp_notif.
        let rc = unsafe { libc::ioctl(fd, 0xc050_2100u64 as _, &mut n as *mut Notif) };
        assert_eq!(rc, 0, "NOTIF_RECV: {}", std::io::Error::last_os_error());
        let resp = Resp {
            id: n.id,
            val: 0,
            error: -libc::EACCES,
            flags: 0,
        };
        // SAFETY: SECCOMP_IOCTL_NOTIF_SEND reads a valid seccomp_notif_resp.
        let rc = unsafe { libc::ioctl(fd, 0xc018_2101u64 as _, &resp as *const Resp) };
        assert_eq!(rc, 0, "NOTIF_SEND: {}", std::io::Error::last_os_error());
        (state, n.pid)
    });
    let h = Hako::new();
    let mut b = Bundle::sh("mkdir /tmp/agent-decides; echo mkdir=$?");
    let sock_path = sock.display().to_string();
    b.edit(|s| {
        s["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": sock_path, "listenerMetadata": "meta-42",
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}]});
    });
    let id = unique_id("notify");
    let out = h.run_bundle(&id, &b);
    let (state, _pid) = agent.join().unwrap();
    assert_eq!(out.stdout, "mkdir=1\n", "{out:?}");
    assert!(
        out.stderr.contains("Permission denied"),
        "the agent's answer: {out:?}"
    );
    assert_eq!(state["fds"], json!(["seccompFd"]));
    assert_eq!(state["metadata"], "meta-42");
    assert_eq!(state["state"]["id"], id.as_str());
    assert!(state["pid"].as_i64().unwrap() > 0);
    h.assert_gone(&id, &b, None);
}

#[test]
fn bad_profiles_fail_create() {
    let h = Hako::new();
    let mut b = Bundle::sh("true");
    b.edit(|s| s["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}));
    let id = unique_id("nolistener");
    h.run(&["create", "--bundle", &b.arg(), &id])
        .fails_with("listenerPath");
    h.assert_gone(&id, &b, None);
    let mut b = Bundle::sh("true");
    b.edit(|s| s["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_BOGUS"}));
    h.run(&["create", "--bundle", &b.arg(), &id])
        .fails_with("linux.seccomp.defaultAction");
    h.assert_gone(&id, &b, None);
    let mut b = Bundle::sh("true");
    b.edit(|s| {
        s["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 38})
    });
    h.run(&["create", "--bundle", &b.arg(), &id])
        .fails_with("linux.seccomp: defaultErrnoRet is set but defaultAction");
    h.assert_gone(&id, &b, None);
}
