//! Loading the device program and attaching it to a cgroup v2 directory.

use std::os::fd::AsFd;

use super::{program, Insn, Rule};
use crate::error::{Error, Result};
use crate::syscall::Syscall;

/// Loads the program for `rules` and attaches it to a v2 cgroup
/// directory, replacing a program hako attached before. A program the
/// verifier refuses is loaded once more with its log, to say why.
pub fn attach_v2(sys: &dyn Syscall, cgroup: &std::path::Path, rules: &[Rule]) -> Result<()> {
    let insns: Vec<u8> = program(rules).iter().flat_map(Insn::bytes).collect();
    let prog = sys
        .bpf_load_device_program(&insns, &mut [])
        .map_err(|errno| {
            let mut log = vec![0u8; 1 << 20];
            let _ = sys.bpf_load_device_program(&insns, &mut log);
            Error::Sys {
                context: format!(
                    "loading the device eBPF program (verifier: {})",
                    verifier_reason(&log)
                ),
                errno,
            }
        })?;
    let dir = std::fs::File::open(cgroup).map_err(|e| Error::Io {
        context: format!("opening {}", cgroup.display()),
        err: e,
    })?;
    sys.bpf_attach_device_program(dir.as_fd(), prog.as_fd())
        .map_err(|errno| Error::Sys {
            context: format!("attaching the device eBPF program to {}", cgroup.display()),
            errno,
        })
}

/// The verifier's reason: the line before its closing summary.
fn verifier_reason(log: &[u8]) -> String {
    String::from_utf8_lossy(log)
        .trim_matches(char::from(0))
        .lines()
        .rev()
        .nth(1)
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::resources::devices::rules;
    use crate::syscall::{Call, RecordingSyscall};

    fn some_rules() -> Vec<Rule> {
        rules(&oci_spec::runtime::Spec::default()).unwrap()
    }

    #[test]
    fn loads_once_then_attaches_to_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let sys = RecordingSyscall::default();
        let rules = some_rules();
        attach_v2(&sys, dir.path(), &rules).unwrap();
        let insns = program(&rules).len();
        assert_eq!(
            sys.calls(),
            vec![
                Call::BpfLoad {
                    insns,
                    logged: false
                },
                Call::BpfAttach {
                    cgroup: dir.path().to_path_buf()
                },
            ]
        );
    }

    #[test]
    fn a_refused_program_is_reloaded_for_the_verifiers_reason() {
        let dir = tempfile::tempdir().unwrap();
        let sys =
            RecordingSyscall::refusing_bpf("0: (b7) r0 = 0\nR0 !read_ok\nprocessed 1 insns\n");
        let err = attach_v2(&sys, dir.path(), &some_rules()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("loading the device eBPF program (verifier: R0 !read_ok)"),
            "{err}"
        );
        assert_eq!(err.errno(), Some(nix::errno::Errno::EACCES));
        let calls = sys.calls();
        assert!(
            matches!(
                calls[..],
                [
                    Call::BpfLoad { logged: false, .. },
                    Call::BpfLoad { logged: true, .. }
                ]
            ),
            "{calls:?}"
        );
    }
}
