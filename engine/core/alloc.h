/* alloc.h - the allocator hook every engine object stores. */
#ifndef IVCS_CORE_ALLOC_H
#define IVCS_CORE_ALLOC_H

#include <stddef.h>

#include "ivcs.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The default allocator (libc aligned allocation). */
const ivcs_allocator_s *ivcs_allocator_default(void);

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
