//! The processes of a container and how they talk.

pub mod attributes;
pub mod channel;
pub mod clone_into;
pub mod console;
pub mod exec;
pub mod fds;
pub mod handover;
pub mod init;
pub mod intermediate;
pub mod launcher;
pub mod module_cache;
pub mod proc;
pub mod proctitle;
pub mod session;
#[cfg(test)]
mod test_config;
pub mod tty;
pub mod wait;
pub mod workload;
