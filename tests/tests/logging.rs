//! `--log` / `--log-format json`, as containerd and podman read them.

use hako_tests::{unique_id, Bundle, Hako};

fn json_lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}

#[test]
fn a_failure_ends_the_log_with_one_error() {
    let h = Hako::new();
    let b = Bundle::busybox(&["no-such-program"]);
    let log = tempfile::NamedTempFile::new().unwrap();
    let id = unique_id("log");
    let out = h.run(&[
        "--log",
        &log.path().display().to_string(),
        "--log-format",
        "json",
        "create",
        "--bundle",
        &b.arg(),
        &id,
    ]);
    assert_ne!(out.code, 0);
    let lines = json_lines(log.path());
    assert_eq!(lines.len(), 1, "only the error without --debug: {lines:?}");
    let last = &lines[0];
    assert_eq!(last["level"], "error");
    assert!(
        last["msg"]
            .as_str()
            .unwrap()
            .contains("executable file not found"),
        "{last}"
    );
    assert!(last["time"].as_str().unwrap().ends_with('Z'));
    h.assert_gone(&id, &b, None);
}

#[test]
fn debug_adds_lines_and_the_error_stays_last() {
    let h = Hako::new();
    let b = Bundle::busybox(&["no-such-program"]);
    let log = tempfile::NamedTempFile::new().unwrap();
    let id = unique_id("dbg");
    let out = h.run(&[
        "--debug",
        "--log",
        &log.path().display().to_string(),
        "--log-format",
        "json",
        "create",
        "--bundle",
        &b.arg(),
        &id,
    ]);
    assert_ne!(out.code, 0);
    let lines = json_lines(log.path());
    assert!(lines.len() > 1, "debug lines expected: {lines:?}");
    assert!(
        lines[..lines.len() - 1]
            .iter()
            .all(|l| l["level"] != "error"),
        "{lines:?}"
    );
    assert_eq!(lines.last().unwrap()["level"], "error");
    assert!(lines.iter().any(|l| l["level"] == "debug"));
}

#[test]
fn success_writes_nothing_by_default_and_text_format_works() {
    let h = Hako::new();
    let b = Bundle::sh("true");
    let log = tempfile::NamedTempFile::new().unwrap();
    let id = unique_id("quiet");
    h.run(&[
        "--log",
        &log.path().display().to_string(),
        "--log-format",
        "json",
        "run",
        "--bundle",
        &b.arg(),
        &id,
    ])
    .ok();
    assert_eq!(std::fs::read_to_string(log.path()).unwrap(), "");
    let out = h.run(&["--log", &log.path().display().to_string(), "state", "nope"]);
    assert_ne!(out.code, 0);
    let text = std::fs::read_to_string(log.path()).unwrap();
    assert!(
        text.starts_with("time=\"")
            && text.contains("level=error msg=\"container \\\"nope\\\" does not exist\""),
        "{text}"
    );
}
