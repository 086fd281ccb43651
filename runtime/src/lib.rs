//! hako: an OCI container runtime whose specialty is WebAssembly.
//!
//! The library holds everything the `hako` binary does: the core runtime
//! (namespaces, cgroups, rootfs, process attributes, state) and the
//! hand-off to the executor chain of `hako-executors` at the very end of
//! container init. See `docs/architecture.md` for the process model.

pub mod cgroups;
pub mod cli;
pub mod commands;
pub mod container;
pub mod engines;
pub mod error;
pub mod hooks;
pub mod id;
pub mod keyring;
pub mod logging;
pub mod lsm;
pub mod mountinfo;
pub mod namespaces;
pub mod net;
pub mod output;
pub mod process;
pub mod rootfs;
pub mod rootless;
pub mod seccomp;
pub mod security;
pub mod signal;
pub mod spec;
pub mod state;
pub mod syscall;
pub mod sysctl;
pub mod tuning;
pub mod version;

pub use error::{Error, Result};
