//! Whether hako runs rootless: as a user other than root, or as root of a
//! user namespace it did not create (rootless podman runs the runtime as
//! uid 0 inside the user's namespace, where host resources such as
//! `/run` and the cgroup tree stay out of reach).

/// Whether the calling process runs rootless.
pub fn detect() -> bool {
    !nix::unistd::geteuid().is_root() || in_user_namespace()
}

/// Whether the calling process is in a user namespace other than the
/// initial one: its uid map is not the identity over every id.
pub fn in_user_namespace() -> bool {
    std::fs::read_to_string("/proc/self/uid_map").is_ok_and(|map| !is_initial_map(&map))
}

/// Whether a `uid_map` is the initial namespace's: `0 0 4294967295`.
pub fn is_initial_map(map: &str) -> bool {
    let lines: Vec<Vec<&str>> = map
        .lines()
        .map(|l| l.split_whitespace().collect())
        .filter(|f: &Vec<&str>| !f.is_empty())
        .collect();
    lines == [vec!["0", "0", "4294967295"]]
}

#[cfg(test)]
mod tests {
    use super::is_initial_map;

    #[test]
    fn only_the_full_identity_map_is_the_initial_namespace() {
        assert!(is_initial_map("         0          0 4294967295\n"));
        assert!(!is_initial_map("         0       1000          1\n"));
        assert!(!is_initial_map(
            "         0       1000          1\n         1     100000      65536\n"
        ));
        assert!(!is_initial_map("         0          0      65536\n"));
        assert!(!is_initial_map(""));
    }
}
