//! cgroup placement and removal on whatever layout the host has.

use hako_tests::{unique_id, Bundle, Hako};
use serde_json::json;

fn mounted_hierarchies() -> Vec<(String, String)> {
    // (mount point, controllers or "" for v2)
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter_map(|l| {
            let (left, right) = l.split_once(" - ")?;
            let mp = left.split(' ').nth(4)?.to_string();
            let mut r = right.split(' ');
            let fstype = r.next()?;
            let opts = r.nth(1).unwrap_or("");
            match fstype {
                "cgroup2" => Some((mp, String::new())),
                "cgroup" => Some((
                    mp,
                    opts.split(',')
                        .filter(|o| *o != "rw" && *o != "ro" && *o != "xattr")
                        .collect::<Vec<_>>()
                        .join(","),
                )),
                _ => None,
            }
        })
        .collect()
}

fn own_cgroups(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap()
}

#[test]
fn init_is_placed_in_every_hierarchy() {
    let h = Hako::new();
    let mut b = Bundle::busybox(&["sleep", "1000"]);
    let id = unique_id("cg");
    let path = format!("/hako-test/{id}");
    b.edit(|s| s["linux"]["cgroupsPath"] = json!(path));
    h.create(&id, &b);
    let pid = h.pid(&id);
    let cg = own_cgroups(pid);
    let hierarchies = mounted_hierarchies();
    assert!(!hierarchies.is_empty(), "no cgroup hierarchy mounted");
    for (mp, _) in &hierarchies {
        let dir = std::path::Path::new(mp).join(path.trim_start_matches('/'));
        let procs = std::fs::read_to_string(dir.join("cgroup.procs"))
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        assert!(
            procs.lines().any(|l| l == pid.to_string()),
            "{} lacks init {pid}",
            dir.display()
        );
    }
    for line in cg.lines() {
        assert!(line.ends_with(&path), "init outside {path}: {line}");
    }
    h.run(&["delete", &id]).ok();
    for (mp, _) in &hierarchies {
        assert!(!std::path::Path::new(mp)
            .join(path.trim_start_matches('/'))
            .exists());
    }
    h.assert_gone(&id, &b, None);
}

#[test]
fn default_path_is_hako_id() {
    let h = Hako::new();
    let b = Bundle::busybox(&["sleep", "1000"]);
    let id = unique_id("cgdef");
    h.create(&id, &b);
    let cg = own_cgroups(h.pid(&id));
    assert!(
        cg.lines().all(|l| l.ends_with(&format!("/hako/{id}"))),
        "{cg}"
    );
    h.run(&["delete", &id]).ok();
    h.assert_gone(&id, &b, None);
}

#[test]
fn relative_path_is_under_hakos_own_cgroup() {
    let h = Hako::new();
    let mut b = Bundle::busybox(&["sleep", "1000"]);
    let id = unique_id("cgrel");
    b.edit(|s| s["linux"]["cgroupsPath"] = json!(format!("rel/{id}")));
    h.create(&id, &b);
    let cg = own_cgroups(h.pid(&id));
    let mine = own_cgroups(std::process::id() as i32);
    for (theirs, ours) in cg.lines().zip(mine.lines()) {
        let base = ours.rsplit(':').next().unwrap().trim_end_matches('/');
        assert!(
            theirs.ends_with(&format!("{base}/rel/{id}")),
            "{theirs} not under {base}"
        );
    }
    h.run(&["delete", &id]).ok();
    h.assert_gone(&id, &b, None);
}

#[test]
fn container_sees_its_own_cgroup_as_root() {
    let h = Hako::new();
    let b = Bundle::sh("cat /proc/self/cgroup; ls /sys/fs/cgroup | tr '\\n' ' '");
    let id = unique_id("cgns");
    let out = h.run_bundle(&id, &b).ok();
    let mut lines = out.stdout.lines();
    for line in lines
        .by_ref()
        .take_while(|l| l.contains("::") || l.matches(':').count() == 2)
    {
        assert!(
            line.ends_with(":/"),
            "with a cgroup namespace the container is at its root: {line}"
        );
    }
    for (mp, _) in mounted_hierarchies() {
        let name = std::path::Path::new(&mp)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if mp == "/sys/fs/cgroup" {
            continue;
        }
        assert!(
            out.stdout.contains(&name),
            "{name} missing from the container's /sys/fs/cgroup: {}",
            out.stdout
        );
    }
    h.assert_gone(&id, &b, None);
}

/// runc's `exec --cgroup`: an exec'd process joins an existing sub-cgroup
/// of its container (every hierarchy, or the v1 ones of the controllers
/// named); a path out of the container's cgroup or a missing one is
/// refused and runs nothing.
#[test]
fn exec_into_a_sub_cgroup() {
    let h = Hako::new();
    let mut b = Bundle::busybox(&["sleep", "1000"]);
    let id = unique_id("cgsub");
    let path = format!("hako-test/{id}");
    b.edit(|s| s["linux"]["cgroupsPath"] = json!(format!("/{path}")));
    h.run(&["run", "-d", "--bundle", &b.arg(), &id]).ok();
    let hierarchies = mounted_hierarchies();
    for (mp, controllers) in &hierarchies {
        let dir = std::path::Path::new(mp).join(&path);
        std::fs::create_dir(dir.join("sub")).unwrap();
        // A new v1 cpuset cgroup has no cpus or mems until given some (on
        // v2 a child inherits them).
        if controllers.split(',').any(|c| c == "cpuset") {
            for file in ["cpuset.cpus", "cpuset.mems"] {
                let v = std::fs::read_to_string(dir.join(file)).unwrap();
                std::fs::write(dir.join("sub").join(file), v.trim()).unwrap();
            }
        }
    }
    let out = h
        .run(&["exec", "--cgroup", "sub", &id, "cat", "/proc/self/cgroup"])
        .ok();
    assert_eq!(out.stdout.lines().count(), hierarchies.len(), "{out:?}");
    for line in out.stdout.lines() {
        assert!(line.ends_with(":/sub"), "not in the sub-cgroup: {line}");
    }
    let v1_memory = hierarchies
        .iter()
        .any(|(_, c)| c.split(',').any(|x| x == "memory"));
    let out = h.run(&[
        "exec",
        "--cgroup",
        "memory:sub",
        &id,
        "cat",
        "/proc/self/cgroup",
    ]);
    if v1_memory {
        let out = out.ok();
        for line in out.stdout.lines() {
            let want = if line
                .split(':')
                .nth(1)
                .unwrap()
                .split(',')
                .any(|c| c == "memory")
            {
                ":/sub"
            } else {
                ":/"
            };
            assert!(line.ends_with(want), "{line} should end with {want}");
        }
    } else {
        out.fails_with("cgroup v2 has a single hierarchy");
    }
    h.run(&["exec", "--cgroup", "../escape", &id, "echo", "ran"])
        .fails_with(
            "exec --cgroup \"../escape\": the path must stay inside the container's cgroup",
        );
    h.run(&["exec", "--cgroup", "missing", &id, "echo", "ran"])
        .fails_with("does not exist");
    h.run(&["delete", "--force", &id]).ok();
    for (mp, _) in &hierarchies {
        assert!(!std::path::Path::new(mp).join(&path).exists());
    }
    h.assert_gone(&id, &b, None);
}

/// A limit asked of a controller the host does not mount is refused: a
/// limit asked for and not applied would be a silent gap.
#[test]
fn resources_of_a_missing_controller_fail_create() {
    let net_cls_mounted = mounted_hierarchies()
        .iter()
        .any(|(_, c)| c.split(',').any(|x| x == "net_cls"));
    assert!(
        !net_cls_mounted,
        "this test needs a host without the net_cls controller mounted"
    );
    let h = Hako::new();
    let mut b = Bundle::sh("true");
    b.edit(|s| s["linux"]["resources"] = json!({"network": {"classID": 1048577}}));
    let id = unique_id("netcls");
    let unified = mounted_hierarchies().iter().all(|(_, c)| c.is_empty());
    let needle = if unified {
        "linux.resources.network (net_cls, net_prio) exists only on cgroup v1"
    } else {
        "linux.resources.network.classID: no net_cls controller on this host"
    };
    h.run(&["create", "--bundle", &b.arg(), &id])
        .fails_with(needle);
    h.assert_gone(&id, &b, None);

    // A file the kernel does not have is reported missing, not as a
    // permission problem.
    let mut b = Bundle::sh("true");
    b.edit(|s| s["linux"]["resources"] = json!({"unified": {"pids.nonexistent": "1"}}));
    let id = unique_id("nofile");
    h.run(&["create", "--bundle", &b.arg(), &id])
        .fails_with("pids.nonexistent to \"1\": no such file or directory");
    h.assert_gone(&id, &b, None);
}
