//! CVE-2019-5736 when the container may ptrace: hako runs from a
//! read-only view of its own binary.
//!
//! hako's processes inside a container (init until it execs the workload,
//! for a wasm guest all its life, and every `exec` until it execs) have
//! the hako binary as `/proc/<pid>/exe`. They are not dumpable, which
//! closes that link to the container, unless a process there holds
//! `CAP_SYS_PTRACE` over hako's user namespace: then it can open the
//! binary through the link and, once hako has exited, reopen that
//! descriptor for writing and replace the host's runtime.
//!
//! For such containers (no user namespace of their own, and
//! `CAP_SYS_PTRACE` in the bounding set), `create` and `exec` first
//! re-execute hako from a detached, read-only bind mount of its binary
//! (`open_tree(OPEN_TREE_CLONE)`, `mount_setattr(MOUNT_ATTR_RDONLY)`,
//! `execveat`). Every process forked afterwards has that mount as its
//! executable's: any open for writing fails with EROFS, and the mount is
//! in no mount namespace the container can reach. Other containers keep
//! the fast path: the exec costs a few milliseconds (the binary is large).

use std::ffi::{CString, OsString};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use oci_spec::runtime::{Capability, LinuxNamespaceType, Spec};

use crate::error::{Context, Error, Result};
use crate::syscall::Syscall;

/// Set for the re-executed hako: the path of the binary it came from
/// (its plugins live next to it), and a guard against re-executing twice.
pub const ORIGINAL_EXE_ENV: &str = "_HAKO_ORIGINAL_EXE";

/// Whether a process of this container could hold CAP_SYS_PTRACE over
/// hako's processes: the container has no user namespace (in one, its
/// capabilities do not reach processes of the host's) and the bounding
/// set (or `extra`, the capabilities an `exec` asks for) has it.
pub fn container_may_ptrace(spec: &Spec, extra: &[Capability]) -> bool {
    let linux = spec.linux().as_ref();
    let own_userns = linux
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| ns.iter().any(|n| n.typ() == LinuxNamespaceType::User));
    if own_userns {
        return false;
    }
    let bounding = spec
        .process()
        .as_ref()
        .and_then(|p| p.capabilities().as_ref())
        .and_then(|c| c.bounding().as_ref())
        .is_some_and(|b| b.contains(&Capability::SysPtrace));
    bounding || extra.contains(&Capability::SysPtrace)
}

/// Whether the running binary is on a read-only mount already.
pub fn running_readonly() -> bool {
    nix::sys::statvfs::statvfs("/proc/self/exe")
        .is_ok_and(|s| s.flags().contains(nix::sys::statvfs::FsFlags::ST_RDONLY))
}

/// The binary hako was started from: itself, or before a re-execution
/// from the read-only view, the original (whose directory holds the
/// WasmEdge plugin).
pub fn original_exe() -> std::io::Result<PathBuf> {
    match std::env::var_os(ORIGINAL_EXE_ENV) {
        Some(p) if !p.is_empty() => Ok(PathBuf::from(p)),
        _ => std::env::current_exe(),
    }
}

/// After a re-execution: `comm` says hako again (execveat of a
/// descriptor names the process after the descriptor's number).
pub fn after_start() {
    if std::env::var_os(ORIGINAL_EXE_ENV).is_some() {
        let _ = nix::sys::prctl::set_name(c"hako");
    }
}

/// Makes sure hako runs from a read-only binary before it sets up a
/// container that may ptrace: re-executes itself with the same arguments
/// if not. Returns when nothing needs doing.
pub fn ensure_readonly() -> Result<()> {
    if running_readonly() {
        return Ok(());
    }
    if std::env::var_os(ORIGINAL_EXE_ENV).is_some() {
        // Re-executed already, and still writable: never loop.
        return Err(Error::invalid(
            "the container may use CAP_SYS_PTRACE and hako could not run from a read-only view of its binary",
        ));
    }
    let original = std::env::current_exe().ctx(|| "reading /proc/self/exe".into())?;
    let view = readonly_view(&crate::syscall::LinuxSyscall)?;
    let args: Vec<CString> = std::env::args_os()
        .map(|a| {
            CString::new(a.as_bytes()).map_err(|_| Error::invalid("an argument has a NUL byte"))
        })
        .collect::<Result<_>>()?;
    let mut env: Vec<CString> = std::env::vars_os()
        .filter(|(k, _)| k != ORIGINAL_EXE_ENV)
        .filter_map(|(k, v)| {
            let mut kv = k;
            kv.push("=");
            kv.push(v);
            CString::new(kv.as_bytes()).ok()
        })
        .collect();
    let mut marker = OsString::from(format!("{ORIGINAL_EXE_ENV}="));
    marker.push(original.as_os_str());
    env.push(
        CString::new(marker.as_bytes())
            .map_err(|_| Error::invalid("the hako binary's path has a NUL byte"))?,
    );
    tracing::debug!(binary = %original.display(), "re-executing from a read-only view of the binary");
    let err = nix::unistd::execveat(&view, c"", &args, &env, nix::fcntl::AtFlags::AT_EMPTY_PATH)
        .unwrap_err();
    Err(Error::Sys {
        context: "re-executing hako from a read-only view of its binary".into(),
        errno: err,
    })
}

/// A detached read-only bind mount of the running binary.
fn readonly_view(sys: &dyn Syscall) -> Result<OwnedFd> {
    let tree = sys.open_tree(Path::new("/proc/self/exe"), false).ctx(|| {
        "making a read-only view of the hako binary (open_tree /proc/self/exe)".to_string()
    })?;
    const MOUNT_ATTR_RDONLY: u64 = 0x0000_0001;
    const MOUNT_ATTR_NODEV: u64 = 0x0000_0004;
    let attr = crate::syscall::MountAttr {
        attr_set: MOUNT_ATTR_RDONLY | MOUNT_ATTR_NODEV,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    sys.setattr_tree(tree.as_fd(), false, &attr)
        .ctx(|| "making the view of the hako binary read-only (mount_setattr)".into())?;
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::{Call, RecordingSyscall};

    /// The view is a detached clone of /proc/self/exe made read-only (and
    /// nodev) before anything runs from it.
    #[test]
    fn the_view_is_a_read_only_clone() {
        let sys = RecordingSyscall::default();
        readonly_view(&sys).unwrap();
        assert_eq!(
            sys.calls(),
            vec![
                Call::OpenTree {
                    path: "/proc/self/exe".into(),
                    recursive: false
                },
                Call::SetattrTree {
                    recursive: false,
                    set: 0x1 | 0x4,
                    userns: false
                },
            ]
        );
    }

    fn spec(v: serde_json::Value) -> Spec {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn only_containers_that_may_ptrace_hako() {
        let caps = |b: &[&str]| {
            serde_json::json!({"process": {"cwd": "/", "args": ["x"], "user": {"uid": 0, "gid": 0},
                "capabilities": {"bounding": b}}, "root": {"path": "r"}})
        };
        assert!(!container_may_ptrace(&spec(caps(&["CAP_KILL"])), &[]));
        assert!(container_may_ptrace(
            &spec(caps(&["CAP_KILL", "CAP_SYS_PTRACE"])),
            &[]
        ));
        assert!(container_may_ptrace(
            &spec(caps(&["CAP_KILL"])),
            &[Capability::SysPtrace]
        ));
        let mut with_userns = caps(&["CAP_SYS_PTRACE"]);
        with_userns["linux"] = serde_json::json!({"namespaces": [{"type": "user"}]});
        assert!(!container_may_ptrace(
            &spec(with_userns),
            &[Capability::SysPtrace]
        ));
    }
}
