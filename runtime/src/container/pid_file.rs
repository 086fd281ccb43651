//! The pid file `create`, `run` and `exec` write for their caller.

use std::path::Path;

use crate::error::{Context, Result};

/// Writes the pid file atomically (callers poll for it).
pub fn write(path: &Path, pid: i32) -> Result<()> {
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        std::env::current_dir()
            .ctx(|| "current directory".into())?
            .join(path)
    };
    crate::state::write_atomic(&path, pid.to_string().as_bytes(), 0o644)
}
