/* test_ctr64.c - the push path's statistics counters (engine/core/ctr64.h)
 * in the form 32-bit MIPS gets (a seqlock of two 32-bit words), forced on
 * every target: a writer thread adds steps that change both 32-bit words
 * while a reader checks that every value it reads is one the writer wrote: never
 * torn between the words, never going back. (The _Atomic uint64_t form is
 * what every engine test uses on the other targets.) */
#include <pthread.h>
#include <stdint.h>

#include "check.h"

#define IVCS_CTR64_SPLIT 1 /* the 32-bit MIPS form, on every target */
#include "engine/core/ctr64.h"

/* Every add changes both words (and carries from the low one half the
 * time), so a read that mixed two writes lands off the writer's lattice. */
enum { N = 400000 };
static const uint64_t STEP = (1ull << 32) + 0x80000001ull;
static const uint64_t START = (1ull << 32) - 5;

static ivcs_ctr64 ctr;
static _Atomic int done, reading;
static long bad_reads, reads;

static void *writer(void *arg)
{
    (void)arg;
    while (!atomic_load(&reading)) /* overlap the reader for sure */
        sched_yield();
    for (int i = 0; i < N; i++)
        ivcs_ctr64_add(&ctr, STEP);
    atomic_store(&done, 1);
    return NULL;
}

static void *reader(void *arg)
{
    (void)arg;
    uint64_t last = START;
    long bad = 0, n = 0;
    atomic_store(&reading, 1);
    while (!atomic_load(&done)) {
        uint64_t v = ivcs_ctr64_get(&ctr);
        /* a value the writer wrote: START + k * STEP, k in [0, N], not less than before */
        if (v < last || (v - START) % STEP != 0 || (v - START) / STEP > N) bad++;
        last = v;
        n++;
    }
    bad_reads = bad;
    reads = n;
    return NULL;
}

TEST(split_counter_reads_are_never_torn)
{
    CHECK_EQ(IVCS_CTR64_IS_SPLIT, 1);
    ivcs_ctr64_add(&ctr, START);
    CHECK(ivcs_ctr64_get(&ctr) == START);
    pthread_t w, r;
    CHECK_EQ(pthread_create(&r, NULL, reader, NULL), 0);
    CHECK_EQ(pthread_create(&w, NULL, writer, NULL), 0);
    pthread_join(w, NULL);
    pthread_join(r, NULL);
    printf("%ld reads, %ld bad\n", reads, bad_reads);
    CHECK_EQ(bad_reads, 0);
    CHECK(reads > 0);
    CHECK(ivcs_ctr64_get(&ctr) == START + (uint64_t)STEP * N);
}

int main(void)
{
    RUN(split_counter_reads_are_never_torn);
    return check_done();
}
