//! Letting go of the code and read-only data a guest's process is done
//! with.
//!
//! When a wasm guest's code is about to run, init has run hako's own
//! create-time code and the engine's compiler, loader and instantiation:
//! their executable pages, and the read-only ones they read (constants,
//! unwind tables, the dynamic loader's relocation tables), stay mapped,
//! and count in init's RSS and PSS (for a guest alone, several MB of the
//! engine plugin, its libraries and the hako binary) although most are
//! never used again. Each engine calls [`release`] right before it enters
//! the guest's `_start`, which drops them from the process's page tables
//! with `MADV_DONTNEED`: the pages stay in the page cache, shared with
//! every other process, and whatever is used again faults back in from
//! the file, exactly as after the kernel reclaimed a clean page under
//! memory pressure.
//!
//! Only the non-writable segments of the loaded ELF objects (hako, the
//! plugin, their libraries; found with `dl_iterate_phdr`, no /proc
//! needed) are touched, rounded inward to whole pages: nothing ever
//! writes them, so the file holds exactly what was mapped. Writable
//! segments and the relocated data the loader made read-only afterwards
//! (RELRO) are left alone, and so is an object whose loader patched its
//! code (text relocations), the vDSO, everything anonymous (the guest's
//! code and memory), and any page that `/proc/self/pagemap` shows is the
//! process's own copy after all (a breakpoint, a uprobe).

use std::ffi::c_void;

/// A program header of a loaded object, as far as [`releasable`] needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    /// `PT_LOAD`, `PT_GNU_RELRO`, …
    pub kind: u32,
    /// `PF_*` flags.
    pub flags: u32,
    /// Offset of the segment from the object's load address.
    pub vaddr: usize,
    /// Bytes of it backed by the file.
    pub filesz: usize,
    /// Bytes of it in memory.
    pub memsz: usize,
}

/// The whole pages, as address ranges, of an object loaded at `base`
/// that hold only file contents nothing writes: its non-writable
/// `PT_LOAD` segments, rounded inward to `page`, less every page a
/// writable segment or RELRO touches.
pub fn releasable(base: usize, segments: &[Segment], page: usize) -> Vec<(usize, usize)> {
    let down = |a: usize| a & !(page - 1);
    let up = |a: usize| (a + page - 1) & !(page - 1);
    let kept: Vec<(usize, usize)> = segments
        .iter()
        .filter(|s| {
            (s.kind == libc::PT_LOAD && s.flags & libc::PF_W != 0) || s.kind == libc::PT_GNU_RELRO
        })
        .map(|s| (down(base + s.vaddr), up(base + s.vaddr + s.memsz)))
        .collect();
    let mut out = Vec::new();
    for s in segments {
        if s.kind != libc::PT_LOAD || s.flags & libc::PF_W != 0 {
            continue;
        }
        let (start, end) = (
            up(base + s.vaddr),
            down(base + s.vaddr + s.filesz.min(s.memsz)),
        );
        let mut pieces = vec![(start, end)];
        for &(ks, ke) in &kept {
            pieces = pieces
                .into_iter()
                .flat_map(|(a, b)| [(a, b.min(ks)), (a.max(ke), b)])
                .filter(|(a, b)| a < b)
                .collect();
        }
        out.extend(pieces.into_iter().filter(|(a, b)| a < b));
    }
    out
}

const DT_NULL: i64 = 0;
const DT_TEXTREL: i64 = 22;
const DT_FLAGS: i64 = 30;
const DF_TEXTREL: u64 = 0x4;

/// Whether the object's dynamic section asks the loader to patch its
/// code (text relocations).
///
/// # Safety
/// `dynamic` is the address of a loaded object's `PT_DYNAMIC`.
unsafe fn has_text_relocations(dynamic: *const [u64; 2]) -> bool {
    let mut entry = dynamic;
    loop {
        // SAFETY: the dynamic section is an array of (tag, value) pairs
        // ending with DT_NULL, mapped as long as the object is loaded.
        let [tag, value] = unsafe { *entry };
        match tag as i64 {
            DT_NULL => return false,
            DT_TEXTREL => return true,
            DT_FLAGS if value & DF_TEXTREL != 0 => return true,
            _ => {}
        }
        // SAFETY: not past DT_NULL yet.
        entry = unsafe { entry.add(1) };
    }
}

/// Collects each loaded object's releasable ranges (`dl_iterate_phdr`'s
/// callback; `data` is the `Vec` of ranges).
unsafe extern "C" fn collect(
    info: *mut libc::dl_phdr_info,
    _size: usize,
    data: *mut c_void,
) -> i32 {
    // SAFETY: the loader passes a valid info for the call's duration, and
    // `data` is the Vec `ranges` lends.
    let (info, ranges) = unsafe { (&*info, &mut *data.cast::<Vec<(usize, usize)>>()) };
    if info.dlpi_phdr.is_null() {
        return 0;
    }
    // SAFETY: dlpi_phdr points at dlpi_phnum program headers.
    let phdrs = unsafe { std::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum.into()) };
    let base = info.dlpi_addr as usize;
    // SAFETY: getauxval only reads the auxiliary vector.
    let vdso = unsafe { libc::getauxval(libc::AT_SYSINFO_EHDR) } as usize;
    let segments: Vec<Segment> = phdrs
        .iter()
        .map(|p| Segment {
            kind: p.p_type,
            flags: p.p_flags,
            vaddr: p.p_vaddr as usize,
            filesz: p.p_filesz as usize,
            memsz: p.p_memsz as usize,
        })
        .collect();
    let is_vdso = segments.iter().any(|s| {
        s.kind == libc::PT_LOAD && (base + s.vaddr..base + s.vaddr + s.memsz).contains(&vdso)
    });
    let patched = segments.iter().any(|s| {
        // SAFETY: the object is loaded, its PT_DYNAMIC mapped.
        s.kind == libc::PT_DYNAMIC
            && unsafe { has_text_relocations((base + s.vaddr) as *const [u64; 2]) }
    });
    if !is_vdso && !patched {
        // SAFETY: sysconf has no preconditions.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
        ranges.extend(releasable(base, &segments, page));
    }
    0
}

/// The ranges [`release`] lets go of.
pub fn loaded_ranges() -> Vec<(usize, usize)> {
    let mut ranges: Vec<(usize, usize)> = Vec::new();
    // SAFETY: `collect` matches the callback type and treats `data` as the
    // Vec lent here for the call.
    unsafe { libc::dl_iterate_phdr(Some(collect), (&mut ranges as *mut Vec<_>).cast()) };
    ranges
}

/// Bits of a `/proc/<pid>/pagemap` entry.
const PAGE_PRESENT: u64 = 1 << 63;
const PAGE_SWAPPED: u64 = 1 << 62;
const PAGE_FILE: u64 = 1 << 61;

/// The runs of pages, from `start`, whose pagemap `entries` show no page
/// of the process's own: pages that are the file's, or not mapped. A page
/// of its own (present or swapped, not the file's) is one something
/// wrote after all: a debugger's breakpoint, a uprobe, a library that
/// patches code. Dropping it would undo that, so it stays.
pub fn file_runs(start: usize, entries: &[u64], page: usize) -> Vec<(usize, usize)> {
    let own = |e: u64| e & (PAGE_PRESENT | PAGE_SWAPPED) != 0 && e & PAGE_FILE == 0;
    let mut runs = Vec::new();
    let mut run_start = None;
    // A page of its own past the end closes the last run.
    for (i, &entry) in entries.iter().chain([&PAGE_PRESENT]).enumerate() {
        let at = start + i * page;
        match (own(entry), run_start) {
            (false, None) => run_start = Some(at),
            (true, Some(s)) => {
                runs.push((s, at));
                run_start = None;
            }
            _ => {}
        }
    }
    runs
}

/// The pagemap entries of `[start, end)`.
fn pagemap(file: &std::fs::File, start: usize, end: usize, page: usize) -> Option<Vec<u64>> {
    use std::os::unix::fs::FileExt;
    let mut bytes = vec![0u8; (end - start) / page * 8];
    file.read_exact_at(&mut bytes, (start / page * 8) as u64)
        .ok()?;
    Some(
        bytes
            .chunks_exact(8)
            .map(|b| u64::from_ne_bytes(b.try_into().unwrap_or_default()))
            .collect(),
    )
}

/// Drops this process's mappings of clean read-only and executable file
/// pages (see the module). Call it single-threaded, right before guest
/// code runs. Best effort: without /proc (whose pagemap tells the pages
/// that are the file's), or where the kernel refuses, nothing changes.
pub fn release() {
    let Ok(map) = std::fs::File::open("/proc/self/pagemap") else {
        return;
    };
    // SAFETY: sysconf has no preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as usize;
    for (start, end) in loaded_ranges() {
        let Some(entries) = pagemap(&map, start, end, page) else {
            continue;
        };
        for (from, to) in file_runs(start, &entries, page) {
            // SAFETY: whole pages of a loaded object's segment that is
            // never written (`releasable`) and holds no page of this
            // process's own (`file_runs`): MADV_DONTNEED only unmaps them
            // from this process, and the next access reads the same bytes
            // from the file.
            unsafe { libc::madvise(from as *mut c_void, to - from, libc::MADV_DONTNEED) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const R: u32 = libc::PF_R;
    const RX: u32 = libc::PF_R | libc::PF_X;
    const RW: u32 = libc::PF_R | libc::PF_W;

    fn seg(kind: u32, flags: u32, vaddr: usize, size: usize) -> Segment {
        Segment {
            kind,
            flags,
            vaddr,
            filesz: size,
            memsz: size,
        }
    }

    /// A typical object: read-only headers and constants, code, then a
    /// writable segment whose first part is RELRO.
    #[test]
    fn only_whole_pages_of_segments_nothing_writes() {
        let base = 0x7f00_0000_0000;
        let segments = [
            seg(libc::PT_LOAD, R, 0, 0x1800),
            seg(libc::PT_LOAD, RX, 0x2000, 0x5000),
            seg(libc::PT_LOAD, R, 0x7000, 0x3000),
            // Writable: RELRO (relocated, then made read-only), then data.
            seg(libc::PT_LOAD, RW, 0x9e40, 0x4000),
            seg(libc::PT_GNU_RELRO, R, 0x9e40, 0x21c0),
            seg(libc::PT_DYNAMIC, RW, 0xa000, 0x200),
        ];
        assert_eq!(
            releasable(base, &segments, 0x1000),
            vec![
                // The partial last page of the headers is kept.
                (base, base + 0x1000),
                (base + 0x2000, base + 0x7000),
                // Its last page is shared with the writable segment.
                (base + 0x7000, base + 0x9000),
            ]
        );
    }

    #[test]
    fn bss_beyond_the_file_and_writable_objects_are_kept() {
        let segments = [
            seg(libc::PT_LOAD, RW, 0, 0x4000),
            Segment {
                kind: libc::PT_LOAD,
                flags: R,
                vaddr: 0x4000,
                filesz: 0x1000,
                memsz: 0x3000,
            },
        ];
        assert_eq!(releasable(0, &segments, 0x1000), vec![(0x4000, 0x5000)]);
        assert!(releasable(0, &segments[..1], 0x1000).is_empty());
    }

    #[test]
    fn relro_is_kept_even_in_a_read_only_segment() {
        let segments = [
            seg(libc::PT_LOAD, RX, 0, 0x4000),
            seg(libc::PT_LOAD, R, 0x4000, 0x4000),
            seg(libc::PT_GNU_RELRO, R, 0x5000, 0x1000),
        ];
        assert_eq!(
            releasable(0, &segments, 0x1000),
            vec![(0, 0x4000), (0x4000, 0x5000), (0x6000, 0x8000)]
        );
    }

    #[test]
    fn text_relocations_are_found_in_the_dynamic_section() {
        let plain: [[u64; 2]; 3] = [[1, 7], [DT_FLAGS as u64, 0x8], [0, 0]];
        let textrel: [[u64; 2]; 3] = [[1, 7], [DT_TEXTREL as u64, 0], [0, 0]];
        let flagged: [[u64; 2]; 2] = [[DT_FLAGS as u64, DF_TEXTREL | 0x8], [0, 0]];
        // SAFETY: each array ends with DT_NULL.
        unsafe {
            assert!(!has_text_relocations(plain.as_ptr()));
            assert!(has_text_relocations(textrel.as_ptr()));
            assert!(has_text_relocations(flagged.as_ptr()));
        }
    }

    /// Pages of the process's own (written, a breakpoint) split the runs;
    /// unmapped pages do not.
    #[test]
    fn own_pages_stay() {
        let file = PAGE_PRESENT | PAGE_FILE;
        let own = PAGE_PRESENT;
        let entries = [file, 0, own, file, PAGE_SWAPPED, file, file];
        assert_eq!(
            file_runs(0x1000, &entries, 0x1000),
            vec![(0x1000, 0x3000), (0x4000, 0x5000), (0x6000, 0x8000)]
        );
        assert!(file_runs(0, &[own], 0x1000).is_empty());
        assert_eq!(file_runs(0, &[0, 0], 0x1000), vec![(0, 0x2000)]);
    }

    #[test]
    fn the_vdso_is_never_released() {
        // SAFETY: getauxval only reads the auxiliary vector.
        let vdso = unsafe { libc::getauxval(libc::AT_SYSINFO_EHDR) } as usize;
        assert_ne!(vdso, 0);
        assert!(loaded_ranges()
            .iter()
            .all(|&(s, e)| !(s..e).contains(&vdso)));
    }

    /// This test process's own code is among the ranges, its writable
    /// data never; it keeps running, and calling, code whose pages it has
    /// just let go of, and reading its constants.
    #[test]
    fn code_runs_on_after_its_pages_are_released() {
        static mut WRITTEN: u64 = 0;
        let ranges = loaded_ranges();
        let inside = |a: usize| ranges.iter().any(|&(s, e)| (s..e).contains(&a));
        let code = code_runs_on_after_its_pages_are_released as fn() as usize;
        assert!(inside(code), "no range holds the test's own code");
        // SAFETY: only this test touches it, once.
        let data = unsafe {
            WRITTEN = 42;
            std::ptr::addr_of!(WRITTEN) as usize
        };
        assert!(!inside(data), "a range holds writable data");
        release();
        assert_eq!(format!("{}", 6 * 7), "42");
        let text: &'static str = "read-only data, read again";
        assert_eq!(text.len(), 26);
        // SAFETY: as above.
        assert_eq!(unsafe { WRITTEN }, 42);
    }
}
