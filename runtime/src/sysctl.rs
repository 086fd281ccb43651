//! `linux.sysctl`, written through the container's /proc after pivot_root
//! (so network sysctls land in the container's network namespace).

use std::path::PathBuf;

use oci_spec::runtime::Spec;

use crate::error::{Context, Error, Result};

/// The /proc/sys file of a key (`net.ipv4.ip_forward` →
/// `/proc/sys/net/ipv4/ip_forward`). Keys may use `/` as well.
pub fn path_of(key: &str) -> Result<PathBuf> {
    if key.is_empty()
        || key
            .split(['.', '/'])
            .any(|part| part.is_empty() || part == "..")
    {
        return Err(Error::invalid(format!("linux.sysctl: invalid key {key:?}")));
    }
    Ok(PathBuf::from("/proc/sys").join(key.replace('.', "/")))
}

/// Writes every sysctl of the spec.
pub fn apply(spec: &Spec) -> Result<()> {
    let Some(sysctl) = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref()) else {
        return Ok(());
    };
    let mut keys: Vec<_> = sysctl.keys().collect();
    keys.sort();
    for key in keys {
        let path = path_of(key)?;
        std::fs::write(&path, &sysctl[key])
            .ctx(|| format!("setting sysctl {key}={:?}", sysctl[key]))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_to_paths() {
        assert_eq!(
            path_of("net.ipv4.ip_forward").unwrap(),
            PathBuf::from("/proc/sys/net/ipv4/ip_forward")
        );
        assert_eq!(
            path_of("kernel/shmmax").unwrap(),
            PathBuf::from("/proc/sys/kernel/shmmax")
        );
        for bad in ["", "net..x", "net/../../etc", ".x"] {
            assert!(path_of(bad).is_err(), "{bad}");
        }
    }
}
