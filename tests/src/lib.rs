//! Support for hako's end-to-end tests: busybox bundles, a runner for the
//! real `hako` binary with a private state root, a reaper for container
//! inits, and checks that a container left nothing behind.
//!
//! The tests need root, the `hako` binary (`HAKO_BIN`, or the one built
//! next to the test binary) and busybox-static (`/bin/busybox`). Missing
//! any of these is a failure with a message, never a silent pass.

pub mod bundle;
pub mod reaper;
pub mod runner;
pub mod wasm;

pub use bundle::Bundle;
pub use runner::{Hako, Out};

use std::path::{Path, PathBuf};

/// Fails loudly unless the tests can really run.
pub fn require_root() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "hako's end-to-end tests create real containers and must run as root"
    );
}

/// The hako binary under test.
pub fn hako_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("HAKO_BIN") {
        let p = PathBuf::from(p);
        assert!(p.is_file(), "HAKO_BIN={} does not exist", p.display());
        return p;
    }
    // target/<profile>/deps/<test> → target/<profile>/hako
    let exe = std::env::current_exe().expect("current_exe");
    let candidate = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("hako"))
        .expect("target dir");
    assert!(
        candidate.is_file(),
        "no hako binary at {} — build it first (cargo build -p hako) or set HAKO_BIN",
        candidate.display()
    );
    candidate
}

/// A unique container id for a test.
pub fn unique_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// Every cgroup directory of container `id` that exists on the host, for
/// any cgroupsPath ending in the id.
pub fn cgroup_dirs_named(name: &str) -> Vec<PathBuf> {
    let mut out = Vec::new();
    fn walk(dir: &Path, name: &str, depth: usize, out: &mut Vec<PathBuf>) {
        if depth > 4 {
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            if !e.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let p = e.path();
            if e.file_name() == name {
                out.push(p.clone());
            }
            walk(&p, name, depth + 1, out);
        }
    }
    walk(Path::new("/sys/fs/cgroup"), name, 0, &mut out);
    out
}

/// Mount points on the host under `prefix`.
pub fn host_mounts_under(prefix: &Path) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split(' ').nth(4).map(String::from))
        .filter(|mp| Path::new(mp).starts_with(prefix))
        .collect()
}

/// Whether a process exists and is not a zombie.
pub fn process_alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().next())
            .is_some_and(|st| st != "Z" && st != "X"),
        Err(_) => false,
    }
}

/// The inode of a namespace link, e.g. `net:[4026531840]`.
pub fn ns_of(pid: &str, ns: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{ns}"))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}
