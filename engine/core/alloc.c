/* alloc.c - the default allocator hook: a private jemalloc arena, or libc
 * (see alloc.h for when and why). */
#include "engine/core/alloc.h"

#include <pthread.h>
#include <stdlib.h>

#include "engine/core/jemalloc_alloc.h"

/* Sanitizers track only the memory their own malloc hands out. gcc defines
 * __SANITIZE_*__; clang (and gcc >= 14) answer __has_feature. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define IVCS_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                         \
    __has_feature(memory_sanitizer)
#define IVCS_SANITIZED 1
#endif
#endif
#ifndef IVCS_SANITIZED
#define IVCS_SANITIZED 0
#endif

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

static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static ivcs_jemalloc_allocator_s default_je;
/* Written once inside pthread_once, which orders it before every reader. */
static const ivcs_allocator_s *default_alloc = &libc_allocator;

static void default_init(void)
{
    if (IVCS_SANITIZED) return;
    if (ivcs_jemalloc_allocator_init(&default_je) == 0) default_alloc = &default_je.allocator;
}

const ivcs_allocator_s *ivcs_allocator_default(void)
{
    pthread_once(&default_once, default_init);
    return default_alloc;
}

const ivcs_jemalloc_allocator_s *ivcs_allocator_default_jemalloc(void)
{
    pthread_once(&default_once, default_init);
    return default_alloc == &default_je.allocator ? &default_je : NULL;
}

const ivcs_allocator_s *ivcs_allocator_libc(void)
{
    return &libc_allocator;
}
