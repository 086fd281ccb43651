//! Running the real `hako` binary with a private state root.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::bundle::Bundle;
use crate::reaper;

/// What a command did.
#[derive(Debug, Clone)]
pub struct Out {
    /// Exit code (128 + N if killed by signal N).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Out {
    /// Asserts success, showing the output otherwise.
    pub fn ok(self) -> Out {
        assert_eq!(self.code, 0, "command failed: {self:#?}");
        self
    }

    /// Asserts failure with exactly one line on stderr containing `needle`.
    pub fn fails_with(self, needle: &str) -> Out {
        assert_ne!(self.code, 0, "command should have failed: {self:#?}");
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "expected one error line: {self:#?}");
        assert!(
            lines[0].contains(needle),
            "error {:?} does not mention {needle:?}",
            lines[0]
        );
        assert!(
            lines[0].starts_with("hako: error: "),
            "error line lacks its prefix: {:?}",
            lines[0]
        );
        let msg = lines[0].trim_start_matches("hako: error: ");
        assert!(!msg.ends_with('.'), "error ends with a period: {msg:?}");
        assert!(
            msg.chars().next().is_some_and(|c| !c.is_uppercase()),
            "error is not lowercase: {msg:?}"
        );
        self
    }
}

/// The hako binary with a state root of its own.
pub struct Hako {
    /// The binary.
    pub bin: PathBuf,
    root: tempfile::TempDir,
}

impl Default for Hako {
    fn default() -> Self {
        Hako::new()
    }
}

impl Hako {
    /// A runner with a fresh state root.
    pub fn new() -> Hako {
        crate::require_root();
        reaper::install();
        let root = tempfile::Builder::new()
            .prefix("hako-root-")
            .tempdir()
            .unwrap();
        Hako {
            bin: crate::hako_bin(),
            root,
        }
    }

    /// The state root.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// A command with `--root` set.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.arg("--root").arg(self.root.path());
        c
    }

    /// Runs a prepared command to completion, stdin from /dev/null unless
    /// the command set it. Output goes to files, not pipes: a created
    /// container inherits hako's stdout and stderr and keeps them open.
    pub fn exec(&self, mut cmd: Command) -> Out {
        let stdout = tempfile::tempfile().unwrap();
        let stderr = tempfile::tempfile().unwrap();
        cmd.stdout(stdout.try_clone().unwrap())
            .stderr(stderr.try_clone().unwrap());
        let mut child = reaper::spawn(&mut cmd).expect("spawning hako");
        let pid = child.id();
        let status = child.wait().expect("waiting for hako");
        reaper::untrack(pid);
        use std::os::unix::process::ExitStatusExt;
        let code = status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
        Out {
            code,
            stdout: read_all(stdout),
            stderr: read_all(stderr),
        }
    }

    /// `hako --root R <args>`.
    pub fn run(&self, args: &[&str]) -> Out {
        let mut c = self.cmd();
        c.args(args).stdin(Stdio::null());
        self.exec(c)
    }

    /// `hako run` of a bundle in the foreground.
    pub fn run_bundle(&self, id: &str, bundle: &Bundle) -> Out {
        self.run(&["run", "--bundle", &bundle.arg(), id])
    }

    /// `hako create` that must succeed.
    pub fn create(&self, id: &str, bundle: &Bundle) -> Out {
        self.run(&["create", "--bundle", &bundle.arg(), id]).ok()
    }

    /// The parsed `hako state`.
    pub fn state(&self, id: &str) -> Value {
        let out = self.run(&["state", id]).ok();
        serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("state is not JSON ({e}): {}", out.stdout))
    }

    /// The status from `hako state`.
    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Init's pid from `hako state`.
    pub fn pid(&self, id: &str) -> i32 {
        self.state(id)["pid"].as_i64().unwrap_or_default() as i32
    }

    /// Waits (up to 10 s) until the container reaches `status`.
    pub fn wait_status(&self, id: &str, status: &str) {
        for _ in 0..1000 {
            if self.status(id) == status {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("container {id} never became {status}: {}", self.state(id));
    }

    /// Asserts that container `id` left nothing behind: no state, no
    /// cgroup, no mount under its rootfs, no live init.
    pub fn assert_gone(&self, id: &str, bundle: &Bundle, pid: Option<i32>) {
        assert!(
            !self.root.path().join(id).exists(),
            "state directory of {id} left behind"
        );
        let cgroups = crate::cgroup_dirs_named(id);
        assert!(
            cgroups.is_empty(),
            "cgroups of {id} left behind: {cgroups:?}"
        );
        let mounts = crate::host_mounts_under(&bundle.rootfs());
        assert!(mounts.is_empty(), "mounts left behind: {mounts:?}");
        if let Some(pid) = pid {
            for _ in 0..500 {
                if !crate::process_alive(pid) {
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            assert!(
                !crate::process_alive(pid),
                "container init {pid} still alive"
            );
        }
    }
}

fn read_all(mut f: std::fs::File) -> String {
    use std::io::{Read, Seek};
    let mut text = String::new();
    f.rewind().unwrap();
    f.read_to_string(&mut text).unwrap();
    text
}

impl Drop for Hako {
    fn drop(&mut self) {
        // A failed test must not leak containers into the next one.
        if let Ok(entries) = std::fs::read_dir(self.root.path()) {
            for e in entries.flatten() {
                let id = e.file_name().to_string_lossy().into_owned();
                let _ = self.run(&["delete", "--force", &id]);
            }
        }
    }
}
