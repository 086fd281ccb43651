//! systemd's manager API over D-Bus (zbus, blocking): start a transient
//! unit, set its properties, stop it.
//!
//! zbus runs its connection on a thread of its own, so the bus is only
//! used once hako has forked what it needs: the intermediate process
//! exists before the unit is started, and nothing forks afterwards except
//! through exec (hooks).

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use zbus::blocking::Connection;
use zbus::zvariant::{OwnedObjectPath, OwnedValue, Value as ZValue};

use super::properties::{Property, Value};
use super::Unit;
use crate::error::{Error, Result};

const DEST: &str = "org.freedesktop.systemd1";
const PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";

/// How long systemd may take to start or stop a unit. A scope's jobs run
/// at once; this only bounds a systemd that does not answer.
const JOB_TIMEOUT: Duration = Duration::from_secs(30);

static SYSTEM: OnceLock<Connection> = OnceLock::new();
static USER: OnceLock<Connection> = OnceLock::new();

/// The bus of the manager that owns `unit`, connected once per process.
fn connection(unit: &Unit) -> Result<&'static Connection> {
    let cell = if unit.user { &USER } else { &SYSTEM };
    if let Some(conn) = cell.get() {
        return Ok(conn);
    }
    let conn = if unit.user {
        // As uid 0 of rootless podman's user namespace, the session bus
        // knows hako by its host uid (SO_PEERCRED); the handshake must
        // claim that one.
        zbus::blocking::connection::Builder::session()
            .and_then(|b| b.user_id(super::host_uid()).build())
    } else {
        Connection::system()
    }
    .map_err(|e| Error::Systemd {
        context: format!(
            "connecting to the {} bus for unit {}",
            if unit.user { "session" } else { "system" },
            unit.name
        ),
        message: describe(&e),
    })?;
    Ok(cell.get_or_init(|| conn))
}

/// zbus's error as one lowercase line: systemd's own message when it sent
/// one (`Unit libpod-x.scope already exists.`).
fn describe(e: &zbus::Error) -> String {
    let text = match e {
        zbus::Error::MethodError(name, Some(msg), _) => format!("{msg} ({name})"),
        zbus::Error::MethodError(name, None, _) => name.to_string(),
        other => other.to_string(),
    };
    crate::error::lowercase_first(text.trim_end_matches('.')).replace(". (", " (")
}

/// The D-Bus error name of a method error.
fn error_name(e: &zbus::Error) -> Option<&str> {
    match e {
        zbus::Error::MethodError(name, _, _) => Some(name.as_str()),
        _ => None,
    }
}

fn to_zvalue(v: &Value) -> ZValue<'_> {
    match v {
        Value::Bool(b) => ZValue::Bool(*b),
        Value::U64(n) => ZValue::U64(*n),
        Value::Str(s) => ZValue::from(s.as_str()),
        Value::Bytes(b) => ZValue::from(b.clone()),
        Value::Pids(p) => ZValue::from(p.clone()),
    }
}

fn props(list: &[Property]) -> Vec<(&str, ZValue<'_>)> {
    list.iter().map(|(n, v)| (*n, to_zvalue(v))).collect()
}

fn call<B>(
    conn: &Connection,
    path: &str,
    iface: &str,
    method: &str,
    body: &B,
) -> zbus::Result<zbus::Message>
where
    B: serde::Serialize + zbus::zvariant::DynamicType,
{
    conn.call_method(Some(DEST), path, Some(iface), method, body)
}

/// Starts the transient unit with `pid` in it (a scope), waits until it
/// is active, and returns its cgroup (`ControlGroup`, relative to the
/// manager's cgroup2 root).
pub fn start(unit: &Unit, pid: Option<u32>) -> Result<String> {
    let conn = connection(unit)?;
    let description = format!("hako container {}", unit.id);
    let list = super::properties::for_new_unit(description, &unit.slice, pid);
    let aux: Vec<(&str, Vec<(&str, ZValue<'_>)>)> = Vec::new();
    let fail = |e: &zbus::Error| Error::Systemd {
        context: format!("starting systemd unit {}", unit.name),
        message: describe(e),
    };
    let body = (unit.name.as_str(), "replace", props(&list), &aux);
    let reply = match call(conn, PATH, MANAGER, "StartTransientUnit", &body) {
        // A unit of that name left failed or stopping by an earlier
        // container (a killed create): clear it once and retry, as runc.
        Err(e) if error_name(&e) == Some("org.freedesktop.systemd1.UnitExists") => {
            let _ = call(
                conn,
                PATH,
                MANAGER,
                "ResetFailedUnit",
                &(unit.name.as_str(),),
            );
            call(conn, PATH, MANAGER, "StartTransientUnit", &body).map_err(|e| fail(&e))?
        }
        other => other.map_err(|e| fail(&e))?,
    };
    let job: OwnedObjectPath = reply.body().deserialize().map_err(|e| fail(&e))?;
    wait_active(conn, unit, job.as_str())?;
    let iface = if unit.is_scope() {
        "org.freedesktop.systemd1.Scope"
    } else {
        "org.freedesktop.systemd1.Slice"
    };
    let path = unit_path(conn, unit).map_err(|e| fail(&e))?;
    get_string(conn, &path, iface, "ControlGroup").map_err(|e| fail(&e))
}

/// Sets unit properties at run time (`systemctl set-property --runtime`).
pub fn set_properties(unit: &Unit, list: &[Property]) -> Result<()> {
    if list.is_empty() {
        return Ok(());
    }
    let conn = connection(unit)?;
    call(
        conn,
        PATH,
        MANAGER,
        "SetUnitProperties",
        &(unit.name.as_str(), true, props(list)),
    )
    .map(drop)
    .map_err(|e| Error::Systemd {
        context: format!("setting resources of systemd unit {}", unit.name),
        message: describe(&e),
    })
}

/// Stops the unit and waits until systemd has let it go; a unit that is
/// already gone (a scope ends by itself with its last process) is fine.
pub fn stop(unit: &Unit) -> Result<()> {
    let conn = connection(unit)?;
    let fail = |e: &zbus::Error| Error::Systemd {
        context: format!("stopping systemd unit {}", unit.name),
        message: describe(e),
    };
    match call(
        conn,
        PATH,
        MANAGER,
        "StopUnit",
        &(unit.name.as_str(), "replace"),
    ) {
        Ok(_) => {}
        Err(e) if error_name(&e) == Some("org.freedesktop.systemd1.NoSuchUnit") => return Ok(()),
        Err(e) => return Err(fail(&e)),
    }
    let deadline = Instant::now() + JOB_TIMEOUT;
    let mut delay = Duration::from_micros(200);
    loop {
        match active_state(conn, unit) {
            Ok(None) => return Ok(()),
            Ok(Some(state)) if state == "inactive" || state == "failed" => {
                // A failed unit keeps its name taken until reset.
                let _ = call(
                    conn,
                    PATH,
                    MANAGER,
                    "ResetFailedUnit",
                    &(unit.name.as_str(),),
                );
                return Ok(());
            }
            Ok(Some(state)) if Instant::now() >= deadline => {
                return Err(Error::Systemd {
                    context: format!("stopping systemd unit {}", unit.name),
                    message: format!("still {state} after {}s", JOB_TIMEOUT.as_secs()),
                })
            }
            Ok(Some(_)) => {}
            Err(e) => return Err(fail(&e)),
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(20));
    }
}

/// Waits for the start job: done once the unit is active; failed when
/// the job is gone and the unit is not.
fn wait_active(conn: &Connection, unit: &Unit, job: &str) -> Result<()> {
    let deadline = Instant::now() + JOB_TIMEOUT;
    let mut delay = Duration::from_micros(100);
    let fail = |message: String| Error::Systemd {
        context: format!("starting systemd unit {}", unit.name),
        message,
    };
    loop {
        let state = active_state(conn, unit).map_err(|e| fail(describe(&e)))?;
        if state.as_deref() == Some("active") {
            return Ok(());
        }
        let job_running = get_string(conn, job, "org.freedesktop.systemd1.Job", "State").is_ok();
        if !job_running || Instant::now() >= deadline {
            // The job may have finished between the two reads.
            let state = active_state(conn, unit).map_err(|e| fail(describe(&e)))?;
            if state.as_deref() == Some("active") {
                return Ok(());
            }
            return Err(fail(match state {
                Some(s) if job_running => format!("still {s} after {}s", JOB_TIMEOUT.as_secs()),
                Some(s) => format!("the unit is {s} (see journalctl -u {})", unit.name),
                None => "the unit vanished (its process exited?)".into(),
            }));
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(20));
    }
}

fn unit_path(conn: &Connection, unit: &Unit) -> zbus::Result<String> {
    let reply = call(conn, PATH, MANAGER, "GetUnit", &(unit.name.as_str(),))?;
    let path: OwnedObjectPath = reply.body().deserialize()?;
    Ok(path.as_str().to_string())
}

/// The unit's ActiveState; `None` when systemd no longer knows it.
fn active_state(conn: &Connection, unit: &Unit) -> zbus::Result<Option<String>> {
    let path = match unit_path(conn, unit) {
        Ok(p) => p,
        Err(e) if error_name(&e) == Some("org.freedesktop.systemd1.NoSuchUnit") => return Ok(None),
        Err(e) => return Err(e),
    };
    match get_string(conn, &path, "org.freedesktop.systemd1.Unit", "ActiveState") {
        Ok(s) => Ok(Some(s)),
        // Unloaded between the two calls.
        Err(e) if error_name(&e) == Some("org.freedesktop.DBus.Error.UnknownObject") => Ok(None),
        Err(e) => Err(e),
    }
}

fn get_string(conn: &Connection, path: &str, iface: &str, name: &str) -> zbus::Result<String> {
    let reply = call(
        conn,
        path,
        "org.freedesktop.DBus.Properties",
        "Get",
        &(iface, name),
    )?;
    let value: OwnedValue = reply.body().deserialize()?;
    String::try_from(value).map_err(zbus::Error::Variant)
}
