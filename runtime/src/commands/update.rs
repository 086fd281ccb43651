//! `hako update`: change a running container's limits.

use std::io::Read;

use oci_spec::runtime::{LinuxPids, LinuxResources};

use super::Ctx;
use crate::cli::UpdateArgs;
use crate::error::{Context, Error, Result};
use crate::state::{Lock, Status};

/// Parses a byte size: `1024`, `64k`, `512m`, `2g` (powers of 1024), `-1`.
pub fn parse_bytes(raw: &str) -> Result<i64> {
    let bad = || {
        Error::invalid(format!(
            "invalid size {raw:?} (bytes, or a number with k, m, g, t)"
        ))
    };
    let s = raw.trim().to_ascii_lowercase();
    if s == "-1" {
        return Ok(-1);
    }
    let s = s.strip_suffix('b').unwrap_or(&s);
    let (num, mult) = match s.chars().last() {
        Some('k') => (&s[..s.len() - 1], 1i64 << 10),
        Some('m') => (&s[..s.len() - 1], 1 << 20),
        Some('g') => (&s[..s.len() - 1], 1 << 30),
        Some('t') => (&s[..s.len() - 1], 1 << 40),
        _ => (s, 1),
    };
    scaled(num, mult).ok_or_else(bad)
}

/// `digits[.digits]` times `mult`, in integers (no `nan`, `inf` or
/// exponents, which a float parse would accept); `None` if malformed or
/// too large.
fn scaled(num: &str, mult: i64) -> Option<i64> {
    let (whole, frac) = num.split_once('.').unwrap_or((num, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(frac) || (num.contains('.') && frac.is_empty())
    {
        return None;
    }
    let total = whole.parse::<i64>().ok()?.checked_mul(mult)?;
    if frac.is_empty() {
        return Some(total);
    }
    // The fraction exactly, rounded down: frac * mult / 10^len.
    let digits = u32::try_from(frac.len()).ok().filter(|&n| n <= 18)?;
    let part = frac.parse::<i128>().ok()? * i128::from(mult) / 10i128.pow(digits);
    let total = total.checked_add(i64::try_from(part).ok()?)?;
    Some(total)
}

/// The resources the command line asks for.
pub fn from_args(args: &UpdateArgs) -> Result<LinuxResources> {
    refuse_rdt(args)?;
    let mut res = match &args.resources {
        Some(path) => read_resources(path)?,
        None => LinuxResources::default(),
    };
    apply_memory_flags(&mut res, args)?;
    apply_cpu_flags(&mut res, args);
    if let Some(limit) = args.pids_limit {
        let mut p = LinuxPids::default();
        p.set_limit(limit);
        res.set_pids(Some(p));
    }
    if let Some(w) = args.blkio_weight {
        let mut b = res.block_io().clone().unwrap_or_default();
        b.set_weight(Some(w));
        res.set_block_io(Some(b));
    }
    Ok(res)
}

/// runc's Intel RDT flags, which hako has no resctrl support for.
fn refuse_rdt(args: &UpdateArgs) -> Result<()> {
    for (flag, set) in [
        ("--l3-cache-schema", args.l3_cache_schema.is_some()),
        ("--mem-bw-schema", args.mem_bw_schema.is_some()),
    ] {
        if set {
            return Err(Error::invalid(format!(
                "{flag}: Intel RDT (resctrl) is not supported by hako"
            )));
        }
    }
    Ok(())
}

/// `--resources FILE` (`-` for stdin): a `linux.resources` document.
fn read_resources(path: &std::path::Path) -> Result<LinuxResources> {
    let raw = if path.as_os_str() == "-" {
        let mut s = Vec::new();
        std::io::stdin()
            .read_to_end(&mut s)
            .ctx(|| "reading resources from stdin".into())?;
        s
    } else {
        std::fs::read(path).ctx(|| format!("reading {}", path.display()))?
    };
    let de = &mut serde_json::Deserializer::from_slice(&raw);
    serde_path_to_error::deserialize(de)
        .map_err(|e| Error::invalid(format!("--resources: {}: {}", e.path(), e.inner())))
}

/// `--memory`, `--memory-reservation` and `--memory-swap`, over what
/// `--resources` said.
fn apply_memory_flags(res: &mut LinuxResources, args: &UpdateArgs) -> Result<()> {
    let flags = [&args.memory, &args.memory_reservation, &args.memory_swap];
    if flags.iter().all(|f| f.is_none()) {
        return Ok(());
    }
    let bytes = |v: &Option<String>| v.as_deref().map(parse_bytes).transpose();
    let mut mem = (*res.memory()).unwrap_or_default();
    if let Some(v) = bytes(&args.memory)? {
        mem.set_limit(Some(v));
    }
    if let Some(v) = bytes(&args.memory_reservation)? {
        mem.set_reservation(Some(v));
    }
    if let Some(v) = bytes(&args.memory_swap)? {
        mem.set_swap(Some(v));
    }
    res.set_memory(Some(mem));
    Ok(())
}

/// The CPU and cpuset flags, over what `--resources` said.
fn apply_cpu_flags(res: &mut LinuxResources, args: &UpdateArgs) {
    let any = args.cpu_period.is_some()
        || args.cpu_quota.is_some()
        || args.cpu_share.is_some()
        || args.cpu_rt_period.is_some()
        || args.cpu_rt_runtime.is_some()
        || args.cpuset_cpus.is_some()
        || args.cpuset_mems.is_some();
    if !any {
        return;
    }
    let mut cpu = res.cpu().clone().unwrap_or_default();
    if let Some(v) = args.cpu_period {
        cpu.set_period(Some(v));
    }
    if let Some(v) = args.cpu_quota {
        cpu.set_quota(Some(v));
    }
    if let Some(v) = args.cpu_share {
        cpu.set_shares(Some(v));
    }
    if let Some(v) = args.cpu_rt_period {
        cpu.set_realtime_period(Some(v));
    }
    if let Some(v) = args.cpu_rt_runtime {
        cpu.set_realtime_runtime(Some(v));
    }
    if let Some(v) = &args.cpuset_cpus {
        cpu.set_cpus(Some(v.clone()));
    }
    if let Some(v) = &args.cpuset_mems {
        cpu.set_mems(Some(v.clone()));
    }
    res.set_cpu(Some(cpu));
}

/// `update`.
pub fn run(ctx: &Ctx, args: &UpdateArgs) -> Result<()> {
    let changes = from_args(args)?;
    let dir = ctx.store.open(&args.id, Lock::Exclusive)?;
    let state = dir.load()?;
    let status = crate::container::status(&dir, &state);
    if status == Status::Stopped {
        return Err(Error::State {
            id: args.id.clone(),
            status,
            action: "cannot update a stopped container".into(),
        });
    }
    // Nothing later reads a container's limits back from its saved spec
    // (they live in the cgroup), so `update` writes only the cgroup.
    let updated = state.cgroups.manager().update(&changes);
    updated
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("1024").unwrap(), 1024);
        assert_eq!(parse_bytes("64k").unwrap(), 65536);
        assert_eq!(parse_bytes("512M").unwrap(), 512 << 20);
        assert_eq!(parse_bytes("2g").unwrap(), 2 << 30);
        assert_eq!(parse_bytes("1.5gb").unwrap(), 3 << 29);
        assert_eq!(parse_bytes("-1").unwrap(), -1);
        assert_eq!(parse_bytes("0.5k").unwrap(), 512);
        assert_eq!(
            parse_bytes("8e").unwrap_err().to_string(),
            "invalid size \"8e\" (bytes, or a number with k, m, g, t)"
        );
        for bad in [
            "",
            "x",
            "-5",
            "12q",
            "nan",
            "inf",
            "1e9",
            "1.",
            ".5",
            "1.2.3",
            "+3",
            "99999999999t",
        ] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }
}
