//! `linux.resources.hugepageLimits`.

use oci_spec::runtime::LinuxResources;

use super::max_or;
use crate::cgroups::resources::Write;

/// v1: hugetlb.<size>.limit_in_bytes.
pub fn v1(res: &LinuxResources) -> Vec<Write> {
    res.hugepage_limits()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|h| {
            Write::new(
                "hugetlb",
                format!("hugetlb.{}.limit_in_bytes", h.page_size()),
                h.limit(),
            )
        })
        .collect()
}

/// v2: hugetlb.<size>.max.
pub fn v2(res: &LinuxResources) -> Vec<Write> {
    res.hugepage_limits()
        .as_deref()
        .unwrap_or_default()
        .iter()
        .map(|h| {
            Write::new(
                "hugetlb",
                format!("hugetlb.{}.max", h.page_size()),
                max_or(h.limit()),
            )
        })
        .collect()
}
