//! Credentials, capabilities and resource limits of the container process,
//! and the read-only binary hako runs from when a container may ptrace.

pub mod capabilities;
pub mod credentials;
pub mod rlimits;
pub mod sealed_exe;
