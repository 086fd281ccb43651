//! How the guest's preopened directories map onto the host.
//!
//! wasmer-wasix resolves every preopen inside one virtual file system, and
//! names a preopen after its path there unless given an alias. Aliases lose
//! their leading slashes (`/` would become the empty name), so a preopen
//! whose guest name is absolute is mounted at that very path and takes it
//! as its name, while a relative name (`.`) is an alias of the directory's
//! place in that tree. The `/` preopen is the host directory mounted at the
//! root, and `.` is normally a directory below it, which therefore needs no
//! mount of its own and shares the host view of `/` (symlinks included).
//!
//! A mount is read-only (see [`ReadOnly`]) when its preopen is; a relative
//! preopen whose read-only flag differs from that of `/` gets a mount of
//! its own at its place, as a bind mount would.
//!
//! [`Plan::new`] checks everything at `prepare`; [`Plan::apply`] needs the
//! tokio runtime and runs in `run`.

use std::collections::HashSet;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use hako_executors::wasm::Preopen;
use wasmer_wasix::virtual_fs::{host_fs, FileSystem, MountFileSystem};
use wasmer_wasix::WasiEnvBuilder;

use crate::beneath::Beneath;
use crate::message;
use crate::readonly::ReadOnly;

/// Where relative preopens outside the `/` preopen are mounted; only
/// reachable by such a configuration, which hako never produces.
const DETACHED_MOUNTS: &str = "/.hako-preopens";

/// One host directory mounted into the virtual file system.
#[derive(Debug, PartialEq, Eq)]
struct Mount {
    /// Its path in the virtual file system.
    at: PathBuf,
    /// The directory on the host, canonical.
    host: PathBuf,
    /// Whether it refuses every change.
    readonly: bool,
}

/// One preopened directory, as wasmer-wasix is told about it.
#[derive(Debug, PartialEq, Eq)]
struct Dir {
    /// Its path in the virtual file system.
    at: PathBuf,
    /// The name the guest sees, unless it is `at` itself.
    alias: Option<String>,
    /// Whether the guest may only read.
    readonly: bool,
}

/// The virtual file system and preopens of a guest, checked.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Plan {
    mounts: Vec<Mount>,
    dirs: Vec<Dir>,
    /// The virtual path of the `.` preopen: the guest's working directory
    /// for WASIX calls such as `getcwd`.
    cwd: Option<PathBuf>,
}

impl Plan {
    /// Checks that every preopen names an existing host directory and has a
    /// usable, unique guest name, and lays out the virtual file system.
    pub(crate) fn new(preopens: &[Preopen]) -> Result<Self, String> {
        let mut names = HashSet::new();
        let mut hosts = Vec::with_capacity(preopens.len());
        for p in preopens {
            if p.guest.is_empty() || p.guest.contains('\0') {
                return Err(format!("preopen {:?}: invalid guest name", p.guest));
            }
            if !names.insert(p.guest.as_str()) {
                return Err(format!("preopen {:?} is given twice", p.guest));
            }
            let host = std::fs::canonicalize(&p.host).map_err(|e| {
                format!(
                    "preopen {}: {}: {}",
                    p.guest,
                    p.host.display(),
                    message::one_line(&e)
                )
            })?;
            if !host.is_dir() {
                return Err(format!(
                    "preopen {}: {}: not a directory",
                    p.guest,
                    p.host.display()
                ));
            }
            hosts.push(host);
        }

        let root = preopens.iter().position(|p| p.guest == "/");
        let mut plan = Plan {
            mounts: Vec::new(),
            dirs: Vec::new(),
            cwd: None,
        };
        for (i, (p, host)) in preopens.iter().zip(&hosts).enumerate() {
            let (at, alias) = if Some(i) == root {
                plan.mount("/".into(), host, p.readonly);
                (PathBuf::from("/"), None)
            } else if p.guest.starts_with('/') {
                let at = normalized(&p.guest)
                    .ok_or_else(|| format!("preopen {:?}: invalid guest name", p.guest))?;
                plan.mount(at.clone(), host, p.readonly);
                (at, None)
            } else {
                let below_root = root.and_then(|r| {
                    let rel = host.strip_prefix(&hosts[r]).ok()?;
                    Some((Path::new("/").join(rel), preopens[r].readonly))
                });
                let at = match below_root {
                    Some((at, root_readonly)) => {
                        if root_readonly != p.readonly {
                            plan.mount(at.clone(), host, p.readonly);
                        }
                        at
                    }
                    None => {
                        let at = Path::new(DETACHED_MOUNTS).join(i.to_string());
                        plan.mount(at.clone(), host, p.readonly);
                        at
                    }
                };
                (at, Some(p.guest.clone()))
            };
            if p.guest == "." {
                plan.cwd = Some(at.clone());
            }
            plan.dirs.push(Dir {
                at,
                alias,
                readonly: p.readonly,
            });
        }
        Ok(plan)
    }

    fn mount(&mut self, at: PathBuf, host: &Path, readonly: bool) {
        self.mounts.push(Mount {
            at,
            host: host.to_path_buf(),
            readonly,
        });
    }

    /// Gives `builder` the virtual file system (host directories, accessed
    /// through tokio's blocking pool, hence the handle) and the preopens.
    pub(crate) fn apply(
        &self,
        builder: &mut WasiEnvBuilder,
        tokio: &tokio::runtime::Handle,
    ) -> Result<(), String> {
        let fs = MountFileSystem::new();
        for m in &self.mounts {
            let host: Arc<dyn FileSystem + Send + Sync> = Arc::new(
                host_fs::FileSystem::new(tokio.clone(), &m.host)
                    .map_err(|e| format!("{}: {}", m.host.display(), message::one_line(&e)))?,
            );
            // The guest stays inside the directory, as on the other engines.
            let host: Arc<dyn FileSystem + Send + Sync> = Arc::new(
                Beneath::new(host, &m.host)
                    .map_err(|e| format!("{}: {}", m.host.display(), message::one_line(&e)))?,
            );
            let host = if m.readonly {
                Arc::new(ReadOnly(host))
            } else {
                host
            };
            fs.mount(&m.at, host)
                .map_err(|e| format!("mounting {}: {}", m.host.display(), message::one_line(&e)))?;
        }
        builder.set_mount_fs(fs);
        for d in &self.dirs {
            builder
                .add_preopen_build(|b| {
                    b.directory(&d.at)
                        .read(true)
                        .write(!d.readonly)
                        .create(!d.readonly);
                    if let Some(alias) = &d.alias {
                        b.alias(alias);
                    }
                    b
                })
                .map_err(|e| message::one_line(&e))?;
        }
        if let Some(cwd) = &self.cwd {
            builder.set_current_dir(cwd);
        }
        Ok(())
    }
}

/// `/a/./b/` as `/a/b`; `None` if the path climbs with `..`.
fn normalized(guest: &str) -> Option<PathBuf> {
    let mut out = PathBuf::from("/");
    for c in Path::new(guest).components() {
        match c {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(part) => out.push(part),
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn preopen(host: &Path, guest: &str, readonly: bool) -> Preopen {
        Preopen {
            host: host.to_path_buf(),
            guest: guest.into(),
            readonly,
        }
    }

    #[test]
    fn dot_below_root_is_an_alias_of_its_place_in_root() {
        let root = tempfile::tempdir().unwrap();
        let root_path = root.path().canonicalize().unwrap();
        std::fs::create_dir_all(root_path.join("srv/app")).unwrap();
        let plan = Plan::new(&[
            preopen(&root_path, "/", false),
            preopen(&root_path.join("srv/app"), ".", true),
        ])
        .unwrap();
        assert_eq!(
            plan.mounts,
            vec![
                Mount {
                    at: "/".into(),
                    host: root_path.clone(),
                    readonly: false
                },
                // "." is read-only under a writable "/": a mount of its own.
                Mount {
                    at: "/srv/app".into(),
                    host: root_path.join("srv/app"),
                    readonly: true
                },
            ]
        );
        assert_eq!(
            plan.dirs,
            vec![
                Dir {
                    at: "/".into(),
                    alias: None,
                    readonly: false
                },
                Dir {
                    at: "/srv/app".into(),
                    alias: Some(".".into()),
                    readonly: true
                },
            ]
        );
        assert_eq!(plan.cwd, Some(PathBuf::from("/srv/app")));

        // Same flag as "/": no mount of its own, the root mount serves it.
        let plan = Plan::new(&[
            preopen(&root_path, "/", true),
            preopen(&root_path.join("srv/app"), ".", true),
        ])
        .unwrap();
        assert_eq!(plan.mounts.len(), 1);
        assert_eq!(plan.dirs[1].at, PathBuf::from("/srv/app"));
    }

    #[test]
    fn absolute_names_are_mounted_and_others_detached() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        let plan = Plan::new(&[
            preopen(a.path(), "/data/./x/", false),
            preopen(b.path(), ".", false),
        ])
        .unwrap();
        assert_eq!(plan.mounts[0].at, PathBuf::from("/data/x"));
        assert_eq!(plan.dirs[0].alias, None);
        assert_eq!(plan.mounts[1].at, PathBuf::from("/.hako-preopens/1"));
        assert_eq!(plan.dirs[1].alias.as_deref(), Some("."));
    }

    #[test]
    fn bad_preopens_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "").unwrap();
        let cases = [
            (
                vec![preopen(&dir.path().join("missing"), "/", false)],
                "no such file",
            ),
            (vec![preopen(&file, "/", false)], "not a directory"),
            (vec![preopen(dir.path(), "", false)], "invalid guest name"),
            (
                vec![preopen(dir.path(), "/../x", false)],
                "invalid guest name",
            ),
            (
                vec![
                    preopen(dir.path(), ".", false),
                    preopen(dir.path(), ".", false),
                ],
                "given twice",
            ),
        ];
        for (preopens, expected) in cases {
            let err = Plan::new(&preopens).unwrap_err();
            assert!(err.to_lowercase().contains(expected), "{err}");
        }
    }
}
