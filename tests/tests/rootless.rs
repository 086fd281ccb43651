//! Rootless: an unprivileged user (created by the test) runs the whole
//! lifecycle with `hako spec --rootless`, state under $XDG_RUNTIME_DIR.

use hako_tests::users::chown_tree;
use hako_tests::{bundle::busybox_rootfs, unique_id};

const USER: &str = "hako-rootless";

/// The test user's uid and gid, creating the user (and sub-id ranges)
/// the first time.
fn user() -> (u32, u32) {
    hako_tests::users::ensure(USER, 300000)
}

struct Rootless {
    uid: u32,
    gid: u32,
    home: tempfile::TempDir,
}

impl Rootless {
    fn new() -> Rootless {
        let (uid, gid) = user();
        let home = tempfile::Builder::new()
            .prefix("hako-rootless-")
            .tempdir()
            .unwrap();
        std::os::unix::fs::chown(home.path(), Some(uid), Some(gid)).unwrap();
        std::fs::set_permissions(
            home.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
        std::fs::create_dir(home.path().join("run")).unwrap();
        std::os::unix::fs::chown(home.path().join("run"), Some(uid), Some(gid)).unwrap();
        Rootless { uid, gid, home }
    }

    /// hako as the unprivileged user.
    fn hako(&self, args: &[&str]) -> hako_tests::Out {
        hako_tests::users::run_as(
            self.uid,
            self.gid,
            self.home.path(),
            &hako_tests::hako_bin(),
            args,
        )
    }

    /// A rootless bundle owned by the user, running `script`.
    fn bundle(&self, name: &str, script: &str) -> std::path::PathBuf {
        let dir = self.home.path().join(name);
        busybox_rootfs(&dir.join("rootfs"));
        chown_tree(&dir, self.uid, self.gid);
        let out = self.hako(&["spec", "--rootless", "--bundle", &dir.display().to_string()]);
        assert_eq!(out.code, 0, "{out:?}");
        let mut spec: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("config.json")).unwrap()).unwrap();
        spec["process"]["terminal"] = false.into();
        spec["process"]["args"] = serde_json::json!(["sh", "-c", script]);
        std::fs::write(dir.join("config.json"), spec.to_string()).unwrap();
        chown_tree(&dir, self.uid, self.gid);
        dir
    }
}

#[test]
fn rootless_lifecycle() {
    let r = Rootless::new();
    let b = r.bundle("life", "id -u; cat /proc/self/uid_map; hostname; sleep 300");
    let id = unique_id("rootless");
    let bundle = b.display().to_string();
    let out = r.hako(&["create", "--bundle", &bundle, &id]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        r.home.path().join("run/hako").join(&id).is_dir(),
        "state lives under $XDG_RUNTIME_DIR/hako"
    );
    let state: serde_json::Value = serde_json::from_str(&r.hako(&["state", &id]).stdout).unwrap();
    assert_eq!(state["status"], "created");
    let pid = state["pid"].as_i64().unwrap();
    // init runs as the unprivileged user on the host.
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(
        uid_line.split_whitespace().nth(1).unwrap(),
        r.uid.to_string(),
        "{uid_line}"
    );
    assert_eq!(r.hako(&["start", &id]).code, 0);
    let state: serde_json::Value = serde_json::from_str(&r.hako(&["state", &id]).stdout).unwrap();
    assert_eq!(state["status"], "running");
    let list = r.hako(&["list"]);
    assert!(list.stdout.contains(&id), "{list:?}");
    assert_eq!(r.hako(&["kill", &id, "KILL"]).code, 0);
    for _ in 0..500 {
        let s: serde_json::Value =
            serde_json::from_str(&r.hako(&["state", &id]).stdout).unwrap_or_default();
        if s["status"] == "stopped" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let out = r.hako(&["delete", &id]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!r.home.path().join("run/hako").join(&id).exists());
    assert!(hako_tests::host_mounts_under(&b).is_empty());
}

#[test]
fn rootless_run_sees_itself_as_root() {
    let r = Rootless::new();
    let b = r.bundle("run", "id -u; cat /proc/self/uid_map; hostname");
    let id = unique_id("rlrun");
    let out = r.hako(&["run", "--bundle", &b.display().to_string(), &id]);
    assert_eq!(out.code, 0, "{out:?}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines[0], "0");
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        vec!["0", &r.uid.to_string(), "1"]
    );
    assert_eq!(lines[2], "hako");
}

#[test]
fn rootless_with_subordinate_ids_uses_newuidmap() {
    let r = Rootless::new();
    let b = r.bundle("subids", "cat /proc/self/uid_map /proc/self/gid_map");
    let mut spec: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("config.json")).unwrap()).unwrap();
    spec["linux"]["uidMappings"] = serde_json::json!([{"containerID": 0, "hostID": r.uid, "size": 1}, {"containerID": 1, "hostID": 300000, "size": 65536}]);
    spec["linux"]["gidMappings"] = serde_json::json!([{"containerID": 0, "hostID": r.gid, "size": 1}, {"containerID": 1, "hostID": 300000, "size": 65536}]);
    std::fs::write(b.join("config.json"), spec.to_string()).unwrap();
    let id = unique_id("rlsub");
    let out = r.hako(&["run", "--bundle", &b.display().to_string(), &id]);
    assert_eq!(out.code, 0, "{out:?}");
    let maps: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(
        maps.contains(&vec!["1", "300000", "65536"]),
        "newuidmap wrote the second range: {maps:?}"
    );
    assert_eq!(maps.len(), 4);
}
