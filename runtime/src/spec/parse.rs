//! Parsing a spec or an exec `--process` file, naming the JSON path of the
//! first bad field.

use oci_spec::runtime::Spec;

/// Parses a JSON object, refusing any other top-level value by name.
fn parse_object(raw: &[u8]) -> std::result::Result<serde_json::Value, String> {
    let value: serde_json::Value =
        serde_json::from_slice(raw).map_err(|e| format!("invalid json: {e}"))?;
    if !value.is_object() {
        let what = match value {
            serde_json::Value::Array(_) => "an array",
            serde_json::Value::String(_) => "a string",
            serde_json::Value::Number(_) => "a number",
            serde_json::Value::Bool(_) => "a boolean",
            _ => "null",
        };
        return Err(format!("expected a JSON object, found {what}"));
    }
    Ok(value)
}

/// Parses a spec, naming the JSON path of the first bad field.
pub fn parse(raw: &[u8]) -> std::result::Result<Spec, String> {
    let mut value = parse_object(raw)?;
    if let Some(process) = value.get_mut("process") {
        normalize_process(process);
    }
    from_value(value)
}

/// Parses an exec `--process` file (a spec's `process` object).
pub fn parse_process(raw: &[u8]) -> std::result::Result<oci_spec::runtime::Process, String> {
    let mut value = parse_object(raw)?;
    normalize_process(&mut value);
    from_value(value)
}

fn from_value<T: serde::de::DeserializeOwned>(
    value: serde_json::Value,
) -> std::result::Result<T, String> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let what = e.into_inner().to_string();
        if path == "." || path == "?" || path.is_empty() {
            format!("invalid config: {what}")
        } else {
            format!("{path}: {what}")
        }
    })
}

/// Rewrites what the runtime spec allows but oci-spec 0.10 cannot read:
/// the spec's names of two scheduler flags, and an empty
/// `execCPUAffinity` list (which means "not set").
fn normalize_process(process: &mut serde_json::Value) {
    if let Some(flags) = process
        .pointer_mut("/scheduler/flags")
        .and_then(|f| f.as_array_mut())
    {
        for flag in flags {
            let renamed = match flag.as_str() {
                Some("SCHED_FLAG_RESET_ON_FORK") => "SCHED_RESET_ON_FORK",
                Some("SCHED_FLAG_DL_OVERRUN") => "SCHED_FLAG_D_L_OVERRUN",
                _ => continue,
            };
            *flag = serde_json::Value::String(renamed.into());
        }
    }
    if let Some(affinity) = process
        .get_mut("execCPUAffinity")
        .and_then(|a| a.as_object_mut())
    {
        affinity.retain(|_, v| v.as_str() != Some(""));
    }
}
