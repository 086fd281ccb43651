//! `hako create`: set the container up and leave init waiting for start.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::Path;

use nix::sys::stat::Mode;

use super::Ctx;
use crate::cgroups::{compile_room, CgroupSet};
use crate::cli::CreateArgs;
use crate::error::{Context, Error, Result};
use crate::process::launcher::{self, InitConfig};
use crate::spec::Bundle;
use crate::state::{self, ContainerDir, ContainerState};

/// A created container, its directory still locked.
#[derive(Debug)]
pub struct Created {
    /// The locked state directory.
    pub dir: ContainerDir,
    /// Its state.
    pub state: ContainerState,
}

/// `create`.
pub fn run(ctx: &Ctx, args: &CreateArgs) -> Result<Created> {
    create(ctx, args, load(args)?, None)
}

/// Checks the id, then loads and validates the bundle.
pub fn load(args: &CreateArgs) -> Result<Bundle> {
    crate::id::validate(&args.id)?;
    Bundle::load(&args.bundle)
}

/// Creates a container from its loaded `bundle`. `console` replaces
/// `--console-socket` (used by a foreground `run` that handles the
/// terminal itself).
pub fn create(
    ctx: &Ctx,
    args: &CreateArgs,
    bundle: Bundle,
    console: Option<OwnedFd>,
) -> Result<Created> {
    let before = before_anything_exists(ctx, args, &bundle, console)?;
    // From here on something exists; the guard removes it on failure.
    let dir = ctx.store.claim(&args.id)?;
    let mut guard = Guard {
        dir: Some(dir),
        cgroups: None,
        pid: None,
        host_bind: false,
    };
    let dir = guard.dir.as_ref().expect("set above");
    nix::unistd::mkfifo(&dir.fifo(), Mode::from_bits_truncate(0o600))
        .ctx(|| format!("creating {}", dir.fifo().display()))?;
    // Without a mount namespace, init builds the container in a bind of
    // the rootfs that only hako uses (rootfs::host_bind).
    let rootfs = bundle.rootfs.clone();
    let mut bundle = bundle;
    if !bundle
        .plan
        .namespaces
        .has(oci_spec::runtime::LinuxNamespaceType::Mount)
    {
        guard.host_bind = true;
        bundle.rootfs = crate::rootfs::host_bind::bind(&bundle.rootfs, dir.path())?;
    }
    let cgroups = claim_cgroups(ctx, args, &bundle, dir, &mut guard.cgroups)?;
    let resources = plan_resources(ctx, &bundle, &cgroups)?;
    dir.save_spec(&bundle.spec)?;

    let gate = crate::process::init::StartGate::open(&dir.fifo())?;
    let mut cfg = InitConfig {
        id: args.id.clone(),
        bundle,
        cgroups,
        gate: Some(gate),
        console_socket: before.console,
        no_pivot: args.no_pivot,
        no_new_keyring: args.no_new_keyring,
        preserved_fds: before.preserved_fds,
        extra_env: before.extra_env,
        options: ctx.options.clone(),
        seccomp_listener: before.seccomp_listener,
        seccomp_filter: std::cell::RefCell::new(before.seccomp_filter),
        module_cache: ctx.module_cache.clone(),
        idmapped_mounts: before.idmapped_mounts,
        rootless: ctx.rootless,
    };
    // Limits go on once init is the cgroup's only process (launcher); a
    // wasm container's set-up gets room to compile under them.
    let room_for = compile_room_limit(ctx, &cfg.bundle, resources.is_some());
    let mut room = None;
    let launched = launcher::launch(&cfg, &mut |_| {
        apply_resources(ctx, resources.as_ref(), &cfg.cgroups)?;
        if let Some(limit) = room_for {
            // Without the room a compile may fail for want of threads,
            // and says so: not a reason to stop here.
            match compile_room::Room::open(&cfg.cgroups, limit, compile_room::extra()) {
                Ok(r) => room = r,
                Err(e) => tracing::debug!("no room for set-up under pids.max: {e}"),
            }
        }
        Ok(())
    });
    // hako's copy of the fifo must go: `start` detects a dead init by the
    // fifo having no reader.
    drop(cfg.gate.take());
    let launched = launched.map_err(|e| explain_oom(e, &cfg.cgroups))?;
    if let Some(room) = room {
        room.close()?;
    }
    let pid = launched.pid;
    guard.pid = Some(pid);
    let state = container_state(&args.id, &cfg, rootfs, launched.pid, launched.engine)?;
    dir.save(&state)?;
    if let Some(pid_file) = &args.pid_file {
        crate::container::pid_file::write(pid_file, pid)?;
    }
    tracing::info!(
        id = %args.id,
        pid,
        engine = %state.annotations[ENGINE_ANNOTATION],
        "container created"
    );
    Ok(Created {
        dir: guard.disarm(),
        state,
    })
}

/// What `create` gathers before anything exists: nothing here needs
/// cleaning up if a later step fails.
struct BeforeCreate {
    console: Option<OwnedFd>,
    seccomp_listener: Option<OwnedFd>,
    seccomp_filter: Option<libseccomp::ScmpFilterContext>,
    preserved_fds: i32,
    extra_env: Vec<String>,
    idmapped_mounts: Vec<(usize, OwnedFd)>,
}

/// Host checks, the read-only binary for a container that may ptrace
/// hako, the seccomp filter, the console and seccomp agent connections,
/// the engine, socket activation and the id-mapped mount clones.
fn before_anything_exists(
    ctx: &Ctx,
    args: &CreateArgs,
    bundle: &Bundle,
    console: Option<OwnedFd>,
) -> Result<BeforeCreate> {
    check_host(bundle)?;
    // Before anything exists or is connected: the re-executed hako starts
    // over from the command line.
    if crate::security::sealed_exe::container_may_ptrace(&bundle.spec, &[]) {
        crate::security::sealed_exe::ensure_readonly()?;
    }
    let seccomp_filter = build_seccomp(bundle)?;
    let process = bundle
        .spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::invalid("process must be set"))?;
    let console = match (console, &args.console_socket) {
        (Some(fd), _) => Some(fd),
        (None, Some(path)) => Some(connect(path)?),
        (None, None) => None,
    };
    crate::engines::preload(&crate::spec::annotations(&bundle.spec), &ctx.options)?;
    let seccomp_listener = seccomp_listener(bundle)?;
    if process.terminal().unwrap_or(false) && console.is_none() {
        return Err(Error::invalid(
            "process.terminal is set: --console-socket is required",
        ));
    }
    let listen_fds = crate::process::fds::listen_fds();
    let mut extra_env = Vec::new();
    if listen_fds > 0 {
        extra_env.push(format!("LISTEN_FDS={listen_fds}"));
        extra_env.push("LISTEN_PID=1".to_string());
    }
    let idmapped_mounts = bundle
        .plan
        .idmapped
        .iter()
        .map(|p| {
            Ok((
                p.index,
                crate::rootfs::idmapped::prepare(&crate::syscall::LinuxSyscall, p)?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(BeforeCreate {
        console,
        seccomp_listener,
        seccomp_filter,
        preserved_fds: listen_fds + args.preserve_fds as i32,
        extra_env,
        idmapped_mounts,
    })
}

/// Resolves the container's cgroup, refuses one that is occupied or
/// frozen, records it (so a killed create can be cleaned up) and makes it;
/// `owned` is the guard's, which removes it if create fails later.
fn claim_cgroups(
    ctx: &Ctx,
    args: &CreateArgs,
    bundle: &Bundle,
    dir: &ContainerDir,
    owned: &mut Option<CgroupSet>,
) -> Result<CgroupSet> {
    let spec_cgroups = bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().clone());
    let mut cgroups = CgroupSet::for_container(
        spec_cgroups.as_deref(),
        &args.id,
        ctx.systemd_cgroup,
        ctx.rootless,
    )?;
    // Checked before the guard owns the cgroups: a refused cgroup is not
    // ours to kill or remove.
    if let Some((path, n)) = cgroups.occupied()? {
        return Err(Error::invalid(format!(
            "linux.cgroupsPath: cgroup {} already has {n} process(es); a container needs a cgroup of its own",
            path.display()
        )));
    }
    // Init would hang in a frozen cgroup.
    if cgroups.manager().is_frozen() {
        return Err(Error::invalid(
            "linux.cgroupsPath: the container's cgroup exists and is frozen",
        ));
    }
    // From here the guard removes them if create fails.
    dir.save_pending_cgroups(&cgroups)?;
    *owned = Some(cgroups.clone());
    let created = cgroups.manager().create(ctx.rootless)?;
    cgroups.dirs = created;
    *owned = Some(cgroups.clone());
    Ok(cgroups)
}

/// The state of a container whose init `pid` is ready.
fn container_state(
    id: &str,
    cfg: &InitConfig,
    rootfs: std::path::PathBuf,
    pid: i32,
    engine: Option<String>,
) -> Result<ContainerState> {
    Ok(ContainerState {
        id: id.to_string(),
        pid,
        pid_start: crate::process::proc::start_time(pid)
            .ok_or_else(|| Error::Child("container init exited right after creation".into()))?,
        bundle: cfg.bundle.dir.clone(),
        rootfs,
        created: state::now_rfc3339(),
        owner: String::new(),
        annotations: with_engine(crate::spec::annotations(&cfg.bundle.spec), engine),
        cgroups: cfg.cgroups.clone(),
        own_pid_ns: cfg
            .bundle
            .plan
            .namespaces
            .has(oci_spec::runtime::LinuxNamespaceType::Pid),
    })
}

/// What validation (pure) leaves to the host, checked before anything is
/// created: the LSMs the spec asks for.
fn check_host(bundle: &Bundle) -> Result<()> {
    crate::lsm::check(&bundle.spec)
}

/// The seccomp filter, built once here by this libseccomp (a profile it
/// cannot build fails before anything exists) and loaded by init, which
/// inherits it across the forks.
fn build_seccomp(bundle: &Bundle) -> Result<Option<libseccomp::ScmpFilterContext>> {
    bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
        .map(crate::seccomp::build)
        .transpose()
}

/// What `linux.resources` asks of this host, planned before anything is
/// started so that a limit the host cannot apply fails `create` early.
/// Rootless, only delegated cgroups can take limits: a failure is a
/// warning and nothing is applied.
fn plan_resources(
    ctx: &Ctx,
    bundle: &Bundle,
    cgroups: &CgroupSet,
) -> Result<Option<crate::cgroups::resources::Planned>> {
    let resources = bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.resources().clone())
        .unwrap_or_default();
    let rules = bundle.plan.device_rules.clone();
    match crate::cgroups::resources::Planned::new(
        cgroups,
        &resources,
        (!ctx.rootless).then_some(rules),
    ) {
        Ok(planned) => Ok(Some(planned)),
        Err(e) if ctx.rootless => {
            tracing::warn!("rootless: resource limits not applied: {e}");
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The pids limit to make room under while init compiles (see
/// `cgroups::compile_room`): a wasm container's (or one that may turn out
/// to be wasm), with limits applied and a positive pids limit.
fn compile_room_limit(ctx: &Ctx, bundle: &Bundle, applied: bool) -> Option<i64> {
    use hako_executors::detect::{self, Intent};
    if !applied {
        return None;
    }
    let limit = bundle
        .spec
        .linux()
        .as_ref()?
        .resources()
        .as_ref()?
        .pids()
        .as_ref()?
        .limit();
    let annotations = crate::spec::annotations(&bundle.spec);
    match detect::intent(&annotations, &ctx.options) {
        Ok(Intent::Wasm(_) | Intent::Sniff { .. }) if limit > 0 => Some(limit),
        _ => None,
    }
}

/// Writes the planned limits and device rules, once init is in the cgroup
/// and the processes that set it up are gone.
fn apply_resources(
    ctx: &Ctx,
    planned: Option<&crate::cgroups::resources::Planned>,
    cgroups: &CgroupSet,
) -> Result<()> {
    let Some(planned) = planned else {
        return Ok(());
    };
    match cgroups.manager().apply(planned) {
        Err(e) if ctx.rootless => {
            tracing::warn!("rootless: resource limits not applied: {e}");
            Ok(())
        }
        other => other,
    }
}

/// The state's annotations: the spec's, and [`ENGINE_ANNOTATION`] naming
/// what runs the workload, so that a user can see which engine ran.
fn with_engine(
    mut annotations: std::collections::BTreeMap<String, String>,
    engine: Option<String>,
) -> std::collections::BTreeMap<String, String> {
    annotations.insert(
        ENGINE_ANNOTATION.into(),
        engine.unwrap_or_else(|| "native".into()),
    );
    annotations
}

/// The annotation `hako state` adds: `wasmtime`, `wasmedge`, `wasmer` or
/// `native`.
pub const ENGINE_ANNOTATION: &str = "io.hako.engine";

/// A set-up process the OOM killer ended (a memory limit below what init
/// needs, on cgroup v2 where the kernel takes the limit and then kills)
/// is named as such, as runc names it.
fn explain_oom(e: Error, cgroups: &CgroupSet) -> Error {
    // Whatever hako saw first (init's silence, a write to its closed
    // channel), the OOM kill is the cause.
    match crate::cgroups::stats::oom_kills(cgroups) {
        Some(n) if n > 0 => {
            Error::Child("container init was OOM-killed (memory limit too low?)".into())
        }
        _ => e,
    }
}

/// Connects to the seccomp agent of a notifying profile.
fn seccomp_listener(bundle: &Bundle) -> Result<Option<OwnedFd>> {
    let Some(profile) = bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.seccomp().as_ref())
    else {
        return Ok(None);
    };
    if !crate::seccomp::uses_notify(profile) {
        return Ok(None);
    }
    let path = profile.listener_path().as_ref().ok_or_else(|| {
        Error::invalid("linux.seccomp: SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath")
    })?;
    let stream = UnixStream::connect(path).ctx(|| {
        format!(
            "connecting to linux.seccomp.listenerPath {}",
            path.display()
        )
    })?;
    Ok(Some(OwnedFd::from(stream)))
}

fn connect(path: &Path) -> Result<OwnedFd> {
    let stream = UnixStream::connect(path)
        .ctx(|| format!("connecting to console socket {}", path.display()))?;
    Ok(OwnedFd::from(stream))
}

/// Undoes a half-done create.
struct Guard {
    dir: Option<ContainerDir>,
    cgroups: Option<CgroupSet>,
    pid: Option<i32>,
    /// Whether the rootfs was bound in the host's mount namespace.
    host_bind: bool,
}

impl Guard {
    fn disarm(mut self) -> ContainerDir {
        self.cgroups = None;
        self.pid = None;
        self.host_bind = false;
        self.dir.take().expect("guard holds the directory")
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.take() {
            crate::container::teardown::kill_and_wait(pid, None);
        }
        if let Some(cgroups) = self.cgroups.take() {
            // Anything init started (a hook, a forked helper) goes too.
            crate::container::teardown::empty_cgroups(&cgroups);
            if let Err(e) = cgroups.manager().remove() {
                tracing::warn!("cleaning up after a failed create: {e}");
            }
        }
        if let Some(dir) = self.dir.take() {
            if self.host_bind {
                if let Err(e) = crate::rootfs::host_bind::release(dir.path()) {
                    // Kept: removing it would descend into the rootfs.
                    tracing::warn!("cleaning up after a failed create: {e}");
                    return;
                }
            }
            if let Err(e) = dir.destroy() {
                tracing::warn!("cleaning up after a failed create: {e}");
            }
        }
    }
}
