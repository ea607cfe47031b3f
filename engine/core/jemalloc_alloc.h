/*
 * jemalloc_alloc.h - an ivcs_allocator_s that allocates in a private
 * jemalloc arena, so the bytes an engine (or one channel) holds can be read
 * exactly from jemalloc's per-arena statistics.
 *
 * How. ivcs_jemalloc_allocator_init() creates an arena with
 * mallctl("arenas.create"). Every allocation is
 * mallocx(size, MALLOCX_ARENA(a) | MALLOCX_TCACHE_NONE | MALLOCX_LG_ALIGN(lg)):
 * no thread cache, so a free returns the bytes to the arena at once and the
 * arena's "allocated" counter is exact at any moment (with a tcache, freed
 * blocks would sit in per-thread caches and still count as allocated).
 * Arenas made by "arenas.create" are never picked automatically for a
 * thread, so nothing but this allocator puts bytes in them.
 *
 * Freeing uses sdallocx(ptr, size, flags) (sized, no size lookup) for
 * large sizes, where jemalloc's size class does not depend on the
 * alignment; for small sizes an over-aligned request can land in a larger
 * class than the size alone gives, and the free hook is not told the
 * alignment, so those go through dallocx(), which looks the class up.
 *
 * Linking. Debian's jemalloc has no symbol prefix: libjemalloc.so.2
 * defines malloc/free as well as mallocx/sdallocx/mallctl. Decision (a):
 * libivcs links it and calls mallocx & co directly, in private arenas.
 * Consequences, checked on Debian 12 / glibc 2.36:
 *   - A host that links libivcs.so keeps glibc's malloc: the dynamic linker
 *     searches the executable's own dependencies (libc among them) before
 *     libivcs's (libjemalloc), so malloc binds to glibc. Only a program that
 *     itself links -ljemalloc (e.g. our tests, via ivcs_static) gets
 *     jemalloc's malloc for the whole process.
 *   - libjemalloc.so.2 uses initial-exec TLS (DF_STATIC_TLS, ~2.6 KB); glibc
 *     cannot dlopen() it after startup ("cannot allocate memory in static TLS
 *     block"), so neither can it dlopen a library that NEEDs it (Python
 *     importing a module linked with libivcs). Such hosts need jemalloc
 *     loaded at startup (LD_PRELOAD=libjemalloc.so.2) or
 *     GLIBC_TUNABLES=glibc.rtld.optional_static_tls=16384.
 * To keep the second case open, the jemalloc functions are referenced
 * weakly: an object that is not linked with jemalloc still loads, and then
 * uses jemalloc when the process already has it and libc when it does not
 * (ivcs_jemalloc_available() says which).
 *
 * Sanitizers. ASan/TSan/MSan cannot see inside jemalloc's arenas (no
 * redzones, no use-after-free or race tracking on memory jemalloc hands
 * out), so when the engine is built with a sanitizer ivcs_allocator_default()
 * stays on libc (alloc.h); this allocator still works there when asked for
 * explicitly.
 *
 * Threads. alloc/free/stats may be called from any thread at once. init and
 * destroy are not concurrent with anything else on the same object.
 */
#ifndef IVCS_CORE_JEMALLOC_ALLOC_H
#define IVCS_CORE_JEMALLOC_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "ivcs_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One private arena. Caller-owned storage; must not move after init,
 * because `allocator.ctx` points at it. */
typedef struct ivcs_jemalloc_allocator_s {
    ivcs_allocator_s allocator; /* the hook to hand out: alloc/free in this arena */
    unsigned arena;             /* jemalloc arena index */
    int flags;                  /* MALLOCX_ARENA(arena) | MALLOCX_TCACHE_NONE */
    size_t large_min;           /* smallest large size class (sdallocx threshold) */
    int stats;                  /* jemalloc was built with --enable-stats */
} ivcs_jemalloc_allocator_s;

/* A snapshot of one arena's counters (jemalloc "stats.arenas.<i>.*"). */
typedef struct ivcs_jemalloc_stats_s {
    size_t allocated; /* bytes in live allocations, each rounded up to its
                         size class (small.allocated + large.allocated) */
    size_t active;    /* bytes in pages holding live allocations (pactive) */
    size_t resident;  /* bytes of the arena physically resident, metadata included */
    size_t mapped;    /* bytes the arena has mapped */
    size_t metadata;  /* bytes of jemalloc bookkeeping for the arena (base) */
    uint64_t nmalloc; /* allocations served since the arena was created */
    uint64_t ndalloc; /* deallocations since the arena was created */
    uint64_t live;    /* nmalloc - ndalloc: allocations not yet freed */
} ivcs_jemalloc_stats_s;

/* 1 when the jemalloc API (mallocx, sdallocx, dallocx, nallocx, mallctl) is
 * present in the process, else 0. Thread-safe. */
int ivcs_jemalloc_available(void);

/* Creates a private arena and fills *ja; ja->allocator is then the hook.
 * Returns 0; IVCS_ERR_INVALID_ARG for NULL; IVCS_ERR_UNSUPPORTED when
 * jemalloc is not in the process; IV_ERR_SYS_MALLOC_FAIL when jemalloc
 * refuses a new arena. On failure *ja is unusable (but zeroed, so a
 * destroy on it is a harmless no-op). Never aborts. Any thread. */
__attribute__((warn_unused_result)) int ivcs_jemalloc_allocator_init(ivcs_jemalloc_allocator_s *ja);

/* Destroys the arena (mallctl "arena.<i>.destroy") and returns its memory
 * to the system. Everything allocated through it must have been freed:
 * when allocations are still live (by the arena's counters) nothing is
 * destroyed and IVCS_ERR_STATE is returned, so no pointer is left
 * dangling; free them and call again. Returns 0 on success and for a
 * NULL, zeroed or already destroyed object; IV_ERR_SYS_MALLOC_FAIL if
 * jemalloc refuses. Not concurrent with any other use of ja. */
int ivcs_jemalloc_allocator_destroy(ivcs_jemalloc_allocator_s *ja);

/* Reads the arena's counters into *out after refreshing jemalloc's stats
 * epoch (which takes jemalloc's control lock: not for hot paths). Because
 * the arena has no thread cache, `allocated` equals the sum of
 * ivcs_jemalloc_size_class() over the live allocations. Returns 0;
 * IVCS_ERR_INVALID_ARG for NULL or an uninitialised ja;
 * IVCS_ERR_UNSUPPORTED when jemalloc was built without statistics. Any
 * thread. */
__attribute__((warn_unused_result)) int
ivcs_jemalloc_allocator_stats(const ivcs_jemalloc_allocator_s *ja, ivcs_jemalloc_stats_s *out);

/* The bytes jemalloc really reserves for a request of `size` bytes aligned
 * to `align` (0 or a power of two), i.e. its size class (nallocx); 0 when
 * the request is invalid or jemalloc is absent. Any thread. */
size_t ivcs_jemalloc_size_class(size_t size, size_t align);

/* The index of the arena that holds ptr (mallctl "arenas.lookup"), or -1
 * on error. ptr must be a live allocation made by jemalloc (any arena;
 * malloc counts when jemalloc is the process's malloc): jemalloc does not
 * promise to survive a lookup of a foreign pointer. For tests and
 * diagnostics. */
long ivcs_jemalloc_arena_of(const void *ptr);

#ifdef __cplusplus
}
#endif
#endif
