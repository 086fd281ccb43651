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

impl Podman {
    fn new(hako: &Path) -> Podman {
        let dir = tempfile::Builder::new()
            .prefix("hako-podman-")
            .tempdir()
            .unwrap();
        let conf = dir.path().join("containers.conf");
        std::fs::write(
            &conf,
            format!(
                "[containers]\ndefault_ulimits = [\"nofile=20000:20000\", \"nproc=32768:32768\"]\n\
                 [engine]\ncgroup_manager = \"cgroupfs\"\nevents_logger = \"file\"\nruntime = \"hako\"\n\
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

#[test]
fn podman_runs_a_native_image() {
    let h = Hako::new();
    let p = Podman::new(&h.bin);
    let ctx = tempfile::tempdir().unwrap();
    std::fs::copy("/bin/busybox", ctx.path().join("busybox")).unwrap();
    std::fs::write(
        ctx.path().join("Containerfile"),
        "FROM scratch\nCOPY busybox /bin/busybox\nENTRYPOINT [\"/bin/busybox\", \"sh\", \"-c\"]\n",
    )
    .unwrap();
    p.build("localhost/hako-test/busybox", ctx.path(), None);
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
