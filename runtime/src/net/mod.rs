//! Network devices the spec moves from the host into the container
//! (`linux.netDevices`), over rtnetlink.

pub mod devices;
pub mod rtnetlink;
