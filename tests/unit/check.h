/*
 * check.h - the tiny harness of ivcs's C tests.
 *
 *   TEST(name) { CHECK(x); CHECK_EQ(a, b); }
 *   int main(void) { RUN(name); ...; return check_done(); }
 *
 * A failed check prints file:line and the expression and the test goes on;
 * check_done() prints "N passed, N failed" and returns the exit status.
 * check_alloc is a leak-checking ivcs_allocator_s: check_done() fails the
 * program if any byte allocated through it was not freed.
 */
#ifndef IVCS_TEST_CHECK_H
#define IVCS_TEST_CHECK_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ivcs.h"

static int check_failed_now;
static int check_tests_passed;
static int check_tests_failed;
static long long check_alloc_live;
static long long check_alloc_count;

#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);         \
            check_failed_now = 1;                                                            \
        }                                                                                    \
    } while (0)

#define CHECK_EQ(a, b)                                                                       \
    do {                                                                                     \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                      \
        if (check_a_ != check_b_) {                                                          \
            fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%lld != %lld)\n", __FILE__,   \
                    __LINE__, #a, #b, check_a_, check_b_);                                   \
            check_failed_now = 1;                                                            \
        }                                                                                    \
    } while (0)

#define TEST(name) static void name(void)

#define RUN(name)                                                                            \
    do {                                                                                     \
        check_failed_now = 0;                                                                \
        name();                                                                              \
        if (check_failed_now) {                                                              \
            fprintf(stderr, "FAIL %s\n", #name);                                             \
            check_tests_failed++;                                                            \
        } else {                                                                             \
            fprintf(stderr, "ok   %s\n", #name);                                             \
            check_tests_passed++;                                                            \
        }                                                                                    \
    } while (0)

static void *check_alloc_fn(void *ctx, size_t size, size_t align)
{
    (void)ctx;
    if (align < sizeof(void *)) align = sizeof(void *);
    void *p = NULL;
    if (posix_memalign(&p, align, size ? size : 1) != 0) return NULL;
    check_alloc_live += (long long)size;
    check_alloc_count++;
    return p;
}

static void check_free_fn(void *ctx, void *ptr, size_t size)
{
    (void)ctx;
    if (!ptr) return;
    check_alloc_live -= (long long)size;
    free(ptr);
}

static const ivcs_allocator_s check_alloc = {check_alloc_fn, check_free_fn, NULL};

static inline int check_done(void)
{
    if (check_alloc_live != 0) {
        fprintf(stderr, "LEAK: %lld bytes still allocated through check_alloc\n", check_alloc_live);
        check_tests_failed++;
    }
    printf("%d passed, %d failed\n", check_tests_passed, check_tests_failed);
    return check_tests_failed ? 1 : 0;
}

/* Reads a whole file into a malloc'ed buffer (+64 zero bytes of padding);
 * NULL if it cannot. */
static inline uint8_t *check_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = n >= 0 ? calloc(1, (size_t)n + 64) : NULL;
    if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) *len = (size_t)n;
    return buf;
}

/* Path of a test media file ($IVCS_MEDIA_DIR/name) in a static buffer. */
static inline const char *check_media(const char *name)
{
    static char path[4096];
    const char *dir = getenv("IVCS_MEDIA_DIR");
    snprintf(path, sizeof path, "%s/%s", dir ? dir : "media", name);
    return path;
}

#endif
