//! Parsing `/proc/<pid>/mountinfo`.

use std::path::PathBuf;

/// One line of mountinfo.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MountInfo {
    /// Mount id.
    pub id: u32,
    /// Parent mount id.
    pub parent: u32,
    /// Root of the mount within its filesystem.
    pub root: PathBuf,
    /// Mount point, relative to the reader's root.
    pub mount_point: PathBuf,
    /// Per-mount options (`rw,nosuid,…`).
    pub options: Vec<String>,
    /// Optional fields (`shared:1`, `master:2`).
    pub optional: Vec<String>,
    /// Filesystem type.
    pub fs_type: String,
    /// Mount source.
    pub source: String,
    /// Superblock options.
    pub super_options: Vec<String>,
}

/// Undoes the kernel's octal escapes (`\040` for a space).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() {
            if let Ok(v) =
                u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 4]).unwrap_or("x"), 8)
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses one line; `None` if it is malformed.
pub fn parse_line(line: &str) -> Option<MountInfo> {
    let (left, right) = line.split_once(" - ")?;
    let mut l = left.split(' ');
    let id = l.next()?.parse().ok()?;
    let parent = l.next()?.parse().ok()?;
    let _dev = l.next()?;
    let root = PathBuf::from(unescape(l.next()?));
    let mount_point = PathBuf::from(unescape(l.next()?));
    let options = l.next()?.split(',').map(String::from).collect();
    let optional = l.filter(|s| !s.is_empty()).map(String::from).collect();
    let mut r = right.split(' ');
    let fs_type = r.next()?.to_string();
    let source = unescape(r.next()?);
    let super_options = r
        .next()
        .unwrap_or("")
        .split(',')
        .map(String::from)
        .collect();
    Some(MountInfo {
        id,
        parent,
        root,
        mount_point,
        options,
        optional,
        fs_type,
        source,
        super_options,
    })
}

/// Parses a whole mountinfo text, skipping malformed lines.
pub fn parse(text: &str) -> Vec<MountInfo> {
    text.lines().filter_map(parse_line).collect()
}

/// Reads and parses `/proc/self/mountinfo`.
pub fn read_self() -> std::io::Result<Vec<MountInfo>> {
    Ok(parse(&std::fs::read_to_string("/proc/self/mountinfo")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cgroup_lines() {
        let m = parse_line(
            "35 24 0:30 / /sys/fs/cgroup/cpu rw,relatime shared:9 - cgroup cgroup rw,cpu",
        )
        .unwrap();
        assert_eq!(m.id, 35);
        assert_eq!(m.parent, 24);
        assert_eq!(m.root, PathBuf::from("/"));
        assert_eq!(m.mount_point, PathBuf::from("/sys/fs/cgroup/cpu"));
        assert_eq!(m.optional, vec!["shared:9"]);
        assert_eq!(m.fs_type, "cgroup");
        assert_eq!(m.super_options, vec!["rw", "cpu"]);
        let m = parse_line("40 24 0:35 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw")
            .unwrap();
        assert_eq!(m.fs_type, "cgroup2");
        assert!(m.optional.is_empty());
    }

    #[test]
    fn unescapes_spaces() {
        let m = parse_line("50 1 8:1 /a\\040b /mnt/x\\040y rw - ext4 /dev/sda1 rw").unwrap();
        assert_eq!(m.root, PathBuf::from("/a b"));
        assert_eq!(m.mount_point, PathBuf::from("/mnt/x y"));
        assert!(parse_line("garbage").is_none());
    }
}
