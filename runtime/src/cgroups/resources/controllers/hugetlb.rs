//! `linux.resources.hugepageLimits`.

use oci_spec::runtime::LinuxResources;

use super::max_or;
use crate::cgroups::resources::Write;

/// v1: hugetlb.<size>.limit_in_bytes.
pub fn v1(res: &LinuxResources) -> Vec<Write> {
    writes(res, "limit_in_bytes", |limit| limit.to_string())
}

/// v2: hugetlb.<size>.max (`max` when unlimited).
pub fn v2(res: &LinuxResources) -> Vec<Write> {
    writes(res, "max", max_or)
}

fn writes(res: &LinuxResources, file: &str, value: fn(i64) -> String) -> Vec<Write> {
    res.hugepage_limits()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|h| {
            Write::new(
                "hugetlb",
                format!("hugetlb.{}.{file}", h.page_size()),
                value(h.limit()),
            )
        })
        .collect()
}
