//! `hako features`: what this build supports, in the runtime-spec
//! features.md format.

use serde_json::{json, Value};

use crate::error::{Error, Result};

/// The features document.
pub fn document() -> Value {
    let engines: Vec<&str> = crate::engines::built_in()
        .iter()
        .map(|e| e.name())
        .collect();
    let capabilities: Vec<String> = {
        let mut c: Vec<String> = caps::all().into_iter().map(|c| c.to_string()).collect();
        c.sort();
        c
    };
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::state::OCI_VERSION,
        "hooks": crate::hooks::NAMES,
        "mountOptions": crate::rootfs::options::KNOWN,
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"],
            "capabilities": capabilities,
            "cgroup": {"v1": true, "v2": true, "systemd": true, "systemdUser": true, "rdma": false},
            "seccomp": crate::seccomp::features(),
            "apparmor": {"enabled": crate::lsm::apparmor_enabled()},
            "selinux": {"enabled": crate::lsm::selinux_enabled()},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": true}},
            "memoryPolicy": {
                "modes": crate::tuning::memory_policy::MODES,
                "flags": crate::tuning::memory_policy::FLAGS
            },
            "netDevices": {"enabled": true}
        },
        "annotations": {
            "io.hako.version": env!("CARGO_PKG_VERSION"),
            "io.hako.commit": crate::version::COMMIT,
            "io.hako.wasm.engines": engines.join(","),
            // runc's `exec --cgroup [controller:]path`.
            "io.hako.exec.cgroup": "true",
        },
        "potentiallyUnsafeConfigAnnotations": ["run.oci.handler", "module.wasm.image/variant", "io.hako."]
    })
}

/// `features`.
pub fn run() -> Result<()> {
    let text = serde_json::to_string_pretty(&document())
        .map_err(|e| Error::invalid(format!("encoding features: {e}")))?;
    crate::output::print(&format!("{text}\n"));
    Ok(())
}
