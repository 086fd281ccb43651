//! `linux.memoryPolicy`: the NUMA memory policy, set with
//! set_mempolicy(2); it survives fork and execve.

use oci_spec::runtime::{LinuxMemoryPolicy, MemoryPolicyFlagType, MemoryPolicyModeType};

use super::list;
use crate::error::{Context, Result};
use crate::syscall::Syscall;

/// Most NUMA nodes a mask may name (the kernel's MAX_NUMNODES ceiling on
/// common 64-bit configurations).
const MAX_NODES: usize = 1024;

/// The modes hako knows, sorted, for `hako features`.
pub const MODES: [&str; 7] = [
    "MPOL_BIND",
    "MPOL_DEFAULT",
    "MPOL_INTERLEAVE",
    "MPOL_LOCAL",
    "MPOL_PREFERRED",
    "MPOL_PREFERRED_MANY",
    "MPOL_WEIGHTED_INTERLEAVE",
];

/// The mode flags hako knows, sorted, for `hako features`.
pub const FLAGS: [&str; 3] = [
    "MPOL_F_NUMA_BALANCING",
    "MPOL_F_RELATIVE_NODES",
    "MPOL_F_STATIC_NODES",
];

/// What set_mempolicy(2) gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemoryPolicy {
    /// MPOL_* mode with MPOL_F_* flags or-ed in.
    pub mode: i32,
    /// The node mask, `MAX_NODES` bits.
    pub nodes: Vec<u64>,
}

fn mode_number(m: MemoryPolicyModeType) -> i32 {
    match m {
        MemoryPolicyModeType::MpolDefault => 0,
        MemoryPolicyModeType::MpolPreferred => 1,
        MemoryPolicyModeType::MpolBind => 2,
        MemoryPolicyModeType::MpolInterleave => 3,
        MemoryPolicyModeType::MpolLocal => 4,
        MemoryPolicyModeType::MpolPreferredMany => 5,
        MemoryPolicyModeType::MpolWeightedInterleave => 6,
    }
}

fn flag_bit(f: MemoryPolicyFlagType) -> i32 {
    match f {
        MemoryPolicyFlagType::MpolFStaticNodes => 1 << 15,
        MemoryPolicyFlagType::MpolFRelativeNodes => 1 << 14,
        MemoryPolicyFlagType::MpolFNumaBalancing => 1 << 13,
    }
}

/// Checks the policy against the kernel's rules (those it can know
/// without the machine's nodes) and builds its arguments.
pub fn plan(p: &LinuxMemoryPolicy) -> Result<MemoryPolicy, String> {
    let mode = p.mode();
    let nodes_text = p.nodes().as_deref().unwrap_or("");
    let nodes =
        list::parse(nodes_text, MAX_NODES).map_err(|e| format!("linux.memoryPolicy.nodes {e}"))?;
    let flags = p.flags().as_deref().unwrap_or_default();
    match mode {
        MemoryPolicyModeType::MpolDefault | MemoryPolicyModeType::MpolLocal
            if !nodes.is_empty() =>
        {
            return Err(format!(
                "linux.memoryPolicy: {mode} takes no nodes, got {}",
                nodes.len()
            ));
        }
        MemoryPolicyModeType::MpolDefault
        | MemoryPolicyModeType::MpolLocal
        | MemoryPolicyModeType::MpolPreferred => {}
        _ if nodes.is_empty() => {
            return Err(format!(
                "linux.memoryPolicy: {mode} needs at least one node"
            ));
        }
        _ => {}
    }
    if flags.contains(&MemoryPolicyFlagType::MpolFStaticNodes)
        && flags.contains(&MemoryPolicyFlagType::MpolFRelativeNodes)
    {
        return Err(
            "linux.memoryPolicy: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other"
                .into(),
        );
    }
    if flags.contains(&MemoryPolicyFlagType::MpolFNumaBalancing)
        && !matches!(
            mode,
            MemoryPolicyModeType::MpolBind | MemoryPolicyModeType::MpolPreferredMany
        )
    {
        return Err(format!(
            "linux.memoryPolicy: MPOL_F_NUMA_BALANCING needs MPOL_BIND or MPOL_PREFERRED_MANY, not {mode}"
        ));
    }
    let node_flags = flags.iter().any(|f| {
        matches!(
            f,
            MemoryPolicyFlagType::MpolFStaticNodes | MemoryPolicyFlagType::MpolFRelativeNodes
        )
    });
    if node_flags && nodes.is_empty() {
        return Err(format!(
            "linux.memoryPolicy: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES need nodes, {mode} has none"
        ));
    }
    let mode = flags
        .iter()
        .fold(mode_number(mode), |acc, f| acc | flag_bit(*f));
    Ok(MemoryPolicy {
        mode,
        nodes: list::mask(&nodes, MAX_NODES),
    })
}

/// Sets the calling process's memory policy.
pub fn apply(sys: &dyn Syscall, p: &MemoryPolicy) -> Result<()> {
    sys.set_mempolicy(p.mode, &p.nodes)
        .ctx(|| "setting linux.memoryPolicy".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(v: serde_json::Value) -> Result<MemoryPolicy, String> {
        plan(&serde_json::from_value(v).unwrap())
    }

    #[test]
    fn modes_nodes_and_flags() {
        let p = policy(serde_json::json!({"mode": "MPOL_INTERLEAVE", "nodes": "0"})).unwrap();
        assert_eq!((p.mode, p.nodes[0]), (3, 1));
        let p = policy(serde_json::json!({"mode": "MPOL_BIND", "nodes": "0-1", "flags": ["MPOL_F_STATIC_NODES"]})).unwrap();
        assert_eq!((p.mode, p.nodes[0]), (2 | 1 << 15, 3));
        let p = policy(serde_json::json!({"mode": "MPOL_PREFERRED", "nodes": "0", "flags": ["MPOL_F_RELATIVE_NODES"]})).unwrap();
        assert_eq!(p.mode, 1 | 1 << 14);
        let p = policy(serde_json::json!({"mode": "MPOL_DEFAULT", "nodes": ""})).unwrap();
        assert_eq!(p.mode, 0);
        assert!(p.nodes.iter().all(|w| *w == 0));
    }

    #[test]
    fn feature_lists_parse() {
        for m in MODES {
            let v = serde_json::json!({"mode": m});
            assert!(
                serde_json::from_value::<LinuxMemoryPolicy>(v).is_ok(),
                "{m}"
            );
        }
        for f in FLAGS {
            let v = serde_json::json!({"mode": "MPOL_BIND", "flags": [f]});
            assert!(
                serde_json::from_value::<LinuxMemoryPolicy>(v).is_ok(),
                "{f}"
            );
        }
    }

    #[test]
    fn bad_policies_are_refused() {
        let e = policy(serde_json::json!({"mode": "MPOL_DEFAULT", "nodes": "0-7"})).unwrap_err();
        assert!(e.contains("takes no nodes, got 8"), "{e}");
        let e = policy(serde_json::json!({"mode": "MPOL_BIND"})).unwrap_err();
        assert!(e.contains("at least one node"), "{e}");
        let e =
            policy(serde_json::json!({"mode": "MPOL_BIND", "nodes": "0-9876543210"})).unwrap_err();
        assert!(e.contains("linux.memoryPolicy.nodes"), "{e}");
        let e = policy(serde_json::json!({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES", "MPOL_F_RELATIVE_NODES"]})).unwrap_err();
        assert!(e.contains("exclude each other"), "{e}");
        let e = policy(serde_json::json!({"mode": "MPOL_INTERLEAVE", "nodes": "0", "flags": ["MPOL_F_NUMA_BALANCING"]})).unwrap_err();
        assert!(e.contains("MPOL_F_NUMA_BALANCING needs"), "{e}");
        let e = policy(serde_json::json!({"mode": "MPOL_LOCAL", "flags": ["MPOL_F_STATIC_NODES"]}))
            .unwrap_err();
        assert!(e.contains("need nodes"), "{e}");
        assert!(serde_json::from_value::<LinuxMemoryPolicy>(
            serde_json::json!({"mode": "INTERLEAVE"})
        )
        .is_err());
        assert!(serde_json::from_value::<LinuxMemoryPolicy>(
            serde_json::json!({"mode": "MPOL_BIND", "flags": ["badflag"]})
        )
        .is_err());
        assert!(
            serde_json::from_value::<LinuxMemoryPolicy>(serde_json::json!({"nodes": "0-7"}))
                .is_err()
        );
    }
}
