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
    /// Manage cgroups through systemd: linux.cgroupsPath is
    /// `slice:prefix:name` and the container's cgroup a transient scope
    /// started over D-Bus (the user's systemd instance when rootless;
    /// without a session bus, cgroupfs with a warning); refused where
    /// systemd is not running.
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

/// Commands. Each one's arguments are only built when it is the one
/// given (`defer`): building all of them took about 70 KB more heap
/// (`hako state`: 236 -> 164 KB) and its time on every invocation. A
/// deferred build would let an argument struct's doc comment replace the
/// command's description in `--help`, so those comments exist for
/// rustdoc only (`cfg_attr(doc, doc = ...)`).
#[derive(Debug, Subcommand)]
#[command(defer = true)]
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
    /// Run a new process in a running container.
    Exec(ExecArgs),
    /// List the processes of a container.
    Ps(PsArgs),
    /// Freeze every process of a container.
    Pause(IdArg),
    /// Thaw a paused container.
    Resume(IdArg),
    /// Change a running container's resource limits.
    Update(UpdateArgs),
    /// Resource statistics of a container.
    Events(EventsArgs),
    /// Show the enabled features (runtime-spec features.md).
    Features,
    /// Checkpoint a container: refused, hako has no CRIU support.
    Checkpoint(UnsupportedArgs),
    /// Restore a container from a checkpoint: refused, hako has no CRIU
    /// support.
    Restore(UnsupportedArgs),
}

#[cfg_attr(
    doc,
    doc = "The arguments of a command hako knows but does not support: taken whole, \
           whatever runc flags they hold, so the refusal names the real reason instead \
           of a flag clap does not know."
)]
#[derive(Debug, Args)]
pub struct UnsupportedArgs {
    /// runc's flags and the container id, in any order.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub args: Vec<String>,
}

#[cfg_attr(doc, doc = "A container id.")]
#[derive(Debug, Args)]
pub struct IdArg {
    /// Container id.
    pub id: String,
}

#[cfg_attr(doc, doc = "Options of `create` (and `run`).")]
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

#[cfg_attr(doc, doc = "Options of `kill`.")]
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

#[cfg_attr(doc, doc = "Options of `delete`.")]
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Kill a running container first; succeed if it does not exist.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Container id.
    pub id: String,
}

#[cfg_attr(doc, doc = "Options of `run`.")]
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

#[cfg_attr(doc, doc = "Options of `list`.")]
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Output format.
    #[arg(short = 'f', long, value_parser = ["table", "json"], default_value = "table")]
    pub format: String,
    /// Only print ids.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[cfg_attr(doc, doc = "Options of `spec`.")]
#[derive(Debug, Args)]
pub struct SpecArgs {
    /// A spec for an unprivileged user.
    #[arg(long)]
    pub rootless: bool,
    /// Directory to write config.json to.
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
}

#[cfg_attr(doc, doc = "Options of `exec`.")]
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// A process.json (the spec's `process` object) instead of a command.
    #[arg(short = 'p', long, value_name = "FILE")]
    pub process: Option<PathBuf>,
    /// Allocate a pseudo-terminal (needs --console-socket).
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Working directory in the container.
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Environment variables to add (KEY=VALUE).
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// User, as uid[:gid].
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Additional group ids.
    #[arg(short = 'g', long = "additional-gids", value_name = "GID")]
    pub additional_gids: Vec<u32>,
    /// Capabilities to add (CAP_NAME).
    #[arg(short = 'c', long = "cap", value_name = "CAP")]
    pub caps: Vec<String>,
    /// Set no_new_privs.
    #[arg(long)]
    pub no_new_privs: bool,
    /// Return once the process started.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// File to write the process's pid to.
    #[arg(long, value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master.
    #[arg(long, value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Pass this many extra descriptors (from 3 up).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub preserve_fds: u32,
    /// Exec even into a paused container.
    #[arg(long)]
    pub ignore_paused: bool,
    /// AppArmor profile for the process.
    #[arg(long, value_name = "PROFILE")]
    pub apparmor: Option<String>,
    /// SELinux label for the process.
    #[arg(long, value_name = "LABEL")]
    pub process_label: Option<String>,
    /// Run the process in an existing sub-cgroup of the container:
    /// `<path>`, or `<controller>[,…]:<path>` for v1 hierarchies.
    #[arg(long = "cgroup", value_name = "[CONTROLLER:]PATH")]
    pub cgroup: Vec<String>,
    /// Container id.
    pub id: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[cfg_attr(doc, doc = "Options of `ps`.")]
#[derive(Debug, Args)]
pub struct PsArgs {
    /// table (ps -ef of the container's processes) or json (their pids).
    #[arg(short = 'f', long, value_parser = ["table", "json"], default_value = "table")]
    pub format: String,
    /// Container id.
    pub id: String,
    /// Options passed to ps(1) in table format.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[cfg_attr(doc, doc = "Options of `update`.")]
#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// linux.resources as JSON, from a file or `-` for stdin.
    #[arg(short = 'r', long, value_name = "FILE")]
    pub resources: Option<PathBuf>,
    /// Block I/O weight (10-1000).
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    /// CPU CFS period (µs).
    #[arg(long)]
    pub cpu_period: Option<u64>,
    /// CPU CFS quota (µs).
    #[arg(long)]
    pub cpu_quota: Option<i64>,
    /// Real-time period (µs).
    #[arg(long)]
    pub cpu_rt_period: Option<u64>,
    /// Real-time runtime (µs).
    #[arg(long)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPU shares.
    #[arg(long = "cpu-share")]
    pub cpu_share: Option<u64>,
    /// CPUs to use (0-3, 0,1).
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use.
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Memory limit (bytes, or with k/m/g; -1 for none).
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory reservation (soft limit).
    #[arg(long, allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit.
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Maximum number of processes (0 or less: no limit).
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Intel RDT/CAT L3 cache schema (not supported: always an error).
    #[arg(long)]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT/MBA memory bandwidth schema (not supported: always an
    /// error).
    #[arg(long)]
    pub mem_bw_schema: Option<String>,
    /// Container id.
    pub id: String,
}

#[cfg_attr(doc, doc = "Options of `events`.")]
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Print statistics once and exit.
    #[arg(long)]
    pub stats: bool,
    /// Interval between statistics (e.g. 5s, 500ms).
    #[arg(long, default_value = "5s")]
    pub interval: String,
    /// Container id.
    pub id: String,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn the_command_line_is_consistent() {
        // Deferred commands are only checked when built: build them all.
        Cli::command().debug_assert();
    }

    #[test]
    fn every_command_keeps_its_own_description() {
        // The description is set when the command is declared; its
        // arguments, deferred, come later: an argument struct's doc
        // comment, if clap saw it, would replace the description then
        // (see `Command`).
        let declared = Cli::command();
        let mut checked = 0;
        for command in declared.get_subcommands() {
            let name = command.get_name();
            let about = command.get_about().map(|a| a.to_string());
            assert!(about.is_some(), "{name} has no description");
            let help = Cli::command()
                .try_get_matches_from(["hako", name, "-h"])
                .expect_err("-h stops parsing")
                .to_string();
            assert_eq!(
                help.lines().next().map(str::to_string),
                about,
                "{name} -h:\n{help}"
            );
            checked += 1;
        }
        assert!(checked >= 17, "only {checked} commands");
    }
}
