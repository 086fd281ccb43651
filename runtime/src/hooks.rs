//! OCI hooks.

/// The hook names this build runs (none yet).
pub const NAMES: &[&str] = &[];
