//! The `hako` command.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use hako::cli::{Cli, Command};
use hako::commands::{self, Ctx};
use hako::logging::{self, LogConfig};

fn main() -> ExitCode {
    hako::security::sealed_exe::after_start();
    // Invoked as `hako-wasm`, every entrypoint with the wasm magic runs as
    // wasm, annotations or not (for CRI, where they do not arrive).
    let argv0 = std::env::args_os().next().unwrap_or_default();
    let sniff_all = std::path::Path::new(&argv0)
        .file_name()
        .is_some_and(|n| n == "hako-wasm");
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    if cli.version {
        hako::output::print(&hako::version::text());
        return ExitCode::SUCCESS;
    }
    if cli.command.is_none() {
        let _ = Cli::command().print_help();
        return ExitCode::SUCCESS;
    }
    // Before anything opens a descriptor: preserved descriptors must be the
    // caller's, never hako's own.
    // Socket activation is for the container's init only (runc).
    let preserve = match &cli.command {
        Some(Command::Create(a)) | Some(Command::Run(hako::cli::RunArgs { create: a, .. })) => {
            Some(hako::process::fds::listen_fds() + a.preserve_fds as i32)
        }
        Some(Command::Exec(a)) => Some(a.preserve_fds as i32),
        _ => None,
    };
    if let Some(count) = preserve {
        if let Err(e) = hako::process::fds::reserve_preserved(count) {
            fail(&e.to_string());
            // exec's runtime failures are 255 (runc), as below.
            return ExitCode::from(if matches!(cli.command, Some(Command::Exec(_))) {
                255
            } else {
                1
            });
        }
    }
    let level = match &cli.log_level {
        Some(raw) => match logging::parse_level(raw) {
            Ok(level) => level,
            Err(e) => return fail(&e),
        },
        None if cli.debug => tracing::Level::DEBUG,
        None => tracing::Level::WARN,
    };
    if let Err(e) = logging::init(&LogConfig {
        file: cli.log.clone(),
        format: cli.log_format,
        level,
    }) {
        return fail(&e.to_string());
    }
    let ctx = Ctx::new(&cli, sniff_all);
    let command = cli.command.expect("checked above");
    // runc's convention: exec fails with 255, so that a runtime failure is
    // told apart from the process's own exit codes.
    let failure = if matches!(command, Command::Exec(_)) {
        255
    } else {
        1
    };
    match commands::dispatch(&ctx, command) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            fail(&e.to_string());
            ExitCode::from(failure)
        }
    }
}

/// Help and version go out as clap renders them; a usage error is one
/// line, like every other error, with clap's exit code (2).
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
        || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    {
        let _ = e.print();
        return ExitCode::from(e.exit_code() as u8);
    }
    let text = e.to_string();
    let first = text.lines().next().unwrap_or_default();
    eprintln!("hako: error: {}", first.trim_start_matches("error: "));
    ExitCode::from(e.exit_code() as u8)
}

/// Reports an error once: to the log file when there is one (containerd
/// reads its last error line), and as one line on stderr, marked as an
/// error the way runc's is (tools look for the word).
fn fail(msg: &str) -> ExitCode {
    if logging::to_file() {
        tracing::error!("{msg}");
    }
    eprintln!("hako: error: {msg}");
    ExitCode::FAILURE
}
