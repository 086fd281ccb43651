//! The executor chain's view of a process: its [`Workload`].

use std::path::{Path, PathBuf};

use oci_spec::runtime::Spec;

/// The spec's annotations, sorted.
pub fn annotations(spec: &Spec) -> std::collections::BTreeMap<String, String> {
    spec.annotations()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// The workload of a process of a started container (init after
/// pivot_root, or an exec process): `/` is the container's root.
pub fn workload(
    spec: &Spec,
    process: &oci_spec::runtime::Process,
    extra_env: &[String],
    options: &hako_executors::RuntimeOptions,
) -> hako_executors::Workload {
    let mut env = process.env().clone().unwrap_or_default();
    env.extend(extra_env.iter().cloned());
    crate::security::credentials::ensure_home(&mut env, process.user().uid(), Path::new("/"));
    hako_executors::Workload {
        args: process.args().clone().unwrap_or_default(),
        env,
        cwd: PathBuf::from(process.cwd()),
        annotations: annotations(spec),
        root: PathBuf::from("/"),
        root_readonly: spec
            .root()
            .as_ref()
            .and_then(|r| r.readonly())
            .unwrap_or(false),
        options: options.clone(),
    }
}
