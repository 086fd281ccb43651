//! Applying `process` to the calling process, in the order the kernel
//! needs: oom score, rlimits and scheduling (`tuning`) while still
//! privileged, then
//! no_new_privs, seccomp (when it must precede the capability drop), the
//! bounding set, the user, the capability sets, the LSM labels, and the
//! working directory. Container init and `hako exec` share it.

use std::os::fd::AsRawFd;

use oci_spec::runtime::{Linux, Process};

use super::channel::{Channel, Message};
use crate::error::{Context, Error, Result};
use crate::security::{credentials, rlimits};
use crate::spec::ProcessPlan;

/// When the seccomp filter is loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeccompWhen {
    /// Before capabilities are dropped: without no_new_privs, loading a
    /// filter needs CAP_SYS_ADMIN.
    BeforeCapabilities,
    /// Just before reporting ready: a notifying filter's descriptor must
    /// reach the agent while hako still runs.
    BeforeReady,
    /// Right before the workload, after `start`: the latest possible.
    AfterStart,
}

/// Picks the loading point (runc's rule, plus the notify case).
pub fn seccomp_when(no_new_privileges: bool, notify: bool) -> SeccompWhen {
    match (no_new_privileges, notify) {
        (false, _) => SeccompWhen::BeforeCapabilities,
        (true, true) => SeccompWhen::BeforeReady,
        (true, false) => SeccompWhen::AfterStart,
    }
}

/// A built filter not loaded yet, with its moment and whether it notifies.
pub type Seccomp = Option<(libseccomp::ScmpFilterContext, SeccompWhen, bool)>;

/// Loads the filter if now is its time; a notify descriptor goes to hako.
pub fn load_seccomp(
    seccomp: &mut Seccomp,
    now: SeccompWhen,
    channel: Option<&Channel>,
) -> Result<()> {
    if seccomp.as_ref().is_none_or(|(_, when, _)| *when != now) {
        return Ok(());
    }
    let (ctx, _, notify) = seccomp.take().expect("checked above");
    if let Some(fd) = crate::seccomp::load(ctx, notify)? {
        let channel = channel.ok_or_else(|| {
            Error::invalid("a notifying seccomp filter needs hako to forward its descriptor")
        })?;
        channel.send_fd(&Message::SeccompFd, fd.as_raw_fd())?;
    }
    Ok(())
}

/// Applies the process's attributes; returns the seccomp filter if it is
/// to be loaded later.
pub fn apply(
    process: &Process,
    plan: &ProcessPlan,
    linux: Option<&Linux>,
    channel: &Channel,
) -> Result<Seccomp> {
    if let Some(adj) = process.oom_score_adj() {
        std::fs::write("/proc/self/oom_score_adj", adj.to_string()).map_err(|err| {
            let why = if err.raw_os_error() == Some(libc::EACCES) {
                " (lowering it needs CAP_SYS_RESOURCE)"
            } else {
                ""
            };
            Error::Io {
                context: format!("setting process.oomScoreAdj {adj}{why}"),
                err,
            }
        })?;
    }
    rlimits::apply(&plan.rlimits)?;
    plan.tuning.apply()?;
    let caps = &plan.capabilities;
    let nnp = process.no_new_privileges().unwrap_or(false);
    if nnp {
        nix::sys::prctl::set_no_new_privs().ctx(|| "setting no_new_privs".into())?;
    }
    let mut seccomp: Seccomp = match linux.and_then(|l| l.seccomp().as_ref()) {
        Some(profile) => {
            let notify = crate::seccomp::uses_notify(profile);
            Some((
                crate::seccomp::build(profile)?,
                seccomp_when(nnp, notify),
                notify,
            ))
        }
        None => None,
    };
    load_seccomp(&mut seccomp, SeccompWhen::BeforeCapabilities, Some(channel))?;
    if let Some(caps) = &caps {
        caps.apply_bounding()?;
    }
    credentials::switch_user(process.user())?;
    if let Some(caps) = &caps {
        caps.apply_sets()?;
    }
    // Changing user resets dumpable to the sysctl's choice; set-up must
    // stay non-dumpable (CVE-2019-5736) until the workload's execve.
    nix::sys::prctl::set_dumpable(false).ctx(|| "keeping the process non-dumpable".into())?;
    nix::unistd::chdir(process.cwd())
        .ctx(|| format!("chdir to process.cwd {}", process.cwd().display()))?;
    Ok(seccomp)
}
