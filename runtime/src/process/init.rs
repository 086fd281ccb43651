//! Container init: builds the container from inside its namespaces,
//! prepares the workload, reports ready, waits for `start`, and hands over
//! to the executor chain.
//!
//! Every step before "ready" reports failure to hako, which fails `create`.
//! After `start` there is no one to report to but the container's own
//! stderr, so the chain prepares everything that can fail beforehand.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use nix::fcntl::{FcntlArg, OFlag};
use nix::sys::signal::SigSet;
use nix::sys::stat::Mode;
use oci_spec::runtime::{LinuxNamespaceType, Process, Spec};

use super::channel::{ChildEnd, ToChild, ToHako};
use super::console;
use super::handover::{self, Handover};
use super::launcher::{exit_child, InitConfig};
use crate::error::{Context, Error, Result};
use crate::rootfs::{self, RootfsConfig};
use crate::syscall::{LinuxSyscall, Syscall};

/// The start fifo, held open from before pivot_root until `start`.
#[derive(Debug)]
pub struct StartGate {
    read: OwnedFd,
    // Held so that reading blocks until `start` writes instead of seeing
    // end-of-file.
    _write: OwnedFd,
}

impl StartGate {
    /// Opens the fifo at `path` without blocking.
    pub fn open(path: &Path) -> Result<StartGate> {
        let read = nix::fcntl::open(
            path,
            OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .ctx(|| format!("opening {}", path.display()))?;
        let write = nix::fcntl::open(path, OFlag::O_WRONLY | OFlag::O_CLOEXEC, Mode::empty())
            .ctx(|| format!("opening {}", path.display()))?;
        nix::fcntl::fcntl(&read, FcntlArg::F_SETFL(OFlag::empty()))
            .ctx(|| "making the start fifo blocking".into())?;
        Ok(StartGate {
            read,
            _write: write,
        })
    }

    /// Blocks until `hako start` writes to the fifo.
    pub fn wait(&self) -> Result<()> {
        wait_for_start(&self.read)
    }

    /// The descriptors, to keep them open across fd cleanup.
    pub fn raw_fds(&self) -> [i32; 2] {
        [self.read.as_raw_fd(), self._write.as_raw_fd()]
    }
}

/// Reads one byte from the start fifo, retrying on signals.
pub fn wait_for_start(fd: &OwnedFd) -> Result<()> {
    let mut byte = [0u8; 1];
    loop {
        match nix::unistd::read(fd, &mut byte) {
            Ok(_) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e).ctx(|| "waiting for start".into()),
        }
    }
}

/// Runs in container init. Returns only on a set-up failure; otherwise
/// the process ends with the workload.
///
/// A linear list of named steps, each failing with its own error.
pub fn run(cfg: &InitConfig, channel: &ChildEnd) -> Result<()> {
    let gate = cfg
        .gate
        .as_ref()
        .ok_or_else(|| Error::invalid("no start fifo"))?;
    let mut hako_fds = vec![channel.raw_fd()];
    hako_fds.extend(cfg.console_socket.as_ref().map(|s| s.as_raw_fd()));
    hako_fds.extend(gate.raw_fds());
    hako_fds.extend(cfg.seccomp_listener.as_ref().map(|s| s.as_raw_fd()));
    let spec = &cfg.bundle.spec;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::invalid("process must be set"))?;
    build(&LinuxSyscall, cfg, channel, process)?;
    let workload = crate::spec::workload(spec, process, &cfg.extra_env, &cfg.options);
    let armed = handover::arm(
        Handover {
            process,
            plan: &cfg.bundle.plan.process,
            linux: spec.linux().as_ref(),
            workload,
            hako_fds,
            preserved_fds: cfg.preserved_fds,
            module_cache: cfg.module_cache.is_some(),
            seccomp_filter: cfg.seccomp_filter.borrow_mut().take(),
        },
        channel,
    )?;
    armed.report_ready(channel)?;
    if let Err(e) = started(cfg, gate) {
        eprintln!("hako: error: {e}");
        exit_child(1);
    }
    exit_child(armed.run(1))
}

/// The container, built from inside its namespaces: everything init does
/// before the hand-over, in order.
fn build(sys: &dyn Syscall, cfg: &InitConfig, channel: &ChildEnd, process: &Process) -> Result<()> {
    wait_for_resources(channel)?;
    new_session(sys)?;
    network(cfg, channel)?;
    if !cfg.no_new_keyring {
        crate::keyring::join_new(sys, &cfg.id)?;
    }
    filesystem(sys, cfg, channel, process)?;
    identity(sys, &cfg.bundle.spec)
}

/// Nothing is built before the cgroup's limits and device rules are in
/// place (hako writes them once the intermediate is gone).
fn wait_for_resources(channel: &ChildEnd) -> Result<()> {
    match channel.recv()? {
        Some(ToChild::ResourcesApplied) => Ok(()),
        // hako reports its own failure.
        _ => Err(Error::Child(
            "the container's resources were not applied".into(),
        )),
    }
}

/// Signals blocked by `hako run` for forwarding must not stay blocked;
/// init leads a session of its own.
fn new_session(sys: &dyn Syscall) -> Result<()> {
    SigSet::empty()
        .thread_set_mask()
        .ctx(|| "resetting the signal mask".into())?;
    sys.setsid().ctx(|| "setsid".into())?;
    Ok(())
}

/// Loopback up in a new network namespace; `linux.netDevices` moved in by
/// hako, which holds the host's namespace.
fn network(cfg: &InitConfig, channel: &ChildEnd) -> Result<()> {
    if cfg
        .bundle
        .plan
        .namespaces
        .creates(LinuxNamespaceType::Network)
    {
        crate::namespaces::loopback::up()?;
    }
    if cfg
        .bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.net_devices().as_ref())
        .is_some_and(|d| !d.is_empty())
    {
        channel.send(&ToHako::MoveNetDevices)?;
        match channel.recv()? {
            Some(ToChild::NetDevicesMoved) => {}
            // hako reports its own failure.
            _ => return Err(Error::Child("moving linux.netDevices failed".into())),
        }
    }
    Ok(())
}

/// The root filesystem: mounts, create hooks, pivot, sysctls, the
/// console, masked and read-only paths, propagation.
fn filesystem(
    sys: &dyn Syscall,
    cfg: &InitConfig,
    channel: &ChildEnd,
    process: &Process,
) -> Result<()> {
    let spec = &cfg.bundle.spec;
    let plan = &cfg.bundle.plan.namespaces;
    // umask 0 so modes in the spec are taken literally.
    sys.umask(Mode::empty());
    // Without a mount namespace of its own (none in linux.namespaces, not
    // even a joined one) the container's mounts are made in the host's,
    // inside the rootfs bind hako made (rootfs::host_bind).
    let own_mounts = plan.has(LinuxNamespaceType::Mount);
    let rootfs_cfg = RootfsConfig {
        spec,
        rootfs: &cfg.bundle.rootfs,
        bundle: &cfg.bundle.dir,
        cgroups: &cfg.cgroups,
        cgroup_ns: plan.has(LinuxNamespaceType::Cgroup),
        // Rootless podman gives no user namespace in the spec: hako itself
        // already runs in one, where mknod is refused just the same.
        user_ns: plan.has(LinuxNamespaceType::User) || cfg.rootless,
        devices: &cfg.bundle.plan.device_nodes,
        idmapped: &cfg.idmapped_mounts,
        own_mount_ns: own_mounts,
    };
    let prepared_fs = rootfs::prepare(sys, &rootfs_cfg)?;
    run_create_hooks(cfg, channel)?;
    rootfs::enter(sys, &cfg.bundle.rootfs, cfg.no_pivot, own_mounts)?;
    crate::sysctl::apply(spec)?;
    if process.terminal().unwrap_or(false) {
        let socket = cfg.console_socket.as_ref().ok_or_else(|| {
            Error::invalid("process.terminal is set but there is no console socket")
        })?;
        let size = process
            .console_size()
            .as_ref()
            .map(|b| (b.height() as u16, b.width() as u16));
        console::setup(sys, socket, size, true)?;
    }
    rootfs::finalize(sys, spec, Path::new("/"), &prepared_fs)?;
    if own_mounts {
        rootfs::apply_root_propagation(sys, spec)?;
    }
    Ok(())
}

/// Hostname and domainname.
fn identity(sys: &dyn Syscall, spec: &Spec) -> Result<()> {
    if let Some(hostname) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        sys.sethostname(hostname)
            .ctx(|| format!("setting hostname {hostname:?}"))?;
    }
    if let Some(domain) = spec.domainname().as_deref().filter(|h| !h.is_empty()) {
        sys.setdomainname(domain)
            .ctx(|| format!("setting domainname {domain:?}"))?;
    }
    Ok(())
}

/// prestart and createRuntime run in hako's namespaces (hako runs them
/// and answers), createContainer here, in the container's, all before
/// pivot_root so that their paths resolve on the host.
fn run_create_hooks(cfg: &InitConfig, channel: &ChildEnd) -> Result<()> {
    use crate::hooks::Stage;
    let spec = &cfg.bundle.spec;
    if !Stage::Prestart.hooks(spec).is_empty() || !Stage::CreateRuntime.hooks(spec).is_empty() {
        channel.send(&ToHako::RunHooks)?;
        match channel.recv()? {
            Some(ToChild::HooksDone) => {}
            // hako reports the hook failure itself.
            _ => return Err(Error::Child("runtime hooks failed".into())),
        }
    }
    let state = crate::hooks::state(
        &cfg.id,
        oci_spec::runtime::ContainerState::Creating,
        None,
        &cfg.bundle.dir,
        spec,
    );
    crate::hooks::run(Stage::CreateContainer, spec, &state)
}

/// After "ready": waits for `start`, then runs the startContainer hooks.
fn started(cfg: &InitConfig, gate: &StartGate) -> Result<()> {
    gate.wait()?;
    let state = crate::hooks::state(
        &cfg.id,
        oci_spec::runtime::ContainerState::Running,
        None,
        &cfg.bundle.dir,
        &cfg.bundle.spec,
    );
    crate::hooks::run(
        crate::hooks::Stage::StartContainer,
        &cfg.bundle.spec,
        &state,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::test_config::{init_config, outline};
    use crate::syscall::{Call, RecordingSyscall};

    #[test]
    fn init_builds_the_container_in_order() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = init_config(tmp.path());
        let rootfs = cfg.bundle.rootfs.clone();
        let (hako, child) = super::super::channel::pair().unwrap();
        hako.send(&ToChild::ResourcesApplied).unwrap();
        let sys = RecordingSyscall::default();
        let process = cfg.bundle.spec.process().clone().unwrap();
        build(&sys, &cfg, &child, &process).unwrap();
        let r = rootfs.display();
        let dev = |name: &str| format!("mknod {r}/dev/{name}");
        let expected = [
            "Setsid".to_string(),
            "JoinSessionKeyring { name: \"_ses.c1\" }".into(),
            "Umask { mode: 0 }".into(),
            // Propagation of / while building, then the rootfs a mount.
            "mount / -".into(),
            format!("mount {r} -"),
            format!("mount {r}/proc/ proc"),
            // No /dev mount in the spec: the default nodes in the rootfs.
            dev("null"),
            dev("zero"),
            dev("full"),
            dev("random"),
            dev("urandom"),
            dev("tty"),
            format!("chdir {r}"),
            "pivot_root .".into(),
            "Fchdir { dir: \"/\" }".into(),
            "mount . -".into(),
            "umount .".into(),
            "chdir /".into(),
            // root.readonly, once everything is mounted.
            "mount / -".into(),
            "Sethostname { name: \"box\" }".into(),
        ];
        assert_eq!(outline(&sys.calls()), expected);
        assert!(rootfs.join("work").is_dir(), "process.cwd is created");
    }

    #[test]
    fn init_stops_when_resources_were_not_applied() {
        let tmp = tempfile::tempdir().unwrap();
        let cfg = init_config(tmp.path());
        let (hako, child) = super::super::channel::pair().unwrap();
        drop(hako);
        let sys = RecordingSyscall::default();
        let process = cfg.bundle.spec.process().clone().unwrap();
        let e = build(&sys, &cfg, &child, &process).unwrap_err();
        assert_eq!(e.to_string(), "the container's resources were not applied");
        assert!(
            sys.calls().is_empty(),
            "nothing is built: {:?}",
            sys.calls()
        );
    }

    #[test]
    fn identity_sets_names_the_spec_gives() {
        let spec: Spec = serde_json::from_value(serde_json::json!({
            "ociVersion": "1.2.0", "hostname": "box", "domainname": "example.org"
        }))
        .unwrap();
        let sys = RecordingSyscall::default();
        identity(&sys, &spec).unwrap();
        assert_eq!(
            sys.calls(),
            vec![
                Call::Sethostname { name: "box".into() },
                Call::Setdomainname {
                    name: "example.org".into()
                }
            ]
        );
        let bare: Spec =
            serde_json::from_value(serde_json::json!({"ociVersion": "1.2.0", "hostname": ""}))
                .unwrap();
        let sys = RecordingSyscall::default();
        identity(&sys, &bare).unwrap();
        assert!(sys.calls().is_empty());
    }
}
