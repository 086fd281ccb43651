//! Linux namespaces: which to create, which to join, and the user
//! namespace's id maps.

pub mod idmap;
pub mod loopback;
pub mod plan;

pub use plan::NamespacePlan;
