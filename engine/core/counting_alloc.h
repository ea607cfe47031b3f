/*
 * counting_alloc.h - an ivcs_allocator_s that wraps another one and counts
 * what goes through it: live bytes and blocks, the peak, calls, failures.
 * It can be armed to refuse allocations (out-of-memory injection, now or
 * after N more successes), to FORBID any call (each alloc/free is recorded
 * as a violation; allocs fail), or to ABORT on any call (to get a stack
 * trace of the culprit). Tests use FORBID to prove that a path, e.g. the
 * push path, neither allocates nor frees:
 *
 *     ivcs_counting_alloc_s ca;
 *     ivcs_counting_alloc_init(&ca, NULL);           // wraps the default
 *     obj_init(&obj, &ca.allocator);                 // allocations counted
 *     ivcs_counting_alloc_set_mode(&ca, IVCS_COUNTING_FORBID);
 *     ... push frames from any threads ...
 *     ivcs_counting_alloc_set_mode(&ca, IVCS_COUNTING_ALLOW);
 *     ivcs_counting_alloc_stats(&ca, &st);  // st.violations must be 0
 *
 * Sizes are the ones the callers asked for (not the inner allocator's size
 * classes). A free in FORBID mode still reaches the inner allocator, so the
 * books stay balanced and a leak check after the test still means
 * something; only the violation is recorded.
 *
 * Threads: every function may be called from any thread at once; counters
 * are atomics. The object is caller-owned and must not move after init
 * (`allocator.ctx` points at it).
 */
#ifndef IVCS_CORE_COUNTING_ALLOC_H
#define IVCS_CORE_COUNTING_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "ivcs_base.h"

#ifdef __cplusplus
#include <atomic>
#define IVCS_ATOMIC(t) std::atomic<t>
extern "C" {
#else
#include <stdatomic.h>
#define IVCS_ATOMIC(t) _Atomic(t)
#endif

typedef enum {
    IVCS_COUNTING_ALLOW = 0,  /* pass every call through */
    IVCS_COUNTING_FAIL = 1,   /* allocations fail (counted in `failed`); frees pass */
    IVCS_COUNTING_FORBID = 2, /* any call is a violation; allocations fail, frees pass */
    IVCS_COUNTING_ABORT = 3,  /* any call prints what it was and calls abort() */
} ivcs_counting_mode_e;

typedef struct ivcs_counting_alloc_s {
    ivcs_allocator_s allocator; /* the hook to hand out */
    const ivcs_allocator_s *inner;
    IVCS_ATOMIC(int) mode;           /* ivcs_counting_mode_e */
    IVCS_ATOMIC(int64_t) fail_after; /* >= 0: successes left before FAIL; -1: off */
    IVCS_ATOMIC(int64_t) live_bytes;
    IVCS_ATOMIC(int64_t) live_blocks;
    IVCS_ATOMIC(int64_t) peak_bytes;
    IVCS_ATOMIC(uint64_t) allocs; /* successful allocations */
    IVCS_ATOMIC(uint64_t) frees;  /* non-NULL frees */
    IVCS_ATOMIC(uint64_t) failed; /* allocations refused or failed inside */
    IVCS_ATOMIC(uint64_t) violations;
    IVCS_ATOMIC(uint64_t) last_violation_size;
} ivcs_counting_alloc_s;

/* A snapshot of the counters (each read atomically; the set is not one
 * instant when other threads are calling). */
typedef struct ivcs_counting_stats_s {
    int64_t live_bytes;           /* bytes allocated and not yet freed */
    int64_t live_blocks;          /* blocks allocated and not yet freed */
    int64_t peak_bytes;           /* highest live_bytes seen since init/reset_peak */
    uint64_t allocs;              /* successful allocations */
    uint64_t frees;               /* frees of non-NULL pointers */
    uint64_t failed;              /* allocations that returned NULL (injected or real) */
    uint64_t violations;          /* calls made in FORBID mode */
    uint64_t last_violation_size; /* size of the latest violating call */
} ivcs_counting_stats_s;

/* Wraps inner (NULL: ivcs_allocator_default()); counters zero, mode ALLOW.
 * Returns 0, or IVCS_ERR_INVALID_ARG for a NULL ca. */
int ivcs_counting_alloc_init(ivcs_counting_alloc_s *ca, const ivcs_allocator_s *inner);

/* Arms a mode (ivcs_counting_mode_e); it applies to calls that start after
 * it. Returns 0, or IVCS_ERR_INVALID_ARG for NULL or an unknown mode. */
int ivcs_counting_alloc_set_mode(ivcs_counting_alloc_s *ca, int mode);

/* In ALLOW mode, lets n more allocations succeed, then fails every later
 * one (as FAIL does) until this is called again; n < 0 turns it off.
 * For walking every error path of an init: n = 0, 1, 2, ... */
void ivcs_counting_alloc_fail_after(ivcs_counting_alloc_s *ca, int64_t n);

/* Reads the counters into *out. */
void ivcs_counting_alloc_stats(const ivcs_counting_alloc_s *ca, ivcs_counting_stats_s *out);

/* Starts peak tracking afresh from the current live bytes. */
void ivcs_counting_alloc_reset_peak(ivcs_counting_alloc_s *ca);

#ifdef __cplusplus
}
#endif
#undef IVCS_ATOMIC
#endif
