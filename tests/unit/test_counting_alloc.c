/* test_counting_alloc.c - the counting / failure-injecting allocator wrapper. */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "engine/core/alloc.h"
#include "engine/core/counting_alloc.h"
#include "ivcs_err.h"

static ivcs_counting_stats_s stats(const ivcs_counting_alloc_s *ca)
{
    ivcs_counting_stats_s st;
    memset(&st, 0xAB, sizeof st);
    ivcs_counting_alloc_stats(ca, &st);
    return st;
}

TEST(counts_bytes_blocks_peak_and_calls_exactly)
{
    ivcs_counting_alloc_s ca;
    CHECK_EQ(ivcs_counting_alloc_init(&ca, &check_alloc), 0);
    CHECK(ca.allocator.ctx == &ca);
    CHECK(ca.inner == &check_alloc);
    ivcs_counting_stats_s st = stats(&ca);
    CHECK_EQ(st.live_bytes, 0);
    CHECK_EQ(st.allocs, 0);

    static const size_t sizes[] = {1, 100, 4096, 70000, 0, 33};
    void *p[6];
    long long sum = 0;
    for (int i = 0; i < 6; i++) {
        p[i] = ivcs_alloc(&ca.allocator, sizes[i], i == 2 ? 4096 : 0);
        CHECK(p[i] != NULL);
        sum += (long long)sizes[i];
        st = stats(&ca);
        CHECK_EQ(st.live_bytes, sum);
        CHECK_EQ(st.live_blocks, i + 1);
        CHECK_EQ(st.peak_bytes, sum);
    }
    CHECK_EQ((uintptr_t)p[2] % 4096, 0); /* alignment reaches the inner allocator */
    CHECK_EQ(check_alloc_live, sum);     /* and so does every byte */
    ivcs_free(&ca.allocator, p[3], 70000);
    ivcs_free(&ca.allocator, p[1], 100);
    st = stats(&ca);
    CHECK_EQ(st.live_bytes, sum - 70100);
    CHECK_EQ(st.live_blocks, 4);
    CHECK_EQ(st.peak_bytes, sum); /* the peak stays */
    CHECK_EQ(st.frees, 2);
    ivcs_counting_alloc_reset_peak(&ca);
    CHECK_EQ(stats(&ca).peak_bytes, sum - 70100);
    void *q = ivcs_alloc(&ca.allocator, 10, 0);
    CHECK_EQ(stats(&ca).peak_bytes, sum - 70100 + 10);
    ivcs_free(&ca.allocator, q, 10);
    for (int i = 0; i < 6; i++)
        if (i != 1 && i != 3) ivcs_free(&ca.allocator, p[i], sizes[i]);
    ivcs_free(&ca.allocator, NULL, 5); /* not a call that counts */
    st = stats(&ca);
    CHECK_EQ(st.live_bytes, 0);
    CHECK_EQ(st.live_blocks, 0);
    CHECK_EQ(st.allocs, 7);
    CHECK_EQ(st.frees, 7);
    CHECK_EQ(st.failed, 0);
    CHECK_EQ(st.violations, 0);
    CHECK_EQ(check_alloc_live, 0);
}

TEST(a_mismatched_free_size_shows_as_live_bytes)
{
    ivcs_counting_alloc_s ca;
    CHECK_EQ(ivcs_counting_alloc_init(&ca, ivcs_allocator_libc()), 0);
    void *p = ivcs_alloc(&ca.allocator, 100, 0);
    ivcs_free(&ca.allocator, p, 90); /* a caller bug the books reveal */
    CHECK_EQ(stats(&ca).live_bytes, 10);
    CHECK_EQ(stats(&ca).live_blocks, 0);
}

TEST(forbid_fails_allocs_and_records_every_call)
{
    ivcs_counting_alloc_s ca;
    CHECK_EQ(ivcs_counting_alloc_init(&ca, &check_alloc), 0);
    void *kept = ivcs_alloc(&ca.allocator, 300, 0);
    CHECK(kept != NULL);
    CHECK_EQ(ivcs_counting_alloc_set_mode(&ca, IVCS_COUNTING_FORBID), 0);
    CHECK(ivcs_alloc(&ca.allocator, 123, 0) == NULL);
    ivcs_counting_stats_s st = stats(&ca);
    CHECK_EQ(st.violations, 1);
    CHECK_EQ(st.last_violation_size, 123);
    CHECK_EQ(st.failed, 1);
    CHECK_EQ(st.allocs, 1);
    /* A forbidden free is recorded, and still frees (books stay balanced). */
    long long before = check_alloc_live;
    ivcs_free(&ca.allocator, kept, 300);
    st = stats(&ca);
    CHECK_EQ(st.violations, 2);
    CHECK_EQ(st.last_violation_size, 300);
    CHECK_EQ(check_alloc_live, before - 300);
    CHECK_EQ(st.live_bytes, 0);
    /* Disarmed: calls pass again and are not violations. */
    CHECK_EQ(ivcs_counting_alloc_set_mode(&ca, IVCS_COUNTING_ALLOW), 0);
    void *p = ivcs_alloc(&ca.allocator, 50, 0);
    CHECK(p != NULL);
    ivcs_free(&ca.allocator, p, 50);
    CHECK_EQ(stats(&ca).violations, 2);
}

TEST(fail_mode_is_out_of_memory_without_violations)
{
    ivcs_counting_alloc_s ca;
    CHECK_EQ(ivcs_counting_alloc_init(&ca, &check_alloc), 0);
    void *p = ivcs_alloc(&ca.allocator, 64, 0);
    CHECK_EQ(ivcs_counting_alloc_set_mode(&ca, IVCS_COUNTING_FAIL), 0);
    for (int i = 0; i < 5; i++)
        CHECK(ivcs_alloc(&ca.allocator, 8, 0) == NULL);
    ivcs_free(&ca.allocator, p, 64); /* cleanup still works */
    ivcs_counting_stats_s st = stats(&ca);
    CHECK_EQ(st.failed, 5);
    CHECK_EQ(st.violations, 0);
    CHECK_EQ(st.live_bytes, 0);
    CHECK_EQ(st.frees, 1);
}

TEST(fail_after_n_lets_exactly_n_succeed)
{
    ivcs_counting_alloc_s ca;
    CHECK_EQ(ivcs_counting_alloc_init(&ca, &check_alloc), 0);
    for (int n = 0; n < 4; n++) {
        ivcs_counting_alloc_fail_after(&ca, n);
        void *p[8];
        int ok = 0;
        for (int i = 0; i < 8; i++) {
            p[i] = ivcs_alloc(&ca.allocator, 16, 0);
            if (p[i]) ok++;
            CHECK((p[i] != NULL) == (i < n)); /* the first n succeed, then all fail */
        }
        CHECK_EQ(ok, n);
        for (int i = 0; i < 8; i++)
            ivcs_free(&ca.allocator, p[i], 16);
    }
    ivcs_counting_alloc_fail_after(&ca, -1);
    void *p = ivcs_alloc(&ca.allocator, 16, 0);
    CHECK(p != NULL);
    ivcs_free(&ca.allocator, p, 16);
    ivcs_counting_stats_s st = stats(&ca);
    CHECK_EQ(st.allocs, 0 + 1 + 2 + 3 + 1);
    CHECK_EQ(st.failed, 8 + 7 + 6 + 5);
    CHECK_EQ(st.live_bytes, 0);
}

TEST(null_inner_wraps_the_default_and_bad_args_are_refused)
{
    ivcs_counting_alloc_s ca;
    CHECK_EQ(ivcs_counting_alloc_init(NULL, NULL), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_counting_alloc_init(&ca, NULL), 0);
    CHECK(ca.inner == ivcs_allocator_default());
    CHECK_EQ(ivcs_counting_alloc_set_mode(&ca, 4), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_counting_alloc_set_mode(&ca, -1), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_counting_alloc_set_mode(NULL, IVCS_COUNTING_FAIL), IVCS_ERR_INVALID_ARG);
    void *p = ivcs_alloc(&ca.allocator, 1000, 64);
    CHECK(p != NULL);
    CHECK_EQ((uintptr_t)p % 64, 0);
    ivcs_free(&ca.allocator, p, 1000);
    CHECK_EQ(stats(&ca).live_bytes, 0);
}

TEST(abort_mode_stops_the_process_at_the_call)
{
    ivcs_counting_alloc_s ca;
    CHECK_EQ(ivcs_counting_alloc_init(&ca, ivcs_allocator_libc()), 0);
    for (int which = 0; which < 2; which++) {
        void *p = which ? ivcs_alloc(&ca.allocator, 32, 0) : NULL;
        fflush(NULL);
        pid_t pid = fork();
        if (pid == 0) {
            ivcs_counting_alloc_set_mode(&ca, IVCS_COUNTING_ABORT);
            if (which)
                ivcs_free(&ca.allocator, p, 32);
            else
                (void)ivcs_alloc(&ca.allocator, 32, 0);
            _exit(0); /* not reached if ABORT works */
        }
        int status = 0;
        CHECK(pid > 0);
        CHECK_EQ(waitpid(pid, &status, 0), pid);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
        if (p) ivcs_free(&ca.allocator, p, 32);
    }
}

/* ---------------------------------------------------------------- threads */

enum { THREADS = 4, ROUNDS = 20000, KEEP = 10 };

typedef struct {
    ivcs_counting_alloc_s *ca;
    unsigned seed;
    long long kept_bytes;
    void *kept[KEEP];
    size_t kept_size[KEEP];
    int got_null; /* in forbid mode: how many allocs returned NULL */
} worker;

static void *churn(void *arg)
{
    worker *w = arg;
    unsigned x = w->seed;
    int k = 0;
    for (int i = 0; i < ROUNDS; i++) {
        x = x * 1103515245u + 12345u;
        size_t size = 1 + (x >> 8) % 3000;
        void *p = ivcs_alloc(&w->ca->allocator, size, 0);
        if (!p) {
            w->got_null++;
            continue;
        }
        if (k < KEEP && i % (ROUNDS / KEEP) == 7) {
            w->kept[k] = p;
            w->kept_size[k++] = size;
            w->kept_bytes += (long long)size;
        } else {
            ivcs_free(&w->ca->allocator, p, size);
        }
    }
    return NULL;
}

TEST(counts_are_exact_across_threads)
{
    ivcs_counting_alloc_s ca;
    CHECK_EQ(ivcs_counting_alloc_init(&ca, ivcs_allocator_default()), 0);
    worker w[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].ca = &ca;
        w[i].seed = 100u + (unsigned)i;
        CHECK_EQ(pthread_create(&t[i], NULL, churn, &w[i]), 0);
    }
    long long kept = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        kept += w[i].kept_bytes;
    }
    ivcs_counting_stats_s st = stats(&ca);
    CHECK_EQ(st.allocs, THREADS * ROUNDS);
    CHECK_EQ(st.frees, THREADS * (ROUNDS - KEEP));
    CHECK_EQ(st.live_blocks, THREADS * KEEP);
    CHECK_EQ(st.live_bytes, kept);
    CHECK(st.peak_bytes >= kept);
    CHECK(st.peak_bytes <= kept + THREADS * 3000);
    for (int i = 0; i < THREADS; i++)
        for (int k = 0; k < KEEP; k++)
            ivcs_free(&ca.allocator, w[i].kept[k], w[i].kept_size[k]);
    CHECK_EQ(stats(&ca).live_bytes, 0);
}

TEST(forbid_catches_every_call_from_every_thread)
{
    ivcs_counting_alloc_s ca;
    CHECK_EQ(ivcs_counting_alloc_init(&ca, ivcs_allocator_default()), 0);
    CHECK_EQ(ivcs_counting_alloc_set_mode(&ca, IVCS_COUNTING_FORBID), 0);
    worker w[THREADS];
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].ca = &ca;
        w[i].seed = 7u + (unsigned)i;
        CHECK_EQ(pthread_create(&t[i], NULL, churn, &w[i]), 0);
    }
    int nulls = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        nulls += w[i].got_null;
    }
    ivcs_counting_stats_s st = stats(&ca);
    CHECK_EQ(nulls, THREADS * ROUNDS);
    CHECK_EQ(st.violations, THREADS * ROUNDS);
    CHECK_EQ(st.failed, THREADS * ROUNDS);
    CHECK_EQ(st.allocs, 0);
    CHECK_EQ(st.live_bytes, 0);
    CHECK(st.last_violation_size >= 1 && st.last_violation_size <= 3000);
}

int main(void)
{
    RUN(counts_bytes_blocks_peak_and_calls_exactly);
    RUN(a_mismatched_free_size_shows_as_live_bytes);
    RUN(forbid_fails_allocs_and_records_every_call);
    RUN(fail_mode_is_out_of_memory_without_violations);
    RUN(fail_after_n_lets_exactly_n_succeed);
    RUN(null_inner_wraps_the_default_and_bad_args_are_refused);
    RUN(abort_mode_stops_the_process_at_the_call);
    RUN(counts_are_exact_across_threads);
    RUN(forbid_catches_every_call_from_every_thread);
    return check_done();
}
