//! What `ps`, `podman top` and `/proc/<pid>/cmdline` show for a process
//! that runs a guest in-process: the guest's own argv, not hako's command
//! line (which names host paths such as the bundle).
//!
//! The kernel reads a process's command line from the memory its argv
//! strings were placed in at exec. Rewriting that memory in place needs no
//! privilege (moving it with PR_SET_MM needs CAP_SYS_RESOURCE); the guest's
//! argv is cut to the space hako's own took, and the rest is zeroed.

use std::ffi::CString;

/// The argument area `[start, end)`, from fields 48 and 49 of
/// `/proc/self/stat`.
fn arg_area(stat: &str) -> Option<(usize, usize)> {
    // Fields after the command name, which may hold spaces and ')',
    // start at field 3.
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let start = fields.get(48 - 3)?.parse().ok()?;
    let end = fields.get(49 - 3)?.parse().ok()?;
    (end > start).then_some((start, end))
}

/// The bytes to place in an argument area of `len` bytes: the arguments,
/// each ended by NUL, cut to fit, and NUL up to `len`. The last byte stays
/// NUL, so the kernel reads the area as plain arguments.
pub fn title(args: &[String], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    for arg in args {
        out.extend(arg.bytes().filter(|b| *b != 0));
        out.push(0);
    }
    out.truncate(len.saturating_sub(1));
    out.resize(len, 0);
    out
}

/// Shows `args` as this process's command line, and the base name of the
/// first as its name (`comm`). Best effort: a process whose area cannot be
/// found keeps hako's.
pub fn show(args: &[String]) {
    if let Some(first) = args.first() {
        let base = first.rsplit('/').next().unwrap_or(first);
        let name: String = base.chars().filter(|c| *c != '\0').take(15).collect();
        if let Ok(name) = CString::new(name) {
            let _ = nix::sys::prctl::set_name(&name);
        }
    }
    let Some((start, end)) = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .as_deref()
        .and_then(arg_area)
    else {
        return;
    };
    let bytes = title(args, end - start);
    // SAFETY: [start, end) is this process's own argv string area, mapped
    // writable on its stack since exec, and `bytes` is exactly that long.
    // std keeps pointers into it for `std::env::args`, which nothing calls
    // once the guest runs; the area's strings are only ever replaced by
    // other NUL-terminated strings.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), start as *mut u8, bytes.len()) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_area_is_read_after_the_command_name() {
        let mut fields: Vec<String> = (3..=52).map(|n| n.to_string()).collect();
        fields[48 - 3] = "1000".into();
        fields[49 - 3] = "1040".into();
        let stat = format!("7 (we ird) name) {}", fields.join(" "));
        assert_eq!(arg_area(&stat), Some((1000, 1040)));
        assert_eq!(arg_area("7 (x) S"), None);
    }

    #[test]
    fn titles_fit_the_area_and_end_in_nul() {
        let args = vec!["/app/hello.wasm".to_string(), "a b".to_string()];
        assert_eq!(title(&args, 24), b"/app/hello.wasm\0a b\0\0\0\0\0".to_vec());
        let cut = title(&args, 8);
        assert_eq!(cut, b"/app/he\0".to_vec());
        assert_eq!(title(&[], 3), vec![0, 0, 0]);
    }

    #[test]
    fn the_real_area_is_found() {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let (start, end) = arg_area(&stat).unwrap();
        assert!(end - start >= 2);
    }
}
