//! `hako ps`: the container's processes.

use std::process::Command;

use super::Ctx;
use crate::cli::PsArgs;
use crate::error::{Context, Error, Result};
use crate::state::Lock;

/// `ps`.
pub fn run(ctx: &Ctx, args: &PsArgs) -> Result<()> {
    let dir = ctx.store.open(&args.id, Lock::Shared)?;
    let state = dir.load()?;
    let pids = state.cgroups.manager().pids()?;
    if args.format == "json" {
        crate::output::print(&format!(
            "{}\n",
            serde_json::to_string(&pids).map_err(|e| Error::invalid(e.to_string()))?
        ));
        return Ok(());
    }
    let ps_args: Vec<String> = if args.ps_args.is_empty() {
        vec!["-ef".into()]
    } else {
        args.ps_args.clone()
    };
    let out = Command::new("ps")
        .args(&ps_args)
        .output()
        .ctx(|| "running ps".into())?;
    if !out.status.success() {
        return Err(Error::invalid(format!(
            "ps {}: {}",
            ps_args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    crate::output::print(&filter(&String::from_utf8_lossy(&out.stdout), &pids)?);
    Ok(())
}

/// Keeps ps's header and the lines whose PID column is one of `pids`.
pub fn filter(table: &str, pids: &[i32]) -> Result<String> {
    let mut lines = table.lines();
    let header = lines.next().unwrap_or_default();
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| Error::invalid("ps output has no PID column"))?;
    let mut out = format!("{header}\n");
    for line in lines {
        if line
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok())
            .is_some_and(|p| pids.contains(&p))
        {
            out.push_str(line);
            out.push('\n');
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_the_containers_lines() {
        let t = "UID PID PPID C STIME TTY TIME CMD\nroot 1 0 0 10:00 ? 00:00:01 init\nroot 42 1 0 10:00 ? 00:00:00 sleep 9\n";
        assert_eq!(
            super::filter(t, &[42]).unwrap(),
            "UID PID PPID C STIME TTY TIME CMD\nroot 42 1 0 10:00 ? 00:00:00 sleep 9\n"
        );
    }
}
