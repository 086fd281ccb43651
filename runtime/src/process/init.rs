//! Container init: builds the container from inside its namespaces,
//! prepares the workload, reports ready, waits for `start`, and hands over
//! to the executor chain.
//!
//! Every step before "ready" reports failure to hako, which fails `create`.
//! After `start` there is no one to report to but the container's own
//! stderr, so the chain prepares everything that can fail beforehand.

use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

use hako_executors::Prepared;
use nix::fcntl::{FcntlArg, OFlag};
use nix::sys::signal::SigSet;
use nix::sys::stat::Mode;
use oci_spec::runtime::LinuxNamespaceType;

use super::attributes::{Seccomp, SeccompWhen};
use super::channel::{Channel, Message};
use super::console;
use super::launcher::{exit_child, InitConfig};
use crate::error::{Context, Error, Result};
use crate::rootfs::{self, RootfsConfig};
use crate::syscall::LinuxSyscall;

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
pub fn run(cfg: &InitConfig, channel: &Channel) -> Result<()> {
    // Nothing is built before the cgroup's limits and device rules are in
    // place (hako writes them once the intermediate is gone).
    match channel.recv()? {
        Some(Message::ResourcesApplied) => {}
        // hako reports its own failure.
        _ => {
            return Err(Error::Child(
                "the container's resources were not applied".into(),
            ))
        }
    }
    let mut hako_fds = vec![channel.raw_fd()];
    hako_fds.extend(cfg.console_socket.as_ref().map(|s| s.as_raw_fd()));
    let gate = cfg
        .gate
        .as_ref()
        .ok_or_else(|| Error::invalid("no start fifo"))?;
    hako_fds.extend(gate.raw_fds());
    hako_fds.extend(cfg.seccomp_listener.as_ref().map(|s| s.as_raw_fd()));
    let (prepared, seccomp) = setup(cfg, channel, &hako_fds)?;
    let engine = prepared.engine().map(|e| e.name().to_string());
    channel.send(&Message::Ready(engine))?;
    exit_child(start(cfg, prepared, seccomp, gate, &hako_fds))
}

fn setup(
    cfg: &InitConfig,
    channel: &Channel,
    hako_fds: &[i32],
) -> Result<(Box<dyn Prepared>, Seccomp)> {
    // Signals blocked by `hako run` for forwarding must not stay blocked.
    SigSet::empty()
        .thread_set_mask()
        .ctx(|| "resetting the signal mask".into())?;
    nix::unistd::setsid().ctx(|| "setsid".into())?;

    let spec = &cfg.bundle.spec;
    let plan = &cfg.namespaces;
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::invalid("process must be set"))?;
    if plan.creates(LinuxNamespaceType::Network) {
        crate::namespaces::loopback::up()?;
    }
    if spec
        .linux()
        .as_ref()
        .and_then(|l| l.net_devices().as_ref())
        .is_some_and(|d| !d.is_empty())
    {
        channel.send(&Message::MoveNetDevices)?;
        match channel.recv()? {
            Some(Message::NetDevicesMoved) => {}
            // hako reports its own failure.
            _ => return Err(Error::Child("moving linux.netDevices failed".into())),
        }
    }
    if !cfg.no_new_keyring {
        crate::keyring::join_new(&cfg.id)?;
    }

    // The filesystem. umask 0 so modes in the spec are taken literally.
    nix::sys::stat::umask(Mode::empty());
    let sys = LinuxSyscall;
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
        idmapped: &cfg.idmapped_mounts,
        own_mount_ns: own_mounts,
    };
    let prepared_fs = rootfs::prepare(&sys, &rootfs_cfg)?;
    run_create_hooks(cfg, channel)?;
    rootfs::enter(&sys, &cfg.bundle.rootfs, cfg.no_pivot, own_mounts)?;
    crate::sysctl::apply(spec)?;
    if process.terminal().unwrap_or(false) {
        let socket = cfg.console_socket.as_ref().ok_or_else(|| {
            Error::invalid("process.terminal is set but there is no console socket")
        })?;
        let size = process
            .console_size()
            .as_ref()
            .map(|b| (b.height() as u16, b.width() as u16));
        console::setup(&sys, socket, size, true)?;
    }
    rootfs::finalize(&sys, spec, Path::new("/"), &prepared_fs)?;
    if own_mounts {
        rootfs::apply_root_propagation(&sys, spec)?;
    }

    if let Some(hostname) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(hostname).ctx(|| format!("setting hostname {hostname:?}"))?;
    }
    if let Some(domain) = spec.domainname().as_deref().filter(|h| !h.is_empty()) {
        set_domainname(domain)?;
    }
    // Close anything set-up left open before the engine opens its own,
    // and before a seccomp filter (loaded next unless noNewPrivileges)
    // can deny the closing: older profiles know no close_range.
    let mut keep = hako_fds.to_vec();
    keep.extend(crate::logging::file_fd());
    super::fds::close_from(3 + cfg.preserved_fds, &keep)?;
    let workload = crate::spec::workload(spec, process, &cfg.extra_env, &cfg.options);
    // Only a wasm workload compiles anything. The cache goes in before the
    // workload's user and capabilities: a scratch directory is a mount, and
    // only WasmEdge's compiler, which works in files, needs one.
    use hako_executors::{detect::Intent, EngineKind};
    let intent = hako_executors::detect::intent(&workload.annotations, &workload.options);
    let wasm = !matches!(intent, Ok(Intent::Native));
    let scratch = matches!(
        intent,
        Ok(Intent::Wasm(EngineKind::WasmEdge)
            | Intent::Sniff {
                engine: EngineKind::WasmEdge,
                ..
            })
    );
    if cfg.module_cache.is_some() && wasm {
        hako_executors::cache::install(Box::new(super::module_cache::ChannelCache::new(
            channel, scratch,
        )?));
    }
    let mut seccomp = super::attributes::apply(process, spec.linux().as_ref(), channel)?;
    let prepared = crate::engines::chain().prepare(&workload)?;
    // An in-process guest is confined in `start`, right before it runs.
    if prepared.replaces_process() {
        crate::lsm::apply_process_labels(process, true)?;
    }
    super::attributes::load_seccomp(&mut seccomp, SeccompWhen::BeforeReady, Some(channel))?;
    Ok((prepared, seccomp))
}

/// prestart and createRuntime run in hako's namespaces (hako runs them
/// and answers), createContainer here, in the container's, all before
/// pivot_root so that their paths resolve on the host.
fn run_create_hooks(cfg: &InitConfig, channel: &Channel) -> Result<()> {
    use crate::hooks::{HookState, Stage};
    let spec = &cfg.bundle.spec;
    if !Stage::Prestart.hooks(spec).is_empty() || !Stage::CreateRuntime.hooks(spec).is_empty() {
        channel.send(&Message::RunHooks)?;
        match channel.recv()? {
            Some(Message::HooksDone) => {}
            // hako reports the hook failure itself.
            _ => return Err(Error::Child("runtime hooks failed".into())),
        }
    }
    let state = HookState::new(&cfg.id, "creating", None, &cfg.bundle.dir, spec);
    crate::hooks::run(Stage::CreateContainer, spec, &state)
}

fn set_domainname(name: &str) -> Result<()> {
    // SAFETY: the pointer and length describe `name`, valid for the call.
    let rc = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    nix::errno::Errno::result(rc)
        .map(drop)
        .ctx(|| format!("setting domainname {name:?}"))
}

/// After `ready`: wait for `start`, close what the workload must not
/// inherit, and run it. Returns init's exit code.
fn start(
    cfg: &InitConfig,
    prepared: Box<dyn Prepared>,
    mut seccomp: Seccomp,
    gate: &StartGate,
    hako_fds: &[i32],
) -> i32 {
    if let Err(e) = gate.wait() {
        eprintln!("hako: error: {e}");
        return 1;
    }
    let state =
        crate::hooks::HookState::new(&cfg.id, "running", None, &cfg.bundle.dir, &cfg.bundle.spec);
    if let Err(e) = crate::hooks::run(
        crate::hooks::Stage::StartContainer,
        &cfg.bundle.spec,
        &state,
    ) {
        eprintln!("hako: error: {e}");
        return 1;
    }
    // Nothing of hako's may reach the workload: the fifo, channel and
    // console socket are close-on-exec, but an in-process engine never
    // execs. Their owners are never dropped (init ends with _exit), so
    // closing the raw descriptors here cannot double-close.
    crate::logging::detach();
    super::fds::close_placeholders();
    hako_executors::cache::close();
    for fd in hako_fds {
        // SAFETY: see above; these descriptors belong to hako, not the workload.
        unsafe { libc::close(*fd) };
    }
    if !prepared.replaces_process() {
        if let Some(process) = cfg.bundle.spec.process() {
            if let Err(e) = crate::lsm::confine_in_process(process) {
                eprintln!("hako: error: {e}");
                return 1;
            }
        }
    }
    if let Err(e) = super::attributes::load_seccomp(&mut seccomp, SeccompWhen::AfterStart, None) {
        eprintln!("hako: error: {e}");
        return 1;
    }
    let args = cfg
        .bundle
        .spec
        .process()
        .as_ref()
        .and_then(|p| p.args().clone())
        .unwrap_or_default();
    super::workload::run(prepared, &args)
}
