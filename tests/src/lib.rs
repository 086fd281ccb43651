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
pub mod users;
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

/// Copies a hako binary and the engine plugins next to it
/// (`libhako_executor_*.so`, which hako loads from its own directory) into
/// `dir`; the copy's path.
pub fn copy_hako_with_plugins(bin: &Path, dir: &Path) -> PathBuf {
    let copy = dir.join("hako");
    std::fs::copy(bin, &copy).expect("copying the hako binary");
    let from = bin.parent().expect("the binary's directory");
    for entry in std::fs::read_dir(from).expect("the binary's directory") {
        let path = entry.expect("a directory entry").path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with("libhako_executor_") && name.ends_with(".so") {
            std::fs::copy(&path, dir.join(&*name)).expect("copying an engine plugin");
        }
    }
    copy
}

/// Runs `sh -c <script>` in a fresh container shaped by `edit`, in the
/// foreground, and checks that nothing is left behind.
pub fn run_sh(script: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Out {
    let h = Hako::new();
    let mut b = Bundle::sh(script);
    b.edit(edit);
    let id = unique_id("sh");
    let out = h.run_bundle(&id, &b);
    h.assert_gone(&id, &b, None);
    out
}

/// Receives a message and the one descriptor sent with it over a unix
/// socket (a console master, a seccomp notify fd).
pub fn recv_fd(sock: &impl std::os::fd::AsRawFd) -> (Vec<u8>, std::os::fd::RawFd) {
    let mut buf = vec![0u8; 65536];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = nix::sys::socket::recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        // Tests run in parallel threads: a received descriptor without
        // close-on-exec would leak into every hako spawned meanwhile.
        nix::sys::socket::MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .unwrap();
    let fd = msg
        .cmsgs()
        .unwrap()
        .find_map(|c| match c {
            nix::sys::socket::ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
            _ => None,
        })
        .expect("a descriptor");
    let n = msg.bytes;
    buf.truncate(n);
    (buf, fd)
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
