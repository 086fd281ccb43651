//! Container id validation.

use crate::error::{Error, Result};

/// Longest id accepted: the id names a directory and a cgroup, so it must
/// fit in one file name.
pub const MAX_ID_LEN: usize = 255;

/// Checks a container id: 1 to 255 characters from `[A-Za-z0-9_+.-]`,
/// and not `.` or `..` (it becomes a directory name).
pub fn validate(id: &str) -> Result<()> {
    if id.is_empty() {
        return Err(Error::invalid("container id must not be empty"));
    }
    if id.len() > MAX_ID_LEN {
        return Err(Error::invalid(format!(
            "invalid container id {:?}...: longer than {MAX_ID_LEN} characters",
            &id[..id.char_indices().nth(32).map_or(id.len(), |(i, _)| i)]
        )));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '+' | '-' | '.');
    if id == "." || id == ".." || !id.chars().all(allowed) {
        return Err(Error::invalid(format!(
            "invalid container id {id:?}: use only letters, digits, '_', '+', '-' and '.'"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_usual_ids() {
        for id in [
            "a",
            "web-1",
            "k8s_pod.x+y",
            "0123456789abcdef",
            &"x".repeat(255),
        ] {
            validate(id).unwrap();
        }
    }

    #[test]
    fn rejects_bad_ids() {
        for id in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "a b",
            "é",
            "a\0",
            &"x".repeat(256),
        ] {
            let err = validate(id).unwrap_err().to_string();
            assert!(err.contains("container id"), "{id:?}: {err}");
        }
    }
}
