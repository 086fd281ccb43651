//! Block I/O statistics in runc's shape: v1's per-device `Read`/`Write`/
//! `Sync`/`Async`/`Discard`/`Total` lines, or v2's `io.stat` turned into the
//! same entries.

use std::path::Path;

use super::{read, Blkio, BlkioEntry};
use crate::cgroups::hierarchy::Version;

/// One `ioServiceBytesRecursive`-style entry.
fn entry(major: u64, minor: u64, op: &str, value: u64) -> BlkioEntry {
    BlkioEntry {
        major,
        minor,
        op: op.into(),
        value,
    }
}

/// `MAJ:MIN`.
fn device(text: &str) -> Option<(u64, u64)> {
    let (major, minor) = text.split_once(':')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// v1 lines `MAJ:MIN Op value`; the closing `Total value` line, which
/// names no device, is left out as runc does.
fn v1_entries(text: &str) -> Vec<BlkioEntry> {
    text.lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let (major, minor) = device(words.next()?)?;
            let op = words.next()?;
            let value = words.next()?.parse().ok()?;
            Some(entry(major, minor, op, value))
        })
        .collect()
}

/// v2 `io.stat` lines `MAJ:MIN rbytes=… wbytes=… rios=… wios=… …`, as
/// (bytes, ios) entries with runc's `Read`/`Write` ops.
fn v2_entries(text: &str) -> (Vec<BlkioEntry>, Vec<BlkioEntry>) {
    let (mut bytes, mut ios) = (Vec::new(), Vec::new());
    for line in text.lines() {
        let mut words = line.split_whitespace();
        let Some((major, minor)) = words.next().and_then(device) else {
            continue;
        };
        for field in words {
            let Some((key, value)) = field.split_once('=') else {
                continue;
            };
            let Ok(value) = value.parse() else { continue };
            match key {
                "rbytes" => bytes.push(entry(major, minor, "Read", value)),
                "wbytes" => bytes.push(entry(major, minor, "Write", value)),
                "rios" => ios.push(entry(major, minor, "Read", value)),
                "wios" => ios.push(entry(major, minor, "Write", value)),
                _ => {}
            }
        }
    }
    (bytes, ios)
}

/// The statistics of the blkio (v1) or io (v2) controller at `dir`. v1
/// reads the proportional-weight scheduler's files (CFQ, then BFQ) and,
/// where no device uses one, the throttling layer's, like runc.
pub fn collect(version: Version, dir: &Path) -> Blkio {
    match version {
        Version::V1 => {
            let pick = |name: &str| -> Vec<BlkioEntry> {
                ["blkio.", "blkio.bfq.", "blkio.throttle."]
                    .iter()
                    .map(|prefix| {
                        v1_entries(&read(&dir.join(format!("{prefix}{name}"))).unwrap_or_default())
                    })
                    .find(|entries| !entries.is_empty())
                    .unwrap_or_default()
            };
            Blkio {
                io_service_bytes_recursive: Some(pick("io_service_bytes_recursive")),
                io_serviced_recursive: Some(pick("io_serviced_recursive")),
            }
        }
        Version::V2 => {
            let (bytes, ios) = v2_entries(&read(&dir.join("io.stat")).unwrap_or_default());
            Blkio {
                io_service_bytes_recursive: Some(bytes),
                io_serviced_recursive: Some(ios),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn v(x: impl serde::Serialize) -> serde_json::Value {
        serde_json::to_value(x).unwrap()
    }

    #[test]
    fn v1_lines_become_entries_without_the_total() {
        let e = v1_entries("253:0 Read 4096\n253:0 Write 512\n253:0 Total 4608\nTotal 4608\n");
        assert_eq!(e.len(), 3);
        assert_eq!(
            v(&e[0]),
            json!({"major": 253, "minor": 0, "op": "Read", "value": 4096})
        );
        assert_eq!(e[2].op, "Total");
    }

    #[test]
    fn v2_io_stat_becomes_read_and_write_entries() {
        let (bytes, ios) =
            v2_entries("8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\n");
        assert_eq!(
            v(&bytes),
            json!(            [
                {"major": 8, "minor": 16, "op": "Read", "value": 1459200},
                {"major": 8, "minor": 16, "op": "Write", "value": 314773504}
            ])
        );
        assert_eq!(ios[1].value, 353);
    }

    #[test]
    fn v1_falls_back_to_the_throttling_files() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(
            tmp.path().join("blkio.io_service_bytes_recursive"),
            "Total 0\n",
        )
        .unwrap();
        std::fs::write(
            tmp.path().join("blkio.throttle.io_service_bytes_recursive"),
            "253:0 Read 8192\nTotal 8192\n",
        )
        .unwrap();
        let s = v(collect(Version::V1, tmp.path()));
        assert_eq!(s["ioServiceBytesRecursive"][0]["value"], 8192);
        assert_eq!(s["ioServicedRecursive"], json!([]));
    }
}
