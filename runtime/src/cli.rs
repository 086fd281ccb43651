//! The command line, following runc's.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use hako_executors::EngineKind;

use crate::logging::LogFormat;

/// hako: an OCI container runtime whose specialty is WebAssembly.
#[derive(Debug, Parser)]
#[command(name = "hako", disable_version_flag = true, about, long_about = None)]
pub struct Cli {
    /// Root directory for container state (default /run/hako, or
    /// $XDG_RUNTIME_DIR/hako when not root).
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Log file (default: standard error).
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Log format.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Log level: trace, debug, info, warning, error.
    #[arg(long, global = true, value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Debug logging.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Manage cgroups through systemd.
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
    /// Ignored; accepted for compatibility with runc callers.
    #[arg(long, global = true, value_name = "PATH", hide = true)]
    pub criu: Option<String>,
    /// Wasm engine used when a container does not name one.
    #[arg(long, global = true, value_name = "ENGINE", default_value = "wasmtime")]
    pub wasm_engine: EngineKind,
    /// Print the version.
    #[arg(short = 'v', long)]
    pub version: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container.
    Create(CreateArgs),
    /// Start a created container.
    Start(IdArg),
    /// Output the state of a container.
    State(IdArg),
    /// Send a signal to a container's init process.
    Kill(KillArgs),
    /// Delete a container and everything it holds.
    Delete(DeleteArgs),
    /// Create and start a container.
    Run(RunArgs),
    /// List containers.
    #[command(alias = "ls")]
    List(ListArgs),
    /// Create a new spec file.
    Spec(SpecArgs),
    /// Show the enabled features (runtime-spec features.md).
    Features,
}

/// A container id.
#[derive(Debug, Args)]
pub struct IdArg {
    /// Container id.
    pub id: String,
}

/// Options of `create` (and `run`).
#[derive(Debug, Args, Clone)]
pub struct CreateArgs {
    /// Path to the bundle directory.
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// File to write the container init's pid to.
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master when process.terminal is set.
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Use chroot instead of pivot_root.
    #[arg(long)]
    pub no_pivot: bool,
    /// Do not create a new session keyring.
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass this many extra descriptors (from 3 up) to the container.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub preserve_fds: u32,
    /// Container id.
    pub id: String,
}

/// Options of `kill`.
#[derive(Debug, Args)]
pub struct KillArgs {
    /// Signal every process of the container.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Container id.
    pub id: String,
    /// Signal: name (KILL, SIGKILL) or number.
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

/// Options of `delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Kill a running container first; succeed if it does not exist.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Container id.
    pub id: String,
}

/// Options of `run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Return after starting instead of waiting for the container.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep the container after it exits (no delete).
    #[arg(long)]
    pub keep: bool,
    /// Everything `create` takes.
    #[command(flatten)]
    pub create: CreateArgs,
}

/// Options of `list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format.
    #[arg(short = 'f', long, value_parser = ["table", "json"], default_value = "table")]
    pub format: String,
    /// Only print ids.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// Options of `spec`.
#[derive(Debug, Args)]
pub struct SpecArgs {
    /// A spec for an unprivileged user.
    #[arg(long)]
    pub rootless: bool,
    /// Directory to write config.json to.
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
}
