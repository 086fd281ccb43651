//! Rootless podman, as people use it: an unprivileged user runs podman
//! with `--runtime hako`. podman starts hako as uid 0 of the user's own
//! user namespace, with `XDG_RUNTIME_DIR` set and no `--root`; hako must
//! keep its state there, bind devices instead of creating them, and run
//! native and wasm images like runc.
//!
//! The user (with sub-id ranges) is created once; storage (vfs), runtime
//! directory and home are fresh temporary directories per test. Networking
//! is `none`: the machine's /dev/net/tun is not the user's to open.

use std::path::{Path, PathBuf};

use hako_tests::users::chown_tree;
use hako_tests::wasm::example;

const USER: &str = "hako-podman";

/// The user's uid and gid, creating it and its sub-id ranges once.
fn user() -> (u32, u32) {
    hako_tests::users::ensure(USER, 500000)
}

struct RootlessPodman {
    uid: u32,
    gid: u32,
    home: tempfile::TempDir,
    hako: PathBuf,
    /// The user's systemd session, when the test runs under one.
    session: Option<Session>,
}

/// The user's own systemd instance: its runtime directory and bus.
struct Session {
    runtime_dir: PathBuf,
}

fn systemd_runs() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// Lingering for the user: systemd starts the user's instance
/// (user@<uid>.service, with its delegated cgroup) and keeps it running,
/// as for someone logged in. Waits for its session bus.
fn user_session(uid: u32) -> Session {
    let out = hako_tests::reaper::output(
        std::process::Command::new("loginctl").args(["enable-linger", USER]),
    )
    .expect("loginctl");
    assert!(
        out.status.success(),
        "loginctl enable-linger {USER}: {out:?}"
    );
    let runtime_dir = PathBuf::from(format!("/run/user/{uid}"));
    let bus = runtime_dir.join("bus");
    for _ in 0..600 {
        if bus.exists() {
            return Session { runtime_dir };
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!(
        "the systemd user instance of {USER} never opened {}",
        bus.display()
    );
}

impl RootlessPodman {
    fn new() -> RootlessPodman {
        Self::with_manager(false)
    }

    /// With `systemd`, podman's default on systemd hosts: the systemd
    /// cgroup manager in the user's own session.
    fn with_manager(systemd: bool) -> RootlessPodman {
        let (uid, gid) = user();
        let session = systemd.then(|| user_session(uid));
        let home = tempfile::Builder::new()
            .prefix("hako-rlpodman-")
            .tempdir()
            .unwrap();
        let conf = home.path().join(".config/containers");
        std::fs::create_dir_all(&conf).unwrap();
        let manager = if systemd { "systemd" } else { "cgroupfs" };
        std::fs::write(
            conf.join("containers.conf"),
            format!(
                "[containers]\ndefault_ulimits = [\"nofile=1024:1024\"]\n\
                 [engine]\ncgroup_manager = \"{manager}\"\nevents_logger = \"file\"\n"
            ),
        )
        .unwrap();
        std::fs::write(conf.join("storage.conf"), "[storage]\ndriver = \"vfs\"\n").unwrap();
        std::fs::create_dir(home.path().join("run")).unwrap();
        // The binary under test may sit where the user cannot reach it
        // (under /root): the user runs a copy, with its engine plugins.
        let built = hako_tests::hako_bin();
        let bin = home.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        hako_tests::copy_hako_with_plugins(&built, &bin);
        chown_tree(home.path(), uid, gid);
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(home.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
        std::fs::set_permissions(
            home.path().join("run"),
            std::fs::Permissions::from_mode(0o700),
        )
        .unwrap();
        RootlessPodman {
            uid,
            gid,
            hako: home.path().join("bin/hako"),
            home,
            session,
        }
    }

    /// Where podman and hako keep run-time state: the session's runtime
    /// directory, or a private one.
    fn runtime_dir(&self) -> PathBuf {
        match &self.session {
            Some(s) => s.runtime_dir.clone(),
            None => self.home.path().join("run"),
        }
    }

    /// A tool (podman, buildah) run as the user, in the user's session.
    fn run(&self, tool: &str, args: &[&str]) -> hako_tests::Out {
        let program = Path::new("/usr/bin").join(tool);
        let env = match &self.session {
            Some(s) => vec![
                ("XDG_RUNTIME_DIR", s.runtime_dir.display().to_string()),
                (
                    "DBUS_SESSION_BUS_ADDRESS",
                    format!("unix:path={}/bus", s.runtime_dir.display()),
                ),
            ],
            None => Vec::new(),
        };
        hako_tests::users::run_as_with(self.uid, self.gid, self.home.path(), &env, &program, args)
    }

    /// hako itself as the user.
    fn run_hako(&self, hako: &str, args: &[&str]) -> hako_tests::Out {
        hako_tests::users::run_as(self.uid, self.gid, self.home.path(), Path::new(hako), args)
    }

    fn podman(&self, args: &[&str]) -> hako_tests::Out {
        let runtime = self.hako.display().to_string();
        let mut all = vec!["--runtime", &runtime];
        all.extend_from_slice(args);
        self.run("podman", &all)
    }

    /// `localhost/hako-bb`: busybox at `/busybox`.
    fn busybox_image(&self) {
        self.image(
            "localhost/hako-bb",
            &[(Path::new("/bin/busybox"), "/busybox")],
            &["--cmd", "/busybox echo hi"],
        );
    }

    /// An image built by the user from scratch with `files` in it.
    fn image(&self, name: &str, files: &[(&Path, &str)], config: &[&str]) {
        let c = self.run("buildah", &["from", "scratch"]).ok();
        let c = c.stdout.trim();
        for (src, dest) in files {
            // The user must be able to read the source.
            let copy = self.home.path().join(dest.trim_start_matches('/'));
            std::fs::copy(src, &copy).unwrap();
            std::os::unix::fs::chown(&copy, Some(self.uid), Some(self.gid)).unwrap();
            self.run("buildah", &["copy", c, &copy.display().to_string(), dest])
                .ok();
        }
        let mut args = vec!["config"];
        args.extend_from_slice(config);
        args.push(c);
        self.run("buildah", &args).ok();
        self.run("buildah", &["commit", "-q", c, name]).ok();
    }
}

impl Drop for RootlessPodman {
    fn drop(&mut self) {
        // Rootless podman leaves a pause process holding its namespaces.
        let _ = self.run("podman", &["system", "migrate"]);
        let pause = self.runtime_dir().join("libpod/tmp/pause.pid");
        if let Some(pid) = std::fs::read_to_string(pause)
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
        {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
    }
}

#[test]
fn rootless_podman_runs_native_and_wasm_images() {
    let p = RootlessPodman::new();
    p.busybox_image();
    let out = p
        .podman(&[
            "run",
            "--rm",
            "--network",
            "none",
            "localhost/hako-bb",
            "/busybox",
            "echo",
            "hello-rootless",
        ])
        .ok();
    assert_eq!(out.stdout, "hello-rootless\n", "{out:?}");
    // hako's state went to $XDG_RUNTIME_DIR/hako, as runc's goes to
    // $XDG_RUNTIME_DIR/runc; nothing is left there after --rm.
    let state = p.home.path().join("run/hako");
    assert!(state.is_dir(), "no state root at {}", state.display());
    assert_eq!(std::fs::read_dir(&state).unwrap().count(), 0);
    assert!(
        !out.stderr.contains("cgroup mount skipped"),
        "a warning on every rootless run: {out:?}"
    );

    p.image(
        "localhost/hako-hello-wasm",
        &[(&example("hello.wasm"), "/hello.wasm")],
        &[
            "--annotation",
            "module.wasm.image/variant=compat",
            "--entrypoint",
            "[\"/hello.wasm\"]",
        ],
    );
    for engine in ["wasmtime", "wasmedge", "wasmer"] {
        let handler = format!("run.oci.handler={engine}");
        let out = p
            .podman(&[
                "run",
                "--rm",
                "--network",
                "none",
                "--annotation",
                &handler,
                "localhost/hako-hello-wasm",
            ])
            .ok();
        assert!(
            out.stdout.starts_with("hello from wasm\n"),
            "{engine}: {out:?}"
        );
    }

    // A detached container: exec, stop, rm.
    let name = hako_tests::unique_id("rlpod");
    p.podman(&[
        "run",
        "-d",
        "--network",
        "none",
        "--name",
        &name,
        "localhost/hako-bb",
        "/busybox",
        "sleep",
        "300",
    ])
    .ok();
    let out = p
        .podman(&["exec", &name, "/busybox", "echo", "exec-ok"])
        .ok();
    assert_eq!(out.stdout, "exec-ok\n");
    p.podman(&["stop", "-t", "0", &name]).ok();
    p.podman(&["rm", &name]).ok();
    assert_eq!(std::fs::read_dir(&state).unwrap().count(), 0);
}

/// Rootless podman with its default on a systemd host: the systemd cgroup
/// manager. hako asks the user's own systemd instance (session bus) for a
/// scope in the user's delegated cgroup, and the limits go there. Without
/// systemd, the flag is refused with a clear error.
#[test]
fn rootless_podman_under_the_users_systemd() {
    if !systemd_runs() {
        // A rootless bundle of the user's (the error comes before the
        // rootfs is used).
        let p = RootlessPodman::new();
        let hako = p.hako.display().to_string();
        let bundle = p.home.path().join("bundle");
        std::fs::create_dir_all(bundle.join("rootfs")).unwrap();
        chown_tree(&bundle, p.uid, p.gid);
        let b = bundle.display().to_string();
        p.run_hako(&hako, &["spec", "--rootless", "--bundle", &b])
            .ok();
        p.run_hako(
            &hako,
            &["--systemd-cgroup", "create", "--bundle", &b, "rlsd"],
        )
        .fails_with("systemd is not running");
        assert!(
            !p.runtime_dir().join("hako/rlsd").exists(),
            "state left behind"
        );
        return;
    }
    let p = RootlessPodman::with_manager(true);
    let uid = p.uid;
    p.busybox_image();
    let name = hako_tests::unique_id("rlsd");
    p.podman(&[
        "run",
        "-d",
        "--network",
        "none",
        "--pids-limit",
        "20",
        "--name",
        &name,
        "localhost/hako-bb",
        "/busybox",
        "sleep",
        "300",
    ])
    .ok();
    let id = p
        .podman(&["inspect", "--format", "{{.Id}}", &name])
        .ok()
        .stdout;
    let id = id.trim();
    let pid = p
        .podman(&["inspect", "--format", "{{.State.Pid}}", &name])
        .ok()
        .stdout;
    let pid: i32 = pid.trim().parse().expect("pid");
    let cgroup = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let scope = format!("libpod-{id}.scope");
    let want = format!("0::/user.slice/user-{uid}.slice/user@{uid}.service/user.slice/{scope}");
    assert_eq!(cgroup.trim(), want, "not in the user's scope");
    // The user's systemd knows the unit and holds the limit.
    let show = |prop: &str| {
        let machine = format!("{USER}@");
        let out = hako_tests::reaper::output(std::process::Command::new("systemctl").args([
            "--user", "-M", &machine, "show", "-p", prop, "--value", &scope,
        ]))
        .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(show("ActiveState"), "active");
    assert_eq!(show("TasksMax"), "20");
    let dir = Path::new("/sys/fs/cgroup").join(want.trim_start_matches("0::/"));
    assert_eq!(
        std::fs::read_to_string(dir.join("pids.max"))
            .unwrap()
            .trim(),
        "20"
    );
    let out = p
        .podman(&["exec", &name, "/busybox", "echo", "exec-ok"])
        .ok();
    assert_eq!(out.stdout, "exec-ok\n");
    p.podman(&["rm", "-f", "-t", "0", &name]).ok();
    assert!(!dir.exists(), "{} left behind", dir.display());
    let state = p.runtime_dir().join("hako");
    assert_eq!(
        std::fs::read_dir(&state).map(|d| d.count()).unwrap_or(0),
        0,
        "state left in {}",
        state.display()
    );
}
