//! Letting go of the code and read-only data a guest's process is done
//! with.
//!
//! When a wasm guest's code is about to run, init has run hako's own
//! create-time code and the engine's compiler, loader and instantiation:
//! their executable pages, and the read-only ones they read (constants,
//! unwind tables, the dynamic loader's relocation tables), stay mapped,
//! and count in init's RSS and PSS (for a guest alone, several MB of the
//! engine plugin, its libraries and the hako binary) although most are
//! never used again. Each engine calls [`release`]
//! right before it enters the guest's `_start`, which drops them from the
//! process's page tables with `MADV_DONTNEED`:
//! the pages stay in the page cache, shared with every other process, and
//! whatever is used again faults back in from the file, exactly as after
//! the kernel reclaimed a clean page under memory pressure. Only private,
//! read-only or executable, file-backed mappings with no page of their
//! own (no copy on write: nothing was ever written to them, so the file
//! holds exactly what was mapped) are touched. Relocated data (RELRO)
//! and code a loader relocated in place have such copies and are left
//! alone, as are writable mappings and anonymous ones (the guest's code
//! and memory).

/// The address ranges of private, read-only or executable, file-backed
/// mappings with no anonymous (copied-on-write) page, in a
/// `/proc/<pid>/smaps` text.
pub fn clean_file_ranges(smaps: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    // The mapping being read, if it qualifies so far.
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        if let Some(anon) = line.strip_prefix("Anonymous:") {
            if let Some(range) = current.take() {
                if anon.trim() == "0 kB" {
                    out.push(range);
                }
            }
        } else if let Some(range) = mapping_header(line) {
            current = range;
        }
    }
    out
}

/// For a mapping's header line of smaps: `Some(Some(range))` if it is a
/// private, read-only or executable (never writable) file mapping,
/// `Some(None)` for another mapping, `None` for a field line.
fn mapping_header(line: &str) -> Option<Option<(usize, usize)>> {
    let mut fields = line.split_whitespace();
    let (start, end) = fields.next()?.split_once('-')?;
    let start = usize::from_str_radix(start, 16).ok()?;
    let end = usize::from_str_radix(end, 16).ok()?;
    let perms = fields.next()?;
    let _offset = fields.next()?;
    let _device = fields.next()?;
    let inode = fields.next()?;
    let path = fields.next().unwrap_or("");
    let clean = matches!(perms, "r-xp" | "r--p") && inode != "0" && path.starts_with('/');
    Some((clean && start < end).then_some((start, end)))
}

/// Drops this process's mappings of clean read-only and executable file
/// pages (see the module). Call it single-threaded, right before guest
/// code runs. Best effort: without /proc, or where the kernel refuses,
/// nothing changes.
pub fn release() {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    for (start, end) in clean_file_ranges(&smaps) {
        // SAFETY: the range is a private file mapping with no page copied
        // on write (this process is single-threaded, nothing writes it
        // meanwhile): MADV_DONTNEED only unmaps its pages from this
        // process, and the next access reads the same bytes from the file.
        unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapping(header: &str, anonymous_kb: u32) -> String {
        format!("{header}\nSize:               1024 kB\nRss:                 512 kB\nAnonymous:      {anonymous_kb:>6} kB\nVmFlags: rd ex mr mw me\n")
    }

    #[test]
    fn only_private_read_only_file_mappings_without_copies() {
        let smaps = [
            mapping(
                "55d0c0a00000-55d0c0b00000 r--p 00000000 fe:01 1234 /usr/local/bin/hako",
                0,
            ),
            mapping(
                "55d0c0b00000-55d0c0f00000 r-xp 00100000 fe:01 1234 /usr/local/bin/hako",
                0,
            ),
            mapping(
                "55d0c0f80000-55d0c0f90000 rw-p 00580000 fe:01 1234 /usr/local/bin/hako",
                8,
            ),
            // RELRO: relocated, then made read-only.
            mapping(
                "55d0c0f00000-55d0c0f80000 r--p 00500000 fe:01 1234 /usr/local/bin/hako",
                12,
            ),
            mapping("7f0000000000-7f0000100000 r-xp 00000000 00:00 0 ", 64),
            mapping("7f0000400000-7f0000500000 r--p 00000000 00:00 0 ", 0),
            // Code relocated in place: a page of it was copied on write.
            mapping(
                "7f0000100000-7f0000200000 r-xp 00000000 fe:01 88 /var/lib/cache/module.bin",
                4,
            ),
            mapping(
                "7f0000200000-7f0000300000 r-xs 00000000 fe:01 99 /dev/shm/shared",
                0,
            ),
            mapping(
                "7f0000300000-7f0000400000 r-xp 00028000 fe:01 555 /usr/lib/libc.so.6",
                0,
            ),
            mapping("7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0 [vdso]", 0),
        ]
        .concat();
        assert_eq!(
            clean_file_ranges(&smaps),
            vec![
                (0x55d0c0a00000, 0x55d0c0b00000),
                (0x55d0c0b00000, 0x55d0c0f00000),
                (0x7f0000300000, 0x7f0000400000)
            ]
        );
    }

    /// This test process keeps running, and calling, code whose pages it
    /// has just let go of, and reading its constants.
    #[test]
    fn code_runs_on_after_its_pages_are_released() {
        let ranges = clean_file_ranges(&std::fs::read_to_string("/proc/self/smaps").unwrap());
        assert!(!ranges.is_empty());
        release();
        assert_eq!(format!("{}", 6 * 7), "42");
        let text: &'static str = "read-only data, read again";
        assert_eq!(text.len(), 26);
    }
}
