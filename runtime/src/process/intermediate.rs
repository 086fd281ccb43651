//! The intermediate process: enters the cgroup and namespaces, then forks
//! container init into them.
//!
//! It exists because a new pid (and time) namespace only applies to the
//! children of the process that creates it, and because a new user
//! namespace must get its id maps from hako, outside it, before anything
//! else happens inside.

use std::os::fd::{AsFd, AsRawFd};

use nix::sched::CloneFlags;
use nix::unistd::{fork, ForkResult};
use oci_spec::runtime::LinuxNamespaceType;

use super::channel::{ChildEnd, ToChild, ToHako};
use super::launcher::{child_main, exit_child, InitConfig};
use super::{fds, init};
use crate::error::{Context, Error, Result};
use crate::namespaces::plan::{self, flag};
use crate::namespaces::NamespacePlan;
use crate::syscall::{LinuxSyscall, Syscall};

/// Runs in the intermediate process; returns once init is forked.
/// `in_cgroup`: hako forked it into the container's cgroup v2 directory.
pub fn run(cfg: &InitConfig, channel: &ChildEnd, in_cgroup: bool) -> Result<()> {
    enter(&LinuxSyscall, cfg, channel, in_cgroup)?;
    // SAFETY: this process is single-threaded.
    match unsafe { fork() }.ctx(|| "forking container init".into())? {
        ForkResult::Child => {
            let code = child_main(channel, || init::run(cfg, channel));
            exit_child(code)
        }
        ForkResult::Parent { child } => channel.send(&ToHako::InitPid(child.as_raw())),
    }
}

/// Everything before init is forked: hide hako's binary, drop hako's
/// descriptors, join the cgroup, then enter the namespaces.
fn enter(sys: &dyn Syscall, cfg: &InitConfig, channel: &ChildEnd, in_cgroup: bool) -> Result<()> {
    // Not dumpable until the workload execs (which resets it): while this
    // process and init run hako's code, no process of the container can
    // open /proc/<pid>/exe — the hako binary — or ptrace them
    // (CVE-2019-5736). An in-process wasm guest stays non-dumpable.
    sys.prctl(libc::PR_SET_DUMPABLE, 0)
        .ctx(|| "making container set-up non-dumpable".into())?;
    // Drop everything hako had open (the state lock among them) except the
    // channel, the console socket and the log.
    let mut keep = vec![channel.raw_fd()];
    keep.extend(cfg.console_socket.as_ref().map(|s| s.as_raw_fd()));
    keep.extend(cfg.seccomp_listener.as_ref().map(|s| s.as_raw_fd()));
    keep.extend(crate::logging::file_fd());
    keep.extend(cfg.gate.iter().flat_map(|g| g.raw_fds()));
    keep.extend(cfg.idmapped_mounts.iter().map(|(_, fd)| fd.as_raw_fd()));
    fds::close_from(sys, 3 + cfg.preserved_fds, &keep)?;

    // Join the cgroup first (the v2 directory may have been joined by the
    // fork): a new cgroup namespace is rooted at the cgroup its creator is
    // in. A systemd unit is started by hako, with this process in it; the
    // join then covers the hierarchies systemd does not manage.
    if cfg.cgroups.systemd.is_some() {
        match channel.recv()? {
            Some(ToChild::CgroupReady) => {}
            other => {
                return Err(Error::invalid(format!(
                    "expected the systemd unit to be started, got {other:?}"
                )))
            }
        }
    }
    cfg.cgroups.manager().join_self(in_cgroup)?;

    let plan = &cfg.bundle.plan.namespaces;
    enter_namespaces(sys, plan, channel)?;
    if plan.creates(LinuxNamespaceType::Time) {
        if let Some(offsets) = plan::time_offsets(&cfg.bundle.spec) {
            write_time_offsets(&offsets)?;
        }
    }
    Ok(())
}

/// Writes the new time namespace's offsets, before init (its first
/// member) exists. The file is writable only by its owner, and a
/// non-dumpable process's /proc files belong to the host's root, which a
/// new user namespace does not map: for the write this process is
/// dumpable, so the file is its own and the namespace's CAP_SYS_TIME,
/// which it holds as root of the user namespace owning the new time
/// namespace, is what the kernel checks. Nothing of the container runs
/// yet that could use the moment.
fn write_time_offsets(offsets: &str) -> Result<()> {
    nix::sys::prctl::set_dumpable(true)
        .ctx(|| "making the intermediate dumpable for its time offsets".into())?;
    let written = std::fs::write("/proc/self/timens_offsets", offsets)
        .ctx(|| "writing linux.timeOffsets".into());
    nix::sys::prctl::set_dumpable(false).ctx(|| "making container set-up non-dumpable".into())?;
    written
}

fn path_of(plan: &crate::namespaces::NamespacePlan, typ: LinuxNamespaceType) -> String {
    plan.join
        .iter()
        .find(|(t, _)| *t == typ)
        .map(|(_, p)| p.display().to_string())
        .unwrap_or_default()
}

fn describe(plan: &crate::namespaces::NamespacePlan) -> String {
    plan.create
        .iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Joins the namespaces the plan names, creates the user namespace (hako
/// writes its id maps), becomes root in it, then creates the rest: the
/// order the kernel needs, since a user namespace must own the others.
fn enter_namespaces(sys: &dyn Syscall, plan: &NamespacePlan, channel: &ChildEnd) -> Result<()> {
    for (typ, fd) in plan.open_joins()? {
        sys.setns(fd.as_fd(), flag(typ))
            .ctx(|| format!("joining {typ} namespace {}", path_of(plan, typ)))?;
    }
    if plan.new_user {
        sys.unshare(CloneFlags::CLONE_NEWUSER)
            .ctx(|| "creating the user namespace".into())?;
        // hako, unprivileged when rootless, writes our maps through
        // /proc/<pid>: that needs us dumpable for a moment.
        sys.prctl(libc::PR_SET_DUMPABLE, 1)
            .ctx(|| "making the intermediate dumpable for its id maps".into())?;
        channel.send(&ToHako::MapIds)?;
        match channel.recv()? {
            Some(ToChild::IdsMapped) => sys
                .prctl(libc::PR_SET_DUMPABLE, 0)
                .ctx(|| "making container set-up non-dumpable".into())?,
            other => {
                return Err(Error::invalid(format!(
                    "expected the id maps to be written, got {other:?}"
                )))
            }
        }
    }
    if plan.has(LinuxNamespaceType::User) {
        // Become root of the user namespace for the rest of the set-up.
        sys.setresgid(0)
            .ctx(|| "setting gid 0 in the user namespace".into())?;
        sys.setresuid(0)
            .ctx(|| "setting uid 0 in the user namespace".into())?;
    }
    let flags = plan.unshare_flags();
    if !flags.is_empty() {
        sys.unshare(flags)
            .ctx(|| format!("creating namespaces {}", describe(plan)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::{Call, RecordingSyscall};

    fn plan(namespaces: serde_json::Value) -> NamespacePlan {
        let spec: oci_spec::runtime::Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.2.0", "linux": {"namespaces": namespaces}
        }))
        .unwrap();
        NamespacePlan::from_spec(&spec)
    }

    /// Joined namespaces first, then the new user namespace (with hako
    /// writing its maps while the intermediate is dumpable), root in it,
    /// then every other new namespace in one unshare.
    #[test]
    fn namespaces_are_entered_user_first() {
        let ipc = std::fs::read_link("/proc/self/ns/ipc").unwrap();
        let plan = plan(serde_json::json!([
            {"type": "user"}, {"type": "pid"}, {"type": "mount"},
            {"type": "ipc", "path": "/proc/self/ns/ipc"}
        ]));
        let (hako, channel) = super::super::channel::pair().unwrap();
        let answer = std::thread::spawn(move || {
            assert!(matches!(hako.recv(), Ok(Some(ToHako::MapIds))));
            hako.send(&ToChild::IdsMapped).unwrap();
        });
        let sys = RecordingSyscall::default();
        enter_namespaces(&sys, &plan, &channel).unwrap();
        answer.join().unwrap();
        let dumpable = |on| Call::Prctl {
            option: libc::PR_SET_DUMPABLE,
            arg: on,
            arg2: 0,
        };
        assert_eq!(
            sys.calls(),
            vec![
                Call::Setns {
                    ns: ipc,
                    nstype: CloneFlags::CLONE_NEWIPC
                },
                Call::Unshare {
                    flags: CloneFlags::CLONE_NEWUSER
                },
                dumpable(1),
                dumpable(0),
                Call::Setresgid { gid: 0 },
                Call::Setresuid { uid: 0 },
                Call::Unshare {
                    flags: CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS
                },
            ]
        );
    }

    /// Without a user namespace nothing changes ids, and a refused id map
    /// stops the sequence before any other namespace is made.
    #[test]
    fn no_user_namespace_and_a_refused_map() {
        let sys = RecordingSyscall::default();
        let (_hako, channel) = super::super::channel::pair().unwrap();
        enter_namespaces(&sys, &plan(serde_json::json!([{"type": "uts"}])), &channel).unwrap();
        assert_eq!(
            sys.calls(),
            vec![Call::Unshare {
                flags: CloneFlags::CLONE_NEWUTS
            }]
        );
        let (hako, channel) = super::super::channel::pair().unwrap();
        drop(hako);
        let sys = RecordingSyscall::default();
        let plan = plan(serde_json::json!([{"type": "user"}, {"type": "pid"}]));
        assert!(enter_namespaces(&sys, &plan, &channel).is_err());
        // The user namespace was made; nothing after the refused map.
        assert_eq!(
            sys.calls(),
            vec![
                Call::Unshare {
                    flags: CloneFlags::CLONE_NEWUSER
                },
                Call::Prctl {
                    option: libc::PR_SET_DUMPABLE,
                    arg: 1,
                    arg2: 0
                },
            ]
        );
    }

    /// The whole intermediate, before it forks init: hako's binary hidden
    /// first, then every descriptor but the channel closed, then the
    /// namespaces made.
    #[test]
    fn the_intermediate_hides_closes_then_enters() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = crate::process::test_config::init_config(tmp.path());
        let (_hako, channel) = super::super::channel::pair().unwrap();
        let sys = RecordingSyscall::default();
        enter(&sys, &cfg, &channel, true).unwrap();
        let ch = channel.raw_fd() as u32;
        let mut closed = vec![Call::CloseRange {
            first: ch + 1,
            last: u32::MAX,
        }];
        if ch > 3 {
            closed.insert(
                0,
                Call::CloseRange {
                    first: 3,
                    last: ch - 1,
                },
            );
        }
        let mut expected = vec![Call::Prctl {
            option: libc::PR_SET_DUMPABLE,
            arg: 0,
            arg2: 0,
        }];
        expected.extend(closed);
        expected.push(Call::Unshare {
            flags: CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWNS | CloneFlags::CLONE_NEWUTS,
        });
        assert_eq!(sys.calls(), expected);
    }
}
