use super::program::*;
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
