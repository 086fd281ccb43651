//! Operations on one container that several commands share: its status,
//! stopping its processes, its pid file.

pub mod pid_file;
pub mod status;
pub mod teardown;

pub use status::status;
