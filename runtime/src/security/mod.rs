//! Credentials, capabilities and resource limits of the container process.

pub mod capabilities;
pub mod credentials;
pub mod rlimits;
