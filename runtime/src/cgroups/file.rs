//! Writing one cgroup interface file.

use std::path::Path;

/// Reads a cgroup file, trimmed; `None` if it cannot be read.
pub fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_string())
}

/// Writes `value` to a cgroup file. cgroupfs answers an attempt to create
/// a file it lacks with EACCES; such a file is reported as missing ("no
/// such file or directory", as runc says), not as a permission problem.
pub fn write(path: &Path, value: &str) -> std::io::Result<()> {
    match std::fs::write(path, value) {
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied && !path.exists() => {
            Err(std::io::Error::from_raw_os_error(libc::ENOENT))
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn writes_the_value() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("memory.max");
        super::write(&file, "42").unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "42");
    }
}
