//! Device access rules: cgroup v1 `devices.allow`/`devices.deny`, or on
//! cgroup v2 an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE.
//!
//! As runc, every container starts from "deny everything", then gets the
//! spec's rules, the devices every container needs (null, zero, full,
//! random, urandom, tty, ptmx, pts, mknod of anything) and the devices of
//! `linux.devices`. Later rules win.
//!
//! The rules are pure ([`rules`], [`v1_writes`]); [`program`] compiles
//! them to eBPF (pure), and [`attach`] loads and attaches it.

mod attach;
mod program;

pub use attach::attach_v2;
pub use program::{program, Insn};

use oci_spec::runtime::{LinuxDeviceType, Spec};

use crate::error::{Error, Result};

/// One rule; `None` major/minor is the wildcard `*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Allow or deny.
    pub allow: bool,
    /// 'a' (all), 'c' or 'b'.
    pub kind: char,
    /// Major number.
    pub major: Option<u32>,
    /// Minor number.
    pub minor: Option<u32>,
    /// Some of "rwm".
    pub access: String,
}

impl Rule {
    fn new(allow: bool, kind: char, major: Option<u32>, minor: Option<u32>, access: &str) -> Rule {
        Rule {
            allow,
            kind,
            major,
            minor,
            access: access.into(),
        }
    }

    /// The v1 rule text: `c 1:3 rwm`, `a`.
    pub fn v1_text(&self) -> String {
        if self.kind == 'a' && self.major.is_none() && self.minor.is_none() && self.access == "rwm"
        {
            return "a".into();
        }
        let n = |v: Option<u32>| v.map_or("*".to_string(), |v| v.to_string());
        format!(
            "{} {}:{} {}",
            self.kind,
            n(self.major),
            n(self.minor),
            self.access
        )
    }
}

/// The devices every container may use (runc's list).
pub fn defaults() -> Vec<Rule> {
    vec![
        Rule::new(true, 'c', None, None, "m"),
        Rule::new(true, 'b', None, None, "m"),
        Rule::new(true, 'c', Some(1), Some(3), "rwm"),
        Rule::new(true, 'c', Some(1), Some(5), "rwm"),
        Rule::new(true, 'c', Some(1), Some(7), "rwm"),
        Rule::new(true, 'c', Some(1), Some(8), "rwm"),
        Rule::new(true, 'c', Some(1), Some(9), "rwm"),
        Rule::new(true, 'c', Some(5), Some(0), "rwm"),
        Rule::new(true, 'c', Some(5), Some(1), "rwm"),
        Rule::new(true, 'c', Some(5), Some(2), "rwm"),
        Rule::new(true, 'c', Some(136), None, "rwm"),
    ]
}

fn kind_of(t: Option<LinuxDeviceType>) -> char {
    match t {
        Some(LinuxDeviceType::B) => 'b',
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => 'c',
        Some(LinuxDeviceType::P) => 'p',
        Some(LinuxDeviceType::A) | None => 'a',
    }
}

fn number(v: Option<i64>, field: &str) -> Result<Option<u32>> {
    match v {
        None => Ok(None),
        Some(n) if n < 0 => Ok(None),
        Some(n) => u32::try_from(n).map(Some).map_err(|_| {
            Error::invalid(format!("linux.resources.devices: {field} {n} out of range"))
        }),
    }
}

/// The complete, ordered rule list for a spec.
pub fn rules(spec: &Spec) -> Result<Vec<Rule>> {
    let mut out = vec![Rule::new(false, 'a', None, None, "rwm")];
    let linux = spec.linux().as_ref();
    for d in linux
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.devices().clone())
        .unwrap_or_default()
    {
        let access = d.access().clone().unwrap_or_else(|| "rwm".into());
        if access.is_empty() || !access.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
            return Err(Error::invalid(format!(
                "linux.resources.devices: invalid access {access:?}"
            )));
        }
        let kind = kind_of(d.typ());
        if kind == 'p' {
            continue; // fifos are not device-controlled
        }
        out.push(Rule::new(
            d.allow(),
            kind,
            number(d.major(), "major")?,
            number(d.minor(), "minor")?,
            &access,
        ));
    }
    out.extend(defaults());
    for d in linux.and_then(|l| l.devices().clone()).unwrap_or_default() {
        let kind = kind_of(Some(d.typ()));
        if kind == 'p' {
            continue;
        }
        out.push(Rule::new(
            true,
            kind,
            number(Some(d.major()), "major")?,
            number(Some(d.minor()), "minor")?,
            "rwm",
        ));
    }
    Ok(out)
}

/// v1: (file, rule) writes in order.
pub fn v1_writes(rules: &[Rule]) -> Vec<(&'static str, String)> {
    rules
        .iter()
        .map(|r| {
            (
                if r.allow {
                    "devices.allow"
                } else {
                    "devices.deny"
                },
                r.v1_text(),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests;
