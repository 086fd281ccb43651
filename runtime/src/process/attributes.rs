//! Applying `process` to the calling process, in the order the kernel
//! needs: oom score, rlimits and scheduling (`tuning`) while still
//! privileged, then
//! no_new_privs, seccomp (when it must precede the capability drop), the
//! bounding set, the user, the capability sets, the LSM labels, and the
//! working directory. Container init and `hako exec` share it.

use std::os::fd::AsRawFd;

use oci_spec::runtime::{Linux, Process};

use super::channel::{ChildEnd, ToHako};
use crate::error::{Context, Error, Result};
use crate::security::{credentials, rlimits};
use crate::spec::ProcessPlan;
use crate::syscall::Syscall;

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
    channel: Option<&ChildEnd>,
) -> Result<()> {
    if seccomp.as_ref().is_none_or(|(_, when, _)| *when != now) {
        return Ok(());
    }
    let (ctx, _, notify) = seccomp.take().expect("checked above");
    if let Some(fd) = crate::seccomp::load(ctx, notify)? {
        let channel = channel.ok_or_else(|| {
            Error::invalid("a notifying seccomp filter needs hako to forward its descriptor")
        })?;
        channel.send_fd(&ToHako::SeccompFd, fd.as_raw_fd())?;
    }
    Ok(())
}

/// Applies the process's attributes; returns the seccomp filter if it is
/// to be loaded later.
pub fn apply(
    sys: &dyn Syscall,
    process: &Process,
    plan: &ProcessPlan,
    linux: Option<&Linux>,
    prebuilt: Option<libseccomp::ScmpFilterContext>,
    channel: &ChildEnd,
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
    rlimits::apply(sys, &plan.rlimits)?;
    plan.tuning.apply(sys)?;
    let caps = &plan.capabilities;
    let nnp = process.no_new_privileges().unwrap_or(false);
    if nnp {
        sys.prctl(libc::PR_SET_NO_NEW_PRIVS, 1)
            .ctx(|| "setting no_new_privs".into())?;
    }
    let mut seccomp: Seccomp = match linux.and_then(|l| l.seccomp().as_ref()) {
        Some(profile) => {
            let notify = crate::seccomp::uses_notify(profile);
            let filter = match prebuilt {
                Some(filter) => filter,
                None => crate::seccomp::build(profile)?,
            };
            Some((filter, seccomp_when(nnp, notify), notify))
        }
        None => None,
    };
    load_seccomp(&mut seccomp, SeccompWhen::BeforeCapabilities, Some(channel))?;
    if let Some(caps) = &caps {
        caps.apply_bounding(sys)?;
    }
    credentials::switch_user(sys, process.user())?;
    if let Some(caps) = &caps {
        caps.apply_sets(sys)?;
    }
    // Changing user resets dumpable to the sysctl's choice; set-up must
    // stay non-dumpable (CVE-2019-5736) until the workload's execve.
    sys.prctl(libc::PR_SET_DUMPABLE, 0)
        .ctx(|| "keeping the process non-dumpable".into())?;
    sys.chdir(process.cwd())
        .ctx(|| format!("chdir to process.cwd {}", process.cwd().display()))?;
    Ok(seccomp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::{Call, RecordingSyscall};

    fn process() -> Process {
        serde_json::from_value(serde_json::json!({
            "args": ["sh"],
            "cwd": "/work",
            "noNewPrivileges": true,
            "user": {"uid": 1000, "gid": 1001, "additionalGids": [5, 6], "umask": 23},
            "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}],
            "ioPriority": {"class": "IOPRIO_CLASS_BE", "priority": 4},
            "capabilities": {
                "bounding": ["CAP_KILL"],
                "effective": ["CAP_KILL"],
                "permitted": ["CAP_KILL"],
                "inheritable": [],
                "ambient": ["CAP_KILL"]
            }
        }))
        .unwrap()
    }

    fn prctl(option: i32, arg: u64) -> Call {
        Call::Prctl {
            option,
            arg,
            arg2: 0,
        }
    }

    /// The order the kernel needs: limits and scheduling while privileged,
    /// no_new_privs, the bounding set (needs CAP_SETPCAP), then the user
    /// (keeping capabilities across it), then the capability sets, then
    /// non-dumpable again and the working directory.
    #[test]
    fn attributes_are_applied_in_the_kernel_s_order() {
        let process = process();
        let plan = ProcessPlan::new(&process, None).unwrap();
        let (_peer, channel) = super::super::channel::pair().unwrap();
        let sys = RecordingSyscall::default();
        let seccomp = apply(&sys, &process, &plan, None, None, &channel).unwrap();
        assert!(seccomp.is_none());
        let calls = sys.calls();
        let drops: Vec<usize> = calls
            .iter()
            .enumerate()
            .filter(|(_, c)| matches!(c, Call::Prctl { option, .. } if *option == libc::PR_CAPBSET_DROP))
            .map(|(i, _)| i)
            .collect();
        // Every capability but CAP_KILL (5) leaves the bounding set, right
        // after no_new_privs and before the user changes.
        assert!(drops.len() >= 30, "{calls:#?}");
        assert_eq!(drops, (3..3 + drops.len()).collect::<Vec<_>>());
        assert!(!calls.contains(&prctl(libc::PR_CAPBSET_DROP, 5)));
        let rest: Vec<Call> = calls
            .into_iter()
            .filter(
                |c| !matches!(c, Call::Prctl { option, .. } if *option == libc::PR_CAPBSET_DROP),
            )
            .collect();
        let kill = vec!["CAP_KILL".to_string()];
        let expected = vec![
            Call::Setrlimit {
                resource: libc::RLIMIT_NOFILE,
                soft: 100,
                hard: 200,
            },
            Call::IoprioSet {
                value: (2 << 13) | 4,
            },
            prctl(libc::PR_SET_NO_NEW_PRIVS, 1),
            Call::Setgroups { groups: vec![5, 6] },
            prctl(libc::PR_SET_KEEPCAPS, 1),
            Call::Setresgid { gid: 1001 },
            Call::Setresuid { uid: 1000 },
            prctl(libc::PR_SET_KEEPCAPS, 0),
            Call::Umask { mode: 23 },
            Call::Capset {
                set: "Inheritable".into(),
                caps: vec![],
            },
            Call::Capset {
                set: "Effective".into(),
                caps: kill.clone(),
            },
            Call::Capset {
                set: "Permitted".into(),
                caps: kill,
            },
            prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as u64),
            Call::Prctl {
                option: libc::PR_CAP_AMBIENT,
                arg: libc::PR_CAP_AMBIENT_RAISE as u64,
                arg2: 5,
            },
            prctl(libc::PR_SET_DUMPABLE, 0),
            Call::Chdir {
                path: "/work".into(),
            },
        ];
        assert_eq!(rest, expected);
    }

    /// Without a capabilities object nothing of the capability sets is
    /// touched, and without no_new_privs it is not set.
    #[test]
    fn only_what_the_spec_asks_for() {
        let mut process = process();
        process.set_capabilities(None);
        process.set_no_new_privileges(None);
        process.set_rlimits(None);
        process.set_io_priority(None);
        let plan = ProcessPlan::new(&process, None).unwrap();
        let (_peer, channel) = super::super::channel::pair().unwrap();
        let sys = RecordingSyscall::default();
        apply(&sys, &process, &plan, None, None, &channel).unwrap();
        let calls = sys.calls();
        assert!(
            calls.iter().all(|c| !matches!(
                c,
                Call::Capset { .. } | Call::Setrlimit { .. } | Call::IoprioSet { .. }
            )),
            "{calls:#?}"
        );
        assert!(!calls.contains(&prctl(libc::PR_SET_NO_NEW_PRIVS, 1)));
        assert!(calls.contains(&Call::Setresuid { uid: 1000 }));
    }
}
