//! Rootfs set-up against a temporary rootfs, with mounts recorded.

use std::path::{Path, PathBuf};

use nix::mount::MsFlags;
use nix::sys::stat::SFlag;
use oci_spec::runtime::Spec;

use super::*;
use crate::cgroups::{CgroupDir, CgroupSet, Version};
use crate::syscall::{Call, RecordingSyscall};

fn spec(v: serde_json::Value) -> Spec {
    let mut base = serde_json::json!({
        "ociVersion": "1.2.0",
        "process": {"args": ["sh"], "cwd": "/work/dir", "user": {"uid": 0, "gid": 0}},
        "root": {"path": "rootfs"},
        "mounts": [],
        "linux": {}
    });
    for (k, val) in v.as_object().unwrap() {
        base[k] = val.clone();
    }
    serde_json::from_value(base).unwrap()
}

struct Fixture {
    _tmp: tempfile::TempDir,
    rootfs: PathBuf,
    bundle: PathBuf,
    cgroups: CgroupSet,
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().to_path_buf();
    let rootfs = bundle.join("rootfs");
    std::fs::create_dir_all(rootfs.join("etc")).unwrap();
    std::fs::write(bundle.join("hosts"), "127.0.0.1 x\n").unwrap();
    let cgroups = CgroupSet {
        systemd: None,
        dirs: vec![
            CgroupDir {
                version: Version::V1,
                controllers: vec!["memory".into()],
                mount_point: "/sys/fs/cgroup/memory".into(),
                path: "/sys/fs/cgroup/memory/hako/c1".into(),
            },
            CgroupDir {
                version: Version::V1,
                controllers: vec!["cpu".into(), "cpuacct".into()],
                mount_point: "/sys/fs/cgroup/cpu,cpuacct".into(),
                path: "/sys/fs/cgroup/cpu,cpuacct/hako/c1".into(),
            },
            CgroupDir {
                version: Version::V2,
                controllers: vec![],
                mount_point: "/sys/fs/cgroup/unified".into(),
                path: "/sys/fs/cgroup/unified/hako/c1".into(),
            },
        ],
    };
    Fixture {
        _tmp: tmp,
        rootfs,
        bundle,
        cgroups,
    }
}

fn cfg<'a>(f: &'a Fixture, spec: &'a Spec, cgroup_ns: bool, user_ns: bool) -> RootfsConfig<'a> {
    RootfsConfig {
        spec,
        rootfs: &f.rootfs,
        bundle: &f.bundle,
        cgroups: &f.cgroups,
        cgroup_ns,
        user_ns,
        // As validation plans them; leaked so the config can borrow them
        // like init borrows its plan (a few nodes per test).
        devices: Box::leak(
            devices::plan(spec, devices::manages_dev(spec))
                .unwrap()
                .into_boxed_slice(),
        ),
        idmapped: &[],
        own_mount_ns: true,
    }
}

/// A recorded mount: source, target, type, flags, data.
type Recorded = (
    Option<PathBuf>,
    PathBuf,
    Option<String>,
    MsFlags,
    Option<String>,
);

fn mounts(calls: &[Call]) -> Vec<Recorded> {
    calls
        .iter()
        .filter_map(|c| match c {
            Call::Mount {
                source,
                target,
                fstype,
                flags,
                data,
            } => Some((
                source.clone(),
                target.clone(),
                fstype.clone(),
                *flags,
                data.clone(),
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn podman_style_mounts_are_made_in_order() {
    let f = fixture();
    let s = spec(serde_json::json!({"mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/etc/hosts", "type": "bind", "source": "hosts", "options": ["rbind", "ro", "rprivate"]}
    ]}));
    let sys = RecordingSyscall::default();
    let prepared = prepare(&sys, &cfg(&f, &s, false, false)).unwrap();
    assert!(prepared.readonly_later.is_empty());
    let m = mounts(&sys.calls());
    // Propagation of / first, then the rootfs bind.
    assert_eq!(
        m[0],
        (
            None,
            "/".into(),
            None,
            MsFlags::MS_SLAVE | MsFlags::MS_REC,
            None
        )
    );
    assert_eq!(m[1].1, f.rootfs);
    assert_eq!(m[1].3, MsFlags::MS_BIND | MsFlags::MS_REC);
    assert_eq!(
        m[2],
        (
            Some("proc".into()),
            f.rootfs.join("proc"),
            Some("proc".into()),
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC | MsFlags::MS_NODEV,
            None
        )
    );
    assert_eq!(m[3].1, f.rootfs.join("dev"));
    assert_eq!(m[3].4.as_deref(), Some("mode=755,size=65536k"));
    // A relative bind source is relative to the bundle; the target file
    // was created; ro is applied by a remount; then propagation.
    assert_eq!(m[4].0, Some(f.bundle.join("hosts")));
    assert_eq!(m[4].1, f.rootfs.join("etc/hosts"));
    assert_eq!(m[4].3, MsFlags::MS_BIND | MsFlags::MS_REC);
    assert!(f.rootfs.join("etc/hosts").is_file());
    assert_eq!(
        m[5].3,
        MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY
    );
    assert_eq!(m[6].3, MsFlags::MS_PRIVATE | MsFlags::MS_REC);
    // Default devices, as mknod calls, and the links.
    let nodes: Vec<_> = sys
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            Call::Mknod { path, kind, .. } => Some((path, kind)),
            _ => None,
        })
        .collect();
    assert_eq!(nodes.len(), 6);
    assert!(nodes.contains(&(f.rootfs.join("dev/null"), SFlag::S_IFCHR)));
    assert_eq!(
        std::fs::read_link(f.rootfs.join("dev/ptmx")).unwrap(),
        Path::new("pts/ptmx")
    );
    assert_eq!(
        std::fs::read_link(f.rootfs.join("dev/fd")).unwrap(),
        Path::new("/proc/self/fd")
    );
    // process.cwd exists.
    assert!(f.rootfs.join("work/dir").is_dir());
}

#[test]
fn user_namespaces_bind_devices_and_readonly_dev_waits() {
    let f = fixture();
    let s = spec(serde_json::json!({"mounts": [
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["ro"]}
    ]}));
    let sys = RecordingSyscall::default();
    let prepared = prepare(&sys, &cfg(&f, &s, false, true)).unwrap();
    assert_eq!(prepared.readonly_later, vec![PathBuf::from("/dev")]);
    let m = mounts(&sys.calls());
    assert!(
        !m[2].3.contains(MsFlags::MS_RDONLY),
        "/dev is mounted writable first"
    );
    assert!(sys.calls().iter().all(|c| !matches!(c, Call::Mknod { .. })));
    assert!(m.iter().any(
        |(src, dst, _, flags, _)| src.as_deref() == Some(Path::new("/dev/null"))
            && *dst == f.rootfs.join("dev/null")
            && *flags == MsFlags::MS_BIND
    ));
}

#[test]
fn cgroup_mount_without_namespace_binds_own_cgroups() {
    let f = fixture();
    let s = spec(serde_json::json!({"mounts": [
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
    ]}));
    let sys = RecordingSyscall::default();
    prepare(&sys, &cfg(&f, &s, false, false)).unwrap();
    let m = mounts(&sys.calls());
    let cg = f.rootfs.join("sys/fs/cgroup");
    assert_eq!(m[2].1, cg);
    assert_eq!(m[2].2.as_deref(), Some("tmpfs"));
    assert!(!m[2].3.contains(MsFlags::MS_RDONLY));
    assert!(m.iter().any(|(src, dst, ..)| src.as_deref()
        == Some(Path::new("/sys/fs/cgroup/memory/hako/c1"))
        && *dst == cg.join("memory")));
    assert!(m.iter().any(|(src, dst, ..)| src.as_deref()
        == Some(Path::new("/sys/fs/cgroup/unified/hako/c1"))
        && *dst == cg.join("unified")));
    assert_eq!(
        std::fs::read_link(cg.join("cpu")).unwrap(),
        Path::new("cpu,cpuacct")
    );
    assert_eq!(
        std::fs::read_link(cg.join("cpuacct")).unwrap(),
        Path::new("cpu,cpuacct")
    );
    let last = m.last().unwrap();
    assert_eq!(last.1, cg);
    assert!(last.3.contains(MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY));
}

#[test]
fn cgroup_mount_with_namespace_mounts_hierarchies() {
    let f = fixture();
    let s = spec(serde_json::json!({"mounts": [
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["nosuid"]}
    ]}));
    let sys = RecordingSyscall::default();
    prepare(&sys, &cfg(&f, &s, true, false)).unwrap();
    let m = mounts(&sys.calls());
    let cg = f.rootfs.join("sys/fs/cgroup");
    assert!(m.contains(&(
        Some("cgroup".into()),
        cg.join("memory"),
        Some("cgroup".into()),
        MsFlags::MS_NOSUID,
        Some("memory".into())
    )));
    assert!(m.contains(&(
        Some("cgroup2".into()),
        cg.join("unified"),
        Some("cgroup2".into()),
        MsFlags::MS_NOSUID,
        None
    )));
}

#[test]
fn sysfs_falls_back_to_a_bind_when_refused() {
    let f = fixture();
    let s = spec(serde_json::json!({"mounts": [
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "ro"]}
    ]}));
    let sys = RecordingSyscall::failing_mounts_of("sysfs", nix::errno::Errno::EPERM);
    prepare(&sys, &cfg(&f, &s, false, false)).unwrap();
    let m = mounts(&sys.calls());
    assert_eq!(m[2].0.as_deref(), Some(Path::new("/sys")));
    assert_eq!(m[2].3, MsFlags::MS_BIND | MsFlags::MS_REC);
    assert!(m[3].3.contains(MsFlags::MS_RDONLY | MsFlags::MS_REMOUNT));
}

#[test]
fn symlinked_destinations_stay_inside() {
    let f = fixture();
    let outside = f.bundle.join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, f.rootfs.join("evil")).unwrap();
    let s = spec(serde_json::json!({"mounts": [
        {"destination": "/evil/mnt", "type": "tmpfs", "source": "tmpfs"}
    ]}));
    let sys = RecordingSyscall::default();
    prepare(&sys, &cfg(&f, &s, false, false)).unwrap();
    let m = mounts(&sys.calls());
    assert!(m[2].1.starts_with(&f.rootfs), "{:?}", m[2].1);
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
}

#[test]
fn impossible_mounts_name_the_entry() {
    let f = fixture();
    let s = spec(serde_json::json!({"mounts": [
        {"destination": "/data", "type": "bind", "source": "/no/such/source", "options": ["rbind"]}
    ]}));
    let err = prepare(&RecordingSyscall::default(), &cfg(&f, &s, false, false))
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "mounts[0] (/data): bind mount source /no/such/source: no such file or directory"
    );
}

#[test]
fn finalize_masks_and_protects() {
    let f = fixture();
    std::fs::create_dir_all(f.rootfs.join("proc/sys")).unwrap();
    std::fs::write(f.rootfs.join("proc/kcore"), "").unwrap();
    let s = spec(serde_json::json!({
        "root": {"path": "rootfs", "readonly": true},
        "linux": {"maskedPaths": ["/proc/kcore", "/proc/sys", "/proc/missing"], "readonlyPaths": ["/proc/sys"]}
    }));
    let sys = RecordingSyscall::default();
    finalize(&sys, &s, &f.rootfs, &Prepared::default()).unwrap();
    let m = mounts(&sys.calls());
    // read-only bind of /proc/sys onto itself, then the remount.
    assert_eq!(m[0].1, f.rootfs.join("proc/sys"));
    assert_eq!(m[0].3, MsFlags::MS_BIND | MsFlags::MS_REC);
    assert!(m[1]
        .3
        .contains(MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_REC));
    // masks: /dev/null over a file, read-only tmpfs over a directory.
    assert_eq!(
        m[2],
        (
            Some("/dev/null".into()),
            f.rootfs.join("proc/kcore"),
            None,
            MsFlags::MS_BIND,
            None
        )
    );
    assert_eq!(
        m[3],
        (
            Some("tmpfs".into()),
            f.rootfs.join("proc/sys"),
            Some("tmpfs".into()),
            MsFlags::MS_RDONLY,
            None
        )
    );
    // root.readonly last.
    assert_eq!(m.len(), 5);
    assert!(m[4]
        .3
        .contains(MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY | MsFlags::MS_BIND));
}

#[test]
fn pivot_sequence() {
    let sys = RecordingSyscall::default();
    enter(&sys, Path::new("/r"), false, true).unwrap();
    assert_eq!(sys.calls()[0], Call::Chdir { path: "/r".into() });
    assert_eq!(
        sys.calls()[1],
        Call::PivotRoot {
            new_root: ".".into()
        }
    );
    // Into the old root (by descriptor, so the slave change cannot hit the
    // container's mounts), detach it, then to the new root's top.
    assert_eq!(sys.calls()[2], Call::Fchdir { dir: "/".into() });
    assert!(matches!(
        &sys.calls()[3],
        Call::Mount { target, flags, .. }
            if target == Path::new(".") && *flags == MsFlags::MS_SLAVE | MsFlags::MS_REC
    ));
    assert_eq!(sys.calls()[4], Call::Umount { target: ".".into() });
    assert_eq!(sys.calls()[5], Call::Chdir { path: "/".into() });
    assert_eq!(sys.calls().len(), 6, "{:?}", sys.calls());
    let sys = RecordingSyscall::default();
    enter(&sys, Path::new("/r"), true, true).unwrap();
    assert!(sys.calls().contains(&Call::Chroot { path: ".".into() }));
    // In the host's mount namespace a pivot would move the host's root.
    let sys = RecordingSyscall::default();
    enter(&sys, Path::new("/r"), false, false).unwrap();
    assert!(sys.calls().contains(&Call::Chroot { path: ".".into() }));
    assert!(
        !sys.calls()
            .iter()
            .any(|c| matches!(c, Call::PivotRoot { .. } | Call::Mount { .. })),
        "nothing may be pivoted or moved in the host's namespace: {:?}",
        sys.calls()
    );
}

#[test]
fn root_propagation_is_set_again_after_the_pivot() {
    let shared = spec(serde_json::json!({"linux": {"rootfsPropagation": "rshared"}}));
    let sys = RecordingSyscall::default();
    apply_root_propagation(&sys, &shared).unwrap();
    let last = mounts(&sys.calls()).pop().unwrap();
    assert_eq!(last.1, PathBuf::from("/"));
    assert_eq!(last.3, MsFlags::MS_SHARED | MsFlags::MS_REC);
    let sys = RecordingSyscall::default();
    apply_root_propagation(&sys, &spec(serde_json::json!({}))).unwrap();
    assert!(sys.calls().is_empty(), "without the field / stays as it is");
    // Unbindable cannot be the propagation the rootfs is bound under.
    let unbindable = spec(serde_json::json!({"linux": {"rootfsPropagation": "runbindable"}}));
    assert_eq!(
        root_propagation(&unbindable),
        MsFlags::MS_SLAVE | MsFlags::MS_REC
    );
    assert_eq!(
        root_propagation(&shared),
        MsFlags::MS_SHARED | MsFlags::MS_REC
    );
}

#[test]
fn in_the_hosts_mount_namespace_propagation_and_the_bind_are_left_alone() {
    let f = fixture();
    let s = spec(serde_json::json!({"mounts": [
        {"destination": "/proc", "type": "proc", "source": "proc"}
    ]}));
    let sys = RecordingSyscall::default();
    let mut c = cfg(&f, &s, false, false);
    c.own_mount_ns = false;
    prepare(&sys, &c).unwrap();
    let m = mounts(&sys.calls());
    // hako bound the rootfs already; the first mount is the spec's.
    assert_eq!(m[0].1, f.rootfs.join("proc"));
    assert!(!m.iter().any(|r| r.1 == Path::new("/")), "{m:?}");
}

#[test]
fn filesystems_are_never_mounted_through_a_symlinked_destination() {
    let f = fixture();
    std::os::unix::fs::symlink("/tmp", f.rootfs.join("proc")).unwrap();
    std::os::unix::fs::symlink("elsewhere", f.rootfs.join("run")).unwrap();
    for (dest, fstype) in [("/proc", "proc"), ("/run", "tmpfs")] {
        let s = spec(serde_json::json!({"mounts": [
            {"destination": dest, "type": fstype, "source": fstype}
        ]}));
        let sys = RecordingSyscall::default();
        let e = prepare(&sys, &cfg(&f, &s, false, false)).unwrap_err();
        assert!(
            e.to_string().ends_with(&format!(
                "filesystem \"{fstype}\" must be mounted on ordinary directory"
            )),
            "{e}"
        );
        assert!(!mounts(&sys.calls())
            .iter()
            .any(|r| r.1.ends_with(&dest[1..])));
    }
}
