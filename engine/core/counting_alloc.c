/* counting_alloc.c - a counting, failure-injecting allocator wrapper.
 *
 * Counters are statistics: relaxed atomics, read after the threads that
 * move them have been joined (or as an approximate live view). The mode is
 * stored with release and loaded with acquire so that a thread which sees a
 * newly armed mode also sees what its armer wrote before arming it. */
#include "engine/core/counting_alloc.h"

#include <stdio.h>
#include <stdlib.h>

#include "engine/core/alloc.h"
#include "ivcs_err.h"

#define RELAXED memory_order_relaxed

static void die(const char *what, size_t size, size_t align)
{
    /* Deliberate: ABORT mode exists to stop at the offending call so its
     * stack can be read in a debugger or a sanitizer report. */
    fprintf(stderr, "ivcs counting_alloc: %s(size=%zu, align=%zu) while armed to ABORT\n", what,
            size, align);
    abort();
}

static void violation(ivcs_counting_alloc_s *ca, size_t size)
{
    atomic_fetch_add_explicit(&ca->violations, 1, RELAXED);
    atomic_store_explicit(&ca->last_violation_size, (uint64_t)size, RELAXED);
}

/* 1 if the fail_after countdown says this allocation must fail; otherwise
 * takes one success off the countdown (when armed). */
static int countdown_says_fail(ivcs_counting_alloc_s *ca)
{
    int64_t left = atomic_load_explicit(&ca->fail_after, RELAXED);
    while (left >= 0) {
        if (left == 0) return 1;
        if (atomic_compare_exchange_weak_explicit(&ca->fail_after, &left, left - 1, RELAXED,
                                                  RELAXED))
            return 0;
    }
    return 0;
}

static void *count_alloc(void *ctx, size_t size, size_t align)
{
    ivcs_counting_alloc_s *ca = ctx;
    switch (atomic_load_explicit(&ca->mode, memory_order_acquire)) {
    case IVCS_COUNTING_ABORT:
        die("alloc", size, align);
        break;
    case IVCS_COUNTING_FORBID:
        violation(ca, size);
        atomic_fetch_add_explicit(&ca->failed, 1, RELAXED);
        return NULL;
    case IVCS_COUNTING_FAIL:
        atomic_fetch_add_explicit(&ca->failed, 1, RELAXED);
        return NULL;
    default:
        break;
    }
    if (countdown_says_fail(ca)) {
        atomic_fetch_add_explicit(&ca->failed, 1, RELAXED);
        return NULL;
    }
    void *p = ca->inner->alloc(ca->inner->ctx, size, align);
    if (!p) {
        atomic_fetch_add_explicit(&ca->failed, 1, RELAXED);
        return NULL;
    }
    int64_t live =
        atomic_fetch_add_explicit(&ca->live_bytes, (int64_t)size, RELAXED) + (int64_t)size;
    atomic_fetch_add_explicit(&ca->live_blocks, 1, RELAXED);
    atomic_fetch_add_explicit(&ca->allocs, 1, RELAXED);
    int64_t peak = atomic_load_explicit(&ca->peak_bytes, RELAXED);
    while (live > peak &&
           !atomic_compare_exchange_weak_explicit(&ca->peak_bytes, &peak, live, RELAXED, RELAXED))
        ;
    return p;
}

static void count_free(void *ctx, void *ptr, size_t size)
{
    ivcs_counting_alloc_s *ca = ctx;
    if (!ptr) return;
    switch (atomic_load_explicit(&ca->mode, memory_order_acquire)) {
    case IVCS_COUNTING_ABORT:
        die("free", size, 0);
        break;
    case IVCS_COUNTING_FORBID:
        violation(ca, size); /* and still free it: see the header */
        break;
    default:
        break;
    }
    atomic_fetch_sub_explicit(&ca->live_bytes, (int64_t)size, RELAXED);
    atomic_fetch_sub_explicit(&ca->live_blocks, 1, RELAXED);
    atomic_fetch_add_explicit(&ca->frees, 1, RELAXED);
    ca->inner->free(ca->inner->ctx, ptr, size);
}

int ivcs_counting_alloc_init(ivcs_counting_alloc_s *ca, const ivcs_allocator_s *inner)
{
    if (!ca) return IVCS_ERR_INVALID_ARG;
    ca->allocator.alloc = count_alloc;
    ca->allocator.free = count_free;
    ca->allocator.ctx = ca;
    ca->inner = ivcs_allocator_or_default(inner);
    atomic_init(&ca->mode, IVCS_COUNTING_ALLOW);
    atomic_init(&ca->fail_after, -1);
    atomic_init(&ca->live_bytes, 0);
    atomic_init(&ca->live_blocks, 0);
    atomic_init(&ca->peak_bytes, 0);
    atomic_init(&ca->allocs, 0);
    atomic_init(&ca->frees, 0);
    atomic_init(&ca->failed, 0);
    atomic_init(&ca->violations, 0);
    atomic_init(&ca->last_violation_size, 0);
    return 0;
}

int ivcs_counting_alloc_set_mode(ivcs_counting_alloc_s *ca, int mode)
{
    if (!ca || mode < IVCS_COUNTING_ALLOW || mode > IVCS_COUNTING_ABORT)
        return IVCS_ERR_INVALID_ARG;
    atomic_store_explicit(&ca->mode, mode, memory_order_release);
    return 0;
}

void ivcs_counting_alloc_fail_after(ivcs_counting_alloc_s *ca, int64_t n)
{
    if (ca) atomic_store_explicit(&ca->fail_after, n < 0 ? -1 : n, memory_order_release);
}

void ivcs_counting_alloc_stats(const ivcs_counting_alloc_s *ca, ivcs_counting_stats_s *out)
{
    if (!out) return;
    if (!ca) {
        *out = (ivcs_counting_stats_s){0};
        return;
    }
    /* The loads take non-const pointers in C11's generic signatures. */
    ivcs_counting_alloc_s *c = (ivcs_counting_alloc_s *)ca;
    out->live_bytes = atomic_load_explicit(&c->live_bytes, RELAXED);
    out->live_blocks = atomic_load_explicit(&c->live_blocks, RELAXED);
    out->peak_bytes = atomic_load_explicit(&c->peak_bytes, RELAXED);
    out->allocs = atomic_load_explicit(&c->allocs, RELAXED);
    out->frees = atomic_load_explicit(&c->frees, RELAXED);
    out->failed = atomic_load_explicit(&c->failed, RELAXED);
    out->violations = atomic_load_explicit(&c->violations, RELAXED);
    out->last_violation_size = atomic_load_explicit(&c->last_violation_size, RELAXED);
}

void ivcs_counting_alloc_reset_peak(ivcs_counting_alloc_s *ca)
{
    if (!ca) return;
    atomic_store_explicit(&ca->peak_bytes, atomic_load_explicit(&ca->live_bytes, RELAXED), RELAXED);
}
