//! End to end with the real containerd: its runc shim (io.containerd.runc.v2)
//! driving hako as `BinaryName`, the way a Kubernetes RuntimeClass does.
//! Image annotations do not reach runtimes through containerd, so the
//! wasm case uses the `hako-wasm` name, which sniffs the entrypoint.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use hako_tests::{reaper, wasm::example, Hako};

fn tool(name: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/sbin", "/usr/local/bin"] {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("{name} is missing: the containerd end-to-end test needs it (apt-get install containerd buildah)");
}

/// A containerd of the test's own: its own root, state and socket.
struct Containerd {
    dir: tempfile::TempDir,
    daemon: Child,
}

impl Containerd {
    fn start() -> Containerd {
        let dir = tempfile::Builder::new()
            .prefix("hako-containerd-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        let config = d.join("config.toml");
        std::fs::write(
            &config,
            format!(
                "version = 2\nroot = \"{0}/root\"\nstate = \"{0}/state\"\n[grpc]\n  address = \"{0}/containerd.sock\"\n",
                d.display()
            ),
        )
        .unwrap();
        let log = std::fs::File::create(d.join("containerd.log")).unwrap();
        let mut cmd = Command::new(tool("containerd"));
        cmd.arg("--config")
            .arg(&config)
            .stdout(log.try_clone().unwrap())
            .stderr(log);
        let daemon = reaper::spawn(&mut cmd).unwrap();
        let c = Containerd { dir, daemon };
        for _ in 0..500 {
            if c.ctr(&["version"]).0 == 0 {
                return c;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "containerd did not start: {}",
            std::fs::read_to_string(c.dir.path().join("containerd.log")).unwrap_or_default()
        );
    }

    fn ctr(&self, args: &[&str]) -> (i32, String, String) {
        let mut c = Command::new(tool("ctr"));
        c.arg("-a")
            .arg(self.dir.path().join("containerd.sock"))
            .args(args)
            .stdin(std::process::Stdio::null());
        let out = reaper::output(&mut c).unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        reaper::untrack(self.daemon.id());
        // Shims outlive the daemon; their mounts and state are in the dir.
        let _ = Command::new("umount")
            .arg("-R")
            .arg("-l")
            .arg(self.dir.path().join("state"))
            .status();
    }
}

/// Builds an OCI archive holding the example module and busybox.
fn image(dir: &Path) -> PathBuf {
    let ctx = dir.join("ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    std::fs::copy(example("hello.wasm"), ctx.join("hello.wasm")).unwrap();
    std::fs::copy("/bin/busybox", ctx.join("busybox")).unwrap();
    std::fs::write(ctx.join("Containerfile"), "FROM scratch\nCOPY hello.wasm /hello.wasm\nCOPY busybox /bin/busybox\nENTRYPOINT [\"/hello.wasm\"]\n").unwrap();
    let buildah = |args: &[&str]| {
        let mut c = Command::new(tool("buildah"));
        c.arg("--root")
            .arg(dir.join("storage"))
            .arg("--runroot")
            .arg(dir.join("run"))
            .args(["--storage-driver", "vfs"])
            .args(args);
        let out = reaper::output(&mut c).unwrap();
        assert!(
            out.status.success(),
            "buildah {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    buildah(&[
        "build",
        "-q",
        "-t",
        "localhost/hako-test/hello",
        &ctx.display().to_string(),
    ]);
    let archive = dir.join("hello.tar");
    buildah(&[
        "push",
        "-q",
        "localhost/hako-test/hello",
        &format!(
            "oci-archive:{}:localhost/hako-test/hello:latest",
            archive.display()
        ),
    ]);
    archive
}

/// A containerd with the test image imported, and a `hako-wasm` link to
/// the hako under test (in the returned directory).
fn with_image(h: &Hako) -> (Containerd, tempfile::TempDir, PathBuf) {
    let links = tempfile::tempdir().unwrap();
    let wasm_bin = links.path().join("hako-wasm");
    std::os::unix::fs::symlink(&h.bin, &wasm_bin).unwrap();
    let c = Containerd::start();
    let archive = image(c.dir.path());
    let (code, _, err) = c.ctr(&["image", "import", &archive.display().to_string()]);
    assert_eq!(code, 0, "{err}");
    (c, links, wasm_bin)
}

#[test]
fn containerd_runc_shim_runs_hako() {
    let h = Hako::new();
    let (c, _links, wasm_bin) = with_image(&h);
    let image = "localhost/hako-test/hello:latest";

    // The wasm entrypoint, through hako-wasm.
    let wasm = wasm_bin.display().to_string();
    let (code, out, err) = c.ctr(&[
        "run",
        "--rm",
        "--runc-binary",
        &wasm,
        image,
        "wasm1",
        "/hello.wasm",
        "7",
        "via containerd",
    ]);
    assert!(
        out.starts_with("hello from wasm\narg[0]=/hello.wasm\narg[1]=7\narg[2]=via containerd\n"),
        "{out}\n{err}"
    );
    assert_eq!(code, 7, "{err}");

    // A native process, through plain hako.
    let native = h.bin.display().to_string();
    let (code, out, err) = c.ctr(&[
        "run",
        "--rm",
        "--runc-binary",
        &native,
        image,
        "native1",
        "/bin/busybox",
        "sh",
        "-c",
        "echo native via containerd; exit 3",
    ]);
    assert_eq!(out, "native via containerd\n", "{err}");
    assert_eq!(code, 3, "{err}");

    // Detached: the shim stops it with SIGTERM, which a wasm PID 1 obeys.
    let (code, _, err) = c.ctr(&[
        "run",
        "-d",
        "--runc-binary",
        &wasm,
        "--env",
        "HELLO_SPIN=1",
        image,
        "spin1",
    ]);
    assert_eq!(code, 0, "{err}");
    std::thread::sleep(Duration::from_millis(300));
    let (_, tasks, _) = c.ctr(&["task", "ls"]);
    assert!(
        tasks
            .lines()
            .any(|l| l.starts_with("spin1") && l.contains("RUNNING")),
        "{tasks}"
    );
    let (code, _, err) = c.ctr(&["task", "kill", "--signal", "SIGTERM", "spin1"]);
    assert_eq!(code, 0, "{err}");
    let mut stopped = String::new();
    for _ in 0..200 {
        let (_, tasks, _) = c.ctr(&["task", "ls"]);
        if tasks
            .lines()
            .any(|l| l.starts_with("spin1") && l.contains("STOPPED"))
        {
            stopped = tasks;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!stopped.is_empty(), "the guest ignored SIGTERM");
    let (code, _, err) = c.ctr(&["task", "delete", "spin1"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = c.ctr(&["container", "delete", "spin1"]);
    assert_eq!(code, 0, "{err}");
}

fn systemd_runs() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// `systemctl show -p PROP --value UNIT`.
fn unit_property(unit: &str, prop: &str) -> String {
    let out = reaper::output(Command::new("systemctl").args(["show", "-p", prop, "--value", unit]))
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// The runc shim with `SystemdCgroup = true` (as on Kubernetes nodes)
/// passes `--systemd-cgroup` and a `slice:prefix:name` cgroupsPath: the
/// container, native or wasm, lands in the scope systemd reports, and the
/// unit is gone with the task. Without systemd, hako refuses the flag.
#[test]
fn containerd_with_the_systemd_cgroup_driver() {
    let h = Hako::new();
    let (c, _links, wasm_bin) = with_image(&h);
    let image = "localhost/hako-test/hello:latest";
    let native = h.bin.display().to_string();
    let wasm = wasm_bin.display().to_string();
    let tag = std::process::id();
    for (binary, name, args) in [
        (
            &native,
            format!("sdnative{tag}"),
            vec!["/bin/busybox", "sleep", "300"],
        ),
        (&wasm, format!("sdwasm{tag}"), vec!["/hello.wasm"]),
    ] {
        let cgroup = format!("system.slice:hako-ctr:{name}");
        let mut run = vec![
            "run",
            "-d",
            "--runc-binary",
            binary,
            "--runc-systemd-cgroup",
            "--cgroup",
            &cgroup,
        ];
        if args[0] == "/hello.wasm" {
            run.extend(["--env", "HELLO_SPIN=1"]);
        }
        run.extend([image, &name]);
        run.extend(args.iter().copied());
        let (code, out, err) = c.ctr(&run);
        if !systemd_runs() {
            assert_ne!(code, 0, "{name}: started without systemd: {out}");
            assert!(err.contains("systemd is not running"), "{name}: {err}");
            let _ = c.ctr(&["container", "delete", &name]);
            continue;
        }
        assert_eq!(code, 0, "{name}: {err}");
        let unit = format!("hako-ctr-{name}.scope");
        assert_eq!(unit_property(&unit, "ActiveState"), "active", "{unit}");
        let group = unit_property(&unit, "ControlGroup");
        assert_eq!(group, format!("/system.slice/{unit}"));
        let (_, tasks, _) = c.ctr(&["task", "ls"]);
        let pid: i32 = tasks
            .lines()
            .find(|l| l.starts_with(&name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{name} not in {tasks}"));
        let own = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
        assert_eq!(own.trim(), format!("0::{group}"), "{name}");
        let (code, _, err) = c.ctr(&["task", "kill", "--signal", "SIGKILL", &name]);
        assert_eq!(code, 0, "{err}");
        for _ in 0..250 {
            let (_, tasks, _) = c.ctr(&["task", "ls"]);
            if tasks
                .lines()
                .any(|l| l.starts_with(&name) && l.contains("STOPPED"))
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let (code, _, err) = c.ctr(&["task", "delete", &name]);
        assert_eq!(code, 0, "{err}");
        let (code, _, err) = c.ctr(&["container", "delete", &name]);
        assert_eq!(code, 0, "{err}");
        let load = unit_property(&unit, "LoadState");
        let state = unit_property(&unit, "ActiveState");
        assert!(
            load == "not-found" || state == "inactive",
            "{unit}: {load} {state}"
        );
        let dir = Path::new("/sys/fs/cgroup").join(group.trim_start_matches('/'));
        assert!(!dir.exists(), "{} left behind", dir.display());
    }
}
