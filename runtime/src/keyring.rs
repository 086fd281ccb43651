//! A session keyring of the container's own, so containers do not share
//! the host's (runc's default; `--no-new-keyring` skips it).

use crate::error::{Context, Result};
use crate::syscall::Syscall;

/// Joins a new anonymous-per-container session keyring `_ses.<id>`.
/// Kernels or sandboxes without keyctl are tolerated, as in runc.
pub fn join_new(sys: &dyn Syscall, id: &str) -> Result<()> {
    match sys.join_session_keyring(&format!("_ses.{id}")) {
        Ok(())
        | Err(nix::errno::Errno::ENOSYS)
        | Err(nix::errno::Errno::EPERM)
        | Err(nix::errno::Errno::EACCES) => Ok(()),
        Err(e) => Err(e).ctx(|| "joining a new session keyring".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::syscall::{Call, RecordingSyscall};

    #[test]
    fn the_keyring_is_named_after_the_container() {
        let sys = RecordingSyscall::default();
        join_new(&sys, "c1").unwrap();
        assert_eq!(
            sys.calls(),
            vec![Call::JoinSessionKeyring {
                name: "_ses.c1".into()
            }]
        );
    }
}
