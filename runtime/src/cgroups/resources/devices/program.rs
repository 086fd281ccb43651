//! The device program: the rules compiled to eBPF instructions of type
//! BPF_PROG_TYPE_CGROUP_DEVICE (pure; loading is `attach`).

use super::Rule;

// eBPF encoding (linux/bpf.h).
pub(super) const BPF_LDX_W_MEM: u8 = 0x61;
pub(super) const BPF_ALU64_AND_K: u8 = 0x57;
pub(super) const BPF_ALU64_RSH_K: u8 = 0x77;
pub(super) const BPF_ALU64_MOV_K: u8 = 0xb7;
pub(super) const BPF_ALU64_MOV_X: u8 = 0xbf;
pub(super) const BPF_JMP_JNE_K: u8 = 0x55;
pub(super) const BPF_JMP_JNE_X: u8 = 0x5d;
pub(super) const BPF_EXIT: u8 = 0x95;
pub(super) const DEV_BLOCK: i32 = 1;
pub(super) const DEV_CHAR: i32 = 2;
pub(super) const ACC_MKNOD: i32 = 1;
pub(super) const ACC_READ: i32 = 2;
pub(super) const ACC_WRITE: i32 = 4;

/// One eBPF instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    /// Opcode.
    pub code: u8,
    /// Destination register.
    pub dst: u8,
    /// Source register.
    pub src: u8,
    /// Offset (jumps, memory).
    pub off: i16,
    /// Immediate.
    pub imm: i32,
}

impl Insn {
    const fn new(code: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
        Insn {
            code,
            dst,
            src,
            off,
            imm,
        }
    }

    /// The instruction as the kernel reads it (struct bpf_insn).
    pub fn bytes(&self) -> [u8; 8] {
        let mut b = [0u8; 8];
        b[0] = self.code;
        b[1] = (self.src << 4) | (self.dst & 0xf);
        b[2..4].copy_from_slice(&self.off.to_le_bytes());
        b[4..8].copy_from_slice(&self.imm.to_le_bytes());
        b
    }
}

/// The device program for a rule list: the last matching rule decides,
/// nothing matching denies. Registers: r2 type, r3 access, r4 major,
/// r5 minor (from struct bpf_cgroup_dev_ctx in r1).
pub fn program(rules: &[Rule]) -> Vec<Insn> {
    let mut p = vec![
        Insn::new(BPF_LDX_W_MEM, 2, 1, 0, 0),
        Insn::new(BPF_ALU64_AND_K, 2, 0, 0, 0xffff),
        Insn::new(BPF_LDX_W_MEM, 3, 1, 0, 0),
        Insn::new(BPF_ALU64_RSH_K, 3, 0, 0, 16),
        Insn::new(BPF_LDX_W_MEM, 4, 1, 4, 0),
        Insn::new(BPF_LDX_W_MEM, 5, 1, 8, 0),
    ];
    // Walk the rules from the last: the first match is the decision.
    for rule in rules.iter().rev() {
        let mut checks: Vec<Vec<Insn>> = Vec::new();
        match rule.kind {
            'c' => checks.push(vec![Insn::new(BPF_JMP_JNE_K, 2, 0, 0, DEV_CHAR)]),
            'b' => checks.push(vec![Insn::new(BPF_JMP_JNE_K, 2, 0, 0, DEV_BLOCK)]),
            _ => {}
        }
        let mut mask = 0;
        for c in rule.access.chars() {
            mask |= match c {
                'r' => ACC_READ,
                'w' => ACC_WRITE,
                _ => ACC_MKNOD,
            };
        }
        if mask != ACC_READ | ACC_WRITE | ACC_MKNOD {
            // Every requested access bit must be in the rule's mask.
            checks.push(vec![
                Insn::new(BPF_ALU64_MOV_X, 1, 3, 0, 0),
                Insn::new(BPF_ALU64_AND_K, 1, 0, 0, mask),
                Insn::new(BPF_JMP_JNE_X, 1, 3, 0, 0),
            ]);
        }
        if let Some(m) = rule.major {
            checks.push(vec![Insn::new(BPF_JMP_JNE_K, 4, 0, 0, m as i32)]);
        }
        if let Some(m) = rule.minor {
            checks.push(vec![Insn::new(BPF_JMP_JNE_K, 5, 0, 0, m as i32)]);
        }
        let unconditional = checks.is_empty();
        let block_len: usize = checks.iter().map(Vec::len).sum::<usize>() + 2;
        let mut pos = 0;
        for check in checks {
            for mut insn in check {
                pos += 1;
                if insn.code == BPF_JMP_JNE_K || insn.code == BPF_JMP_JNE_X {
                    // Skip to the end of this rule's block.
                    insn.off = (block_len - pos) as i16;
                }
                p.push(insn);
            }
        }
        p.push(Insn::new(BPF_ALU64_MOV_K, 0, 0, 0, i32::from(rule.allow)));
        p.push(Insn::new(BPF_EXIT, 0, 0, 0, 0));
        if unconditional {
            // Nothing after a rule that matches everything can run, and
            // the verifier refuses unreachable instructions.
            return p;
        }
    }
    p.push(Insn::new(BPF_ALU64_MOV_K, 0, 0, 0, 0));
    p.push(Insn::new(BPF_EXIT, 0, 0, 0, 0));
    p
}
