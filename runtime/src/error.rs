//! The runtime's error type.
//!
//! Every message is lowercase, has no trailing period and names the path,
//! id or field at fault; the top level prints it as one line.

use std::fmt;

use hako_executors::ExecutorError;

/// Errors of the hako library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: a spec field, an id, a flag. The message says which.
    #[error("{0}")]
    Invalid(String),
    /// A file operation failed.
    #[error("{context}: {}", describe_io(.err))]
    Io {
        /// What was being done, naming the path.
        context: String,
        /// The underlying error.
        err: std::io::Error,
    },
    /// A system call failed.
    #[error("{context}: {}", describe_errno(*.errno))]
    Sys {
        /// What was being done, naming the path or object.
        context: String,
        /// The errno.
        errno: nix::errno::Errno,
    },
    /// systemd refused or failed a request over D-Bus.
    #[error("{context}: {message}")]
    Systemd {
        /// What was asked, naming the unit.
        context: String,
        /// systemd's (or the bus's) answer.
        message: String,
    },
    /// The container does not exist.
    #[error("container {0:?} does not exist")]
    NotFound(String),
    /// The container already exists.
    #[error("container {0:?} already exists")]
    Exists(String),
    /// The container is in the wrong state for the operation.
    #[error("container {id:?} is {status}: {action}")]
    State {
        /// The container id.
        id: String,
        /// Its current status.
        status: crate::state::Status,
        /// What cannot be done, and why.
        action: String,
    },
    /// A process of the container reported a failure.
    #[error("{0}")]
    Child(String),
    /// The executor chain refused or failed the workload.
    #[error(transparent)]
    Executor(#[from] ExecutorError),
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Invalid`] from anything printable.
    pub fn invalid(msg: impl fmt::Display) -> Self {
        Error::Invalid(msg.to_string())
    }

    /// The same error with `prefix` (naming the object at fault) in front
    /// of its message; a system call's errno and an I/O error are kept.
    pub fn within(self, prefix: impl fmt::Display) -> Error {
        match self {
            Error::Io { context, err } => Error::Io {
                context: format!("{prefix}: {context}"),
                err,
            },
            Error::Sys { context, errno } => Error::Sys {
                context: format!("{prefix}: {context}"),
                errno,
            },
            Error::Systemd { context, message } => Error::Systemd {
                context: format!("{prefix}: {context}"),
                message,
            },
            Error::Child(m) => Error::Child(format!("{prefix}: {m}")),
            other => Error::Invalid(format!("{prefix}: {other}")),
        }
    }

    /// The errno behind this error, if it came from a system call or I/O.
    pub fn errno(&self) -> Option<nix::errno::Errno> {
        match self {
            Error::Sys { errno, .. } => Some(*errno),
            Error::Io { err, .. } => err.raw_os_error().map(nix::errno::Errno::from_raw),
            _ => None,
        }
    }
}

/// Lowercase description of an errno ("operation not permitted").
pub fn describe_errno(errno: nix::errno::Errno) -> String {
    lowercase_first(errno.desc())
}

/// Lowercase description of an I/O error, without Rust's "(os error N)".
pub fn describe_io(err: &std::io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => describe_errno(nix::errno::Errno::from_raw(code)),
        None => lowercase_first(&err.to_string()),
    }
}

pub(crate) fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Adds context to I/O and syscall results.
pub trait Context<T> {
    /// Wraps the error with a message built lazily.
    fn ctx<F: FnOnce() -> String>(self, f: F) -> Result<T>;
}

impl<T> Context<T> for std::result::Result<T, std::io::Error> {
    fn ctx<F: FnOnce() -> String>(self, f: F) -> Result<T> {
        self.map_err(|err| Error::Io { context: f(), err })
    }
}

impl<T> Context<T> for std::result::Result<T, nix::errno::Errno> {
    fn ctx<F: FnOnce() -> String>(self, f: F) -> Result<T> {
        self.map_err(|errno| Error::Sys {
            context: f(),
            errno,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::errno::Errno;

    #[test]
    fn within_keeps_the_errno() {
        let e: Result<()> = Err(Errno::EBUSY).ctx(|| "mounting /x".into());
        let e = e.unwrap_err().within("mounts[2] (/x)");
        assert_eq!(e.errno(), Some(Errno::EBUSY));
        assert_eq!(
            e.to_string(),
            "mounts[2] (/x): mounting /x: device or resource busy"
        );
        let e = Error::invalid("bad").within("mounts[0]");
        assert_eq!(e.errno(), None);
        assert_eq!(e.to_string(), "mounts[0]: bad");
    }

    #[test]
    fn messages_are_lowercase_without_os_error_suffix() {
        let e: Result<()> = Err(Errno::EPERM).ctx(|| "mounting /x".into());
        assert_eq!(
            e.unwrap_err().to_string(),
            "mounting /x: operation not permitted"
        );
        let io = std::io::Error::from_raw_os_error(libc::ENOENT);
        let e: Result<()> = Err(io).ctx(|| "reading /y".into());
        assert_eq!(
            e.unwrap_err().to_string(),
            "reading /y: no such file or directory"
        );
        let e: Result<()> = Err(std::io::Error::other("Bad thing")).ctx(|| "z".into());
        assert_eq!(e.unwrap_err().to_string(), "z: bad thing");
    }

    #[test]
    fn errno_is_recoverable() {
        let e: Result<()> = Err(Errno::EBUSY).ctx(|| "x".into());
        assert_eq!(e.unwrap_err().errno(), Some(Errno::EBUSY));
    }
}
