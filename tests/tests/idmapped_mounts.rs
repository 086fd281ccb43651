//! Id-mapped bind mounts: explicit mappings, mappings implied by the
//! container's user namespace (`idmap`, `ridmap`), and refusals.

use std::os::unix::fs::MetadataExt;

use hako_tests::{unique_id, Bundle, Hako};
use serde_json::{json, Value};

fn map(c: u32, h: u32, n: u32) -> Value {
    json!([{"containerID": c, "hostID": h, "size": n}])
}

/// A host directory holding `foo`, owned by root on disk.
fn source() -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("hako-idmap-")
        .tempdir()
        .unwrap();
    std::fs::write(dir.path().join("foo"), "idmap test\n").unwrap();
    dir
}

fn bind(src: &std::path::Path, dest: &str, options: &[&str]) -> Value {
    json!({"destination": dest, "type": "bind", "source": src, "options": options})
}

fn with_user_namespace(s: &mut Value) {
    s["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    s["linux"]["uidMappings"] = map(0, 100000, 65536);
    s["linux"]["gidMappings"] = map(0, 100000, 65536);
    // A user-namespaced root may not mount the cgroup tree of the host.
    s["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["type"] != "cgroup");
}

#[test]
fn explicit_mappings_show_owners_through_the_map() {
    let src = source();
    let out = hako_tests::run_sh(
        "stat -c '%u:%g' /mnt/mapped/foo /mnt/plain/foo; grep -c ' /mnt/mapped .*idmapped' /proc/self/mountinfo",
        |s| {
            let mut mapped = bind(src.path(), "/mnt/mapped", &["bind"]);
            mapped["uidMappings"] = map(0, 100000, 65536);
            mapped["gidMappings"] = map(0, 200000, 65536);
            let mounts = s["mounts"].as_array_mut().unwrap();
            mounts.push(mapped);
            mounts.push(bind(src.path(), "/mnt/plain", &["bind"]));
        },
    )
    .ok();
    assert_eq!(out.stdout, "100000:200000\n0:0\n1\n");
}

#[test]
fn implied_mappings_make_files_the_containers_and_writes_land_as_host_root() {
    let src = source();
    let h = Hako::new();
    let mut b = Bundle::sh(
        "stat -c '%u:%g' /mnt/tree/foo; echo new > /mnt/tree/written && stat -c '%u:%g' /mnt/tree/written",
    );
    b.edit(|s| {
        with_user_namespace(s);
        s["mounts"].as_array_mut().unwrap().push(bind(
            src.path(),
            "/mnt/tree",
            &["rbind", "ridmap"],
        ));
    });
    // Container root (host uid 100000) cannot create it in a root-owned rootfs.
    std::fs::create_dir_all(b.rootfs().join("mnt/tree")).unwrap();
    let id = unique_id("idmap");
    let out = h.run_bundle(&id, &b).ok();
    h.assert_gone(&id, &b, None);
    // Root on disk is container root; the container's writes are root's.
    assert_eq!(out.stdout, "0:0\n0:0\n");
    let meta = std::fs::metadata(src.path().join("written")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (0, 0));
}

#[test]
fn bad_idmapped_mounts_fail_create() {
    let src = source();
    let h = Hako::new();
    let id = unique_id("idmapbad");
    let mut b = Bundle::sh("true");
    let m = bind(src.path(), "/mnt/x", &["bind", "idmap"]);
    b.edit(|s| s["mounts"].as_array_mut().unwrap().push(m));
    h.run(&["create", "--bundle", &b.arg(), &id])
        .fails_with("needs a user namespace");
    h.assert_gone(&id, &b, None);

    let mut b = Bundle::sh("true");
    b.edit(|s| {
        s["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs",
            "uidMappings": map(0, 1, 1), "gidMappings": map(0, 1, 1)
        }))
    });
    h.run(&["create", "--bundle", &b.arg(), &id])
        .fails_with("must be bind mounts");
    h.assert_gone(&id, &b, None);
}
