/* jemalloc_alloc.c - ivcs_allocator_s on a private jemalloc arena
 * (see jemalloc_alloc.h for the design and the linking decision). */
#include "engine/core/jemalloc_alloc.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <jemalloc/jemalloc.h>

#include "iv_err.h"
#include "ivcs_err.h"

/* Weak references: an object linked without libjemalloc still loads, and
 * these are then NULL unless the process has jemalloc from elsewhere
 * (ivcs_jemalloc_available). When libjemalloc is linked they bind as
 * usual. */
#pragma weak mallocx
#pragma weak sdallocx
#pragma weak dallocx
#pragma weak nallocx
#pragma weak mallctl

int ivcs_jemalloc_available(void)
{
    return mallocx && sdallocx && dallocx && nallocx && mallctl;
}

/* MALLOCX_LG_ALIGN flag for align (0 or 1: none); -1 if not a power of 2. */
static int align_flag(size_t align)
{
    if (align <= 1) return 0;
    if (align & (align - 1)) return -1;
    return MALLOCX_LG_ALIGN(__builtin_ctzll((unsigned long long)align));
}

static void *je_alloc(void *ctx, size_t size, size_t align)
{
    const ivcs_jemalloc_allocator_s *ja = ctx;
    int af = align_flag(align);
    if (af < 0) return NULL;
    /* mallocx(0) is undefined; the free side maps 0 the same way (small). */
    return mallocx(size ? size : 1, ja->flags | af);
}

static void je_free(void *ctx, void *ptr, size_t size)
{
    const ivcs_jemalloc_allocator_s *ja = ctx;
    if (!ptr) return;
    /* TCACHE_NONE in both: a freed block must go back to the arena now, not
     * into this thread's cache (where it would still count as allocated and
     * would outlive arena.<i>.destroy). */
    if (size >= ja->large_min)
        sdallocx(ptr, size, ja->flags);
    else
        dallocx(ptr, ja->flags); /* alignment may have raised the class: look it up */
}

static int ctl_read(const char *name, void *out, size_t len)
{
    size_t got = len;
    if (mallctl(name, out, &got, NULL, 0) != 0 || got != len) return -1;
    return 0;
}

/* "stats.arenas.<arena>.<leaf>" into out (len bytes). */
static int arena_stat(unsigned arena, const char *leaf, void *out, size_t len)
{
    char name[96];
    snprintf(name, sizeof name, "stats.arenas.%u.%s", arena, leaf);
    return ctl_read(name, out, len);
}

int ivcs_jemalloc_allocator_init(ivcs_jemalloc_allocator_s *ja)
{
    if (!ja) return IVCS_ERR_INVALID_ARG;
    memset(ja, 0, sizeof *ja);
    if (!ivcs_jemalloc_available()) return IVCS_ERR_UNSUPPORTED;

    unsigned arena = 0;
    if (ctl_read("arenas.create", &arena, sizeof arena) != 0) return IV_ERR_SYS_MALLOC_FAIL;

    size_t large_min = 0;
    /* Unknown threshold: never use the sized free (dallocx is always right). */
    if (ctl_read("arenas.lextent.0.size", &large_min, sizeof large_min) != 0)
        large_min = (size_t)-1;
    bool stats = false;
    if (ctl_read("config.stats", &stats, sizeof stats) != 0) stats = false;

    ja->arena = arena;
    ja->flags = MALLOCX_ARENA(arena) | MALLOCX_TCACHE_NONE;
    ja->large_min = large_min;
    ja->stats = stats ? 1 : 0;
    ja->allocator.alloc = je_alloc;
    ja->allocator.free = je_free;
    ja->allocator.ctx = ja;
    return 0;
}

int ivcs_jemalloc_allocator_stats(const ivcs_jemalloc_allocator_s *ja, ivcs_jemalloc_stats_s *out)
{
    if (!ja || !out || !ja->allocator.alloc) return IVCS_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    if (!ja->stats) return IVCS_ERR_UNSUPPORTED;

    /* Stats are a snapshot taken when the epoch advances. */
    uint64_t epoch = 1;
    size_t elen = sizeof epoch;
    if (mallctl("epoch", &epoch, &elen, &epoch, sizeof epoch) != 0) return IVCS_ERR_UNSUPPORTED;

    size_t small_alloc, large_alloc, pactive, page;
    uint64_t small_n, small_d, large_n, large_d;
    unsigned a = ja->arena;
    if (arena_stat(a, "small.allocated", &small_alloc, sizeof small_alloc) ||
        arena_stat(a, "large.allocated", &large_alloc, sizeof large_alloc) ||
        arena_stat(a, "small.nmalloc", &small_n, sizeof small_n) ||
        arena_stat(a, "small.ndalloc", &small_d, sizeof small_d) ||
        arena_stat(a, "large.nmalloc", &large_n, sizeof large_n) ||
        arena_stat(a, "large.ndalloc", &large_d, sizeof large_d) ||
        arena_stat(a, "pactive", &pactive, sizeof pactive) ||
        arena_stat(a, "resident", &out->resident, sizeof out->resident) ||
        arena_stat(a, "mapped", &out->mapped, sizeof out->mapped) ||
        arena_stat(a, "base", &out->metadata, sizeof out->metadata) ||
        ctl_read("arenas.page", &page, sizeof page))
        return IVCS_ERR_UNSUPPORTED;

    out->allocated = small_alloc + large_alloc;
    out->active = pactive * page;
    out->nmalloc = small_n + large_n;
    out->ndalloc = small_d + large_d;
    out->live = out->nmalloc - out->ndalloc;
    return 0;
}

int ivcs_jemalloc_allocator_destroy(ivcs_jemalloc_allocator_s *ja)
{
    if (!ja || !ja->allocator.alloc) return 0;
    if (ja->stats) {
        ivcs_jemalloc_stats_s st;
        int rc = ivcs_jemalloc_allocator_stats(ja, &st);
        if (rc != 0) return rc;
        /* Destroying would discard live blocks under their owners' feet. */
        if (st.live != 0 || st.allocated != 0) return IVCS_ERR_STATE;
    }
    char name[64];
    snprintf(name, sizeof name, "arena.%u.destroy", ja->arena);
    if (mallctl(name, NULL, NULL, NULL, 0) != 0) return IV_ERR_SYS_MALLOC_FAIL;
    memset(ja, 0, sizeof *ja);
    return 0;
}

size_t ivcs_jemalloc_size_class(size_t size, size_t align)
{
    int af = align_flag(align);
    if (af < 0 || !ivcs_jemalloc_available()) return 0;
    return nallocx(size ? size : 1, af);
}

long ivcs_jemalloc_arena_of(const void *ptr)
{
    if (!ptr || !ivcs_jemalloc_available()) return -1;
    unsigned arena = 0;
    size_t len = sizeof arena;
    if (mallctl("arenas.lookup", &arena, &len, (void *)&ptr, sizeof ptr) != 0) return -1;
    return (long)arena;
}
