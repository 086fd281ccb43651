//! A session keyring of the container's own, so containers do not share
//! the host's (runc's default; `--no-new-keyring` skips it).

use crate::error::{Context, Result};

const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;

/// Joins a new anonymous-per-container session keyring `_ses.<id>`.
/// Kernels or sandboxes without keyctl are tolerated, as in runc.
pub fn join_new(id: &str) -> Result<()> {
    let name = std::ffi::CString::new(format!("_ses.{id}")).expect("ids hold no NUL");
    // SAFETY: keyctl(JOIN_SESSION_KEYRING, name) reads a valid C string.
    let rc = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    match nix::errno::Errno::result(rc) {
        Ok(_)
        | Err(nix::errno::Errno::ENOSYS)
        | Err(nix::errno::Errno::EPERM)
        | Err(nix::errno::Errno::EACCES) => Ok(()),
        Err(e) => Err(e).ctx(|| "joining a new session keyring".into()),
    }
}
