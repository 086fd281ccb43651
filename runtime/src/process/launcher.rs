//! hako's side of container creation: fork the intermediate process,
//! answer its requests, and wait until container init is ready.
//!
//! ```text
//! hako create ──fork──▶ intermediate ──fork──▶ init (pid 1 of the container)
//!      (into the v2 directory without a systemd unit; v1: 0 to tasks)
//!      │  ◀─ MapIds ──────  │ (new user namespace)       │
//!      │  ── IdsMapped ──▶  │                            │
//!      │  ◀─ InitPid(n) ──  │ exits                      │
//!  reap, apply linux.resources                             │ (waits)
//!      │  ── ResourcesApplied ─────────────────────────▶ │ builds the container
//!      │  ◀──────────────────────── Ready / Error(msg) ──│ waits on exec.fifo
//! ```
//!
//! `linux.resources` are written once the intermediate is gone and init
//! is the cgroup's only process, as runc does: a `pids.max` of 1 must not
//! count hako's own set-up processes, and a memory limit below what init
//! already uses is refused by the kernel with a clear answer instead of
//! killing set-up half-way.

use std::os::fd::OwnedFd;

use hako_executors::RuntimeOptions;
use nix::unistd::{ForkResult, Pid};

use super::channel::{self, ChildEnd, HakoEnd, ToChild, ToHako};
use super::intermediate;
pub use super::session::Launched;
use super::session::{Requests, Session};
use crate::cgroups::CgroupSet;
use crate::error::{Error, Result};
use crate::spec::Bundle;

/// Everything the forked processes need, inherited across fork.
#[derive(Debug)]
pub struct InitConfig {
    /// Container id.
    pub id: String,
    /// The bundle.
    pub bundle: Bundle,
    /// The container's cgroups (already created).
    pub cgroups: CgroupSet,
    /// The start fifo, opened by hako before the user namespace exists
    /// (container root may not be able to reach the state directory).
    /// hako's own copy is dropped once init is ready.
    pub gate: Option<super::init::StartGate>,
    /// The connected `--console-socket`, when the process has a terminal.
    pub console_socket: Option<OwnedFd>,
    /// `--no-pivot`.
    pub no_pivot: bool,
    /// `--no-new-keyring`.
    pub no_new_keyring: bool,
    /// Descriptors from 3 up that the container inherits.
    pub preserved_fds: i32,
    /// Variables added to `process.env` (LISTEN_FDS, LISTEN_PID).
    pub extra_env: Vec<String>,
    /// Runtime-wide executor options.
    pub options: RuntimeOptions,
    /// The connection to `linux.seccomp.listenerPath`, for a profile that
    /// notifies.
    pub seccomp_listener: Option<OwnedFd>,
    /// The seccomp filter `create` built; init takes it (the processes
    /// are single-threaded, and each has its own copy after fork).
    pub seccomp_filter: std::cell::RefCell<Option<libseccomp::ScmpFilterContext>>,
    /// The compiled-module cache directory, if caching is on.
    pub module_cache: Option<std::path::PathBuf>,
    /// Id-mapped mounts prepared on the host, by index in `mounts`.
    pub idmapped_mounts: Vec<(usize, OwnedFd)>,
    /// Whether hako runs rootless (in a user namespace of its own or as
    /// a user other than root).
    pub rootless: bool,
}

/// Runs `body` in a forked child and turns its outcome into an exit code,
/// reporting failures (and panics) to hako over the channel.
pub fn child_main(channel: &ChildEnd, body: impl FnOnce() -> Result<()>) -> i32 {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(body));
    let message = match outcome {
        Ok(Ok(())) => return 0,
        Ok(Err(e)) => e.to_string(),
        Err(panic) => {
            let what = hako_executors::error::panic_text(panic.as_ref());
            format!("container set-up panicked: {}", what.unwrap_or_default())
        }
    };
    let _ = channel.send(&ToHako::Error(message));
    1
}

/// Ends a forked child without running the parent's exit handlers or
/// flushing buffers it inherited.
pub fn exit_child(code: i32) -> ! {
    // SAFETY: _exit never returns and touches no shared state.
    unsafe { libc::_exit(code) }
}

/// Creates the container's processes; returns once init is ready and
/// waiting for `start`. `on_init` runs with init's pid once the
/// intermediate process is reaped, before any runtime hook.
pub fn launch(cfg: &InitConfig, on_init: &mut dyn FnMut(i32) -> Result<()>) -> Result<Launched> {
    let (parent, child) = channel::pair()?;
    // SAFETY: hako is single-threaded here, so the child may run any code.
    let (forked, in_cgroup) = unsafe { super::clone_into::fork_into(cfg.cgroups.fork_target()) };
    match forked.map_err(|e| Error::Sys {
        context: "forking the intermediate process".into(),
        errno: e,
    })? {
        ForkResult::Child => {
            drop(parent);
            let code = child_main(&child, || intermediate::run(cfg, &child, in_cgroup));
            exit_child(code)
        }
        ForkResult::Parent { child: pid } => {
            drop(child);
            let mut session = Session::new(pid, "container init");
            let placed = if cfg.cgroups.systemd.is_some() {
                cfg.cgroups
                    .manager()
                    .start(pid.as_raw())
                    .and_then(|()| parent.send(&ToChild::CgroupReady))
            } else {
                Ok(())
            };
            let mut requests = CreateRequests { cfg };
            match placed.and_then(|()| session.serve(&parent, on_init, &mut requests)) {
                Ok(init) => Ok(init),
                Err(e) => {
                    session.abort();
                    Err(e)
                }
            }
        }
    }
}

/// What container init asks of hako while it builds the container. Init
/// waits for `ResourcesApplied`, which hako sends only after `InitPid`,
/// so no request of init's can arrive before its pid is known.
struct CreateRequests<'a> {
    cfg: &'a InitConfig,
}

impl Requests for CreateRequests<'_> {
    fn answer(
        &mut self,
        session: &Session,
        msg: ToHako,
        fd: Option<OwnedFd>,
        channel: &HakoEnd,
    ) -> Result<()> {
        let cfg = self.cfg;
        match msg {
            ToHako::CacheGet(key) => {
                super::module_cache::serve_get(cfg.module_cache.as_deref(), &key, channel)
            }
            ToHako::CachePut(key) => {
                if let Some(fd) = fd {
                    super::module_cache::serve_put(cfg.module_cache.as_deref(), &key, fd);
                }
                Ok(())
            }
            ToHako::SeccompFd => {
                let fd = fd
                    .ok_or_else(|| Error::invalid("seccomp notify message without a descriptor"))?;
                self.forward_seccomp(session, fd)
            }
            ToHako::MapIds => {
                let pid = session.intermediate().ok_or_else(|| {
                    Error::invalid("id map request without an intermediate process")
                })?;
                let linux = cfg.bundle.spec.linux().as_ref();
                let uid = linux
                    .and_then(|l| l.uid_mappings().clone())
                    .unwrap_or_default();
                let gid = linux
                    .and_then(|l| l.gid_mappings().clone())
                    .unwrap_or_default();
                crate::namespaces::idmap::write(pid.as_raw(), &uid, &gid)?;
                channel.send(&ToChild::IdsMapped)
            }
            ToHako::MoveNetDevices => self.move_net_devices(session, channel),
            ToHako::RunHooks => self.run_hooks(session, channel),
            other => Err(Error::invalid(format!("unexpected sync message {other:?}"))),
        }
    }
}

impl CreateRequests<'_> {
    /// prestart and createRuntime, in hako's namespaces, with init's pid.
    fn run_hooks(&self, session: &Session, channel: &HakoEnd) -> Result<()> {
        use crate::hooks::Stage;
        let cfg = self.cfg;
        let pid = session.child().map(Pid::as_raw);
        let state = crate::hooks::state(
            &cfg.id,
            oci_spec::runtime::ContainerState::Creating,
            pid,
            &cfg.bundle.dir,
            &cfg.bundle.spec,
        );
        crate::hooks::run(Stage::Prestart, &cfg.bundle.spec, &state)?;
        crate::hooks::run(Stage::CreateRuntime, &cfg.bundle.spec, &state)?;
        channel.send(&ToChild::HooksDone)
    }

    /// `linux.netDevices`, into init's network namespace, on init's
    /// request: init waits, so its sysctls and hooks see the devices.
    fn move_net_devices(&self, session: &Session, channel: &HakoEnd) -> Result<()> {
        let pid = session.child_pid()?;
        crate::net::devices::move_into(&self.cfg.bundle.plan.net_moves, pid.as_raw())?;
        channel.send(&ToChild::NetDevicesMoved)
    }

    /// Hands the notify descriptor and the container's state to the
    /// seccomp agent at listenerPath.
    fn forward_seccomp(&self, session: &Session, fd: OwnedFd) -> Result<()> {
        use std::os::fd::{AsFd, AsRawFd};
        let cfg = self.cfg;
        let listener = cfg
            .seccomp_listener
            .as_ref()
            .ok_or_else(|| Error::invalid("seccomp notify descriptor without a listener"))?;
        let seccomp = cfg
            .bundle
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.seccomp().clone());
        let metadata = seccomp.as_ref().and_then(|s| s.listener_metadata().clone());
        let state = crate::hooks::state(
            &cfg.id,
            oci_spec::runtime::ContainerState::Creating,
            session.child().map(Pid::as_raw),
            &cfg.bundle.dir,
            &cfg.bundle.spec,
        );
        let doc = crate::seccomp::process_state(&state, metadata.as_deref());
        super::channel::send_with_fd(listener.as_fd(), doc.as_bytes(), Some(fd.as_raw_fd()))
            .map_err(|e| Error::Sys {
                context: "sending the seccomp notify descriptor to linux.seccomp.listenerPath"
                    .into(),
                errno: e,
            })
    }
}
