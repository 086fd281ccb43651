//! Freezing a container's cgroup (`pause` / `resume`).

use super::file::read;
use super::set::CgroupSet;

/// Whether the container's cgroup is frozen (v1 `freezer.state` FROZEN or
/// FREEZING, v2 `cgroup.freeze` 1).
pub fn is_frozen(set: &CgroupSet) -> bool {
    // A missing file (v2's root cgroup has no cgroup.freeze) reads as not
    // frozen.
    control(set).is_some_and(|(file, frozen, _)| {
        read(&file).is_some_and(|s| s == frozen || s == "FREEZING")
    })
}

/// The file and values that freeze a cgroup on its version.
fn control(set: &CgroupSet) -> Option<(std::path::PathBuf, &'static str, &'static str)> {
    if let Some(dir) = set.v1_dir("freezer") {
        return Some((dir.path.join("freezer.state"), "FROZEN", "THAWED"));
    }
    set.v2_dir()
        .map(|d| (d.path.join("cgroup.freeze"), "1", "0"))
}

/// Freezes every process of the container and waits until it is frozen.
pub fn freeze(set: &CgroupSet) -> crate::error::Result<()> {
    use crate::error::Context;
    let (file, frozen, _) = control(set)
        .ok_or_else(|| crate::error::Error::invalid("the container has no freezer cgroup"))?;
    super::file::write(&file, frozen).ctx(|| format!("writing {}", file.display()))?;
    // v1 passes through FREEZING; wait for the kernel to finish.
    for _ in 0..1000 {
        if is_frozen_settled(set) {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    Err(crate::error::Error::invalid(format!(
        "{} did not reach {frozen}",
        file.display()
    )))
}

fn is_frozen_settled(set: &CgroupSet) -> bool {
    match control(set) {
        Some((file, frozen, _)) if file.ends_with("freezer.state") => {
            read(&file).is_some_and(|s| s == frozen)
        }
        Some((file, _, _)) => read(&file.with_file_name("cgroup.events"))
            .is_some_and(|e| e.lines().any(|l| l == "frozen 1")),
        None => false,
    }
}

/// Thaws the container's processes. Missing freezer files are not an
/// error (nothing can be frozen then).
pub fn thaw(set: &CgroupSet) -> crate::error::Result<()> {
    use crate::error::Context;
    let Some((file, _, thawed)) = control(set) else {
        return Ok(());
    };
    if !file.exists() {
        return Ok(());
    }
    super::file::write(&file, thawed).ctx(|| format!("writing {}", file.display()))
}
