//! `linux.resources.blockIO`: blkio on v1 (or its bfq files), io on v2.

use oci_spec::runtime::LinuxResources;

use super::Current;
use crate::cgroups::resources::Write;

/// blkio.weight (10..1000) → io.weight (1..10000).
pub fn blkio_to_io_weight(weight: u16) -> u64 {
    let w = u64::from(weight.clamp(10, 1000));
    1 + (w - 10) * 9999 / 990
}

/// v1: weights (blkio.bfq.* where the kernel has only those), leaf
/// weights, per-device weights and throttles.
pub fn v1(res: &LinuxResources, current: Current<'_>) -> Vec<Write> {
    let Some(b) = res.block_io() else {
        return vec![];
    };
    let mut w = Vec::new();
    let mut push = |file: &str, value: String| w.push(Write::new("blkio", file, value));
    let bfq = current("blkio.weight").is_none() && current("blkio.bfq.weight").is_some();
    let weight_file = if bfq {
        "blkio.bfq.weight"
    } else {
        "blkio.weight"
    };
    if let Some(wt) = b.weight() {
        push(weight_file, wt.to_string());
    }
    if let Some(lw) = b.leaf_weight() {
        push("blkio.leaf_weight", lw.to_string());
    }
    for d in b.weight_device().as_deref().unwrap_or_default() {
        if let Some(wt) = d.weight() {
            push(
                &format!("{weight_file}_device"),
                format!("{}:{} {wt}", d.major(), d.minor()),
            );
        }
        if let Some(lw) = d.leaf_weight() {
            push(
                "blkio.leaf_weight_device",
                format!("{}:{} {lw}", d.major(), d.minor()),
            );
        }
    }
    for (file, list) in [
        (
            "blkio.throttle.read_bps_device",
            b.throttle_read_bps_device(),
        ),
        (
            "blkio.throttle.write_bps_device",
            b.throttle_write_bps_device(),
        ),
        (
            "blkio.throttle.read_iops_device",
            b.throttle_read_iops_device(),
        ),
        (
            "blkio.throttle.write_iops_device",
            b.throttle_write_iops_device(),
        ),
    ] {
        for d in list.as_deref().unwrap_or_default() {
            push(file, format!("{}:{} {}", d.major(), d.minor(), d.rate()));
        }
    }
    w
}

/// v2: io.weight (converted), io.max throttles.
pub fn v2(res: &LinuxResources) -> Vec<Write> {
    let Some(b) = res.block_io() else {
        return vec![];
    };
    let mut w = Vec::new();
    if let Some(wt) = b.weight() {
        w.push(Write::new(
            "io",
            "io.weight",
            format!("default {}", blkio_to_io_weight(wt)),
        ));
    }
    for d in b.weight_device().as_deref().unwrap_or_default() {
        if let Some(wt) = d.weight() {
            w.push(Write::new(
                "io",
                "io.weight",
                format!("{}:{} {}", d.major(), d.minor(), blkio_to_io_weight(wt)),
            ));
        }
    }
    for (key, list) in [
        ("rbps", b.throttle_read_bps_device()),
        ("wbps", b.throttle_write_bps_device()),
        ("riops", b.throttle_read_iops_device()),
        ("wiops", b.throttle_write_iops_device()),
    ] {
        for d in list.as_deref().unwrap_or_default() {
            w.push(Write::new(
                "io",
                "io.max",
                format!("{}:{} {key}={}", d.major(), d.minor(), d.rate()),
            ));
        }
    }
    w
}
