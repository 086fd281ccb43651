//! End to end with the real podman and buildah from the distribution:
//! an image built with the wasm annotation runs its module through hako,
//! and a plain image runs natively.
//!
//! podman needs conmon, buildah, and on this kind of host
//! `default_ulimits` in containers.conf (root lacks CAP_SYS_RESOURCE, and
//! podman's default nofile would be above the hard limit). Storage (vfs)
//! and state go to a temporary directory: the host's podman is untouched.

use std::path::{Path, PathBuf};
use std::process::Command;

use hako_tests::{reaper, wasm::example, Hako};

struct Podman {
    dir: tempfile::TempDir,
    conf: PathBuf,
}

fn tool(name: &str) -> PathBuf {
    for dir in ["/usr/bin", "/usr/local/bin", "/bin"] {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!(
        "{name} is missing: the podman end-to-end tests need it (apt-get install podman buildah)"
    );
}

fn systemd_runs() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

impl Podman {
    fn new(hako: &Path) -> Podman {
        let dir = tempfile::Builder::new()
            .prefix("hako-podman-")
            .tempdir()
            .unwrap();
        let conf = dir.path().join("containers.conf");
        // podman's own default: the systemd cgroup manager where systemd
        // runs (hako gets --systemd-cgroup and machine.slice:libpod:<id>),
        // cgroupfs elsewhere.
        let manager = if systemd_runs() {
            "systemd"
        } else {
            "cgroupfs"
        };
        std::fs::write(
            &conf,
            format!(
                "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n\
                 [engine]\ncgroup_manager = \"{manager}\"\nevents_logger = \"file\"\nruntime = \"hako\"\n\
                 runtime_supports_json = [\"hako\"]\n[engine.runtimes]\nhako = [\"{}\"]\n",
                hako.display()
            ),
        )
        .unwrap();
        Podman { dir, conf }
    }

    fn cmd(&self, name: &str) -> Command {
        let mut c = Command::new(tool(name));
        let d = self.dir.path();
        c.env("CONTAINERS_CONF", &self.conf)
            .arg("--root")
            .arg(d.join("storage"))
            .arg("--runroot")
            .arg(d.join("run"))
            .arg("--storage-driver")
            .arg("vfs");
        c
    }

    fn run(&self, name: &str, args: &[&str]) -> (i32, String, String) {
        let mut c = self.cmd(name);
        c.args(args).stdin(std::process::Stdio::null());
        let out = reaper::output(&mut c).unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn build(&self, tag: &str, context: &Path, annotation: Option<&str>) {
        let mut args = vec!["build", "--layers=false", "-t", tag];
        if let Some(a) = annotation {
            args.extend(["--annotation", a]);
        }
        let ctx = context.display().to_string();
        args.push(&ctx);
        let (code, out, err) = self.run("buildah", &args);
        assert_eq!(code, 0, "buildah build failed:\n{out}\n{err}");
    }
}

#[test]
fn podman_runs_a_wasm_image_built_by_buildah() {
    let h = Hako::new();
    let p = Podman::new(&h.bin);
    hello_wasm_image(&p);

    let (code, out, err) = p.run(
        "podman",
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "localhost/hako-test/hello-wasm",
            "3",
            "from podman",
        ],
    );
    assert!(
        out.starts_with("hello from wasm\narg[0]=/hello.wasm\narg[1]=3\narg[2]=from podman\n"),
        "stdout:\n{out}\nstderr:\n{err}"
    );
    assert!(err.contains("hello stderr"), "{err}");
    assert_eq!(code, 3, "the module's exit code through podman: {err}");

    // Every engine, chosen per container.
    for engine in ["wasmtime", "wasmedge", "wasmer"] {
        let (code, out, err) = p.run(
            "podman",
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "--annotation",
                &format!("run.oci.handler={engine}"),
                "localhost/hako-test/hello-wasm",
                "5",
            ],
        );
        assert_eq!(code, 5, "{engine}: {out}\n{err}");
        assert!(out.starts_with("hello from wasm\n"), "{engine}: {out}");
    }
    let (code, out, _) = p.run("podman", &["ps", "-a", "--format", "{{.ID}}"]);
    assert_eq!(code, 0);
    assert!(out.trim().is_empty(), "podman --rm left containers: {out}");
}

/// `localhost/hako-test/hello-wasm`: hello.wasm from scratch, built by
/// buildah with the compat annotation, as users build wasm images.
fn hello_wasm_image(p: &Podman) {
    let ctx = tempfile::tempdir().unwrap();
    std::fs::copy(example("hello.wasm"), ctx.path().join("hello.wasm")).unwrap();
    std::fs::write(
        ctx.path().join("Containerfile"),
        "FROM scratch\nCOPY hello.wasm /hello.wasm\nENTRYPOINT [\"/hello.wasm\"]\n",
    )
    .unwrap();
    p.build(
        "localhost/hako-test/hello-wasm",
        ctx.path(),
        Some("module.wasm.image/variant=compat"),
    );
}

/// `podman pause` and `unpause` of a sleeping guest, on every engine: the
/// guest carries on and exits 0 (WasmEdge's sleep used to fail on the
/// thaw, and the guest aborted).
#[test]
fn podman_pause_and_unpause_keep_a_wasm_guest_running() {
    let h = Hako::new();
    let p = Podman::new(&h.bin);
    hello_wasm_image(&p);
    for engine in ["wasmtime", "wasmedge", "wasmer"] {
        let name = format!("hako-thaw-{engine}");
        let (code, _, err) = p.run(
            "podman",
            &[
                "run",
                "-d",
                "--name",
                &name,
                "--network",
                "none",
                "--env",
                "HELLO_SLEEP=15",
                "--annotation",
                &format!("run.oci.handler={engine}"),
                "localhost/hako-test/hello-wasm",
            ],
        );
        assert_eq!(code, 0, "{engine}: {err}");
        // Into the sleep: the greeting is printed before it. The sleep is
        // long enough for slow hosts (the test VM runs under TCG, where
        // each podman command takes seconds) to pause it before it ends.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !p
            .run("podman", &["logs", &name])
            .1
            .contains("hello from wasm")
        {
            assert!(
                std::time::Instant::now() < deadline,
                "{engine}: no greeting"
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
        for step in ["pause", "unpause"] {
            let (code, _, err) = p.run("podman", &[step, &name]);
            assert_eq!(code, 0, "{engine}: podman {step}: {err}");
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
        let (code, out, err) = p.run("podman", &["wait", &name]);
        assert_eq!((code, out.trim()), (0, "0"), "{engine}: podman wait: {err}");
        let (_, out, err) = p.run("podman", &["logs", &name]);
        assert!(
            !out.contains("panicked") && !err.contains("panicked"),
            "{engine}: the guest failed on the thaw:\n{out}\n{err}"
        );
        let (code, _, err) = p.run("podman", &["rm", &name]);
        assert_eq!(code, 0, "{engine}: {err}");
    }
}

/// `localhost/hako-test/busybox`: busybox from scratch, `sh -c` as its
/// entrypoint.
fn busybox_image(p: &Podman) {
    let ctx = tempfile::tempdir().unwrap();
    std::fs::copy("/bin/busybox", ctx.path().join("busybox")).unwrap();
    std::fs::write(
        ctx.path().join("Containerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nENTRYPOINT [\"/bin/busybox\", \"sh\", \"-c\"]\n",
    )
    .unwrap();
    p.build("localhost/hako-test/busybox", ctx.path(), None);
}

#[test]
fn podman_runs_a_native_image() {
    let h = Hako::new();
    let p = Podman::new(&h.bin);
    busybox_image(&p);
    let (code, out, err) = p.run(
        "podman",
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "localhost/hako-test/busybox",
            "echo native via podman; /bin/busybox hostname >/dev/null; exit 4",
        ],
    );
    assert_eq!(out, "native via podman\n", "{err}");
    assert_eq!(code, 4, "{err}");
    // Detached, then stop and remove through podman (kill, state, delete).
    let (code, id, err) = p.run(
        "podman",
        &[
            "run",
            "-d",
            "--network",
            "none",
            "localhost/hako-test/busybox",
            "/bin/busybox sleep 1000",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let id = id.trim().to_string();
    let (code, out, err) = p.run(
        "podman",
        &[
            "inspect",
            "--format",
            "{{.State.Status}} {{.OCIRuntime}}",
            &id,
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("running hako"), "{out}");
    let (code, _, err) = p.run("podman", &["rm", "-f", "-t", "0", &id]);
    assert_eq!(code, 0, "{err}");
}

/// The runtime hako is compared with on this host: crun where systemd
/// runs (the test VM, where Debian's crun works), runc on the hybrid
/// development host (where Debian's crun refuses the cgroup layout).
fn peer_runtime() -> &'static str {
    if systemd_runs() {
        "/usr/bin/crun"
    } else {
        "/usr/sbin/runc"
    }
}

/// What a user sees of one podman command: exit code and output.
fn seen(p: &Podman, args: &[&str]) -> (i32, String) {
    let (code, out, err) = p.run("podman", args);
    assert!(
        !err.contains("panicked"),
        "podman {args:?}: the runtime panicked: {err}"
    );
    (code, out)
}

/// One scenario through podman, for one runtime: limits seen from inside,
/// `-d`, `exec`, `pause`/`unpause`, `stats`, `update`, `stop`, and a pod.
/// Returns what each step showed, for comparing runtimes.
fn scenario(p: &Podman, runtime: &str, tag: &str) -> Vec<(String, (i32, String))> {
    let image = "localhost/hako-test/busybox";
    let mut seen_steps = Vec::new();
    let mut step = |name: &str, args: Vec<String>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut full = vec!["--runtime", runtime];
        full.extend(args);
        let out = seen(p, &full);
        seen_steps.push((name.to_string(), out.clone()));
        out
    };
    let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    // Limits as the container sees them (cgroup v2 files, or v1 ones).
    step(
        "limits",
        v(&[
            "run",
            "--rm",
            "--network",
            "none",
            "--memory",
            "64m",
            "--pids-limit",
            "20",
            image,
            "cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max 2>/dev/null || \
             cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max",
        ]),
    );
    let name = format!("hako-test-{tag}");
    let (code, _) = step(
        "run -d",
        v(&[
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            "none",
            image,
            "/bin/busybox sleep 1000",
        ]),
    );
    assert_eq!(code, 0, "{runtime}: podman run -d failed");
    step(
        "exec",
        v(&["exec", &name, "/bin/busybox", "echo", "exec ok"]),
    );
    step("pause", v(&["pause", &name]));
    step(
        "paused",
        v(&["inspect", "--format", "{{.State.Status}}", &name]),
    );
    step("unpause", v(&["unpause", &name]));
    step(
        "running",
        v(&["inspect", "--format", "{{.State.Status}}", &name]),
    );
    step(
        "stats",
        v(&[
            "stats",
            "--no-stream",
            "--format",
            "{{.Name}} {{.PIDs}}",
            &name,
        ]),
    );
    step("update", v(&["update", "--memory", "128m", &name]));
    step(
        "updated",
        v(&["exec", &name, "/bin/busybox", "sh", "-c",
            "cat /sys/fs/cgroup/memory.max 2>/dev/null || cat /sys/fs/cgroup/memory/memory.limit_in_bytes"]),
    );
    step("stop", v(&["stop", "-t", "1", &name]));
    step(
        "exited",
        v(&["inspect", "--format", "{{.State.Status}}", &name]),
    );
    step("rm", v(&["rm", &name]));
    // A pod (no infra image here: no registry to pull one from).
    let pod = format!("hako-pod-{tag}");
    step(
        "pod create",
        v(&["pod", "create", "--infra=false", "--name", &pod]),
    );
    step(
        "pod run",
        v(&[
            "run",
            "--rm",
            "--pod",
            &pod,
            "--network",
            "none",
            image,
            "echo in the pod",
        ]),
    );
    step("pod rm", v(&["pod", "rm", "-f", &pod]));
    seen_steps
}

/// podman drives hako exactly as it drives the host's reference runtime
/// (crun under systemd, runc elsewhere): every step shows the same exit
/// code and output, with podman's default cgroup manager for the host.
#[test]
fn podman_lifecycle_matches_the_reference_runtime() {
    let h = Hako::new();
    let p = Podman::new(&h.bin);
    busybox_image(&p);
    let peer = peer_runtime();
    assert!(Path::new(peer).is_file(), "{peer} is missing");
    let theirs = scenario(&p, peer, "peer");
    let ours = scenario(&p, &h.bin.display().to_string(), "hako");
    // The reference runtime must itself have worked, or the comparison
    // says nothing.
    let (_, limits) = &theirs[0].1;
    assert_eq!(
        limits.split_whitespace().collect::<Vec<_>>(),
        ["67108864", "20"],
        "{peer}"
    );
    for ((step, want), (_, got)) in theirs.iter().zip(&ours) {
        // Names differ by tag only.
        let got = (
            got.0,
            got.1
                .replace("hako-test-hako", "hako-test-peer")
                .replace("hako-pod-hako", "hako-pod-peer"),
        );
        if ["rm", "pod create", "pod rm", "run -d", "update"].contains(&step.as_str()) {
            // podman prints ids; only the exit code compares.
            assert_eq!(want.0, got.0, "step {step}: {peer} {want:?}, hako {got:?}");
            continue;
        }
        assert_eq!(
            *want, got,
            "step {step}: {peer} showed {want:?}, hako {got:?}"
        );
    }
    assert_eq!(ours.len(), theirs.len());
    let (code, out, _) = p.run("podman", &["ps", "-a", "--format", "{{.ID}}"]);
    assert_eq!(code, 0);
    assert!(out.trim().is_empty(), "containers left: {out}");
}
