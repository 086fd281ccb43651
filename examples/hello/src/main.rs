//! A test guest whose output shows what the runtime handed it: argv, env,
//! cwd, a writable directory, stdout and stderr, the exit code, and on
//! request a hang, a blocking sleep, a trap or a compute-bound checksum. It prints the same lines
//! natively and on wasm32-wasip1 (bar the first), so one expected output
//! serves both kinds of container.

use std::io::Write;
use std::{env, fs, thread, time::Duration};

#[cfg(target_family = "wasm")]
const TARGET: &str = "wasm";
#[cfg(not(target_family = "wasm"))]
const TARGET: &str = "native";

fn main() {
    // Everything goes through one locked handle so the lines come out in
    // order and are flushed explicitly before any way of leaving.
    let mut out = std::io::stdout().lock();

    let args: Vec<String> = env::args().collect();
    let _ = writeln!(out, "hello from {TARGET}");
    for (i, arg) in args.iter().enumerate() {
        let _ = writeln!(out, "arg[{i}]={arg}");
    }

    // Sorted, because neither the OCI spec nor WASI promise an order.
    let mut vars: Vec<(String, String)> = env::vars().collect();
    vars.sort();
    for (k, v) in &vars {
        let _ = writeln!(out, "env {k}={v}");
    }

    match env::current_dir() {
        Ok(dir) => writeln!(out, "cwd={}", dir.display()),
        Err(e) => writeln!(out, "cwd=error: {e}"),
    }
    .ok();

    // Relative by default so it resolves against the cwd: on wasm that only
    // works if the runtime preopened it, which is what a test wants to see.
    let path = env::var("HELLO_FILE").unwrap_or_else(|_| "hello.txt".to_string());
    let round_trip = fs::write(&path, "written by hello").and_then(|()| fs::read_to_string(&path));
    match round_trip {
        Ok(content) => writeln!(out, "file {path}: {content}"),
        Err(e) => writeln!(out, "file {path}: error: {e}"),
    }
    .ok();

    // An error here is reported, not fatal: tests use it to probe which
    // paths the sandbox hides.
    if let Ok(read) = env::var("HELLO_READ") {
        match fs::read_to_string(&read) {
            Ok(content) => writeln!(out, "read {read}: {content}"),
            Err(e) => writeln!(out, "read {read}: error: {e}"),
        }
        .ok();
    }

    let _ = out.flush();
    eprintln!("hello stderr");

    if env::var_os("HELLO_SPIN").is_some() {
        // Pure computation, no syscalls: a signal has to interrupt running
        // code (epoch interruption on wasm), not a blocked host call.
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }

    if let Ok(secs) = env::var("HELLO_SLEEP") {
        // Unparsable means "a long time": the point is to block in the host.
        let secs = secs.trim().parse().unwrap_or(3600);
        thread::sleep(Duration::from_secs(secs));
    }

    if env::var_os("HELLO_TRAP").is_some() {
        trap();
    }

    if let Ok(mb) = env::var("HELLO_CHECKSUM_MB") {
        // Pure computation for benches/compute.sh: the engine's code
        // quality, not its host calls.
        let mb = mb.trim().parse().unwrap_or(16);
        let _ = writeln!(out, "checksum of {mb} MB: {:08x}", checksum(mb));
    }

    let code = args.get(1).and_then(|a| a.parse::<i32>().ok()).unwrap_or(0);
    let _ = out.flush();
    drop(out);
    // process::exit rather than ExitCode so the whole i32 reaches
    // proc_exit / exit(2) instead of being truncated to a u8 here.
    std::process::exit(code)
}

#[cfg(target_family = "wasm")]
fn trap() -> ! {
    // A real `unreachable` instruction, the trap a runtime must report.
    core::arch::wasm32::unreachable()
}

#[cfg(not(target_family = "wasm"))]
fn trap() -> ! {
    // SIGABRT: the closest native analogue of a trap.
    std::process::abort()
}

/// CRC-32 (IEEE, bitwise, no table: the inner loop is all arithmetic) of
/// `mb` MiB of pseudo-random bytes from a xorshift generator. The same
/// value on every engine and natively.
fn checksum(mb: usize) -> u32 {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut crc: u32 = !0;
    for _ in 0..mb * 1024 * 1024 / 8 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        for byte in std::hint::black_box(state).to_le_bytes() {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = (crc >> 1) ^ (0xedb8_8320 & (crc & 1).wrapping_neg());
            }
        }
    }
    !crc
}
