/* alloc.c - the default allocator hook. */
#include "engine/core/alloc.h"

#include <stdlib.h>

static void *libc_alloc(void *ctx, size_t size, size_t align)
{
    (void)ctx;
    if (align < sizeof(void *)) align = sizeof(void *);
    void *p = NULL;
    return posix_memalign(&p, align, size ? size : 1) == 0 ? p : NULL;
}

static void libc_free(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    (void)size;
    free(ptr);
}

static const ivcs_allocator_s libc_allocator = {libc_alloc, libc_free, NULL};

const ivcs_allocator_s *ivcs_allocator_default(void)
{
    return &libc_allocator;
}
