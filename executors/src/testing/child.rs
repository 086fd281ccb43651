//! Running a guest, or anything, in a forked child with stdio on files.

use std::os::fd::AsRawFd;

use crate::error::ExecutorError;
use crate::executor::Prepared;

/// How a guest's run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `run` returned this exit code.
    Exit(i32),
    /// `run` returned [`ExecutorError::Trap`] with this message.
    Trap(String),
    /// `run` returned [`ExecutorError::Engine`], shown.
    Engine(String),
    /// `run` returned another error, shown.
    Other(String),
}

/// A finished child: what it reported, and what it wrote to fds 1 and 2.
#[derive(Debug)]
pub struct Run<T = Outcome> {
    /// The outcome (of [`run`]) or report (of [`in_child`]).
    pub outcome: T,
    /// Everything written to fd 1.
    pub stdout: String,
    /// Everything written to fd 2.
    pub stderr: String,
}

/// Runs `f` in a forked child with `stdin` as fd 0 and files as fds 1 and
/// 2, and returns what `f` returned with that output. The child leaves
/// with `_exit` right after `f`, so nothing a guest wrote may still sit in
/// a buffer. A child that dies (or panics) fails the test with its
/// stderr. The caller holds [`super::serial`].
pub fn in_child(stdin: &[u8], f: impl FnOnce() -> String) -> Run<String> {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str| dir.path().join(name);
    std::fs::write(file("stdin"), stdin).unwrap();
    let open = |name: &str, write: bool| {
        std::fs::OpenOptions::new()
            .read(!write)
            .write(write)
            .create(write)
            .truncate(write)
            .open(file(name))
            .unwrap()
    };
    let stdio = [
        open("stdin", false),
        open("stdout", true),
        open("stderr", true),
    ];
    let report = file("report");
    // Nothing of this process's buffered stdout may reach the child's.
    use std::io::Write;
    let _ = std::io::stdout().flush();
    // SAFETY: the caller holds the engine lock, so no other test thread is
    // inside an engine; the child rearranges its fds, runs `f`, writes a
    // file and leaves with _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        for (fd, from) in stdio.iter().enumerate() {
            // SAFETY: both are open descriptors of this process.
            unsafe { libc::dup2(from.as_raw_fd(), fd as i32) };
        }
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let code = match outcome {
            Ok(text) => std::fs::write(&report, text).map_or(2, |()| 0),
            Err(_) => 3,
        };
        // SAFETY: ends the child without the parent's destructors and
        // without flushing anything the guest left in a buffer.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: pid is this function's child; status is a valid out pointer.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid);
    let stdout = std::fs::read_to_string(file("stdout")).unwrap();
    let stderr = std::fs::read_to_string(file("stderr")).unwrap();
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the child died (status {status:#x}); stderr: {stderr:?}"
    );
    Run {
        outcome: std::fs::read_to_string(report).unwrap(),
        stdout,
        stderr,
    }
}

/// Runs a prepared guest in a child ([`in_child`]), as container init
/// would: in the process that prepared it.
pub fn run(prepared: Box<dyn Prepared>, stdin: &[u8]) -> Run {
    let done = in_child(stdin, move || encode(&prepared.run()));
    Run {
        outcome: decode(&done.outcome),
        stdout: done.stdout,
        stderr: done.stderr,
    }
}

/// The result of `run` as one line of text, for the trip out of a child.
pub fn encode(result: &Result<i32, ExecutorError>) -> String {
    match result {
        Ok(code) => format!("exit {code}"),
        Err(ExecutorError::Trap(m)) => format!("trap {m}"),
        Err(e @ ExecutorError::Engine { .. }) => format!("engine {e}"),
        Err(e) => format!("other {e}"),
    }
}

/// The other end of [`encode`].
pub fn decode(text: &str) -> Outcome {
    let (kind, rest) = text.split_once(' ').unwrap_or((text, ""));
    match kind {
        "exit" => Outcome::Exit(rest.parse().expect("an exit code")),
        "trap" => Outcome::Trap(rest.into()),
        "engine" => Outcome::Engine(rest.into()),
        _ => Outcome::Other(rest.into()),
    }
}
