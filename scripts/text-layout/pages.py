#!/usr/bin/env python3
"""Page-cache residency of a file, for a page-level text profile.

    pages.py evict FILE       drop FILE's pages from the page cache
    pages.py resident FILE    print the index of every resident page
    pages.py mapped PID FILE  the same for the pages of FILE that process
                              PID has mapped (/proc/PID/pagemap)

On a file system whose read-ahead is off, after an eviction, the resident
pages are exactly those some process touched (a fault reads one page, and
fault-around only maps pages already cached).
"""
import ctypes
import mmap
import os
import struct
import sys

PAGE = mmap.PAGESIZE


def evict(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        # Dirty pages (a file just copied) are not dropped: write them first.
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)
    left = len(resident_pages(path))
    if left:
        sys.exit(f"error: {path}: {left} pages still cached after eviction (mapped by a running process?)")


def resident_pages(path):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        pages = (size + PAGE - 1) // PAGE
        vec = (ctypes.c_ubyte * pages)()
        addr = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        if addr in (None, ctypes.c_void_p(-1).value):
            sys.exit(f"error: {path}: mmap: errno {ctypes.get_errno()}")
        try:
            if libc.mincore(addr, size, vec) != 0:
                sys.exit(f"error: {path}: mincore: errno {ctypes.get_errno()}")
        finally:
            libc.munmap(addr, size)
    finally:
        os.close(fd)
    return [i for i in range(pages) if vec[i] & 1]


def resident(path):
    for page in resident_pages(path):
        print(page)


def mapped(pid, path):
    real = os.path.realpath(path)
    found = set()
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/pagemap", "rb") as pagemap:
        for line in maps:
            fields = line.split(maxsplit=5)
            if len(fields) < 6 or fields[5].strip() != real:
                continue
            lo, hi = (int(x, 16) for x in fields[0].split("-"))
            offset = int(fields[2], 16)
            for addr in range(lo, hi, PAGE):
                pagemap.seek(addr // PAGE * 8)
                (entry,) = struct.unpack("<Q", pagemap.read(8))
                if entry >> 63:  # present
                    found.add((offset + addr - lo) // PAGE)
    for page in sorted(found):
        print(page)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "mapped":
        mapped(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] in ("evict", "resident"):
        {"evict": evict, "resident": resident}[sys.argv[1]](sys.argv[2])
    else:
        sys.exit(__doc__)
