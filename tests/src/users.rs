//! Unprivileged users for the rootless tests, created once per machine.

use std::path::Path;
use std::process::Command;

use crate::reaper;

/// The uid and gid of `name`, creating the user (a system user without a
/// home) and its sub-id ranges (`subids` ids from `first_subid`) the first
/// time. Test threads of one binary create a user one at a time: a second
/// concurrent `useradd` would renumber it.
pub fn ensure(name: &str, first_subid: u32) -> (u32, u32) {
    crate::require_root();
    static CREATING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = CREATING.lock().unwrap_or_else(|e| e.into_inner());
    let exists = reaper::output(Command::new("id").args(["-u", name]))
        .unwrap()
        .status
        .success();
    if !exists {
        let out = reaper::output(Command::new("useradd").args([
            "--system",
            "--no-create-home",
            "--shell",
            "/bin/sh",
            name,
        ]))
        .unwrap();
        assert!(
            out.status.success() || String::from_utf8_lossy(&out.stderr).contains("already exists"),
            "useradd: {out:?}"
        );
    }
    for file in ["/etc/subuid", "/etc/subgid"] {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        if !text.lines().any(|l| l.starts_with(&format!("{name}:"))) {
            // Replaced whole, never seen half-written by newuidmap.
            let next = format!("{file}.hako-tests-{name}");
            std::fs::write(&next, format!("{text}{name}:{first_subid}:65536\n")).unwrap();
            std::fs::rename(&next, file).unwrap();
        }
    }
    let id = |flag: &str| -> u32 {
        let out = reaper::output(Command::new("id").args([flag, name])).unwrap();
        String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
    };
    (id("-u"), id("-g"))
}

/// Gives a tree to a user, links included (not followed).
pub fn chown_tree(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::lchown(path, Some(uid), Some(gid)).unwrap();
    if path.is_dir() && !path.is_symlink() {
        for e in std::fs::read_dir(path).unwrap().flatten() {
            chown_tree(&e.path(), uid, gid);
        }
    }
}

/// Runs `program` with `args` as `uid`:`gid` (no supplementary groups) in
/// a session of the user's own: a clean environment with `HOME` and the
/// working directory at `home`, and `XDG_RUNTIME_DIR` at `home/run`.
pub fn run_as(uid: u32, gid: u32, home: &Path, program: &Path, args: &[&str]) -> crate::Out {
    run_as_with(uid, gid, home, &[], program, args)
}

/// [`run_as`] with more environment variables (or other values for
/// `XDG_RUNTIME_DIR` and the rest).
pub fn run_as_with(
    uid: u32,
    gid: u32,
    home: &Path,
    env: &[(&str, String)],
    program: &Path,
    args: &[&str],
) -> crate::Out {
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--reuid",
        &uid.to_string(),
        "--regid",
        &gid.to_string(),
        "--clear-groups",
        "--",
    ])
    .arg(program)
    .args(args)
    .env_clear()
    .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
    .env("HOME", home)
    .env("XDG_RUNTIME_DIR", home.join("run"))
    .envs(env.iter().map(|(k, v)| (*k, v)))
    .current_dir(home);
    let out = reaper::output(&mut cmd).unwrap();
    crate::Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
