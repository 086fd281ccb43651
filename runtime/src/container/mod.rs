//! Operations on one container that several commands share: its status,
//! its state document, stopping its processes, its pid file.

pub mod pid_file;
pub mod state_doc;
pub mod status;
pub mod teardown;

pub use state_doc::StateDoc;
pub use status::status;
