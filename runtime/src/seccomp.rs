//! `linux.seccomp`, through libseccomp.
//!
//! The filter is built from the spec in hako (so a bad profile fails
//! `create` before anything exists) and again in container init, which
//! loads it as late as it can: right before the workload when
//! `noNewPrivileges` is set, otherwise before capabilities are dropped
//! (loading needs CAP_SYS_ADMIN then). A profile with `SCMP_ACT_NOTIFY`
//! is loaded before init reports ready, and its listener fd goes to
//! `listenerPath` with the container's state, as the runtime spec says.
//!
//! Syscalls newer than every one a denying profile names return ENOSYS
//! instead of the default action, as runc does: a profile written before
//! clone3 or close_range existed then makes a new libc fall back to the
//! old calls instead of failing with EPERM.

use std::collections::HashSet;
use std::os::fd::{FromRawFd, OwnedFd};

use libseccomp::{
    ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext, ScmpSyscall,
};
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction, LinuxSeccompArg, LinuxSeccompFilterFlag,
    LinuxSeccompOperator, LinuxSyscall,
};

use crate::error::{Error, Result};

fn err(e: impl std::fmt::Display) -> Error {
    Error::invalid(format!("linux.seccomp: {e}"))
}

/// The action of a spec action; `errno` is the rule's own errnoRet (or
/// `defaultErrnoRet` for the default action), else EPERM.
pub fn action(a: LinuxSeccompAction, errno: Option<u32>) -> ScmpAction {
    match a {
        LinuxSeccompAction::ScmpActKill | LinuxSeccompAction::ScmpActKillThread => {
            ScmpAction::KillThread
        }
        LinuxSeccompAction::ScmpActKillProcess => ScmpAction::KillProcess,
        LinuxSeccompAction::ScmpActTrap => ScmpAction::Trap,
        LinuxSeccompAction::ScmpActErrno => {
            ScmpAction::Errno(errno.unwrap_or(libc::EPERM as u32) as i32)
        }
        LinuxSeccompAction::ScmpActNotify => ScmpAction::Notify,
        LinuxSeccompAction::ScmpActTrace => {
            ScmpAction::Trace(errno.unwrap_or(libc::EPERM as u32) as u16)
        }
        LinuxSeccompAction::ScmpActLog => ScmpAction::Log,
        LinuxSeccompAction::ScmpActAllow => ScmpAction::Allow,
    }
}

fn operator(op: LinuxSeccompOperator, value: u64) -> ScmpCompareOp {
    match op {
        LinuxSeccompOperator::ScmpCmpNe => ScmpCompareOp::NotEqual,
        LinuxSeccompOperator::ScmpCmpLt => ScmpCompareOp::Less,
        LinuxSeccompOperator::ScmpCmpLe => ScmpCompareOp::LessOrEqual,
        LinuxSeccompOperator::ScmpCmpEq => ScmpCompareOp::Equal,
        LinuxSeccompOperator::ScmpCmpGe => ScmpCompareOp::GreaterEqual,
        LinuxSeccompOperator::ScmpCmpGt => ScmpCompareOp::Greater,
        // OCI: value is the mask, valueTwo the expected value.
        LinuxSeccompOperator::ScmpCmpMaskedEq => ScmpCompareOp::MaskedEqual(value),
    }
}

/// libseccomp's name for a spec architecture.
fn scmp_arch(a: Arch) -> ScmpArch {
    match a {
        Arch::ScmpArchNative => ScmpArch::Native,
        Arch::ScmpArchX86 => ScmpArch::X86,
        Arch::ScmpArchX86_64 => ScmpArch::X8664,
        Arch::ScmpArchX32 => ScmpArch::X32,
        Arch::ScmpArchArm => ScmpArch::Arm,
        Arch::ScmpArchAarch64 => ScmpArch::Aarch64,
        Arch::ScmpArchMips => ScmpArch::Mips,
        Arch::ScmpArchMips64 => ScmpArch::Mips64,
        Arch::ScmpArchMips64n32 => ScmpArch::Mips64N32,
        Arch::ScmpArchMipsel => ScmpArch::Mipsel,
        Arch::ScmpArchMipsel64 => ScmpArch::Mipsel64,
        Arch::ScmpArchMipsel64n32 => ScmpArch::Mipsel64N32,
        Arch::ScmpArchPpc => ScmpArch::Ppc,
        Arch::ScmpArchPpc64 => ScmpArch::Ppc64,
        Arch::ScmpArchPpc64le => ScmpArch::Ppc64Le,
        Arch::ScmpArchS390 => ScmpArch::S390,
        Arch::ScmpArchS390x => ScmpArch::S390X,
        Arch::ScmpArchParisc => ScmpArch::Parisc,
        Arch::ScmpArchParisc64 => ScmpArch::Parisc64,
        Arch::ScmpArchRiscv64 => ScmpArch::Riscv64,
        Arch::ScmpArchLoongarch64 => ScmpArch::Loongarch64,
        Arch::ScmpArchM68k => ScmpArch::M68k,
        Arch::ScmpArchSh => ScmpArch::Sh,
        Arch::ScmpArchSheb => ScmpArch::Sheb,
    }
}

/// Actions that return an errno (TRACE passes it to a tracer, or returns
/// it without one).
fn takes_errno(a: LinuxSeccompAction) -> bool {
    matches!(
        a,
        LinuxSeccompAction::ScmpActErrno | LinuxSeccompAction::ScmpActTrace
    )
}

/// Whether any rule (or the default) notifies a listener.
pub fn uses_notify(s: &LinuxSeccomp) -> bool {
    s.default_action() == LinuxSeccompAction::ScmpActNotify
        || s.syscalls()
            .as_deref()
            .unwrap_or_default()
            .iter()
            .any(|r| r.action() == LinuxSeccompAction::ScmpActNotify)
}

/// Builds the filter. Syscalls this libseccomp does not know are skipped
/// (profiles list syscalls of newer kernels); rules whose action is the
/// default are skipped (libseccomp refuses them and they change nothing).
pub fn build(s: &LinuxSeccomp) -> Result<ScmpFilterContext> {
    check_errnos(s)?;
    let default = action(s.default_action(), s.default_errno_ret());
    let mut ctx = ScmpFilterContext::new(default).map_err(err)?;
    // no_new_privs is the spec's decision (process.noNewPrivileges), not
    // libseccomp's default.
    ctx.set_ctl_nnp(false).map_err(err)?;
    add_architectures(&mut ctx, s)?;
    set_flags(&mut ctx, s)?;
    let rules = s.syscalls().as_deref().unwrap_or_default();
    for (i, rule) in rules.iter().enumerate() {
        add_rule(&mut ctx, default, i, rule)?;
    }
    if stubs_newer_syscalls(default) {
        add_enosys_stubs(&mut ctx, rules);
    }
    Ok(ctx)
}

/// The spec: an errno on an action that takes none is an error, for the
/// default action and for each rule.
fn check_errnos(s: &LinuxSeccomp) -> Result<()> {
    if s.default_errno_ret().is_some() && !takes_errno(s.default_action()) {
        return Err(err(format!(
            "defaultErrnoRet is set but defaultAction {:?} takes no errno",
            s.default_action()
        )));
    }
    let rules = s.syscalls().as_deref().unwrap_or_default();
    for (i, rule) in rules.iter().enumerate() {
        if rule.errno_ret().is_some() && !takes_errno(rule.action()) {
            return Err(err(format!(
                "syscalls[{i}]: errnoRet is set but action {:?} takes no errno",
                rule.action()
            )));
        }
    }
    Ok(())
}

/// Adds the profile's architectures to the native one.
fn add_architectures(ctx: &mut ScmpFilterContext, s: &LinuxSeccomp) -> Result<()> {
    for &arch in s.architectures().as_deref().unwrap_or_default() {
        // EINVAL from either call: this libseccomp does not know the arch.
        let refused = |e| err(format!("architecture {arch}: {e}"));
        let scmp = scmp_arch(arch);
        if !ctx.is_arch_present(scmp).map_err(refused)? {
            ctx.add_arch(scmp).map_err(refused)?;
        }
    }
    Ok(())
}

/// Sets the filter flags the profile asks for.
fn set_flags(ctx: &mut ScmpFilterContext, s: &LinuxSeccomp) -> Result<()> {
    for flag in s.flags().as_deref().unwrap_or_default() {
        match flag {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => ctx.set_ctl_log(true),
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => ctx.set_ctl_ssb(true),
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => ctx.set_ctl_tsync(true),
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => ctx.set_ctl_waitkill(true),
        }
        .map_err(|e| err(format!("flag {flag:?}: {e}")))?;
    }
    Ok(())
}

/// Adds `syscalls[i]`, unless its action is the default's. A syscall this
/// libseccomp does not know is skipped (profiles name newer ones).
fn add_rule(
    ctx: &mut ScmpFilterContext,
    default: ScmpAction,
    i: usize,
    rule: &LinuxSyscall,
) -> Result<()> {
    // defaultErrnoRet is for the default action only: a rule without its
    // own errnoRet returns EPERM (runtime-spec, runc).
    let act = action(rule.action(), rule.errno_ret());
    if act == default {
        return Ok(());
    }
    let args = rule.args().as_deref().unwrap_or_default();
    let conditions: Vec<ScmpArgCompare> = args.iter().map(condition).collect();
    // Conditions on one argument index are alternatives (runc): one rule
    // each. Otherwise all conditions hold together.
    let mut seen = HashSet::new();
    let alternatives = args.iter().any(|a| !seen.insert(a.index()));
    for name in rule.names() {
        let Ok(syscall) = ScmpSyscall::from_name(name) else {
            tracing::debug!(syscall = %name, "seccomp: unknown syscall skipped");
            continue;
        };
        let added = if conditions.is_empty() {
            ctx.add_rule(act, syscall).map(drop)
        } else if alternatives {
            conditions
                .iter()
                .try_for_each(|c| ctx.add_rule_conditional(act, syscall, &[*c]).map(drop))
        } else {
            ctx.add_rule_conditional(act, syscall, &conditions)
                .map(drop)
        };
        added.map_err(|e| err(format!("syscalls[{i}] {name}: {e}")))?;
    }
    Ok(())
}

/// One argument condition.
fn condition(a: &LinuxSeccompArg) -> ScmpArgCompare {
    let datum = if a.op() == LinuxSeccompOperator::ScmpCmpMaskedEq {
        a.value_two().unwrap_or(0)
    } else {
        a.value()
    };
    ScmpArgCompare::new(a.index() as u32, operator(a.op(), a.value()), datum)
}

/// ENOSYS for syscalls newer than every one the profile names, so that
/// libc falls back instead of seeing EPERM (a convenience for old
/// profiles, not part of the profile: a syscall some added architecture
/// lacks is simply left out).
fn add_enosys_stubs(ctx: &mut ScmpFilterContext, rules: &[LinuxSyscall]) {
    let named: Vec<i32> = rules
        .iter()
        .flat_map(|rule| rule.names())
        .filter_map(|name| ScmpSyscall::from_name(name).ok())
        .map(i32::from)
        .collect();
    let native = ScmpArch::native();
    let name_of = |nr: i32| ScmpSyscall::from(nr).get_name_by_arch(native).ok();
    for name in newer_than_named(&named, name_of) {
        let added = ScmpSyscall::from_name(&name)
            .and_then(|syscall| ctx.add_rule(ScmpAction::Errno(libc::ENOSYS), syscall));
        if let Err(e) = added {
            tracing::debug!(syscall = %name, "seccomp: no ENOSYS rule: {e}");
        }
    }
}

/// Whether unnamed newer syscalls get ENOSYS under this default action:
/// only when the default denies, and not with ENOSYS already or with a
/// listener that decides for itself.
fn stubs_newer_syscalls(default: ScmpAction) -> bool {
    !matches!(
        default,
        ScmpAction::Allow | ScmpAction::Log | ScmpAction::Notify | ScmpAction::Errno(libc::ENOSYS)
    )
}

/// Native syscall numbers are below this (x86_64 is in the 400s; x32
/// numbers carry a high bit and are not native).
const SYSCALL_LIMIT: i32 = 1024;

/// The syscalls numbered above the highest of `named` (native numbers;
/// pseudo numbers are negative) that `name_of` knows, by name. A profile
/// that names nothing gets none: it denies everything on purpose.
fn newer_than_named(named: &[i32], name_of: impl Fn(i32) -> Option<String>) -> Vec<String> {
    let Some(newest) = named.iter().copied().filter(|nr| *nr >= 0).max() else {
        return Vec::new();
    };
    (newest + 1..SYSCALL_LIMIT).filter_map(name_of).collect()
}

/// Loads a built filter; returns the notify descriptor if it has one.
/// With threads already running (an engine's), all of them get the filter.
pub fn load(mut ctx: ScmpFilterContext, notify: bool) -> Result<Option<OwnedFd>> {
    if !notify {
        // TSYNC and a listener do not combine; without a listener, every
        // thread of the process must be filtered.
        ctx.set_ctl_tsync(true).map_err(err)?;
    }
    ctx.load().map_err(|e| match e.sysrawrc() {
        // The kernel's refusal keeps its errno.
        Some(rc) if rc < 0 => Error::Sys {
            context: "linux.seccomp: loading the filter".into(),
            errno: nix::errno::Errno::from_raw(-rc),
        },
        _ => err(format!("loading the filter: {e}")),
    })?;
    if !notify {
        return Ok(None);
    }
    let fd = ctx
        .get_notify_fd()
        .map_err(|e| err(format!("notify descriptor: {e}")))?;
    // SAFETY: libseccomp hands over the listener descriptor; dup it so that
    // dropping the context (which owns the original) does not close ours.
    let dup = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
    if dup < 0 {
        return Err(err(format!(
            "duplicating the notify descriptor: {}",
            crate::error::describe_errno(nix::errno::Errno::last())
        )));
    }
    // SAFETY: dup is a fresh descriptor owned by no one else.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(dup) }))
}

/// The document sent with the notify descriptor to `listenerPath`
/// (runtime-spec "ContainerProcessState").
pub fn process_state(state: &crate::hooks::HookState, metadata: Option<&str>) -> String {
    let mut doc = oci_spec::runtime::ContainerProcessState::default();
    doc.set_version(crate::state::OCI_VERSION.into())
        .set_fds(vec![oci_spec::runtime::SECCOMP_FD_NAME.into()])
        .set_pid(state.pid().unwrap_or(0))
        .set_metadata(metadata.map(String::from))
        .set_state(state.clone());
    serde_json::to_string(&doc).expect("state serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(v: serde_json::Value) -> LinuxSeccomp {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn actions_map() {
        assert_eq!(
            action(LinuxSeccompAction::ScmpActErrno, Some(13)),
            ScmpAction::Errno(13)
        );
        assert_eq!(
            action(LinuxSeccompAction::ScmpActErrno, None),
            ScmpAction::Errno(libc::EPERM)
        );
        assert_eq!(
            action(LinuxSeccompAction::ScmpActKill, None),
            ScmpAction::KillThread
        );
        assert_eq!(
            action(LinuxSeccompAction::ScmpActKillProcess, None),
            ScmpAction::KillProcess
        );
        assert_eq!(
            action(LinuxSeccompAction::ScmpActTrace, Some(7)),
            ScmpAction::Trace(7)
        );
    }

    /// The filter as libseccomp's PFC text, to see the actions it holds.
    fn pfc(profile: serde_json::Value) -> String {
        let s: LinuxSeccomp = serde_json::from_value(profile).unwrap();
        let ctx = build(&s).unwrap();
        use std::io::{Read, Seek};
        let mut f = tempfile::tempfile().unwrap();
        ctx.export_pfc(&f).unwrap();
        f.rewind().unwrap();
        let mut text = String::new();
        f.read_to_string(&mut text).unwrap();
        text
    }

    #[test]
    fn default_errno_is_only_for_the_default_action() {
        let text = pfc(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38,
            "syscalls": [
                {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"},
                {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"}
            ]
        }));
        assert!(text.contains("ERRNO(38)"), "{text}");
        assert!(text.contains("ERRNO(1)"), "mkdir must get EPERM: {text}");
        assert!(text.contains("ERRNO(13)"), "{text}");
    }

    #[test]
    fn errno_on_an_action_without_one_is_refused() {
        for profile in [
            serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 38}),
            serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                {"names": ["mkdir"], "action": "SCMP_ACT_KILL", "errnoRet": 1}]}),
        ] {
            let s: LinuxSeccomp = serde_json::from_value(profile).unwrap();
            let Err(e) = build(&s) else {
                panic!("accepted")
            };
            let e = e.to_string();
            assert!(e.contains("takes no errno"), "{e}");
        }
    }

    #[test]
    fn rules_args_and_unknown_syscalls() {
        let p = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "flags": ["SECCOMP_FILTER_FLAG_LOG"],
            "syscalls": [
                {"names": ["chmod", "no_such_syscall_anywhere"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
                {"names": ["personality"], "action": "SCMP_ACT_ERRNO", "args": [
                    {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}, {"index": 0, "value": 131072, "op": "SCMP_CMP_EQ"}]},
                {"names": ["socket"], "action": "SCMP_ACT_ERRNO", "args": [
                    {"index": 0, "value": 16, "op": "SCMP_CMP_EQ"}, {"index": 2, "value": 9, "op": "SCMP_CMP_EQ"}]},
                {"names": ["clone"], "action": "SCMP_ACT_ERRNO", "args": [
                    {"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]},
                {"names": ["getpid"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}
            ]
        }));
        build(&p).unwrap();
        assert!(uses_notify(&p));
        let bad = profile(
            serde_json::json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_SH"]}),
        );
        // Debian 12's libseccomp 2.5.4 has no SuperH support.
        let Err(e) = build(&bad) else {
            panic!("SCMP_ARCH_SH was accepted")
        };
        assert_eq!(
            e.to_string(),
            "linux.seccomp: architecture SCMP_ARCH_SH: Invalid input to the libseccomp API"
        );
        let other = profile(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64"]
        }));
        let ctx = build(&other).unwrap();
        assert!(ctx.is_arch_present(ScmpArch::Aarch64).unwrap());
    }

    #[test]
    fn only_syscalls_newer_than_the_profile_get_enosys() {
        let name_of = |nr: i32| (400..=436).contains(&nr).then(|| format!("sys{nr}"));
        assert_eq!(
            newer_than_named(&[0, 434, -10, 57], name_of),
            vec!["sys435".to_string(), "sys436".to_string()]
        );
        assert!(newer_than_named(&[], name_of).is_empty());
        assert!(newer_than_named(&[-101], name_of).is_empty());
        assert!(stubs_newer_syscalls(ScmpAction::Errno(libc::EPERM)));
        assert!(stubs_newer_syscalls(ScmpAction::KillProcess));
        assert!(!stubs_newer_syscalls(ScmpAction::Allow));
        assert!(!stubs_newer_syscalls(ScmpAction::Errno(libc::ENOSYS)));
        assert!(!stubs_newer_syscalls(ScmpAction::Notify));
    }

    #[test]
    fn an_allowing_profile_gets_no_enosys_rules() {
        let text = pfc(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]
        }));
        assert!(!text.contains("ERRNO(38)"), "{text}");
    }
}
