//! `hako exec`: run a process in a running container.

use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;

use oci_spec::runtime::Process;

use super::Ctx;
use crate::cli::ExecArgs;
use crate::error::{Context, Error, Result};
use crate::process::exec::{self, ExecConfig};
use crate::process::wait::Waiter;
use crate::state::{Lock, Status};

/// `exec`; returns the process's exit code (or 0 when detached).
pub fn run(ctx: &Ctx, args: &ExecArgs) -> Result<i32> {
    let dir = ctx.store.open(&args.id, Lock::Shared)?;
    let state = dir.load()?;
    let spec = dir.load_spec()?;
    may_exec(args, crate::container::status(&dir, &state))?;
    let process = process_for(args, &spec)?;
    // Everything of the process that can be refused, before any fork.
    let plan =
        crate::spec::ProcessPlan::new(&process, spec.linux().as_ref()).map_err(Error::invalid)?;
    // Before anything is connected or forked (the lock goes with the
    // exec and is taken again).
    seal_if_ptraceable(&spec, &process)?;
    let requests = args
        .cgroup
        .iter()
        .map(|a| crate::cgroups::sub::parse(a))
        .collect::<Result<Vec<_>>>()?;
    let cgroups = crate::cgroups::sub::apply(&state.cgroups, &requests)?;
    crate::engines::preload(&crate::spec::annotations(&spec), &ctx.options)?;
    let terminal = process.terminal().unwrap_or(false);
    if terminal && args.console_socket.is_none() && args.detach {
        return Err(Error::invalid("--tty with --detach needs --console-socket"));
    }
    let (own_console, console_socket) = console(args, terminal)?;
    let cfg = ExecConfig {
        init_pid: state.pid,
        process,
        plan,
        spec,
        cgroups,
        console_socket,
        preserved_fds: args.preserve_fds as i32,
        options: ctx.options.clone(),
    };
    // Others may use the container meanwhile.
    drop(dir);
    let waiter = if args.detach {
        None
    } else {
        Some(Waiter::new()?)
    };
    let pid = exec::launch(&cfg)?;
    if let Some(pid_file) = &args.pid_file {
        crate::container::pid_file::write(pid_file, pid)?;
    }
    let proxy = own_console
        .as_ref()
        .map(crate::process::tty::Proxy::start)
        .transpose()?;
    let code = match waiter {
        None => 0,
        Some(w) => w.wait(pid, proxy.as_ref())?,
    };
    if let Some(p) = proxy {
        p.finish();
    }
    Ok(code)
}

/// Whether a container in `status` takes an exec.
fn may_exec(args: &ExecArgs, status: Status) -> Result<()> {
    let action = match status {
        Status::Running | Status::Created => return Ok(()),
        Status::Paused if args.ignore_paused => return Ok(()),
        Status::Paused => "resume it or use --ignore-paused",
        Status::Stopped => "cannot exec in a stopped container",
    };
    Err(Error::State {
        id: args.id.clone(),
        status,
        action: action.into(),
    })
}

/// Re-executes hako from a read-only view of its binary when the
/// container, or this process's capabilities, may ptrace it.
fn seal_if_ptraceable(spec: &oci_spec::runtime::Spec, process: &Process) -> Result<()> {
    let asked: Vec<_> = process
        .capabilities()
        .iter()
        .flat_map(|c| {
            [c.bounding(), c.effective(), c.permitted()]
                .into_iter()
                .flatten()
                .flat_map(|set| set.iter().copied())
        })
        .collect();
    if crate::security::sealed_exe::container_may_ptrace(spec, &asked) {
        crate::security::sealed_exe::ensure_readonly()?;
    }
    Ok(())
}

/// The console: `--console-socket` connected, or in the foreground
/// without one a pty pair whose first end hako keeps (`own`) and whose
/// second goes to the process.
fn console(args: &ExecArgs, terminal: bool) -> Result<(Option<UnixStream>, Option<OwnedFd>)> {
    match &args.console_socket {
        Some(path) => {
            let stream = UnixStream::connect(path)
                .ctx(|| format!("connecting to console socket {}", path.display()))?;
            Ok((None, Some(OwnedFd::from(stream))))
        }
        None if terminal => {
            let (ours, theirs) = crate::process::tty::socket_pair()?;
            Ok((Some(ours), Some(theirs)))
        }
        None => Ok((None, None)),
    }
}

/// The process to run: `--process`, or the container's process with the
/// command and the flags' changes.
pub fn process_for(args: &ExecArgs, spec: &oci_spec::runtime::Spec) -> Result<Process> {
    if let Some(path) = &args.process {
        let raw = crate::spec::read_json_file(path)?;
        let p: Process = crate::spec::parse_process(&raw)
            .map_err(|e| Error::invalid(format!("{}: {e}", path.display())))?;
        if p.args().as_deref().unwrap_or_default().is_empty() {
            return Err(Error::invalid(format!(
                "{}: args must not be empty",
                path.display()
            )));
        }
        return Ok(p);
    }
    if args.command.is_empty() {
        return Err(Error::invalid("exec needs a command or --process"));
    }
    let mut p = spec
        .process()
        .clone()
        .ok_or_else(|| Error::invalid("the container's spec has no process"))?;
    p.set_args(Some(args.command.clone()));
    p.set_terminal(Some(args.tty));
    p.set_console_size(None);
    if let Some(cwd) = &args.cwd {
        p.set_cwd(cwd.clone());
    }
    let mut env = p.env().clone().unwrap_or_default();
    for e in &args.env {
        let key = e.split('=').next().unwrap_or_default();
        env.retain(|x| x.split('=').next() != Some(key));
        env.push(e.clone());
    }
    p.set_env(Some(env));
    if let Some(user) = &args.user {
        let (uid, gid) = parse_user(user)?;
        let mut u = p.user().clone();
        u.set_uid(uid);
        u.set_gid(gid.unwrap_or(u.gid()));
        p.set_user(u);
    }
    if !args.additional_gids.is_empty() {
        let mut u = p.user().clone();
        u.set_additional_gids(Some(args.additional_gids.clone()));
        p.set_user(u);
    }
    if !args.caps.is_empty() {
        let mut caps = p.capabilities().clone().unwrap_or_default();
        for name in &args.caps {
            let cap: oci_spec::runtime::Capability =
                serde_json::from_value(serde_json::Value::String(name.clone()))
                    .map_err(|_| Error::invalid(format!("--cap: unknown capability {name:?}")))?;
            let add = |s: &Option<oci_spec::runtime::Capabilities>| {
                let mut s = s.clone().unwrap_or_default();
                s.insert(cap);
                Some(s)
            };
            caps.set_bounding(add(caps.bounding()));
            caps.set_effective(add(caps.effective()));
            caps.set_permitted(add(caps.permitted()));
        }
        p.set_capabilities(Some(caps));
    }
    if args.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if let Some(profile) = &args.apparmor {
        p.set_apparmor_profile(Some(profile.clone()));
    }
    if let Some(label) = &args.process_label {
        p.set_selinux_label(Some(label.clone()));
    }
    Ok(p)
}

/// `uid[:gid]`, numeric.
pub fn parse_user(user: &str) -> Result<(u32, Option<u32>)> {
    let bad = || Error::invalid(format!("--user {user:?}: expected uid[:gid] (numbers)"));
    let (uid, gid) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let uid = uid.parse().map_err(|_| bad())?;
    let gid = gid.map(|g| g.parse().map_err(|_| bad())).transpose()?;
    Ok((uid, gid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users() {
        assert_eq!(parse_user("1000").unwrap(), (1000, None));
        assert_eq!(parse_user("1000:100").unwrap(), (1000, Some(100)));
        assert!(parse_user("alice").is_err());
        assert!(parse_user("1:x").is_err());
    }
}
