//! Known container-escape classes, each attempted for real.

use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;

use hako_tests::{unique_id, Bundle, Hako};
use serde_json::json;

/// A fingerprint of a file: size, modification time and contents.
fn fingerprint(path: &std::path::Path) -> (u64, std::time::SystemTime, Vec<u8>) {
    let m = std::fs::metadata(path).unwrap();
    (m.len(), m.modified().unwrap(), std::fs::read(path).unwrap())
}

/// CVE-2019-5736: a container process rewrites the runtime binary through
/// /proc/<pid>/exe of a runtime process that entered the container. hako
/// never re-executes itself, and its processes inside the container are
/// not dumpable until they exec, so /proc/<pid>/exe stays closed to the
/// container.
#[test]
fn the_runtime_binary_cannot_be_overwritten_through_proc_exe() {
    let h = Hako::new();
    let before = fingerprint(&h.bin);
    // The attacker: every process it can see, again and again.
    let attack = "while true; do for p in /proc/[0-9]*; do \
                  [ $p = /proc/$$ ] && continue; \
                  (echo pwned > $p/exe) 2>/dev/null && echo OVERWROTE $p >> /tmp/attack; \
                  cat $p/exe > /dev/null 2>&1 && head -c 4 $p/exe 2>/dev/null | grep -q ELF && echo READ $p $(cat $p/comm) >> /tmp/attack; \
                  done; done";
    let b = Bundle::sh(attack);
    let id = unique_id("cve5736");
    h.run(&["run", "-d", "--bundle", &b.arg(), &id]).ok();
    // Runtime processes enter the container while it attacks.
    for _ in 0..30 {
        h.run(&["exec", &id, "true"]).ok();
    }
    let log = std::fs::read_to_string(b.rootfs().join("tmp/attack")).unwrap_or_default();
    h.run(&["delete", "--force", &id]).ok();
    assert!(!log.contains("OVERWROTE"), "{log}");
    // Reading its own children's binaries (the shell's) is fine; reading
    // hako's (comm "hako") would be the first half of the attack.
    assert!(
        !log.lines().any(|l| l.ends_with(" hako")),
        "a hako process was readable: {log}"
    );
    assert_eq!(fingerprint(&h.bin), before, "the hako binary changed");
    h.assert_gone(&id, &b, None);
}

/// The same from a wasm guest, which runs inside hako's own process:
/// init's /proc/1/exe is the hako binary.
#[test]
fn a_wasm_guest_cannot_overwrite_the_runtime() {
    let h = Hako::new();
    let before = fingerprint(&h.bin);
    for engine in ["wasmtime", "wasmedge", "wasmer"] {
        let mut b = hako_tests::wasm::wasm_bundle(engine, &["/app/hello.wasm"]);
        b.edit(|s| {
            s["process"]["env"]
                .as_array_mut()
                .unwrap()
                .push(json!("HELLO_FILE=/proc/1/exe"));
            s["process"]["env"]
                .as_array_mut()
                .unwrap()
                .push(json!("HELLO_READ=/proc/1/root/etc/hostname"));
        });
        let id = unique_id("wasm5736");
        let out = h.run_bundle(&id, &b);
        assert!(
            out.stdout.contains("file /proc/1/exe: error"),
            "{engine}: {out:?}"
        );
        h.assert_gone(&id, &b, None);
    }
    assert_eq!(fingerprint(&h.bin), before, "the hako binary changed");
}

/// CVE-2024-21626: a descriptor leaked into the runtime names a host
/// directory; process.cwd (or exec --cwd) points at it through
/// /proc/self/fd. hako closes every descriptor it does not own before
/// the container can see it, so there is nothing to point at.
#[test]
fn a_leaked_descriptor_cannot_become_the_working_directory() {
    let h = Hako::new();
    let host_dir = std::fs::File::open("/").unwrap();
    let raw = host_dir.as_raw_fd();
    let leak = move |cmd: &mut std::process::Command| {
        // SAFETY: dup2 onto fd 7 (without close-on-exec) before exec.
        unsafe {
            cmd.pre_exec(move || {
                libc::dup2(raw, 7);
                Ok(())
            });
        }
    };
    for cwd in ["/proc/self/fd/7", "/proc/1/fd/7"] {
        let mut b = Bundle::sh("pwd; ls");
        b.edit(|s| s["process"]["cwd"] = json!(cwd));
        let id = unique_id("cve21626");
        let mut cmd = h.cmd();
        cmd.args(["run", "--bundle", &b.arg(), &id])
            .stdin(std::process::Stdio::null());
        leak(&mut cmd);
        let out = h.exec(cmd);
        assert_ne!(
            out.code, 0,
            "a cwd through a leaked fd was accepted: {out:?}"
        );
        assert!(
            !out.stdout.contains("vmlinuz") && !out.stdout.contains("boot"),
            "host root listed: {out:?}"
        );
        h.assert_gone(&id, &b, None);
    }
    // exec --cwd, same trick.
    let b = Bundle::busybox(&["sleep", "100"]);
    let id = unique_id("cve21626e");
    h.run(&["run", "-d", "--bundle", &b.arg(), &id]).ok();
    let mut cmd = h.cmd();
    cmd.args(["exec", "--cwd", "/proc/self/fd/7", &id, "ls"])
        .stdin(std::process::Stdio::null());
    leak(&mut cmd);
    let out = h.exec(cmd);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(!out.stdout.contains("boot"), "{out:?}");
    h.run(&["delete", "--force", &id]).ok();
    h.assert_gone(&id, &b, None);
    drop(host_dir);
}

/// A symlink in the rootfs must not redirect a mount, a device node or a
/// masked path to the host.
#[test]
fn symlinks_in_the_rootfs_cannot_redirect_outside() {
    let h = Hako::new();
    let target = tempfile::tempdir().unwrap();
    let victim = target.path().join("victim");
    std::fs::write(&victim, "host data\n").unwrap();
    let mut b = Bundle::sh("ls /evil /devlink; echo done");
    let r = b.rootfs();
    std::os::unix::fs::symlink(target.path(), r.join("evil")).unwrap();
    std::os::unix::fs::symlink(
        format!("../../../../../../..{}", target.path().display()),
        r.join("devlink"),
    )
    .unwrap();
    std::os::unix::fs::symlink(&victim, r.join("masklink")).unwrap();
    b.edit(|s| {
        s["mounts"].as_array_mut().unwrap().push(json!({"destination": "/evil/mnt", "type": "tmpfs", "source": "tmpfs"}));
        s["mounts"].as_array_mut().unwrap().push(json!({"destination": "/evil/victim", "type": "bind", "source": "/etc/hostname", "options": ["bind", "ro"]}));
        s["linux"]["devices"] = json!([{"path": "/devlink/null2", "type": "c", "major": 1, "minor": 3}]);
        s["linux"]["maskedPaths"].as_array_mut().unwrap().push(json!("/masklink"));
        s["linux"]["readonlyPaths"].as_array_mut().unwrap().push(json!("/evil"));
    });
    let id = unique_id("symlink");
    let out = h.run_bundle(&id, &b);
    assert!(out.stdout.contains("done"), "{out:?}");
    // Nothing happened on the host side of the links.
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "host data\n");
    let entries: Vec<_> = std::fs::read_dir(target.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        entries,
        vec![std::ffi::OsString::from("victim")],
        "created on the host: {entries:?}"
    );
    assert!(hako_tests::host_mounts_under(target.path()).is_empty());
    // The links' targets were created inside the rootfs instead.
    assert!(r
        .join(target.path().strip_prefix("/").unwrap())
        .join("mnt")
        .is_dir());
    h.assert_gone(&id, &b, None);
}

/// Masking binds /dev/null over files such as /proc/kcore (here the
/// always-present /proc/version). With a /dev the
/// spec brings in, /dev/null could be anything: a planted file must be
/// refused rather than bound over the masked path.
#[test]
fn a_planted_dev_null_is_not_used_to_mask() {
    let h = Hako::new();
    let dev = tempfile::tempdir().unwrap();
    std::fs::write(dev.path().join("null"), "not the null device\n").unwrap();
    let mut b = Bundle::sh("cat /proc/version");
    b.edit(|s| {
        let mounts = s["mounts"].as_array_mut().unwrap();
        mounts.retain(|m| !m["destination"].as_str().unwrap().starts_with("/dev"));
        mounts.push(json!({"destination": "/dev", "type": "bind", "source": dev.path(), "options": ["rbind"]}));
        s["linux"]["maskedPaths"] = json!(["/proc/version"]);
    });
    let id = unique_id("devnull");
    h.run(&["create", "--bundle", &b.arg(), &id])
        .fails_with("/dev/null is not the null device");
    h.assert_gone(&id, &b, None);
    assert!(hako_tests::host_mounts_under(dev.path()).is_empty());
}

/// A copy of the hako binary under test (with its engine plugins), for
/// attacks that would destroy the binary they win against.
fn disposable_hako(h: &mut Hako) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("hako-victim-")
        .tempdir()
        .unwrap();
    let copy = hako_tests::copy_hako_with_plugins(&h.bin, dir.path());
    h.bin = copy;
    dir
}

/// Every capability set of the bundle's process gets CAP_SYS_PTRACE.
fn grant_ptrace(b: &mut Bundle) {
    b.edit(|s| {
        for set in ["bounding", "effective", "permitted"] {
            s["process"]["capabilities"][set]
                .as_array_mut()
                .unwrap()
                .push(json!("CAP_SYS_PTRACE"));
        }
    });
}

/// Reopens descriptor 3 (a hako binary, opened through /proc/<pid>/exe)
/// for writing while that fails only because the binary is running
/// (ETXTBSY), at most `tries` times; logs a success, and the last error,
/// to /tmp/attack.
const REOPEN_FOR_WRITING: &str = "i=0; while [ $i -lt $tries ]; do \
     if (echo pwned > /proc/self/fd/3) 2>/tmp/err; then echo OVERWROTE >> /tmp/attack; break; fi; \
     grep -q busy /tmp/err || break; \
     i=$((i+1)); done; echo \"last error: $(cat /tmp/err)\" >> /tmp/attack";

/// A string in every hako binary: an attacker that caught a hako process
/// just as it exec'd the workload holds that program instead, and moves on.
const HAKO_MARK: &str = "_HAKO_ORIGINAL_EXE";

/// CVE-2019-5736 by a container that holds CAP_SYS_PTRACE: being
/// non-dumpable does not keep hako's processes from it. It opens
/// /proc/<pid>/exe of each hako `exec` process that enters the container,
/// and once that hako is gone reopens the descriptor for writing. hako
/// runs such containers from a read-only view of its binary: the open
/// succeeds (the attack is real) and the write fails with EROFS.
#[test]
fn with_cap_sys_ptrace_the_binary_stays_read_only_for_exec() {
    // Declared first, dropped last: Hako's clean-up runs the copy.
    let _victim;
    let mut h = Hako::new();
    _victim = disposable_hako(&mut h);
    let before = fingerprint(&h.bin);
    let attack = format!(
        "tries=5000; while true; do for p in /proc/[0-9]*; do \
           [ $p = /proc/$$ ] && continue; \
           [ \"$(cat $p/comm 2>/dev/null)\" = hako ] || continue; \
           command exec 3< $p/exe 2>/dev/null || continue; \
           grep -q {HAKO_MARK} <&3 || {{ exec 3<&-; continue; }}; \
           echo OPENED $p >> /tmp/attack; {REOPEN_FOR_WRITING}; exec 3<&-; \
         done; done"
    );
    let mut b = Bundle::sh(&attack);
    grant_ptrace(&mut b);
    let id = unique_id("ptrace5736");
    h.run(&["run", "-d", "--bundle", &b.arg(), &id]).ok();
    let log_path = b.rootfs().join("tmp/attack");
    let read = || std::fs::read_to_string(&log_path).unwrap_or_default();
    // Exec until the attacker holds a hako binary (it has to catch a
    // short-lived exec process, which may take a while on a busy host).
    for _ in 0..400 {
        if read().contains("OPENED") {
            break;
        }
        h.run(&["exec", &id, "true"]).ok();
    }
    // Then give it time to reopen that binary once no hako runs it:
    // it won (the binary may no longer run) or lost.
    let mut log = read();
    for _ in 0..1000 {
        log = read();
        if log.contains("last error") || log.contains("OVERWROTE") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    h.run(&["delete", "--force", &id]).ok();
    assert!(
        log.contains("OPENED"),
        "the attack never got hold of a hako binary: {log}"
    );
    assert!(!log.contains("OVERWROTE"), "{log}");
    assert!(log.contains("Read-only file system"), "{log}");
    assert_eq!(fingerprint(&h.bin), before, "the hako binary changed");
    h.assert_gone(&id, &b, None);
}

/// The same against a wasm container's init, which runs hako's code all
/// its life: a native process `exec`ed into it (no pid namespace, so it
/// outlives init) opens /proc/<init>/exe, init is killed, and the
/// descriptor is reopened for writing.
#[test]
fn with_cap_sys_ptrace_a_wasm_init_is_read_only() {
    for engine in ["wasmtime", "wasmedge", "wasmer"] {
        let _victim;
        let mut h = Hako::new();
        _victim = disposable_hako(&mut h);
        let before = fingerprint(&h.bin);
        let mut b = hako_tests::wasm::wasm_bundle(engine, &["/app/hello.wasm"]);
        grant_ptrace(&mut b);
        b.edit(|s| {
            s["process"]["env"]
                .as_array_mut()
                .unwrap()
                .push(json!("HELLO_SLEEP=60"));
            s["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .retain(|n| n["type"] != "pid");
        });
        let id = unique_id("wptrace");
        h.create(&id, &b);
        let init = h.pid(&id);
        h.run(&["start", &id]).ok();
        let attack = format!(
            "tries=5000; exec 3< /proc/{init}/exe || exit 1; echo OPENED >> /tmp/attack; \
             while [ -e /proc/{init}/exe ]; do :; done; {REOPEN_FOR_WRITING}"
        );
        h.run(&["exec", "-d", &id, "/bin/sh", "-c", &attack]).ok();
        let log_path = b.rootfs().join("tmp/attack");
        let mut log = String::new();
        for _ in 0..500 {
            log = std::fs::read_to_string(&log_path).unwrap_or_default();
            if log.contains("OPENED") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert!(
            log.contains("OPENED"),
            "{engine}: the attacker could not open /proc/{init}/exe: {log}"
        );
        h.run(&["kill", &id, "KILL"]).ok();
        for _ in 0..1000 {
            log = std::fs::read_to_string(&log_path).unwrap_or_default();
            if log.contains("last error") {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        // Checked first: a binary that was overwritten no longer runs.
        assert!(!log.contains("OVERWROTE"), "{engine}: {log}");
        h.run(&["delete", "--force", &id]).ok();
        assert!(log.contains("Read-only file system"), "{engine}: {log}");
        assert_eq!(
            fingerprint(&h.bin),
            before,
            "{engine}: the hako binary changed"
        );
        h.assert_gone(&id, &b, None);
    }
}
