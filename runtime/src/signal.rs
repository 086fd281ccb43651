//! Parsing signals the way runc does: a number, a name, with or without
//! `SIG`, in any case, including the real-time signals (`34`, `RTMIN+2`).

use nix::sys::signal::Signal;

use crate::error::{Error, Result};

/// A signal number, standard or real-time.
///
/// nix's [`Signal`] has no real-time signals, and runc sends any signal
/// the kernel knows, so hako carries the number itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignalNumber(i32);

impl SignalNumber {
    /// A signal the kernel knows (1 to SIGRTMAX), else `None`.
    pub fn from_raw(n: i32) -> Option<SignalNumber> {
        (1..=libc::SIGRTMAX())
            .contains(&n)
            .then_some(SignalNumber(n))
    }

    /// The raw number, for kill(2).
    pub fn as_raw(self) -> i32 {
        self.0
    }

    /// Sends this signal to `pid`.
    pub fn send(self, pid: i32) -> nix::Result<()> {
        // SAFETY: kill(2) with plain integers; no memory is involved.
        let rc = unsafe { libc::kill(pid, self.0) };
        nix::errno::Errno::result(rc).map(drop)
    }
}

impl From<Signal> for SignalNumber {
    fn from(s: Signal) -> Self {
        SignalNumber(s as i32)
    }
}

impl std::fmt::Display for SignalNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match Signal::try_from(self.0) {
            Ok(s) => f.write_str(s.as_str()),
            Err(_) => write!(f, "SIGRTMIN+{}", self.0 - libc::SIGRTMIN()),
        }
    }
}

/// Parses `9`, `KILL`, `SIGKILL`, `sigkill`, `34`, `RTMIN`, `SIGRTMIN+3`,
/// `RTMAX-1`.
pub fn parse(raw: &str) -> Result<SignalNumber> {
    let bad = || Error::invalid(format!("unknown signal {raw:?}"));
    let (min, max) = (libc::SIGRTMIN(), libc::SIGRTMAX());
    let in_range = SignalNumber::from_raw;
    if raw.bytes().all(|b| b.is_ascii_digit()) && !raw.is_empty() {
        return raw.parse::<i32>().ok().and_then(in_range).ok_or_else(bad);
    }
    let upper = raw.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    let offset = |rest: &str| -> Option<i32> {
        if rest.is_empty() {
            return Some(0);
        }
        let digits = rest.get(1..)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok()
    };
    if let Some(rest) = name.strip_prefix("RTMIN") {
        if rest.is_empty() || rest.starts_with('+') {
            let n = offset(rest).ok_or_else(bad)?;
            return in_range(min + n).filter(|s| s.0 >= min).ok_or_else(bad);
        }
        return Err(bad());
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        if rest.is_empty() || rest.starts_with('-') {
            let n = offset(rest).ok_or_else(bad)?;
            return in_range(max - n).filter(|s| s.0 >= min).ok_or_else(bad);
        }
        return Err(bad());
    }
    format!("SIG{name}")
        .parse::<Signal>()
        .map(SignalNumber::from)
        .map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(raw: &str) -> i32 {
        parse(raw).unwrap().as_raw()
    }

    #[test]
    fn names_and_numbers() {
        assert_eq!(n("9"), libc::SIGKILL);
        assert_eq!(n("KILL"), libc::SIGKILL);
        assert_eq!(n("SIGKILL"), libc::SIGKILL);
        assert_eq!(n("term"), libc::SIGTERM);
        assert_eq!(n("SigHup"), libc::SIGHUP);
        assert_eq!(n("15"), libc::SIGTERM);
        assert_eq!(n("USR1"), libc::SIGUSR1);
    }

    #[test]
    fn real_time_signals_by_number_and_name() {
        let (min, max) = (libc::SIGRTMIN(), libc::SIGRTMAX());
        assert_eq!(n(&min.to_string()), min);
        assert_eq!(n(&max.to_string()), max);
        assert_eq!(n("RTMIN"), min);
        assert_eq!(n("SIGRTMIN+3"), min + 3);
        assert_eq!(n("rtmax-1"), max - 1);
        assert_eq!(n("RTMAX"), max);
        assert_eq!(SignalNumber(min + 2).to_string(), "SIGRTMIN+2");
        assert_eq!(SignalNumber(libc::SIGTERM).to_string(), "SIGTERM");
    }

    #[test]
    fn rejects_unknown() {
        let past = (libc::SIGRTMAX() + 1).to_string();
        for raw in [
            "", "0", &past, "-1", "SIGFOO", "KILLX", "9x", "+9", "RTMIN-1", "RTMIN+", "RTMAX+1",
            "RTMIN+99", "RTMINX",
        ] {
            let err = parse(raw).unwrap_err().to_string();
            assert!(err.starts_with("unknown signal"), "{raw}: {err}");
        }
    }
}
