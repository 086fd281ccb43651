//! linux.netDevices: a host device moved into the container, renamed, with
//! its global addresses, up; bad requests fail `create` cleanly.

use std::time::{Duration, Instant};

use hako_tests::{unique_id, Bundle, Hako};
use serde_json::json;

fn ip(args: &[&str]) -> std::process::Output {
    hako_tests::reaper::output(std::process::Command::new("ip").args(args))
        .expect("ip (iproute2) is needed on the host")
}

fn link_exists(name: &str) -> bool {
    ip(&["link", "show", name]).status.success()
}

/// A veth pair with short unique names (interface names stop at 15
/// bytes); removed on drop if the test left it.
struct Veth {
    inside: String,
    peer: String,
}

impl Veth {
    fn new() -> Veth {
        let n = format!("{:x}", std::process::id() ^ rand_suffix());
        let v = Veth {
            inside: format!("hkva{n}"),
            peer: format!("hkvb{n}"),
        };
        let out = ip(&[
            "link", "add", &v.inside, "type", "veth", "peer", "name", &v.peer,
        ]);
        assert!(out.status.success(), "creating a veth pair: {out:?}");
        v
    }
}

impl Drop for Veth {
    fn drop(&mut self) {
        let _ = ip(&["link", "del", &self.peer]);
    }
}

/// Distinct within this run (a counter) and across runs (the clock).
fn rand_suffix() -> u32 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    (nanos & 0xfff0) | (n & 0xf)
}

/// A network namespace lets go of its devices asynchronously.
fn wait_gone(name: &str) {
    let start = Instant::now();
    while link_exists(name) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{name} outlived its container's network namespace"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_device_moves_in_renamed_with_its_global_addresses() {
    let veth = Veth::new();
    assert!(
        ip(&["addr", "add", "244.178.44.111/24", "dev", &veth.inside])
            .status
            .success()
    );
    assert!(ip(&[
        "addr",
        "add",
        "10.9.9.9/24",
        "scope",
        "host",
        "dev",
        &veth.inside
    ])
    .status
    .success());
    let h = Hako::new();
    let mut b = Bundle::sh("sleep 1000");
    let inside = veth.inside.clone();
    b.edit(|s| {
        s["linux"]["netDevices"] = json!({ inside: {"name": "ctr0"} });
        // Init's own steps already see the device.
        s["linux"]["sysctl"] = json!({"net.ipv4.conf.ctr0.forwarding": "1"});
    });
    let id = unique_id("netdev");
    h.run(&["run", "-d", "--bundle", &b.arg(), &id]).ok();
    assert!(!link_exists(&veth.inside), "the device left the host");

    let out = h.run(&["exec", &id, "ip", "addr", "show", "ctr0"]).ok();
    let first = out.stdout.lines().next().unwrap_or_default().to_string();
    assert!(first.contains(": ctr0@"), "{}", out.stdout);
    assert!(first.contains(",UP"), "the device is up: {first}");
    assert!(
        out.stdout.contains("inet 244.178.44.111/24"),
        "{}",
        out.stdout
    );
    assert!(
        !out.stdout.contains("10.9.9.9"),
        "only global addresses move: {}",
        out.stdout
    );
    let out = h
        .run(&[
            "exec",
            &id,
            "cat",
            "/proc/sys/net/ipv4/conf/ctr0/forwarding",
        ])
        .ok();
    assert_eq!(out.stdout, "1\n");

    h.run(&["delete", "--force", &id]).ok();
    h.assert_gone(&id, &b, None);
    // The namespace went and took the virtual device (and its peer) along.
    wait_gone(&veth.peer);
}

#[test]
fn a_device_moves_into_a_joined_namespace() {
    let veth = Veth::new();
    let netns = format!("hkns{:x}", rand_suffix());
    assert!(ip(&["netns", "add", &netns]).status.success());
    let h = Hako::new();
    let mut b = Bundle::sh("sleep 1000");
    let inside = veth.inside.clone();
    let path = format!("/run/netns/{netns}");
    b.edit(|s| {
        s["linux"]["netDevices"] = json!({ inside: {} });
        for ns in s["linux"]["namespaces"].as_array_mut().unwrap() {
            if ns["type"] == "network" {
                ns["path"] = json!(path);
            }
        }
    });
    let id = unique_id("netdevj");
    h.run(&["run", "-d", "--bundle", &b.arg(), &id]).ok();
    let out = ip(&["netns", "exec", &netns, "ip", "link", "show", &veth.inside]);
    assert!(
        out.status.success(),
        "the device is in the joined namespace: {out:?}"
    );
    h.run(&["delete", "--force", &id]).ok();
    h.assert_gone(&id, &b, None);
    // The namespace outlives the container: so does the device in it.
    let out = ip(&["netns", "exec", &netns, "ip", "link", "show", &veth.inside]);
    assert!(out.status.success());
    assert!(ip(&["netns", "del", &netns]).status.success());
    wait_gone(&veth.peer);
}

#[test]
fn bad_device_requests_fail_create() {
    let h = Hako::new();
    let mut b = Bundle::sh("true");
    b.edit(|s| s["linux"]["netDevices"] = json!({"hknosuchdev0": {}}));
    let id = unique_id("netdevbad");
    h.run(&["create", "--bundle", &b.arg(), &id])
        .fails_with("no network device \"hknosuchdev0\" on the host");
    h.assert_gone(&id, &b, None);

    let mut b = Bundle::sh("true");
    b.edit(|s| {
        s["linux"]["netDevices"] = json!({"lo": {}});
        s["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != "network");
    });
    h.run(&["create", "--bundle", &b.arg(), &id])
        .fails_with("linux.netDevices needs a network namespace");
    h.assert_gone(&id, &b, None);

    // One missing device: none moves.
    let veth = Veth::new();
    let mut b = Bundle::sh("true");
    let inside = veth.inside.clone();
    b.edit(|s| s["linux"]["netDevices"] = json!({ inside: {}, "hknosuchdev1": {} }));
    h.run(&["create", "--bundle", &b.arg(), &id])
        .fails_with("no network device \"hknosuchdev1\" on the host");
    h.assert_gone(&id, &b, None);
    assert!(
        link_exists(&veth.inside),
        "the present device stayed on the host"
    );

    // A "joined" namespace that is the host's own: refused, not renamed.
    let mut b = Bundle::sh("true");
    let inside = veth.inside.clone();
    let own = format!("/proc/{}/ns/net", std::process::id());
    b.edit(|s| {
        s["linux"]["netDevices"] = json!({ inside: {"name": "hkrenamed0"} });
        for ns in s["linux"]["namespaces"].as_array_mut().unwrap() {
            if ns["type"] == "network" {
                ns["path"] = json!(own);
            }
        }
    });
    h.run(&["create", "--bundle", &b.arg(), &id])
        .fails_with("the container's network namespace is the host's");
    h.assert_gone(&id, &b, None);
    assert!(link_exists(&veth.inside));

    let mut b = Bundle::sh("true");
    b.edit(|s| s["linux"]["netDevices"] = json!({"lo": {"name": "bad/name"}}));
    h.run(&["create", "--bundle", &b.arg(), &id])
        .fails_with("linux.netDevices.lo.name");
    h.assert_gone(&id, &b, None);
}
