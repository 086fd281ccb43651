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
}

impl RootlessPodman {
    fn new() -> RootlessPodman {
        let (uid, gid) = user();
        let home = tempfile::Builder::new()
            .prefix("hako-rlpodman-")
            .tempdir()
            .unwrap();
        let conf = home.path().join(".config/containers");
        std::fs::create_dir_all(&conf).unwrap();
        std::fs::write(
            conf.join("containers.conf"),
            "[containers]\ndefault_ulimits = [\"nofile=1024:1024\"]\n\
             [engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\n",
        )
        .unwrap();
        std::fs::write(conf.join("storage.conf"), "[storage]\ndriver = \"vfs\"\n").unwrap();
        std::fs::create_dir(home.path().join("run")).unwrap();
        // The binary under test may sit where the user cannot reach it
        // (under /root): the user runs a copy, with its WasmEdge plugin.
        let built = hako_tests::hako_bin();
        let bin = home.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::copy(&built, bin.join("hako")).unwrap();
        let plugin = "libhako_executor_wasmedge.so";
        if let Some(p) = built
            .parent()
            .map(|d| d.join(plugin))
            .filter(|p| p.is_file())
        {
            std::fs::copy(p, bin.join(plugin)).unwrap();
        }
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
        }
    }

    /// A tool (podman, buildah) run as the user, in the user's session.
    fn run(&self, tool: &str, args: &[&str]) -> hako_tests::Out {
        let program = Path::new("/usr/bin").join(tool);
        hako_tests::users::run_as(self.uid, self.gid, self.home.path(), &program, args)
    }

    fn podman(&self, args: &[&str]) -> hako_tests::Out {
        let runtime = self.hako.display().to_string();
        let mut all = vec!["--runtime", &runtime];
        all.extend_from_slice(args);
        self.run("podman", &all)
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
        let pause = self.home.path().join("run/libpod/tmp/pause.pid");
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
    p.image(
        "localhost/hako-bb",
        &[(Path::new("/bin/busybox"), "/busybox")],
        &["--cmd", "/busybox echo hi"],
    );
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
