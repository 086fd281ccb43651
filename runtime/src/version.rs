//! Version information, in runc's three-line `--version` form.

/// The git commit hako was built from (or "unknown").
pub const COMMIT: &str = env!("HAKO_COMMIT");

/// `hako version X`, `commit: Y`, `spec: Z`.
pub fn text() -> String {
    format!(
        "hako version {}\ncommit: {COMMIT}\nspec: {}\n",
        env!("CARGO_PKG_VERSION"),
        crate::state::OCI_VERSION
    )
}
