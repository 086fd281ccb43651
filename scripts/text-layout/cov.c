/* Function-entry coverage for scripts/text-layout.sh: each guard (one per
 * instrumented function) records its function's address, relative to the
 * executable's start, in a file-backed shared array, so every process of
 * every invocation adds to one record, even those that later exec. The
 * file is $HAKO_COV_MAP; without it (a proc macro or build script that
 * shares an instrumented crate) nothing is recorded. */
#include <stdint.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdlib.h>
extern char __executable_start;
static uint64_t *pcs;
static uint32_t count;
void __sanitizer_cov_trace_pc_guard_init(uint32_t *start, uint32_t *stop) {
    if (start == stop || *start) return;
    for (uint32_t *g = start; g < stop; g++) *g = ++count;
    const char *path = getenv("HAKO_COV_MAP");
    if (!path || !*path) return;
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return;
    if (ftruncate(fd, (off_t)(count + 1) * 8) == 0) {
        void *m = mmap(0, (size_t)(count + 1) * 8, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
        if (m != MAP_FAILED) pcs = m;
    }
    close(fd);
}
void __sanitizer_cov_trace_pc_guard(uint32_t *guard) {
    uint32_t i = *guard;
    if (!i || !pcs) return;
    *guard = 0;
    pcs[i] = (uint64_t)((uintptr_t)__builtin_return_address(0) - (uintptr_t)&__executable_start);
}
