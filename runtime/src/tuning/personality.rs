//! `linux.personality`: the execution domain (`LINUX32` makes uname
//! report a 32-bit machine), set with personality(2), kept across execve.

use oci_spec::runtime::{LinuxPersonality, LinuxPersonalityDomain};

use crate::error::{Context, Result};
use crate::syscall::Syscall;

const PER_LINUX: libc::c_ulong = 0x0000;
const PER_LINUX32: libc::c_ulong = 0x0008;

/// The persona for the spec's domain. The spec defines no flags yet:
/// like runc, hako ignores them (`create` warns).
pub fn persona(p: &LinuxPersonality) -> libc::c_ulong {
    match p.domain() {
        LinuxPersonalityDomain::PerLinux => PER_LINUX,
        LinuxPersonalityDomain::PerLinux32 => PER_LINUX32,
    }
}

/// Sets the calling process's personality.
pub fn apply(sys: &dyn Syscall, persona: libc::c_ulong) -> Result<()> {
    sys.personality(persona)
        .ctx(|| "setting linux.personality".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains() {
        let p: LinuxPersonality =
            serde_json::from_value(serde_json::json!({"domain": "LINUX32"})).unwrap();
        assert_eq!(persona(&p), 8);
        let p: LinuxPersonality =
            serde_json::from_value(serde_json::json!({"domain": "LINUX"})).unwrap();
        assert_eq!(persona(&p), 0);
        assert!(
            serde_json::from_value::<LinuxPersonality>(serde_json::json!({"domain": "WIN"}))
                .is_err()
        );
    }
}
