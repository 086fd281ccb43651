//! Switching to `process.user`: groups, gid, uid, umask, and HOME.

use std::path::Path;

use oci_spec::runtime::User;

use crate::error::{Context, Result};
use crate::syscall::Syscall;

/// Switches the process to the container user, keeping permitted
/// capabilities across the uid change (the capability sets are applied
/// right after).
pub fn switch_user(sys: &dyn Syscall, user: &User) -> Result<()> {
    let groups = user.additional_gids().clone().unwrap_or_default();
    // A rootless user namespace denies setgroups(2); the only group is then
    // the mapped one.
    let setgroups_allowed = std::fs::read_to_string("/proc/self/setgroups")
        .map(|s| s.trim() != "deny")
        .unwrap_or(true);
    if setgroups_allowed {
        sys.setgroups(&groups)
            .ctx(|| format!("setting additional groups {groups:?}"))?;
    }
    sys.prctl(libc::PR_SET_KEEPCAPS, 1)
        .ctx(|| "keeping capabilities across the uid change".into())?;
    let (uid, gid) = (user.uid(), user.gid());
    sys.setresgid(gid)
        .ctx(|| format!("setting gid {gid} (is it mapped in the user namespace?)"))?;
    sys.setresuid(uid)
        .ctx(|| format!("setting uid {uid} (is it mapped in the user namespace?)"))?;
    sys.prctl(libc::PR_SET_KEEPCAPS, 0)
        .ctx(|| "resetting keepcaps".into())?;
    let umask = user.umask().unwrap_or(0o022);
    sys.umask(nix::sys::stat::Mode::from_bits_truncate(umask));
    Ok(())
}

/// The home directory of `uid` in a passwd file's text, if listed.
pub fn home_of(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        (f.len() >= 7 && f[2].parse::<u32>().ok() == Some(uid)).then(|| f[5].to_string())
    })
}

/// Adds `HOME` when the spec's environment lacks it, from the container's
/// /etc/passwd, else `/` (as runc does).
pub fn ensure_home(env: &mut Vec<String>, uid: u32, root: &Path) {
    if env.iter().any(|e| e.starts_with("HOME=")) {
        return;
    }
    let home = std::fs::read_to_string(root.join("etc/passwd"))
        .ok()
        .and_then(|p| home_of(&p, uid))
        .filter(|h| !h.is_empty());
    env.push(format!("HOME={}", home.as_deref().unwrap_or("/")));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_lookup() {
        let passwd =
            "root:x:0:0:root:/root:/bin/sh\nwww:x:33:33::/var/www:/sbin/nologin\nbad line\n";
        assert_eq!(home_of(passwd, 0).as_deref(), Some("/root"));
        assert_eq!(home_of(passwd, 33).as_deref(), Some("/var/www"));
        assert_eq!(home_of(passwd, 1000), None);
    }

    #[test]
    fn home_added_only_when_missing() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("etc")).unwrap();
        std::fs::write(
            tmp.path().join("etc/passwd"),
            "app:x:1000:1000::/home/app:/bin/sh\n",
        )
        .unwrap();
        let mut env = vec!["PATH=/bin".to_string()];
        ensure_home(&mut env, 1000, tmp.path());
        assert_eq!(env.last().unwrap(), "HOME=/home/app");
        let mut env = vec!["HOME=/x".to_string()];
        ensure_home(&mut env, 1000, tmp.path());
        assert_eq!(env, vec!["HOME=/x"]);
        let mut env = vec![];
        ensure_home(&mut env, 5, tmp.path());
        assert_eq!(env, vec!["HOME=/"]);
    }
}
