#!/usr/bin/env python3
"""Page-cache residency of a file, for a page-level text profile.

    pages.py evict FILE      drop FILE's pages from the page cache
    pages.py resident FILE   print the index of every resident 4 KiB page

On a file system whose read-ahead is off, after an eviction, the resident
pages are exactly those some process touched (a fault reads one page, and
fault-around only maps pages already cached).
"""
import ctypes
import mmap
import os
import sys


def evict(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def resident(path):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
    libc.mincore.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p]
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        pages = (size + 4095) // 4096
        vec = (ctypes.c_ubyte * pages)()
        addr = libc.mmap(None, size, mmap.PROT_READ, mmap.MAP_SHARED, fd, 0)
        if addr in (None, ctypes.c_void_p(-1).value):
            sys.exit(f"error: {path}: mmap failed")
        try:
            if libc.mincore(addr, size, vec) != 0:
                sys.exit(f"error: {path}: mincore: errno {ctypes.get_errno()}")
        finally:
            libc.munmap(addr, size)
    finally:
        os.close(fd)
    for i in range(pages):
        if vec[i] & 1:
            print(i)


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("evict", "resident"):
        sys.exit(__doc__)
    {"evict": evict, "resident": resident}[sys.argv[1]](sys.argv[2])
