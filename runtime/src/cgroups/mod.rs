//! cgroup placement: discovering the mounted hierarchies (v1, v2 or both),
//! resolving `linux.cgroupsPath` in each, and creating, joining, listing
//! and removing the container's cgroup.
//!
//! Resource limits, freezing and statistics build on [`CgroupSet`], which
//! holds one directory per hierarchy and knows each one's version.
//! Commands use a cgroup through [`Manager`] (`CgroupSet::manager`):
//! plain cgroupfs, or a systemd unit that owns the cgroup.

pub mod compile_room;
pub mod file;
pub mod freezer;
pub mod hierarchy;
pub mod manager;
pub mod path;
pub mod resources;
pub mod set;
pub mod stats;
pub mod sub;
pub mod systemd;

pub use hierarchy::{Hierarchy, Layout, Version};
pub use manager::Manager;
pub use path::CgroupsPath;
pub use set::{CgroupDir, CgroupSet};
