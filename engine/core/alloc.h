/* alloc.h - the allocator hook every engine object stores.
 *
 * The default hook is a private jemalloc arena (jemalloc_alloc.h): the
 * engine's bytes can be read from that arena's statistics, and it never
 * mixes with the host's malloc heap. It falls back to libc when jemalloc is
 * not in the process or cannot make an arena, and when the engine is built
 * with a sanitizer (ASan/TSan/MSan see nothing inside jemalloc's arenas, so
 * libc keeps engine buffers under their watch). A firmware may pass its own
 * hook instead; ivcs_allocator_or_default() picks. */
#ifndef IVCS_CORE_ALLOC_H
#define IVCS_CORE_ALLOC_H

#include <stddef.h>

#include "ivcs_base.h"

#ifdef __cplusplus
extern "C" {
#endif

struct ivcs_jemalloc_allocator_s;

/* The process-wide default allocator (see above), created on first use;
 * never NULL, lives until exit. Any thread. */
const ivcs_allocator_s *ivcs_allocator_default(void);

/* The jemalloc arena behind ivcs_allocator_default(), for its statistics
 * (ivcs_jemalloc_allocator_stats); NULL when the default is libc. Never
 * destroy it. Any thread. */
const struct ivcs_jemalloc_allocator_s *ivcs_allocator_default_jemalloc(void);

/* libc aligned allocation (posix_memalign/free). Never NULL. Any thread. */
const ivcs_allocator_s *ivcs_allocator_libc(void);

/* a if non-NULL, else the default. */
static inline const ivcs_allocator_s *ivcs_allocator_or_default(const ivcs_allocator_s *a)
{
    return a ? a : ivcs_allocator_default();
}

static inline void *ivcs_alloc(const ivcs_allocator_s *a, size_t size, size_t align)
{
    return a->alloc(a->ctx, size, align);
}

static inline void ivcs_free(const ivcs_allocator_s *a, void *p, size_t size)
{
    if (p) a->free(a->ctx, p, size);
}

#ifdef __cplusplus
}
#endif
#endif
