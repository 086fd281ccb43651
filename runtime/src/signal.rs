//! Parsing signals the way runc does: a number, a name, with or without
//! `SIG`, in any case.

use nix::sys::signal::Signal;

use crate::error::{Error, Result};

/// Parses `9`, `KILL`, `SIGKILL`, `sigkill`.
pub fn parse(raw: &str) -> Result<Signal> {
    let bad = || Error::invalid(format!("unknown signal {raw:?}"));
    if let Ok(n) = raw.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| bad());
    }
    let upper = raw.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    name.parse::<Signal>().map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers() {
        assert_eq!(parse("9").unwrap(), Signal::SIGKILL);
        assert_eq!(parse("KILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse("SIGKILL").unwrap(), Signal::SIGKILL);
        assert_eq!(parse("term").unwrap(), Signal::SIGTERM);
        assert_eq!(parse("SigHup").unwrap(), Signal::SIGHUP);
        assert_eq!(parse("15").unwrap(), Signal::SIGTERM);
        assert_eq!(parse("USR1").unwrap(), Signal::SIGUSR1);
    }

    #[test]
    fn rejects_unknown() {
        for raw in ["", "0", "65", "-1", "SIGFOO", "KILLX", "9x"] {
            let err = parse(raw).unwrap_err().to_string();
            assert!(err.starts_with("unknown signal"), "{raw}: {err}");
        }
    }
}
