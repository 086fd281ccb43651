//! runc-compatible logging through `tracing`.
//!
//! `--log FILE --log-format json` writes one JSON object per line with
//! `level`, `msg` and `time` (plus any fields), the shape containerd and
//! podman read from runc: containerd takes the last `error` line, podman
//! parses the file as one object, so by default only warnings and errors
//! are written and debug lines need `--debug` or `--log-level debug`.
//! Text format follows logrus: `time="..." level=error msg="..."`.

use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Mutex;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, Layer};
use tracing_subscriber::prelude::*;

use crate::error::{Context, Result};

/// Format of log lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// logrus text: `time="..." level=... msg="..."`.
    Text,
    /// One JSON object per line.
    Json,
}

/// Where and how to log.
#[derive(Clone, Debug)]
pub struct LogConfig {
    /// Log file (appended); standard error when `None`.
    pub file: Option<PathBuf>,
    /// Line format.
    pub format: LogFormat,
    /// Most verbose level written.
    pub level: Level,
}

enum Sink {
    Stderr,
    File(File),
}

static SINK: Mutex<Option<(Sink, LogFormat)>> = Mutex::new(None);

/// Installs the global subscriber. Lines from other crates (the engines)
/// are only written from `warn` up, so `--debug` shows hako's own steps.
pub fn init(config: &LogConfig) -> Result<()> {
    let sink = match &config.file {
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .ctx(|| format!("opening log file {}", path.display()))?;
            Sink::File(file)
        }
        None => Sink::Stderr,
    };
    *SINK.lock().unwrap_or_else(|e| e.into_inner()) = Some((sink, config.format));
    let layer = RuncLayer {
        level: config.level,
    };
    // A second init (tests) keeps the first subscriber; the sink is updated.
    let _ = tracing_subscriber::registry().with(layer).try_init();
    Ok(())
}

/// Whether log lines go to a file rather than standard error.
pub fn to_file() -> bool {
    matches!(
        SINK.lock().unwrap_or_else(|e| e.into_inner()).as_ref(),
        Some((Sink::File(_), _))
    )
}

/// Stops logging and closes the log file.
///
/// Container init calls this before the workload runs, so that the log
/// descriptor neither leaks into the container nor gets written to after
/// its number has been reused by the workload.
pub fn detach() {
    *SINK.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

/// The raw descriptor of the log file, if any (kept open across fork).
pub fn file_fd() -> Option<std::os::fd::RawFd> {
    use std::os::fd::AsRawFd;
    match SINK.lock().unwrap_or_else(|e| e.into_inner()).as_ref() {
        Some((Sink::File(f), _)) => Some(f.as_raw_fd()),
        _ => None,
    }
}

struct RuncLayer {
    level: Level,
}

impl<S: Subscriber> Layer<S> for RuncLayer {
    fn enabled(&self, meta: &Metadata<'_>, _: LayerContext<'_, S>) -> bool {
        let ours = meta.target().starts_with("hako");
        let max = if ours {
            self.level
        } else {
            self.level.min(Level::WARN)
        };
        *meta.level() <= max
    }

    fn on_event(&self, event: &Event<'_>, _: LayerContext<'_, S>) {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut guard = SINK.lock().unwrap_or_else(|e| e.into_inner());
        let Some((sink, format)) = guard.as_mut() else {
            return;
        };
        let line = format_line(
            *format,
            *event.metadata().level(),
            &humantime::format_rfc3339_nanos(std::time::SystemTime::now()).to_string(),
            &fields.msg,
            &fields.extra,
        );
        let _ = match sink {
            Sink::Stderr => std::io::stderr().write_all(line.as_bytes()),
            Sink::File(f) => f.write_all(line.as_bytes()),
        };
    }
}

#[derive(Default)]
struct Fields {
    msg: String,
    extra: Vec<(String, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.msg = value.to_string();
        } else {
            self.extra
                .push((field.name().to_string(), value.to_string()));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let text = format!("{value:?}");
        if field.name() == "message" {
            self.msg = text;
        } else {
            self.extra.push((field.name().to_string(), text));
        }
    }
}

/// logrus level names.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "error",
        Level::WARN => "warning",
        Level::INFO => "info",
        Level::DEBUG => "debug",
        Level::TRACE => "trace",
    }
}

/// Parses `--log-level` (logrus names, plus `warn`).
pub fn parse_level(raw: &str) -> std::result::Result<Level, String> {
    match raw.to_ascii_lowercase().as_str() {
        "trace" => Ok(Level::TRACE),
        "debug" => Ok(Level::DEBUG),
        "info" => Ok(Level::INFO),
        "warn" | "warning" => Ok(Level::WARN),
        "error" | "fatal" | "panic" => Ok(Level::ERROR),
        _ => Err(format!(
            "unknown log level {raw:?} (trace, debug, info, warning, error)"
        )),
    }
}

/// Formats one log line, newline included.
fn format_line(
    format: LogFormat,
    level: Level,
    time: &str,
    msg: &str,
    extra: &[(String, String)],
) -> String {
    match format {
        LogFormat::Json => {
            let mut obj = serde_json::Map::new();
            obj.insert("level".into(), level_name(level).into());
            obj.insert("msg".into(), msg.into());
            obj.insert("time".into(), time.into());
            for (k, v) in extra {
                obj.entry(k.clone()).or_insert_with(|| v.clone().into());
            }
            let mut line = serde_json::Value::Object(obj).to_string();
            line.push('\n');
            line
        }
        LogFormat::Text => {
            let mut line = format!("time={time:?} level={} msg={msg:?}", level_name(level));
            for (k, v) in extra {
                let _ = write!(line, " {k}={v:?}");
            }
            line.push('\n');
            line
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_have_runc_keys() {
        let line = format_line(
            LogFormat::Json,
            Level::ERROR,
            "2026-01-01T00:00:00Z",
            "boom \"x\"",
            &[("id".into(), "c1".into())],
        );
        assert!(line.ends_with('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["level"], "error");
        assert_eq!(v["msg"], "boom \"x\"");
        assert_eq!(v["time"], "2026-01-01T00:00:00Z");
        assert_eq!(v["id"], "c1");
    }

    #[test]
    fn text_lines_look_like_logrus() {
        let line = format_line(LogFormat::Text, Level::WARN, "T", "careful", &[]);
        assert_eq!(line, "time=\"T\" level=warning msg=\"careful\"\n");
    }

    #[test]
    fn levels_parse() {
        assert_eq!(parse_level("debug").unwrap(), Level::DEBUG);
        assert_eq!(parse_level("warning").unwrap(), Level::WARN);
        assert_eq!(parse_level("ERROR").unwrap(), Level::ERROR);
        assert!(parse_level("loud").is_err());
    }
}
