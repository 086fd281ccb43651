//! Device access rules: cgroup v1 `devices.allow`/`devices.deny`, or on
//! cgroup v2 an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE.
//!
//! As runc, every container starts from "deny everything", then gets the
//! spec's rules, the devices every container needs (null, zero, full,
//! random, urandom, tty, ptmx, pts, mknod of anything) and the devices of
//! `linux.devices`. Later rules win.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use oci_spec::runtime::{LinuxDeviceType, Spec};

use crate::error::{Error, Result};

/// One rule; `None` major/minor is the wildcard `*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Allow or deny.
    pub allow: bool,
    /// 'a' (all), 'c' or 'b'.
    pub kind: char,
    /// Major number.
    pub major: Option<u32>,
    /// Minor number.
    pub minor: Option<u32>,
    /// Some of "rwm".
    pub access: String,
}

impl Rule {
    fn new(allow: bool, kind: char, major: Option<u32>, minor: Option<u32>, access: &str) -> Rule {
        Rule {
            allow,
            kind,
            major,
            minor,
            access: access.into(),
        }
    }

    /// The v1 rule text: `c 1:3 rwm`, `a`.
    pub fn v1_text(&self) -> String {
        if self.kind == 'a' && self.major.is_none() && self.minor.is_none() && self.access == "rwm"
        {
            return "a".into();
        }
        let n = |v: Option<u32>| v.map_or("*".to_string(), |v| v.to_string());
        format!(
            "{} {}:{} {}",
            self.kind,
            n(self.major),
            n(self.minor),
            self.access
        )
    }
}

/// The devices every container may use (runc's list).
pub fn defaults() -> Vec<Rule> {
    vec![
        Rule::new(true, 'c', None, None, "m"),
        Rule::new(true, 'b', None, None, "m"),
        Rule::new(true, 'c', Some(1), Some(3), "rwm"),
        Rule::new(true, 'c', Some(1), Some(5), "rwm"),
        Rule::new(true, 'c', Some(1), Some(7), "rwm"),
        Rule::new(true, 'c', Some(1), Some(8), "rwm"),
        Rule::new(true, 'c', Some(1), Some(9), "rwm"),
        Rule::new(true, 'c', Some(5), Some(0), "rwm"),
        Rule::new(true, 'c', Some(5), Some(1), "rwm"),
        Rule::new(true, 'c', Some(5), Some(2), "rwm"),
        Rule::new(true, 'c', Some(136), None, "rwm"),
    ]
}

fn kind_of(t: Option<LinuxDeviceType>) -> char {
    match t {
        Some(LinuxDeviceType::B) => 'b',
        Some(LinuxDeviceType::C) | Some(LinuxDeviceType::U) => 'c',
        Some(LinuxDeviceType::P) => 'p',
        Some(LinuxDeviceType::A) | None => 'a',
    }
}

fn number(v: Option<i64>, field: &str) -> Result<Option<u32>> {
    match v {
        None => Ok(None),
        Some(n) if n < 0 => Ok(None),
        Some(n) => u32::try_from(n).map(Some).map_err(|_| {
            Error::invalid(format!("linux.resources.devices: {field} {n} out of range"))
        }),
    }
}

/// The complete, ordered rule list for a spec.
pub fn rules(spec: &Spec) -> Result<Vec<Rule>> {
    let mut out = vec![Rule::new(false, 'a', None, None, "rwm")];
    let linux = spec.linux().as_ref();
    for d in linux
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.devices().clone())
        .unwrap_or_default()
    {
        let access = d.access().clone().unwrap_or_else(|| "rwm".into());
        if access.is_empty() || !access.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
            return Err(Error::invalid(format!(
                "linux.resources.devices: invalid access {access:?}"
            )));
        }
        let kind = kind_of(d.typ());
        if kind == 'p' {
            continue; // fifos are not device-controlled
        }
        out.push(Rule::new(
            d.allow(),
            kind,
            number(d.major(), "major")?,
            number(d.minor(), "minor")?,
            &access,
        ));
    }
    out.extend(defaults());
    for d in linux.and_then(|l| l.devices().clone()).unwrap_or_default() {
        let kind = kind_of(Some(d.typ()));
        if kind == 'p' {
            continue;
        }
        out.push(Rule::new(
            true,
            kind,
            number(Some(d.major()), "major")?,
            number(Some(d.minor()), "minor")?,
            "rwm",
        ));
    }
    Ok(out)
}

/// v1: (file, rule) writes in order.
pub fn v1_writes(rules: &[Rule]) -> Vec<(&'static str, String)> {
    rules
        .iter()
        .map(|r| {
            (
                if r.allow {
                    "devices.allow"
                } else {
                    "devices.deny"
                },
                r.v1_text(),
            )
        })
        .collect()
}

// eBPF encoding (linux/bpf.h).
const BPF_LDX_W_MEM: u8 = 0x61;
const BPF_ALU64_AND_K: u8 = 0x57;
const BPF_ALU64_RSH_K: u8 = 0x77;
const BPF_ALU64_MOV_K: u8 = 0xb7;
const BPF_ALU64_MOV_X: u8 = 0xbf;
const BPF_JMP_JNE_K: u8 = 0x55;
const BPF_JMP_JNE_X: u8 = 0x5d;
const BPF_EXIT: u8 = 0x95;
const DEV_BLOCK: i32 = 1;
const DEV_CHAR: i32 = 2;
const ACC_MKNOD: i32 = 1;
const ACC_READ: i32 = 2;
const ACC_WRITE: i32 = 4;

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

    fn bytes(&self) -> [u8; 8] {
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

/// Loads the program and attaches it to a v2 cgroup directory, replacing
/// a program hako attached before (no BPF_F_ALLOW_MULTI).
pub fn attach_v2(cgroup: &std::path::Path, rules: &[Rule]) -> Result<()> {
    let insns: Vec<u8> = program(rules).iter().flat_map(Insn::bytes).collect();
    let license = c"GPL";
    // union bpf_attr for BPF_PROG_LOAD (first fields).
    #[repr(C)]
    #[derive(Default)]
    struct Load {
        prog_type: u32,
        insn_cnt: u32,
        insns: u64,
        license: u64,
        log_level: u32,
        log_size: u32,
        log_buf: u64,
        kern_version: u32,
        prog_flags: u32,
        pad: [u64; 12],
    }
    let load = |log: &mut [u8]| -> libc::c_long {
        let attr = Load {
            prog_type: 15, // BPF_PROG_TYPE_CGROUP_DEVICE
            insn_cnt: (insns.len() / 8) as u32,
            insns: insns.as_ptr() as u64,
            license: license.as_ptr() as u64,
            log_level: u32::from(!log.is_empty()),
            log_size: log.len() as u32,
            log_buf: if log.is_empty() {
                0
            } else {
                log.as_mut_ptr() as u64
            },
            ..Default::default()
        };
        // SAFETY: attr points at live buffers (insns, license, log) for the call.
        unsafe {
            libc::syscall(
                libc::SYS_bpf,
                5, /* BPF_PROG_LOAD */
                &attr as *const Load,
                std::mem::size_of::<Load>(),
            )
        }
    };
    let fd = load(&mut []);
    if fd < 0 {
        let errno = nix::errno::Errno::last();
        // Load again with the verifier's log, to say why.
        let mut log = vec![0u8; 1 << 20];
        load(&mut log);
        let text = String::from_utf8_lossy(&log);
        let why = text
            .trim_matches(char::from(0))
            .lines()
            .rev()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        return Err(Error::Sys {
            context: format!("loading the device eBPF program (verifier: {why})"),
            errno,
        });
    }
    // SAFETY: the kernel returned a new descriptor we own.
    let prog = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    let dir = std::fs::File::open(cgroup).map_err(|e| Error::Io {
        context: format!("opening {}", cgroup.display()),
        err: e,
    })?;
    #[repr(C)]
    #[derive(Default)]
    struct Attach {
        target_fd: u32,
        attach_bpf_fd: u32,
        attach_type: u32,
        attach_flags: u32,
        replace_bpf_fd: u32,
        pad: [u32; 7],
    }
    let attr = Attach {
        target_fd: dir.as_raw_fd() as u32,
        attach_bpf_fd: prog.as_raw_fd() as u32,
        attach_type: 6, /* BPF_CGROUP_DEVICE */
        ..Default::default()
    };
    // SAFETY: attr is a valid bpf_attr prefix for BPF_PROG_ATTACH.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            8, /* BPF_PROG_ATTACH */
            &attr as *const Attach,
            std::mem::size_of::<Attach>(),
        )
    };
    if rc < 0 {
        return Err(Error::Sys {
            context: format!("attaching the device eBPF program to {}", cgroup.display()),
            errno: nix::errno::Errno::last(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(v: serde_json::Value) -> Spec {
        serde_json::from_value(serde_json::json!({"ociVersion": "1.2.0", "linux": v})).unwrap()
    }

    #[test]
    fn rule_order_and_text() {
        let s = spec(serde_json::json!({
            "resources": {"devices": [{"allow": false, "access": "rwm"}, {"allow": true, "type": "c", "major": 10, "minor": 200, "access": "rw"}]},
            "devices": [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]
        }));
        let r = rules(&s).unwrap();
        let text: Vec<String> = v1_writes(&r)
            .into_iter()
            .map(|(f, t)| format!("{f} {t}"))
            .collect();
        assert_eq!(text[0], "devices.deny a");
        assert_eq!(text[1], "devices.deny a");
        assert_eq!(text[2], "devices.allow c 10:200 rw");
        assert!(text.contains(&"devices.allow c 1:3 rwm".to_string()));
        assert!(text.contains(&"devices.allow c 136:* rwm".to_string()));
        assert_eq!(text.last().unwrap(), "devices.allow c 10:229 rwm");
        let bad =
            spec(serde_json::json!({"resources": {"devices": [{"allow": true, "access": "rwx"}]}}));
        assert!(rules(&bad).unwrap_err().to_string().contains("\"rwx\""));
    }

    /// Runs the program on a device access, interpreting the few
    /// instructions it uses.
    fn eval(p: &[Insn], kind: i32, access: i32, major: u32, minor: u32) -> u64 {
        let ctx = [((access as u32) << 16) | kind as u32, major, minor];
        let mut r = [0u64; 11];
        let mut pc = 0usize;
        loop {
            let i = p[pc];
            pc += 1;
            match i.code {
                BPF_LDX_W_MEM => r[i.dst as usize] = u64::from(ctx[(i.off / 4) as usize]),
                BPF_ALU64_AND_K => r[i.dst as usize] &= i.imm as u64,
                BPF_ALU64_RSH_K => r[i.dst as usize] >>= i.imm,
                BPF_ALU64_MOV_K => r[i.dst as usize] = i.imm as u64,
                BPF_ALU64_MOV_X => r[i.dst as usize] = r[i.src as usize],
                BPF_JMP_JNE_K if r[i.dst as usize] != i.imm as u64 => pc += i.off as usize,
                BPF_JMP_JNE_X if r[i.dst as usize] != r[i.src as usize] => pc += i.off as usize,
                BPF_JMP_JNE_K | BPF_JMP_JNE_X => {}
                BPF_EXIT => return r[0],
                other => panic!("unexpected opcode {other:#x}"),
            }
        }
    }

    #[test]
    fn program_semantics() {
        let s = spec(serde_json::json!({"resources": {"devices": [
            {"allow": false, "access": "rwm"},
            {"allow": true, "type": "b", "major": 8, "minor": 0, "access": "r"}
        ]}}));
        let p = program(&rules(&s).unwrap());
        let (c, b) = (DEV_CHAR, DEV_BLOCK);
        assert_eq!(eval(&p, c, ACC_READ | ACC_WRITE, 1, 3), 1, "/dev/null rw");
        assert_eq!(eval(&p, c, ACC_READ, 136, 7), 1, "a pts");
        assert_eq!(eval(&p, c, ACC_READ, 10, 229), 0, "fuse is denied");
        assert_eq!(eval(&p, b, ACC_READ, 8, 0), 1, "sda readable");
        assert_eq!(eval(&p, b, ACC_WRITE, 8, 0), 0, "sda not writable");
        assert_eq!(eval(&p, b, ACC_MKNOD, 8, 1), 1, "mknod of any block device");
        assert_eq!(eval(&p, b, ACC_READ, 8, 1), 0);
    }

    /// The program really loads and filters, on this host's cgroup2 tree
    /// (the v2 device path, exercised even on hybrid hosts).
    #[test]
    fn attached_program_denies_in_a_real_cgroup() {
        assert!(
            nix::unistd::geteuid().is_root(),
            "needs root: loads an eBPF program"
        );
        let mounts = crate::mountinfo::read_self().unwrap();
        let v2 = mounts
            .iter()
            .find(|m| m.fs_type == "cgroup2")
            .expect("no cgroup2 mount on this host");
        let cg = v2
            .mount_point
            .join(format!("hako-devtest-{}", std::process::id()));
        std::fs::create_dir(&cg).unwrap();
        let s = spec(serde_json::json!({}));
        attach_v2(&cg, &rules(&s).unwrap()).unwrap();
        // SAFETY: the child joins the cgroup, opens two devices, exits.
        let result = match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                let ok = std::fs::write(cg.join("cgroup.procs"), "0").is_ok();
                let null = std::fs::File::open("/dev/null").is_ok();
                let kmsg = std::fs::File::open("/dev/kmsg").map_err(|e| e.raw_os_error());
                let code = match (ok, null, kmsg) {
                    (true, true, Err(Some(libc::EPERM))) => 0,
                    (false, ..) => 2,
                    (_, false, _) => 3,
                    _ => 4,
                };
                // SAFETY: leave the forked test process at once.
                unsafe { libc::_exit(code) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                nix::sys::wait::waitpid(child, None).unwrap()
            }
        };
        std::fs::remove_dir(&cg).unwrap();
        assert_eq!(
            result,
            nix::sys::wait::WaitStatus::Exited(result.pid().unwrap(), 0),
            "2: join, 3: /dev/null denied, 4: /dev/kmsg allowed"
        );
    }

    #[test]
    fn later_rules_win() {
        let s = spec(serde_json::json!({"resources": {"devices": [
            {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
            {"allow": false, "type": "c", "major": 1, "minor": 3, "access": "w"}
        ]}}));
        let r = rules(&s).unwrap();
        // The defaults come after the spec's rules and allow /dev/null again.
        assert_eq!(eval(&program(&r), DEV_CHAR, ACC_WRITE, 1, 3), 1);
        assert_eq!(eval(&program(&r[..3]), DEV_CHAR, ACC_WRITE, 1, 3), 0);
        assert_eq!(eval(&program(&r[..3]), DEV_CHAR, ACC_READ, 1, 3), 1);
    }
}
