//! Huge page statistics in runc's shape: one entry per page size with
//! usage, max usage (v1 only) and the number of failed allocations.

use std::path::Path;

use std::collections::BTreeMap;

use super::{keyed, num, read, Hugetlb};
use crate::cgroups::hierarchy::Version;

/// The page sizes (`2MB`, `1GB`, …) whose files are in `dir`, found by
/// the file that names each in this version.
fn page_sizes(version: Version, names: impl Iterator<Item = String>) -> Vec<String> {
    let suffix = match version {
        Version::V1 => ".usage_in_bytes",
        Version::V2 => ".current",
    };
    let mut sizes: Vec<String> = names
        .filter_map(|n| {
            n.strip_prefix("hugetlb.")?
                .strip_suffix(suffix)
                .filter(|size| !size.contains('.'))
                .map(String::from)
        })
        .collect();
    sizes.sort();
    sizes
}

/// The statistics of the hugetlb controller at `dir`, keyed by page size.
pub fn collect(version: Version, dir: &Path) -> BTreeMap<String, Hugetlb> {
    let names = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok()?.file_name().into_string().ok());
    let mut out = BTreeMap::new();
    for size in page_sizes(version, names) {
        let file = |name: &str| dir.join(format!("hugetlb.{size}.{name}"));
        let stats = match version {
            Version::V1 => Hugetlb {
                usage: num(&file("usage_in_bytes")),
                max: Some(num(&file("max_usage_in_bytes"))),
                failcnt: num(&file("failcnt")),
            },
            Version::V2 => Hugetlb {
                usage: num(&file("current")),
                max: None,
                failcnt: keyed(&read(&file("events")).unwrap_or_default())
                    .get("max")
                    .copied()
                    .unwrap_or(0),
            },
        };
        out.insert(size, stats);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn page_sizes_come_from_the_usage_files() {
        let names = [
            "hugetlb.2MB.current",
            "hugetlb.2MB.max",
            "hugetlb.1GB.current",
            "hugetlb.2MB.rsvd.current",
            "cgroup.procs",
        ];
        assert_eq!(
            page_sizes(Version::V2, names.iter().map(|s| s.to_string())),
            vec!["1GB", "2MB"]
        );
        let names = [
            "hugetlb.2MB.usage_in_bytes",
            "hugetlb.2MB.rsvd.usage_in_bytes",
            "hugetlb.2MB.failcnt",
        ];
        assert_eq!(
            page_sizes(Version::V1, names.iter().map(|s| s.to_string())),
            vec!["2MB"]
        );
    }

    #[test]
    fn v1_and_v2_trees() {
        let tmp = tempfile::tempdir().unwrap();
        let d = tmp.path();
        std::fs::write(d.join("hugetlb.2MB.current"), "4194304\n").unwrap();
        std::fs::write(d.join("hugetlb.2MB.events"), "max 3\n").unwrap();
        assert_eq!(
            serde_json::to_value(collect(Version::V2, d)).unwrap(),
            json!({"2MB": {"usage": 4194304, "failcnt": 3}})
        );
        std::fs::write(d.join("hugetlb.1GB.usage_in_bytes"), "0\n").unwrap();
        std::fs::write(d.join("hugetlb.1GB.max_usage_in_bytes"), "1073741824\n").unwrap();
        std::fs::write(d.join("hugetlb.1GB.failcnt"), "1\n").unwrap();
        assert_eq!(
            serde_json::to_value(collect(Version::V1, d)).unwrap(),
            json!({"1GB": {"usage": 0, "max": 1073741824, "failcnt": 1}})
        );
    }
}
