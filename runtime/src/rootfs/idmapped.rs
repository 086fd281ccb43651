//! Id-mapped bind mounts: a mount with `uidMappings`/`gidMappings`, or
//! the `idmap`/`ridmap` option (then the container's own mappings), shows
//! its files' owners through those mappings.
//!
//! hako prepares them on the host before forking, where it holds every
//! capability the kernel asks for: it clones the source into a detached
//! mount (open_tree), gives that a user namespace carrying the mappings
//! (mount_setattr MOUNT_ATTR_IDMAP), and hands the descriptor down; init
//! attaches it at the destination with move_mount.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::unistd::{fork, ForkResult};
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Mount, Spec};

use super::options;
use crate::error::{Context, Error, Result};
use crate::syscall::Syscall;

/// Where an id-mapped mount takes its mappings from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mappings {
    /// The mount's own, or the container's new user namespace's.
    Maps {
        /// uid map.
        uid: Vec<LinuxIdMapping>,
        /// gid map.
        gid: Vec<LinuxIdMapping>,
    },
    /// The user namespace the container joins.
    Joined(PathBuf),
}

/// One id-mapped mount to prepare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Its index in `mounts`.
    pub index: usize,
    /// The bind source on the host.
    pub source: PathBuf,
    /// `rbind`: clone the whole tree.
    pub tree: bool,
    /// `ridmap`: map every mount of the tree, not only the top one.
    pub recursive: bool,
    /// The mappings.
    pub mappings: Mappings,
}

/// The id-mapped mounts of a spec, checked.
pub fn plan(spec: &Spec, bundle: &Path) -> Result<Vec<Plan>, String> {
    let mut out = Vec::new();
    let mount_ns = crate::spec::namespaces(spec)
        .into_iter()
        .find(|n| n.typ() == LinuxNamespaceType::Mount);
    let Some(mount_ns) = mount_ns else {
        // Without a mount namespace no mount is made at all.
        return Ok(out);
    };
    for (i, m) in spec
        .mounts()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        if let Some(p) = plan_one(spec, bundle, i, m)? {
            // hako opens the source in its own mount namespace.
            if mount_ns.path().is_some() {
                return Err(format!(
                    "mounts[{i}]: id-mapped mounts cannot be made in a joined mount namespace"
                ));
            }
            out.push(p);
        }
    }
    Ok(out)
}

fn plan_one(spec: &Spec, bundle: &Path, i: usize, m: &Mount) -> Result<Option<Plan>, String> {
    let opts = options::parse(m.options().as_deref().unwrap_or_default())
        .map_err(|e| format!("mounts[{i}]: {e}"))?;
    let uid = m.uid_mappings().clone().unwrap_or_default();
    let gid = m.gid_mappings().clone().unwrap_or_default();
    if uid.is_empty() && gid.is_empty() && opts.idmap.is_none() {
        return Ok(None);
    }
    let bind = opts.is_bind() || m.typ().as_deref() == Some("bind");
    if !bind {
        return Err(format!("mounts[{i}]: id-mapped mounts must be bind mounts"));
    }
    if uid.is_empty() != gid.is_empty() {
        return Err(format!(
            "mounts[{i}]: uidMappings and gidMappings must be set together"
        ));
    }
    let mappings = if !uid.is_empty() {
        Mappings::Maps { uid, gid }
    } else {
        let userns = crate::spec::namespaces(spec)
            .into_iter()
            .find(|n| n.typ() == LinuxNamespaceType::User);
        match userns {
            Some(ns) if ns.path().is_some() => {
                Mappings::Joined(ns.path().clone().expect("checked"))
            }
            Some(_) => {
                let linux = spec.linux().as_ref();
                Mappings::Maps {
                    uid: linux
                        .and_then(|l| l.uid_mappings().clone())
                        .unwrap_or_default(),
                    gid: linux
                        .and_then(|l| l.gid_mappings().clone())
                        .unwrap_or_default(),
                }
            }
            None => {
                return Err(format!(
                    "mounts[{i}]: \"idmap\" without uidMappings/gidMappings needs a user namespace"
                ))
            }
        }
    };
    let source = m
        .source()
        .clone()
        .ok_or_else(|| format!("mounts[{i}]: bind mount has no source"))?;
    Ok(Some(Plan {
        index: i,
        source: if source.is_absolute() {
            source
        } else {
            bundle.join(source)
        },
        tree: opts.flags.contains(nix::mount::MsFlags::MS_REC),
        recursive: opts.idmap == Some(true),
        mappings,
    }))
}

/// A user namespace holding `uid`/`gid`: a child unshares one and waits
/// while hako writes the maps and opens it.
fn user_namespace(uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<OwnedFd> {
    let pipe = || "creating a pipe to the user namespace holder".to_string();
    let (ready_r, ready_w) = nix::unistd::pipe().ctx(pipe)?;
    let (done_r, done_w) = nix::unistd::pipe().ctx(pipe)?;
    // SAFETY: hako is single-threaded while it creates a container; the
    // child only calls async-signal-safe functions and _exits.
    match unsafe { fork() }.ctx(|| "forking a user namespace holder".into())? {
        ForkResult::Child => {
            drop(ready_r);
            drop(done_w);
            let ok = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER).is_ok();
            let _ = nix::unistd::write(&ready_w, &[u8::from(ok)]);
            let mut b = [0u8; 1];
            let _ = nix::unistd::read(&done_r, &mut b);
            // SAFETY: _exit ends the child without running hako's state.
            unsafe { libc::_exit(0) }
        }
        ForkResult::Parent { child } => {
            drop(ready_w);
            drop(done_r);
            let result = (|| {
                let mut b = [0u8; 1];
                let n = nix::unistd::read(&ready_r, &mut b)
                    .ctx(|| "waiting for the user namespace holder".into())?;
                if n != 1 || b[0] != 1 {
                    return Err(Error::invalid(
                        "creating a user namespace for an id-mapped mount failed",
                    ));
                }
                crate::namespaces::idmap::write(child.as_raw(), uid, gid)?;
                let path = format!("/proc/{}/ns/user", child.as_raw());
                Ok(OwnedFd::from(
                    std::fs::File::open(&path).ctx(|| format!("opening {path}"))?,
                ))
            })();
            drop(done_w);
            let _ = nix::sys::wait::waitpid(child, None);
            result
        }
    }
}

/// Clones the source into a detached, id-mapped mount.
pub fn prepare(sys: &dyn Syscall, p: &Plan) -> Result<OwnedFd> {
    let userns = match &p.mappings {
        Mappings::Maps { uid, gid } => {
            user_namespace(uid, gid).map_err(|e| e.within(format!("mounts[{}]", p.index)))?
        }
        Mappings::Joined(path) => {
            OwnedFd::from(std::fs::File::open(path).ctx(|| format!("opening {}", path.display()))?)
        }
    };
    let what = || format!("mounts[{}]: id-mapping {}", p.index, p.source.display());
    if p.source.as_os_str().as_encoded_bytes().contains(&0) {
        return Err(Error::invalid(format!(
            "mounts[{}]: source has a NUL byte",
            p.index
        )));
    }
    let tree = sys.open_tree(&p.source, p.tree).ctx(what)?;
    const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;
    let attr = crate::syscall::MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns.as_raw_fd() as u64,
    };
    sys.setattr_tree(tree.as_fd(), p.recursive, &attr)
        .ctx(what)?;
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::{Call, RecordingSyscall};

    /// The source is cloned (with its tree for `rbind`) and the clone
    /// id-mapped with the joined user namespace (every mount of it for
    /// `ridmap`).
    #[test]
    fn prepare_clones_then_maps_the_clone() {
        for (tree, recursive) in [(false, false), (true, true)] {
            let plan = Plan {
                index: 3,
                source: "/srv/data".into(),
                tree,
                recursive,
                mappings: Mappings::Joined("/proc/self/ns/user".into()),
            };
            let sys = RecordingSyscall::default();
            prepare(&sys, &plan).unwrap();
            assert_eq!(
                sys.calls(),
                vec![
                    Call::OpenTree {
                        path: "/srv/data".into(),
                        recursive: tree
                    },
                    Call::SetattrTree {
                        recursive,
                        set: 0x0010_0000,
                        userns: true
                    },
                ]
            );
        }
    }

    fn spec(v: serde_json::Value) -> Spec {
        let mut base = serde_json::json!({"ociVersion": "1.2.0", "root": {"path": "rootfs"}});
        base.as_object_mut()
            .unwrap()
            .extend(v.as_object().unwrap().clone());
        if base.get("linux").is_none() {
            base["linux"] = serde_json::json!({"namespaces": [{"type": "mount"}]});
        }
        serde_json::from_value(base).unwrap()
    }

    fn map(c: u32, h: u32, n: u32) -> serde_json::Value {
        serde_json::json!({"containerID": c, "hostID": h, "size": n})
    }

    #[test]
    fn explicit_implied_and_joined_mappings() {
        let s = spec(serde_json::json!({
            "mounts": [
                {"destination": "/a", "type": "bind", "source": "/src", "options": ["bind"],
                 "uidMappings": [map(0, 100000, 65536)], "gidMappings": [map(0, 100000, 65536)]},
                {"destination": "/b", "source": "rel", "options": ["rbind", "ridmap"]},
                {"destination": "/c", "source": "/plain", "options": ["bind"]}
            ],
            "linux": {"namespaces": [{"type": "mount"}, {"type": "user"}],
                      "uidMappings": [map(0, 2000, 10)], "gidMappings": [map(0, 3000, 10)]}
        }));
        let plans = plan(&s, Path::new("/bundle")).unwrap();
        assert_eq!(plans.len(), 2);
        assert_eq!(plans[0].index, 0);
        assert!(!plans[0].tree && !plans[0].recursive);
        assert_eq!(plans[1].source, PathBuf::from("/bundle/rel"));
        assert!(plans[1].tree && plans[1].recursive);
        let Mappings::Maps { uid, gid } = &plans[1].mappings else {
            panic!()
        };
        assert_eq!((uid[0].host_id(), gid[0].host_id()), (2000, 3000));

        let joined = spec(serde_json::json!({
            "mounts": [{"destination": "/b", "source": "/s", "options": ["rbind", "idmap"]}],
            "linux": {"namespaces": [{"type": "mount"}, {"type": "user", "path": "/proc/7/ns/user"}]}
        }));
        let plans = plan(&joined, Path::new("/bundle")).unwrap();
        assert_eq!(
            plans[0].mappings,
            Mappings::Joined("/proc/7/ns/user".into())
        );
    }

    #[test]
    fn bad_idmapped_mounts() {
        let no_userns = spec(serde_json::json!({
            "mounts": [{"destination": "/b", "source": "/s", "options": ["bind", "idmap"]}]
        }));
        let e = plan(&no_userns, Path::new("/")).unwrap_err();
        assert!(e.contains("needs a user namespace"), "{e}");
        let not_bind = spec(serde_json::json!({
            "mounts": [{"destination": "/t", "type": "tmpfs", "source": "tmpfs",
                        "uidMappings": [map(0, 1, 1)], "gidMappings": [map(0, 1, 1)]}]
        }));
        assert!(plan(&not_bind, Path::new("/"))
            .unwrap_err()
            .contains("must be bind mounts"));
        let half = spec(serde_json::json!({
            "mounts": [{"destination": "/t", "source": "/s", "options": ["bind"],
                        "uidMappings": [map(0, 1, 1)]}]
        }));
        assert!(plan(&half, Path::new("/"))
            .unwrap_err()
            .contains("set together"));
        let joined_mnt = spec(serde_json::json!({
            "mounts": [{"destination": "/t", "source": "/s", "options": ["bind"],
                        "uidMappings": [map(0, 1, 1)], "gidMappings": [map(0, 1, 1)]}],
            "linux": {"namespaces": [{"type": "mount", "path": "/proc/7/ns/mnt"}]}
        }));
        let e = plan(&joined_mnt, Path::new("/")).unwrap_err();
        assert!(e.contains("joined mount namespace"), "{e}");
        let no_mnt = spec(serde_json::json!({
            "mounts": [{"destination": "/t", "source": "/s", "options": ["bind", "idmap"]}],
            "linux": {"namespaces": []}
        }));
        assert!(
            plan(&no_mnt, Path::new("/")).unwrap().is_empty(),
            "no mounts are made"
        );
    }
}
