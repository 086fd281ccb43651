//! OCI hooks: programs run at fixed points of the lifecycle, each given
//! the container's state as JSON on stdin.
//!
//! | hook             | runs in                 | run by             | failure      |
//! |------------------|-------------------------|--------------------|--------------|
//! | prestart         | runtime namespaces      | hako create        | fails create |
//! | createRuntime    | runtime namespaces      | hako create        | fails create |
//! | createContainer  | container namespaces    | init, before pivot | fails create |
//! | startContainer   | container namespaces    | init, after start  | init exits 1 |
//! | poststart        | runtime namespaces      | hako start         | fails start  |
//! | poststop         | runtime namespaces      | hako delete        | warning only |

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oci_spec::runtime::{ContainerState, Hook, Spec, State};

use crate::error::{Error, Result};

/// The hook names, in lifecycle order.
pub const NAMES: &[&str] = &[
    "prestart",
    "createRuntime",
    "createContainer",
    "startContainer",
    "poststart",
    "poststop",
];

/// A point of the lifecycle that has hooks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Deprecated alias of createRuntime, run just before it.
    Prestart,
    /// After the container's namespaces and mounts exist, before pivot_root.
    CreateRuntime,
    /// Same moment, inside the container's namespaces.
    CreateContainer,
    /// After `start`, just before the workload runs, inside the container.
    StartContainer,
    /// After the workload started, before `start` returns.
    Poststart,
    /// After the container is deleted, before `delete` returns.
    Poststop,
}

impl Stage {
    /// The spec's name.
    pub fn name(self) -> &'static str {
        NAMES[self as usize]
    }

    /// The hooks for this stage in a spec.
    pub fn hooks(self, spec: &Spec) -> Vec<Hook> {
        let Some(h) = spec.hooks() else { return vec![] };
        #[allow(deprecated)]
        let list = match self {
            Stage::Prestart => h.prestart(),
            Stage::CreateRuntime => h.create_runtime(),
            Stage::CreateContainer => h.create_container(),
            Stage::StartContainer => h.start_container(),
            Stage::Poststart => h.poststart(),
            Stage::Poststop => h.poststop(),
        };
        list.clone().unwrap_or_default()
    }
}

/// The state document hooks read on stdin: the runtime spec's state, as
/// oci-spec types it.
pub type HookState = State;

/// The state document of container `id` for its hooks; `annotations` are
/// the spec's, left out when there are none.
pub fn state(
    id: &str,
    status: ContainerState,
    pid: Option<i32>,
    bundle: &std::path::Path,
    spec: &Spec,
) -> HookState {
    let mut state = State::default();
    state
        .set_version(crate::state::OCI_VERSION.into())
        .set_id(id.into())
        .set_status(status)
        .set_pid(pid)
        .set_bundle(bundle.to_path_buf())
        .set_annotations(spec.annotations().clone().filter(|a| !a.is_empty()));
    state
}

fn json(state: &HookState) -> String {
    serde_json::to_string(state).expect("state serialises")
}

/// Runs every hook of a stage in order; the first failure stops them.
pub fn run(stage: Stage, spec: &Spec, state: &HookState) -> Result<()> {
    run_each(stage, spec, state, Err)
}

/// Runs every hook of a stage in order, each failure only logged as a
/// warning: the runtime spec's rule for poststop ("the remaining hooks and
/// lifecycle continue as if the hook had succeeded").
pub fn run_warn(stage: Stage, spec: &Spec, state: &HookState) {
    let warned = run_each(stage, spec, state, |e| {
        tracing::warn!("{e}");
        Ok(())
    });
    debug_assert!(warned.is_ok(), "failures are only warned about");
}

/// Runs the hooks of a stage in order; `failed` decides whether a failure
/// stops the rest (it returns the error) or not.
fn run_each(
    stage: Stage,
    spec: &Spec,
    state: &HookState,
    mut failed: impl FnMut(Error) -> Result<()>,
) -> Result<()> {
    let hooks = stage.hooks(spec);
    if hooks.is_empty() {
        return Ok(());
    }
    let json = json(state);
    // Hooks run in the container see the process's environment unless
    // they name their own (runc's init has it set by then).
    let inherited: &[String] = match stage {
        Stage::CreateContainer | Stage::StartContainer => spec
            .process()
            .as_ref()
            .and_then(|p| p.env().as_deref())
            .unwrap_or_default(),
        _ => &[],
    };
    for (i, hook) in hooks.iter().enumerate() {
        tracing::debug!(stage = stage.name(), path = %hook.path().display(), "running hook");
        if let Err(e) = run_one(hook, &json, inherited) {
            failed(Error::invalid(format!(
                "{} hook {i} ({}): {e}",
                stage.name(),
                hook.path().display()
            )))?;
        }
    }
    Ok(())
}

fn run_one(hook: &Hook, state: &str, inherited: &[String]) -> std::result::Result<(), String> {
    let args = hook.args().clone().unwrap_or_default();
    let mut cmd = Command::new(hook.path());
    if let Some(argv0) = args.first() {
        cmd.arg0(argv0);
    }
    cmd.args(args.iter().skip(1)).env_clear();
    for kv in hook.env().as_deref().unwrap_or(inherited) {
        match kv.split_once('=') {
            Some((k, v)) => cmd.env(k, v),
            None => cmd.env(kv, ""),
        };
    }
    let stderr = tempfile_or_null();
    cmd.stdin(Stdio::piped()).stdout(Stdio::null());
    match &stderr {
        Some(f) => cmd.stderr(f.try_clone().map_err(|e| e.to_string())?),
        None => cmd.stderr(Stdio::null()),
    };
    let mut child = cmd.spawn().map_err(|e| crate::error::describe_io(&e))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its stdin is not an error.
        let _ = stdin.write_all(state.as_bytes());
    }
    let timeout = hook
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| Duration::from_secs(t as u64));
    let started = Instant::now();
    let status = loop {
        match child.try_wait().map_err(|e| e.to_string())? {
            Some(status) => break status,
            None if timeout.is_some_and(|t| started.elapsed() >= t) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "timed out after {}s",
                    timeout.unwrap_or_default().as_secs()
                ));
            }
            None => std::thread::sleep(Duration::from_millis(2)),
        }
    };
    if status.success() {
        return Ok(());
    }
    let output = stderr.map(read_back).unwrap_or_default();
    let output = output.trim();
    Err(if output.is_empty() {
        format!("{status}")
    } else {
        format!("{status}: {}", output.lines().last().unwrap_or_default())
    })
}

/// An anonymous file for a hook's stderr (a pipe could fill and block).
fn tempfile_or_null() -> Option<std::fs::File> {
    let fd =
        nix::sys::memfd::memfd_create("hako-hook-stderr", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
            .ok()?;
    Some(std::fs::File::from(fd))
}

fn read_back(mut f: std::fs::File) -> String {
    use std::io::{Read, Seek};
    let mut s = String::new();
    let _ = f.rewind();
    let _ = f.take(64 * 1024).read_to_string(&mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(hooks: serde_json::Value) -> Spec {
        serde_json::from_value(
            serde_json::json!({"ociVersion": "1.2.0", "hooks": hooks, "annotations": {"a": "b"}}),
        )
        .unwrap()
    }

    fn doc(s: &Spec) -> HookState {
        super::state(
            "c1",
            ContainerState::Creating,
            Some(42),
            std::path::Path::new("/bundle"),
            s,
        )
    }

    #[test]
    fn hooks_get_state_args_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let script = format!("cat > {0}.state; echo \"$0 $1 $X ${{HOME:-nohome}}\" > {0}; tr '\\0' ' ' < /proc/$$/cmdline >> {0}", out.display());
        let s = spec(serde_json::json!({"createRuntime": [
            {"path": "/bin/sh", "args": ["my-hook", "-c", script, "zero", "one"], "env": ["X=y"]}
        ]}));
        run(Stage::CreateRuntime, &s, &doc(&s)).unwrap();
        let text = std::fs::read_to_string(&out).unwrap();
        assert!(
            text.starts_with("zero one y nohome\nmy-hook -c "),
            "argv and exactly the hook's env: {text:?}"
        );
        let st: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.with_extension("state")).unwrap()).unwrap();
        assert_eq!(st["id"], "c1");
        assert_eq!(st["status"], "creating");
        assert_eq!(st["pid"], 42);
        assert_eq!(st["bundle"], "/bundle");
        assert_eq!(st["annotations"]["a"], "b");
    }

    #[test]
    fn failures_and_timeouts_are_named() {
        let s = spec(serde_json::json!({"poststart": [
            {"path": "/bin/sh", "args": ["sh", "-c", "echo broken >&2; exit 3"]}
        ]}));
        let err = run(Stage::Poststart, &s, &doc(&s)).unwrap_err().to_string();
        assert_eq!(err, "poststart hook 0 (/bin/sh): exit status: 3: broken");
        let s = spec(
            serde_json::json!({"prestart": [{"path": "/bin/sleep", "args": ["sleep", "5"], "timeout": 1}]}),
        );
        let err = run(Stage::Prestart, &s, &doc(&s)).unwrap_err().to_string();
        assert!(err.ends_with("timed out after 1s"), "{err}");
        let s = spec(serde_json::json!({"createContainer": [{"path": "/no/such/hook"}]}));
        let err = run(Stage::CreateContainer, &s, &doc(&s))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/no/such/hook") && err.contains("no such file"),
            "{err}"
        );
    }

    #[test]
    fn stages_in_order_and_empty_is_fine() {
        assert_eq!(Stage::Poststop.name(), "poststop");
        assert_eq!(Stage::CreateRuntime.name(), "createRuntime");
        let s = spec(serde_json::json!({}));
        run(Stage::StartContainer, &s, &doc(&s)).unwrap();
    }
}
