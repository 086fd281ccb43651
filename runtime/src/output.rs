//! Command output on stdout.

use std::io::Write as _;

/// Writes `text` to stdout. A reader that went away (`hako list | head
/// -1`) ends hako quietly with success, as runc ends; any other failure to
/// write is one error line and exit 1. Only read-only commands print, so
/// ending here leaves nothing half-done.
pub fn print(text: &str) {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!(
                "hako: error: writing to stdout: {}",
                crate::error::describe_io(&e)
            );
            std::process::exit(1)
        }
    }
}
