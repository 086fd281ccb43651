//! One module per command; each takes the global [`Ctx`] and its options.

pub mod create;
pub mod criu;
pub mod delete;
pub mod events;
pub mod exec;
pub mod features;
pub mod kill;
pub mod list;
pub mod pause;
pub mod ps;
pub mod run;
pub mod spec;
pub mod start;
pub mod state;
pub mod update;

use std::path::PathBuf;

use hako_executors::RuntimeOptions;

use crate::cli::{Cli, Command};
use crate::error::Result;
use crate::state::Store;

/// What every command gets from the global options.
#[derive(Debug, Clone)]
pub struct Ctx {
    /// The state store (`--root`).
    pub store: Store,
    /// `--systemd-cgroup`.
    pub systemd_cgroup: bool,
    /// Executor options (`--wasm-engine`, argv0).
    pub options: RuntimeOptions,
    /// Whether hako runs without root (rootless containers).
    pub rootless: bool,
    /// The compiled-module cache directory (`HAKO_MODULE_CACHE`).
    pub module_cache: Option<PathBuf>,
}

impl Ctx {
    /// Builds the context from the command line.
    pub fn new(cli: &Cli, sniff_all: bool) -> Ctx {
        let rootless = crate::rootless::detect();
        Ctx {
            store: Store::new(cli.root.clone().unwrap_or_else(|| default_root(rootless))),
            systemd_cgroup: cli.systemd_cgroup,
            options: RuntimeOptions {
                default_engine: cli.wasm_engine,
                sniff_all,
                exec: false,
            },
            rootless,
            module_cache: crate::process::module_cache::default_dir(rootless),
        }
    }
}

/// `/run/hako` for root, `$XDG_RUNTIME_DIR/hako` when rootless (also as
/// uid 0 of a user namespace hako did not create, as rootless podman runs
/// it), falling back to `/run/user/<uid>/hako`.
pub fn default_root(rootless: bool) -> PathBuf {
    if !rootless {
        return PathBuf::from("/run/hako");
    }
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir).join("hako"),
        None => PathBuf::from(format!("/run/user/{}/hako", nix::unistd::geteuid())),
    }
}

/// Runs a command; returns the process exit code.
pub fn dispatch(ctx: &Ctx, command: Command) -> Result<i32> {
    match command {
        Command::Create(args) => create::run(ctx, &args).map(|_| 0),
        Command::Start(args) => start::run(ctx, &args.id).map(|_| 0),
        Command::State(args) => state::run(ctx, &args.id).map(|_| 0),
        Command::Kill(args) => kill::run(ctx, &args).map(|_| 0),
        Command::Delete(args) => delete::run(ctx, &args.id, args.force).map(|_| 0),
        Command::Run(args) => run::run(ctx, &args),
        Command::List(args) => list::run(ctx, &args).map(|_| 0),
        Command::Spec(args) => spec::run(&args).map(|_| 0),
        Command::Features => features::run().map(|_| 0),
        Command::Exec(args) => exec::run(ctx, &args),
        Command::Ps(args) => ps::run(ctx, &args).map(|_| 0),
        Command::Pause(args) => pause::pause(ctx, &args.id).map(|_| 0),
        Command::Resume(args) => pause::resume(ctx, &args.id).map(|_| 0),
        Command::Update(args) => update::run(ctx, &args).map(|_| 0),
        Command::Events(args) => events::run(ctx, &args).map(|_| 0),
        Command::Checkpoint(args) => criu::refuse("checkpoint", &args.args).map(|_| 0),
        Command::Restore(args) => criu::refuse("restore", &args.args).map(|_| 0),
    }
}
