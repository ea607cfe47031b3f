/* ctr64.h - a 64-bit statistics counter written by ONE thread and read by
 * any, that no access locks on any target.
 *
 * Where 64-bit atomics are lock-free (x86-64, AArch64, ARMv7 with
 * LDREXD/STREXD) it is an _Atomic uint64_t updated with a relaxed load and
 * store (single writer: no locked instruction). On 32-bit MIPS, gcc's
 * 64-bit atomics are libatomic calls that take a lock; there the counter is
 * two 32-bit words behind a sequence word (a seqlock: the writer never
 * waits, a reader retries while a write is in progress). IVCS_CTR64_SPLIT
 * forces that form (tests/unit/test_ctr64.c runs both on every target).
 *
 * Counters with several writers use one ivcs_ctr64 per writer and add them
 * up when read (engine_internal.h: st_pushed, st_bytes_pushed, st_refused).
 */
#ifndef IVCS_CORE_CTR64_H
#define IVCS_CORE_CTR64_H

#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#if defined(IVCS_CTR64_SPLIT) || ATOMIC_LLONG_LOCK_FREE != 2
#define IVCS_CTR64_IS_SPLIT 1

typedef struct {
    _Atomic uint32_t seq; /* odd while the writer is between its stores */
    _Atomic uint32_t lo, hi;
} ivcs_ctr64;

/* Writer only. */
static inline void ivcs_ctr64_add(ivcs_ctr64 *c, uint64_t n)
{
    uint32_t s = atomic_load_explicit(&c->seq, memory_order_relaxed);
    uint64_t v = (uint64_t)atomic_load_explicit(&c->hi, memory_order_relaxed) << 32 |
                 atomic_load_explicit(&c->lo, memory_order_relaxed);
    v += n;
    atomic_store_explicit(&c->seq, s + 1, memory_order_relaxed);
    /* release stores (no fences: ThreadSanitizer understands these): a
     * reader that sees either new word also sees the odd seq before it */
    atomic_store_explicit(&c->lo, (uint32_t)v, memory_order_release);
    atomic_store_explicit(&c->hi, (uint32_t)(v >> 32), memory_order_release);
    atomic_store_explicit(&c->seq, s + 2, memory_order_release);
}

/* Writer only: a gauge rather than a count. */
static inline void ivcs_ctr64_set(ivcs_ctr64 *c, uint64_t v)
{
    uint32_t s = atomic_load_explicit(&c->seq, memory_order_relaxed);
    atomic_store_explicit(&c->seq, s + 1, memory_order_relaxed);
    atomic_store_explicit(&c->lo, (uint32_t)v, memory_order_release);
    atomic_store_explicit(&c->hi, (uint32_t)(v >> 32), memory_order_release);
    atomic_store_explicit(&c->seq, s + 2, memory_order_release);
}

/* Any thread. */
static inline uint64_t ivcs_ctr64_get(const ivcs_ctr64 *c)
{
    ivcs_ctr64 *m = (ivcs_ctr64 *)(uintptr_t)c; /* C11 loads take non-const */
    for (unsigned tries = 0;; tries++) {
        uint32_t s1 = atomic_load_explicit(&m->seq, memory_order_acquire);
        /* acquire: seq is re-read after the words, and a word from a write
         * in progress makes that write's odd seq visible to the re-read */
        uint32_t lo = atomic_load_explicit(&m->lo, memory_order_acquire);
        uint32_t hi = atomic_load_explicit(&m->hi, memory_order_acquire);
        uint32_t s2 = atomic_load_explicit(&m->seq, memory_order_relaxed);
        if (s1 == s2 && !(s1 & 1)) return (uint64_t)hi << 32 | lo;
        if (tries >= 64) sched_yield(); /* the writer was preempted mid-update */
    }
}

#else
#define IVCS_CTR64_IS_SPLIT 0

typedef struct {
    _Atomic uint64_t v;
} ivcs_ctr64;

/* Writer only: a relaxed load + store, no locked instruction. */
static inline void ivcs_ctr64_add(ivcs_ctr64 *c, uint64_t n)
{
    atomic_store_explicit(&c->v, atomic_load_explicit(&c->v, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

/* Writer only: a gauge rather than a count. */
static inline void ivcs_ctr64_set(ivcs_ctr64 *c, uint64_t v)
{
    atomic_store_explicit(&c->v, v, memory_order_relaxed);
}

/* Any thread. */
static inline uint64_t ivcs_ctr64_get(const ivcs_ctr64 *c)
{
    return atomic_load_explicit(&((ivcs_ctr64 *)(uintptr_t)c)->v, memory_order_relaxed);
}
#endif

#endif
