//! `hako exec`: a new process in a running container.
//!
//! ```text
//! hako exec ──fork──▶ intermediate (forked into the cgroup v2 directory
//!                      unless an initial CPU affinity comes first): close
//!                      hako's fds, initial CPU affinity, join the
//!                      cgroup, final affinity,
//!                      setns into every namespace of container init that
//!                      differs from hako's, fork ──▶ exec process
//!     ◀── InitPid(n) ─┘ exits                        (waits)
//!     ── ResourcesApplied ──────────────────────────▶ set attributes, prepare
//!     ◀─────────────────────────── Ready / Error ─── run the executor chain
//! ```
//!
//! The exec process goes through the same executor chain as container
//! init, so a wasm container execs wasm.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};

use hako_executors::RuntimeOptions;
use nix::unistd::{fork, ForkResult};
use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};

use super::channel::{self, ChildEnd, ToChild, ToHako};
use super::handover::{self, Handover};
use super::launcher::{child_main, exit_child};
use super::session::{NoRequests, Session};
use crate::cgroups::CgroupSet;
use crate::error::{Context, Error, Result};
use crate::namespaces::plan::{flag, proc_name};
use crate::syscall::Syscall;
use crate::tuning::cpu_affinity::AffinityPlan;

/// What the forked processes need.
#[derive(Debug)]
pub struct ExecConfig {
    /// Container init's pid, whose namespaces are joined.
    pub init_pid: i32,
    /// The process to run.
    pub process: Process,
    /// Its planned attributes.
    pub plan: crate::spec::ProcessPlan,
    /// The container's spec (seccomp profile, annotations, root).
    pub spec: Spec,
    /// The container's cgroups.
    pub cgroups: CgroupSet,
    /// Where the pty master goes, for a process with a terminal.
    pub console_socket: Option<OwnedFd>,
    /// Descriptors from 3 up that the process inherits.
    pub preserved_fds: i32,
    /// Executor options.
    pub options: RuntimeOptions,
}

/// The namespaces of `pid` that differ from hako's own, opened.
fn namespaces_to_join(pid: i32) -> Result<Vec<(LinuxNamespaceType, OwnedFd)>> {
    let mut out = Vec::new();
    for typ in crate::namespaces::plan::JOIN_ORDER {
        let name = proc_name(typ);
        let theirs = format!("/proc/{pid}/ns/{name}");
        let Ok(their_ns) = std::fs::read_link(&theirs) else {
            continue;
        };
        // A time namespace applies to children: compare with ours for them.
        let own = if typ == LinuxNamespaceType::Time {
            "/proc/self/ns/time_for_children".to_string()
        } else {
            format!("/proc/self/ns/{name}")
        };
        if std::fs::read_link(&own).is_ok_and(|o| o == their_ns) {
            continue;
        }
        let fd = nix::fcntl::open(
            theirs.as_str(),
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .ctx(|| format!("opening {theirs}"))?;
        out.push((typ, fd));
    }
    Ok(out)
}

/// Starts the process; returns its pid once it is prepared and running.
pub fn launch(cfg: &ExecConfig) -> Result<i32> {
    let namespaces = namespaces_to_join(cfg.init_pid)?;
    let (parent, child) = channel::pair()?;
    let target = fork_target(&cfg.cgroups, cfg.plan.exec_affinity.as_ref());
    // SAFETY: hako is single-threaded here.
    let (forked, in_cgroup) = unsafe { super::clone_into::fork_into(target) };
    match forked.ctx(|| "forking the exec intermediate".into())? {
        ForkResult::Child => {
            drop(parent);
            let code = child_main(&child, || intermediate(cfg, namespaces, &child, in_cgroup));
            exit_child(code)
        }
        ForkResult::Parent {
            child: intermediate_pid,
        } => {
            drop(child);
            drop(namespaces);
            let mut session = Session::new(intermediate_pid, "the exec process");
            match session.serve(&parent, &mut |_| Ok(()), &mut NoRequests) {
                Ok(launched) => Ok(launched.pid),
                Err(e) => {
                    session.abort();
                    Err(e)
                }
            }
        }
    }
}

/// Where the exec intermediate is forked straight into (no threadgroup
/// lock, see `clone_into`): the cgroup v2 directory, unless an initial
/// CPU affinity must be set before the process joins.
fn fork_target<'a>(
    cgroups: &'a CgroupSet,
    affinity: Option<&AffinityPlan>,
) -> Option<&'a std::path::Path> {
    match affinity.and_then(|a| a.initial.as_ref()) {
        Some(_) => None,
        None => cgroups.fork_target(),
    }
}

fn intermediate(
    cfg: &ExecConfig,
    namespaces: Vec<(LinuxNamespaceType, OwnedFd)>,
    channel: &ChildEnd,
    in_cgroup: bool,
) -> Result<()> {
    enter(
        &crate::syscall::LinuxSyscall,
        cfg,
        &namespaces,
        channel,
        in_cgroup,
    )?;
    drop(namespaces);
    // SAFETY: single-threaded.
    match unsafe { fork() }.ctx(|| "forking the exec process".into())? {
        ForkResult::Child => {
            let code = child_main(channel, || exec_process(cfg, channel));
            exit_child(code)
        }
        ForkResult::Parent { child } => channel.send(&ToHako::InitPid(child.as_raw())),
    }
}

/// Everything before the exec process is forked: hide hako's binary, drop
/// hako's descriptors, join the cgroup, then the namespaces.
fn enter(
    sys: &dyn Syscall,
    cfg: &ExecConfig,
    namespaces: &[(LinuxNamespaceType, OwnedFd)],
    channel: &ChildEnd,
    in_cgroup: bool,
) -> Result<()> {
    // As in create's intermediate: no container process may reach the
    // hako binary through /proc/<pid>/exe while hako's code runs in there.
    sys.prctl(libc::PR_SET_DUMPABLE, 0)
        .ctx(|| "making the exec process non-dumpable".into())?;
    let mut keep = vec![channel.raw_fd()];
    keep.extend(cfg.console_socket.as_ref().map(|s| s.as_raw_fd()));
    keep.extend(namespaces.iter().map(|(_, fd)| fd.as_raw_fd()));
    keep.extend(crate::logging::file_fd());
    super::fds::close_from(sys, 3 + cfg.preserved_fds, &keep)?;
    join_cgroup(cfg, in_cgroup)?;
    join_namespaces(sys, namespaces)
}

/// Joins the container's cgroup (`in_cgroup`: its v2 directory was
/// joined by the fork) between the initial and the final CPU affinity of
/// `execCPUAffinity`.
fn join_cgroup(cfg: &ExecConfig, in_cgroup: bool) -> Result<()> {
    let affinity = cfg.plan.exec_affinity.clone().unwrap_or_default();
    affinity.apply_initial()?;
    cfg.cgroups.manager().join_self(in_cgroup)?;
    affinity.apply_final()
}

/// Joins container init's namespaces, in the order they were opened
/// (`JOIN_ORDER`: the user namespace first, the mount namespace last).
fn join_namespaces(sys: &dyn Syscall, namespaces: &[(LinuxNamespaceType, OwnedFd)]) -> Result<()> {
    for (typ, fd) in namespaces {
        sys.setns(fd.as_fd(), flag(*typ))
            .ctx(|| format!("joining the container's {typ} namespace"))?;
    }
    Ok(())
}

fn exec_process(cfg: &ExecConfig, channel: &ChildEnd) -> Result<()> {
    // hako knows our pid once it has this go-ahead: from here on the
    // channel carries our messages only.
    match channel.recv()? {
        Some(ToChild::ResourcesApplied) => {}
        _ => {
            return Err(Error::Child(
                "hako did not acknowledge the exec process".into(),
            ))
        }
    }
    nix::sys::signal::SigSet::empty()
        .thread_set_mask()
        .ctx(|| "resetting the signal mask".into())?;
    let process = &cfg.process;
    if process.terminal().unwrap_or(false) {
        crate::syscall::LinuxSyscall
            .setsid()
            .ctx(|| "setsid".into())?;
        let socket = cfg
            .console_socket
            .as_ref()
            .ok_or_else(|| Error::invalid("--tty needs --console-socket"))?;
        let size = process
            .console_size()
            .as_ref()
            .map(|b| (b.height() as u16, b.width() as u16));
        super::console::setup(&crate::syscall::LinuxSyscall, socket, size, false)?;
    }
    // A wasm container's native tools (a shell) run natively under exec.
    let options = hako_executors::RuntimeOptions {
        exec: true,
        ..cfg.options.clone()
    };
    let mut hako_fds = vec![channel.raw_fd()];
    hako_fds.extend(cfg.console_socket.as_ref().map(|s| s.as_raw_fd()));
    let armed = handover::arm(
        Handover {
            process,
            plan: &cfg.plan,
            linux: cfg.spec.linux().as_ref(),
            workload: crate::spec::workload(&cfg.spec, process, &[], &options),
            hako_fds,
            preserved_fds: cfg.preserved_fds,
            module_cache: false,
            seccomp_filter: None,
        },
        channel,
    )?;
    armed.report_ready(channel)?;
    // As runc: a failure after "ready" is the exec process's own, 255.
    exit_child(armed.run(255))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::{Call, RecordingSyscall};
    use nix::sched::CloneFlags;

    #[test]
    fn namespaces_are_joined_in_the_order_given_with_their_types() {
        let stand_in = || OwnedFd::from(std::fs::File::open("/dev/null").unwrap());
        let namespaces = vec![
            (LinuxNamespaceType::User, stand_in()),
            (LinuxNamespaceType::Network, stand_in()),
            (LinuxNamespaceType::Pid, stand_in()),
            (LinuxNamespaceType::Mount, stand_in()),
        ];
        let sys = RecordingSyscall::default();
        join_namespaces(&sys, &namespaces).unwrap();
        let joined: Vec<CloneFlags> = sys
            .calls()
            .into_iter()
            .map(|c| match c {
                Call::Setns { nstype, .. } => nstype,
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(
            joined,
            vec![
                CloneFlags::CLONE_NEWUSER,
                CloneFlags::CLONE_NEWNET,
                CloneFlags::CLONE_NEWPID,
                CloneFlags::CLONE_NEWNS,
            ]
        );
    }

    /// An initial CPU affinity comes before the cgroup: no fork into it
    /// then; a final one is set after joining, as is the cgroup's.
    #[test]
    fn the_exec_intermediate_forks_into_v2_unless_an_initial_affinity_comes_first() {
        use crate::cgroups::hierarchy::Version;
        use crate::cgroups::set::CgroupDir;
        let v2 = CgroupSet {
            dirs: vec![CgroupDir {
                version: Version::V2,
                controllers: vec![],
                mount_point: "/sys/fs/cgroup".into(),
                path: "/sys/fs/cgroup/hako/c1".into(),
            }],
            systemd: None,
        };
        let dir = Some(std::path::Path::new("/sys/fs/cgroup/hako/c1"));
        let affinity =
            |initial: Option<Vec<usize>>, last: Option<Vec<usize>>| AffinityPlan { initial, last };
        assert_eq!(fork_target(&v2, None), dir);
        assert_eq!(fork_target(&v2, Some(&affinity(None, Some(vec![0])))), dir);
        assert_eq!(fork_target(&v2, Some(&affinity(Some(vec![0]), None))), None);
    }

    /// The exec intermediate, before it forks the exec process: hako's
    /// binary hidden first, every descriptor but the channel and the
    /// namespaces closed, then the namespaces joined.
    #[test]
    fn the_exec_intermediate_hides_closes_then_joins() {
        let tmp = tempfile::tempdir().unwrap();
        let init = crate::process::test_config::init_config(tmp.path());
        let spec = init.bundle.spec.clone();
        let process = spec.process().clone().unwrap();
        let cfg = ExecConfig {
            init_pid: 1,
            plan: crate::spec::ProcessPlan::new(&process, spec.linux().as_ref()).unwrap(),
            process,
            spec,
            cgroups: init.cgroups,
            console_socket: None,
            preserved_fds: 0,
            options: Default::default(),
        };
        let (_hako, channel) = super::super::channel::pair().unwrap();
        let stand_in = || OwnedFd::from(std::fs::File::open("/dev/null").unwrap());
        let namespaces = vec![
            (LinuxNamespaceType::Pid, stand_in()),
            (LinuxNamespaceType::Mount, stand_in()),
        ];
        let sys = RecordingSyscall::default();
        enter(&sys, &cfg, &namespaces, &channel, true).unwrap();
        let calls = sys.calls();
        assert_eq!(
            calls[0],
            Call::Prctl {
                option: libc::PR_SET_DUMPABLE,
                arg: 0,
                arg2: 0
            }
        );
        let kept: Vec<u32> = [channel.raw_fd()]
            .into_iter()
            .chain(namespaces.iter().map(|(_, fd)| fd.as_raw_fd()))
            .map(|fd| fd as u32)
            .collect();
        let ranges: Vec<(u32, u32)> = calls
            .iter()
            .filter_map(|c| match c {
                Call::CloseRange { first, last } => Some((*first, *last)),
                _ => None,
            })
            .collect();
        assert!(ranges
            .iter()
            .all(|(lo, hi)| *lo >= 3 && kept.iter().all(|k| !(lo..=hi).contains(&k))));
        assert_eq!(ranges.last().unwrap().1, u32::MAX, "{ranges:?}");
        let joined: Vec<&Call> = calls[1 + ranges.len()..].iter().collect();
        assert!(
            matches!(
                joined.as_slice(),
                [
                    Call::Setns { nstype: a, .. },
                    Call::Setns { nstype: b, .. }
                ] if *a == CloneFlags::CLONE_NEWPID && *b == CloneFlags::CLONE_NEWNS
            ),
            "{calls:?}"
        );
    }
}
