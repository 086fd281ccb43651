//! seccomp.

/// The seccomp part of `hako features` (not supported yet).
pub fn features() -> serde_json::Value {
    serde_json::json!({"enabled": false})
}
