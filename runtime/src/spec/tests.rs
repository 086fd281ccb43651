use super::validate::check_version;
use super::*;
use serde_json::json;

fn base() -> serde_json::Value {
    json!({
        "ociVersion": "1.2.0",
        "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
        "root": {"path": "rootfs"},
        "hostname": "h",
        "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"}]}
    })
}

fn check(v: serde_json::Value) -> std::result::Result<(), String> {
    let spec = parse(v.to_string().as_bytes())?;
    validate(&spec, Path::new("/b")).map(drop)
}

#[test]
fn base_spec_is_valid() {
    check(base()).unwrap();
}

#[test]
fn deadline_with_start_container_hooks() {
    let mut v = base();
    v["process"]["scheduler"] = json!({"policy": "SCHED_DEADLINE",
        "runtime": 42000, "deadline": 1000000, "period": 1000000});
    v["hooks"] = json!({"startContainer": [{"path": "/bin/true"}]});
    let e = check(v.clone()).unwrap_err();
    assert!(e.contains("SCHED_DEADLINE process cannot fork"), "{e}");
    v["process"]["scheduler"]["flags"] = json!(["SCHED_FLAG_RESET_ON_FORK"]);
    check(v).unwrap();
}

#[test]
fn versions() {
    for good in ["1.0.0", "1.2.1", "1.3.0-rc.1", "1.0.2-dev", "1.1.0+build"] {
        check_version(good).unwrap();
    }
    for bad in ["invalid", "", "2.0.0", "1.0", "1.x.0", "v1.0.0"] {
        let e = check_version(bad).unwrap_err();
        assert!(e.contains("ociVersion"), "{e}");
    }
}

#[test]
fn spec_names_of_scheduler_flags_and_empty_affinity_parse() {
    let mut v = base();
    v["process"]["scheduler"] = json!({"policy": "SCHED_OTHER",
        "flags": ["SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_DL_OVERRUN", "SCHED_FLAG_RECLAIM"]});
    v["process"]["execCPUAffinity"] = json!({"initial": "0", "final": ""});
    let spec = parse(v.to_string().as_bytes()).unwrap();
    let p = spec.process().as_ref().unwrap();
    assert_eq!(
        p.scheduler()
            .as_ref()
            .unwrap()
            .flags()
            .as_ref()
            .unwrap()
            .len(),
        3
    );
    let a = p.exec_cpu_affinity().as_ref().unwrap();
    assert_eq!(a.initial().as_deref(), Some("0"));
    assert_eq!(a.cpu_affinity_final(), &None);
}

#[test]
fn parse_errors_name_the_field() {
    let mut v = base();
    v["linux"]["namespaces"][1]["type"] = json!("bogus");
    let err = check(v).unwrap_err();
    assert!(
        err.starts_with("linux.namespaces[1].type: unknown variant `bogus`"),
        "{err}"
    );
    let err = parse(b"{not json").unwrap_err();
    assert!(
        err.starts_with("invalid json") || err.contains("key must be a string"),
        "{err}"
    );
}

#[test]
fn missing_pieces() {
    let mut v = base();
    v.as_object_mut().unwrap().remove("process");
    assert_eq!(check(v).unwrap_err(), "process must be set");
    let mut v = base();
    v["process"]["args"] = json!([]);
    assert_eq!(check(v).unwrap_err(), "process.args must not be empty");
    let mut v = base();
    v["process"]["cwd"] = json!("rel");
    assert!(check(v)
        .unwrap_err()
        .starts_with("process.cwd must be an absolute path"));
    let mut v = base();
    v.as_object_mut().unwrap().remove("root");
    assert_eq!(check(v).unwrap_err(), "root must be set");
}

#[test]
fn namespace_relations() {
    let mut v = base();
    v["linux"]["namespaces"] = json!([{"type": "pid"}, {"type": "pid"}]);
    assert_eq!(
        check(v).unwrap_err(),
        "linux.namespaces: duplicate namespace type pid"
    );
    let mut v = base();
    v["linux"]["namespaces"] = json!([{"type": "mount"}]);
    assert_eq!(
        check(v).unwrap_err(),
        "hostname needs a uts namespace in linux.namespaces"
    );
    let mut v = base();
    v["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    assert!(check(v).unwrap_err().contains("uidMappings"));
    let mut v = base();
    v["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 1000, "size": 1}]);
    assert!(check(v).unwrap_err().contains("need a new user namespace"));
    let mut v = base();
    v["linux"]["namespaces"][0]["path"] = json!("relative/ns");
    assert!(check(v).unwrap_err().contains("must be absolute"));
}

#[test]
fn sysctls_need_their_namespace() {
    let mut v = base();
    v["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    assert!(check(v).unwrap_err().contains("needs a net namespace"));
    let mut v = base();
    v["linux"]["sysctl"] = json!({"vm.swappiness": "1"});
    assert!(check(v).unwrap_err().contains("not namespaced"));
    let mut v = base();
    v["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "network"}));
    v["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
    check(v).unwrap();
}

#[test]
fn rlimits_and_propagation() {
    let mut v = base();
    v["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 5}]);
    assert!(check(v).unwrap_err().contains("above hard limit"));
    let mut v = base();
    v["linux"]["rootfsPropagation"] = json!("sideways");
    assert!(check(v).unwrap_err().contains("rootfsPropagation"));
}
