//! The state document of a container, as runc prints it for `state`
//! and, one per container, for `list --format json`.

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::state::{ContainerDir, ContainerState, OCI_VERSION};

/// The state document, as runc prints it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StateDoc {
    /// Runtime-spec version.
    pub oci_version: String,
    /// Container id.
    pub id: String,
    /// Init's pid; 0 once stopped.
    pub pid: i32,
    /// created, running, paused or stopped.
    pub status: String,
    /// Bundle path.
    pub bundle: PathBuf,
    /// Rootfs path.
    pub rootfs: PathBuf,
    /// Creation time, RFC 3339.
    pub created: String,
    /// Owner.
    pub owner: String,
    /// Annotations, when there are any.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl StateDoc {
    /// The document for a loaded container.
    pub fn new(dir: &ContainerDir, state: &ContainerState) -> StateDoc {
        let status = crate::container::status(dir, state);
        StateDoc {
            oci_version: OCI_VERSION.into(),
            id: state.id.clone(),
            pid: if status == crate::state::Status::Stopped {
                0
            } else {
                state.pid
            },
            status: status.to_string(),
            bundle: state.bundle.clone(),
            rootfs: state.rootfs.clone(),
            created: state.created.clone(),
            owner: state.owner.clone(),
            annotations: state.annotations.clone(),
        }
    }
}
