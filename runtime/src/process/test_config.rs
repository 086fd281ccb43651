//! Configurations of the forked processes for unit tests of their
//! sequences on the recording double.

use std::path::Path;

use super::launcher::InitConfig;
use crate::syscall::Call;

/// A container's init config for a bundle in a temporary directory,
/// with no cgroups, fifo or console.
pub fn init_config(tmp: &Path) -> InitConfig {
    std::fs::create_dir_all(tmp.join("rootfs")).unwrap();
    let config = serde_json::json!({
        "ociVersion": "1.2.0",
        "hostname": "box",
        "process": {"args": ["sh"], "cwd": "/work", "user": {"uid": 0, "gid": 0}},
        "root": {"path": "rootfs", "readonly": true},
        "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
        "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}]}
    });
    std::fs::write(tmp.join("config.json"), config.to_string()).unwrap();
    InitConfig {
        id: "c1".into(),
        bundle: crate::spec::Bundle::load(tmp).unwrap(),
        cgroups: crate::cgroups::CgroupSet {
            systemd: None,
            dirs: vec![],
        },
        gate: None,
        console_socket: None,
        no_pivot: false,
        no_new_keyring: false,
        preserved_fds: 0,
        extra_env: vec![],
        options: Default::default(),
        seccomp_filter: Default::default(),
        module_cache: None,
        idmapped_mounts: vec![],
        seccomp_listener: None,
        rootless: false,
    }
}

/// One line per call: what it is and the path it touches.
pub fn outline(calls: &[Call]) -> Vec<String> {
    calls
        .iter()
        .map(|c| match c {
            Call::Mount { target, fstype, .. } => format!(
                "mount {} {}",
                target.display(),
                fstype.as_deref().unwrap_or("-")
            ),
            Call::Mknod { path, .. } => format!("mknod {}", path.display()),
            Call::Chdir { path } => format!("chdir {}", path.display()),
            Call::PivotRoot { new_root } => format!("pivot_root {}", new_root.display()),
            Call::Umount { target } => format!("umount {}", target.display()),
            other => format!("{other:?}"),
        })
        .collect()
}
