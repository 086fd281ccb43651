//! Errors of the executor chain, and the exit codes they map to.

use std::path::PathBuf;

use crate::workload::EngineKind;

/// Exit code of a container whose wasm guest trapped: 128 + SIGABRT, what a
/// native program that aborts (a Rust panic, a failed assertion) reports,
/// and what the wasmtime CLI uses. It is never 137, which callers read as
/// SIGKILL (an OOM kill).
pub const EXIT_TRAP: i32 = 134;
/// Exit code when the entrypoint does not exist (as shells and podman use).
pub const EXIT_NOT_FOUND: i32 = 127;
/// Exit code when the entrypoint exists but cannot be executed.
pub const EXIT_CANNOT_EXECUTE: i32 = 126;
/// Exit code for any other failure to run the workload.
pub const EXIT_FAILURE: i32 = 1;

/// Why an executor could not prepare or run a workload.
///
/// Messages are lowercase and name the path, annotation or engine at fault.
/// The `exec: "...": executable file not found` and `permission denied`
/// wordings are the ones podman maps to exit codes 127 and 126.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// `process.args` is empty.
    #[error("process.args must not be empty")]
    NoArgs,
    /// The entrypoint could not be found in the container.
    #[error("exec: {name:?}: executable file not found in $PATH")]
    NotFound {
        /// The entrypoint as written in `process.args[0]`.
        name: String,
    },
    /// The entrypoint path does not exist.
    #[error("exec: {path:?}: no such file or directory")]
    NoSuchFile {
        /// The entrypoint path inside the container.
        path: PathBuf,
    },
    /// The entrypoint exists but may not be executed.
    #[error("exec: {path:?}: permission denied")]
    PermissionDenied {
        /// The entrypoint path inside the container.
        path: PathBuf,
    },
    /// The kernel does not know how to execute the entrypoint.
    #[error("exec: {path:?}: exec format error (not an executable for this machine; is it a wasm module without a wasm annotation?)")]
    ExecFormat {
        /// The entrypoint path inside the container.
        path: PathBuf,
    },
    /// execve failed for another reason.
    #[error("exec: {path:?}: {errno}")]
    Exec {
        /// The entrypoint path inside the container.
        path: PathBuf,
        /// The error execve returned.
        errno: nix::errno::Errno,
    },
    /// An argument or environment entry holds a NUL byte.
    #[error("process.{field} holds a NUL byte: {value:?}")]
    NulByte {
        /// `args` or `env`.
        field: &'static str,
        /// The offending entry.
        value: String,
    },
    /// A directory the guest is to see does not exist or is no directory.
    #[error("preopen {guest}: {}: {reason}", host.display())]
    Preopen {
        /// The name the guest would see.
        guest: String,
        /// The host directory.
        host: PathBuf,
        /// Why it cannot be opened.
        reason: String,
    },
    /// An annotation names an engine hako does not know.
    #[error("unknown wasm engine {name:?} in annotation {annotation} (known: wasmtime, wasmedge, wasmer)")]
    UnknownEngine {
        /// The annotation key.
        annotation: String,
        /// Its value.
        name: String,
    },
    /// An annotation has a value hako cannot use.
    #[error("invalid annotation {annotation}={value:?}: {reason}")]
    BadAnnotation {
        /// The annotation key.
        annotation: String,
        /// Its value.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The workload is wasm but the chosen engine is not compiled in.
    #[error("wasm engine {engine} is not built into this hako (built in: {built_in})")]
    EngineNotBuiltIn {
        /// The engine the container asked for.
        engine: EngineKind,
        /// The engines this binary has, comma-separated.
        built_in: String,
    },
    /// The workload is annotated as wasm but its entrypoint is not a module.
    #[error("{path}: not a wasm module (no \\0asm magic and no .wat extension)")]
    NotWasm {
        /// The entrypoint path inside the container.
        path: PathBuf,
    },
    /// Reading the module failed.
    #[error("reading wasm module {path}: {source}")]
    Read {
        /// The module path inside the container.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A `.wat` module did not parse.
    #[error("{path}: invalid wasm text: {message}")]
    InvalidText {
        /// The module path inside the container.
        path: PathBuf,
        /// The parser's message.
        message: String,
    },
    /// The engine rejected the module (validation, compilation, linking).
    #[error("{engine}: {path}: {message}")]
    Compile {
        /// The engine that rejected it.
        engine: EngineKind,
        /// The module path inside the container.
        path: PathBuf,
        /// The engine's message, one line.
        message: String,
    },
    /// The module is a component and the engine only runs core modules.
    #[error("{engine}: {path}: is a wasm component, which {engine} cannot run (use run.oci.handler=wasmtime)")]
    ComponentUnsupported {
        /// The engine that cannot run it.
        engine: EngineKind,
        /// The module path inside the container.
        path: PathBuf,
    },
    /// No executor in the chain took a native workload (the chain lacks the
    /// execve executor).
    #[error("no executor accepted the workload (chain: {chain})")]
    NoExecutor {
        /// The executors asked, comma-separated.
        chain: String,
    },
    /// The guest trapped.
    #[error("wasm trap: {0}")]
    Trap(String),
    /// The engine panicked (caught, as one line: [`panic_line`]).
    #[error("the engine panicked: {0}")]
    Panic(String),
    /// The engine failed while running the guest, for a reason other than a trap.
    #[error("{engine}: {message}")]
    Engine {
        /// The engine that failed.
        engine: EngineKind,
        /// What went wrong, one line.
        message: String,
    },
}

impl ExecutorError {
    /// The exit code init reports when running the workload failed this way.
    pub fn exit_code(&self) -> i32 {
        match self {
            ExecutorError::NotFound { .. } | ExecutorError::NoSuchFile { .. } => EXIT_NOT_FOUND,
            ExecutorError::PermissionDenied { .. } | ExecutorError::ExecFormat { .. } => {
                EXIT_CANNOT_EXECUTE
            }
            ExecutorError::Trap(_) => EXIT_TRAP,
            _ => EXIT_FAILURE,
        }
    }

    /// An engine's message in hako's style: one line (lines joined with
    /// `: `), no trailing period, and a first word that is merely
    /// capitalised ("Invalid input", "Can't open") lowercased,
    /// while names and acronyms ("WebAssembly", "WASI", "I/O") stay.
    pub fn one_line(err: &dyn std::fmt::Display) -> String {
        let text = err.to_string();
        let mut line = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(": ");
        if line.ends_with('.') {
            line.pop();
        }
        let word = line.split([' ', ':']).next().unwrap_or_default();
        let mut chars = word.chars();
        let capitalised =
            chars.next().is_some_and(char::is_uppercase) && !chars.any(char::is_uppercase);
        if capitalised {
            let first = line.chars().next().map_or(0, char::len_utf8);
            let lower = line[..first].to_lowercase();
            line.replace_range(..first, &lower);
        }
        line
    }
}

/// A caught panic's payload as the one line [`ExecutorError::Panic`]
/// carries.
pub fn panic_line(payload: &(dyn std::any::Any + Send)) -> String {
    ExecutorError::one_line(&panic_text(payload).unwrap_or("a non-string payload"))
}

/// Replaces this copy of std's panic output (several lines, maybe a
/// backtrace), once per process and library: a panic on the main thread
/// is caught and reported by the caller, as [`ExecutorError::Panic`]; one
/// on another thread (an engine's worker) is reported here, in one line.
/// A plugin links its own std, so it calls this too.
pub fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            // The process's first thread (a plugin's std never learns
            // it is "main").
            // SAFETY: gettid and getpid only read the caller's ids.
            if unsafe { libc::gettid() == libc::getpid() } {
                return;
            }
            let thread = std::thread::current();
            eprintln!(
                "hako: error: thread {}: {}",
                thread.name().unwrap_or("unnamed"),
                ExecutorError::Panic(panic_line(info.payload()))
            );
        }));
    });
}

/// The message a panic carries (`panic!` with a literal or a format), if
/// any: what every place that catches an engine's panic reports.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_shell_conventions() {
        assert_eq!(
            ExecutorError::NotFound { name: "x".into() }.exit_code(),
            127
        );
        assert_eq!(
            ExecutorError::PermissionDenied { path: "/x".into() }.exit_code(),
            126
        );
        assert_eq!(ExecutorError::Trap("unreachable".into()).exit_code(), 134);
        assert_ne!(ExecutorError::Trap("x".into()).exit_code(), 137);
    }

    #[test]
    fn messages_name_the_culprit() {
        let e = ExecutorError::NotFound { name: "foo".into() };
        assert_eq!(
            e.to_string(),
            "exec: \"foo\": executable file not found in $PATH"
        );
        let e = ExecutorError::UnknownEngine {
            annotation: "io.hako.wasm.engine".into(),
            name: "wasm3".into(),
        };
        assert!(e.to_string().contains("\"wasm3\""));
        assert!(e.to_string().contains("io.hako.wasm.engine"));
    }

    #[test]
    fn one_line_joins_and_trims() {
        assert_eq!(ExecutorError::one_line(&"a\n  b.\n"), "a: b");
        assert_eq!(
            ExecutorError::one_line(&"Validation error: x.\n  at 3"),
            "validation error: x.: at 3"
        );
        assert_eq!(
            ExecutorError::one_line(&"Fail to create Loader"),
            "fail to create Loader"
        );
        for kept in [
            "WebAssembly translation error",
            "WASI exited",
            "I/O error",
            "",
        ] {
            assert_eq!(ExecutorError::one_line(&kept), kept);
        }
    }
}
