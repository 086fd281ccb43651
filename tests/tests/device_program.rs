//! The cgroup v2 device program, loaded into the kernel and attached to a
//! real cgroup. On a hybrid host containers get v1 device lists, so only
//! this test reaches the eBPF path there (the VM's pure cgroup v2 runs
//! every container through it).

use hako::cgroups::resources::devices::{attach_v2, defaults, Rule};

/// A process in a cgroup with the default rules opens /dev/null and is
/// refused /dev/kmsg, which the rules leave out.
#[test]
fn attached_program_denies_in_a_real_cgroup() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "needs root: loads an eBPF program"
    );
    let mounts = hako::mountinfo::read_self().unwrap();
    let v2 = mounts
        .iter()
        .find(|m| m.fs_type == "cgroup2")
        .expect("no cgroup2 mount on this host");
    let cg = v2
        .mount_point
        .join(format!("hako-devtest-{}", std::process::id()));
    std::fs::create_dir(&cg).unwrap();
    let mut rules = vec![Rule {
        allow: false,
        kind: 'a',
        major: None,
        minor: None,
        access: "rwm".into(),
    }];
    rules.extend(defaults());
    attach_v2(&hako::syscall::LinuxSyscall, &cg, &rules).unwrap();
    // A helper process joins the cgroup and tries both devices; it is a
    // shell, not a fork of this multi-threaded test binary.
    let out = std::process::Command::new("/bin/sh")
        .arg("-c")
        .arg(format!(
            "echo $$ > {}/cgroup.procs || exit 2; \
             cat /dev/null || exit 3; \
             head -c0 /dev/kmsg 2>/dev/null && exit 4; exit 0",
            cg.display()
        ))
        .status()
        .unwrap();
    std::fs::remove_dir(&cg).unwrap();
    assert_eq!(
        out.code(),
        Some(0),
        "2: join, 3: /dev/null denied, 4: /dev/kmsg allowed"
    );
}
