//! Reaping container inits.
//!
//! After `hako create` returns, container init's parent is gone and init
//! is re-parented to the nearest subreaper (conmon or containerd's shim in
//! production). The test process plays that role: it becomes a subreaper
//! and a background thread reaps every exited child that is not a command
//! the tests themselves are waiting for.

use std::collections::HashSet;
use std::process::{Child, Command};
use std::sync::{Mutex, Once};
use std::time::Duration;

static TRACKED: Mutex<Option<HashSet<i32>>> = Mutex::new(None);
static START: Once = Once::new();

/// Makes this process a subreaper and starts the reaper thread (once).
pub fn install() {
    START.call_once(|| {
        nix::sys::prctl::set_child_subreaper(true).expect("PR_SET_CHILD_SUBREAPER");
        *TRACKED.lock().unwrap() = Some(HashSet::new());
        std::thread::spawn(|| loop {
            reap_untracked();
            std::thread::sleep(Duration::from_millis(20));
        });
    });
}

fn reap_untracked() {
    let me = std::process::id() as i32;
    let guard = TRACKED.lock().unwrap();
    let tracked = guard.as_ref().cloned().unwrap_or_default();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return;
    };
    for e in entries.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.len() > 1 && f[0] == "Z" && f[1] == me.to_string() && !tracked.contains(&pid) {
            let _ = nix::sys::wait::waitpid(
                nix::unistd::Pid::from_raw(pid),
                Some(nix::sys::wait::WaitPidFlag::WNOHANG),
            );
        }
    }
    drop(guard);
}

/// Spawns a command whose exit status the caller will collect; the reaper
/// leaves it alone until [`untrack`].
pub fn spawn(cmd: &mut Command) -> std::io::Result<Child> {
    install();
    let mut guard = TRACKED.lock().unwrap();
    let child = cmd.spawn()?;
    guard
        .get_or_insert_with(HashSet::new)
        .insert(child.id() as i32);
    Ok(child)
}

/// Hands a collected child back to the reaper's care.
pub fn untrack(pid: u32) {
    if let Some(set) = TRACKED.lock().unwrap().as_mut() {
        set.remove(&(pid as i32));
    }
}

/// `Command::output` that the reaper leaves alone. Output goes through
/// files, not pipes: a container started by the command may inherit them
/// and keep them open long after the command exits.
pub fn output(cmd: &mut Command) -> std::io::Result<std::process::Output> {
    use std::io::{Read, Seek};
    let mut out = tempfile::tempfile()?;
    let mut err = tempfile::tempfile()?;
    cmd.stdout(out.try_clone()?).stderr(err.try_clone()?);
    let mut child = spawn(cmd)?;
    let pid = child.id();
    let status = child.wait();
    untrack(pid);
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    out.rewind()?;
    out.read_to_end(&mut stdout)?;
    err.rewind()?;
    err.read_to_end(&mut stderr)?;
    Ok(std::process::Output {
        status: status?,
        stdout,
        stderr,
    })
}
