/* test_jemalloc_alloc.c - private jemalloc arenas: exact stats, alignment,
 * independence, destroy, failure, threads, and the default allocator. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jemalloc/jemalloc.h>

#include "check.h"
#include "engine/core/alloc.h"
#include "engine/core/jemalloc_alloc.h"
#include "iv_err.h"
#include "ivcs_err.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) ||                         \
    __has_feature(memory_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

typedef struct {
    size_t size, align;
} req;

/* Small, over-aligned small, the small/large border, large, over-aligned
 * large, and a zero-size request. */
/* clang-format off */
static const req reqs[] = {
    {1, 0},      {7, 0},          {8, 0},       {9, 0},       {16, 0},      {17, 0},
    {100, 0},    {1000, 0},       {4096, 0},    {5000, 0},    {14336, 0},   {14337, 0},
    {16384, 0},  {20000, 0},      {100000, 0},  {1 << 20, 0}, {(3 << 20) + 5, 0},
    {24, 64},    {100, 4096},     {8, 16},      {3000, 256},  {20000, 65536},
    {0, 0},      {65536, 8},      {40, 8},
};
/* clang-format on */
#define NREQ (sizeof reqs / sizeof reqs[0])

static ivcs_jemalloc_stats_s stats_of(const ivcs_jemalloc_allocator_s *ja)
{
    ivcs_jemalloc_stats_s st;
    memset(&st, 0xAB, sizeof st);
    CHECK_EQ(ivcs_jemalloc_allocator_stats(ja, &st), 0);
    return st;
}

TEST(jemalloc_is_present_with_stats)
{
    CHECK_EQ(ivcs_jemalloc_available(), 1);
    bool s = false;
    size_t len = sizeof s;
    CHECK_EQ(mallctl("config.stats", &s, &len, NULL, 0), 0);
    CHECK(s);
}

TEST(init_creates_a_fresh_private_arena)
{
    unsigned before = 0;
    size_t len = sizeof before;
    CHECK_EQ(mallctl("arenas.narenas", &before, &len, NULL, 0), 0);
    ivcs_jemalloc_allocator_s ja;
    CHECK_EQ(ivcs_jemalloc_allocator_init(&ja), 0);
    CHECK(ja.allocator.alloc != NULL && ja.allocator.free != NULL);
    CHECK(ja.allocator.ctx == &ja);
    CHECK(ja.arena >= before); /* beyond the automatic arenas (or a reused slot) */
    /* The smallest large class is the class above the largest small one,
     * 3.5 pages: 16 KiB with 4 KiB pages (x86-64, armhf, mipsel), 256 KiB
     * with the 64 KiB pages Debian's arm64 jemalloc is built for. */
    size_t page = 0;
    len = sizeof page;
    CHECK_EQ(mallctl("arenas.page", &page, &len, NULL, 0), 0);
    CHECK(page >= 4096 && (page & (page - 1)) == 0);
    CHECK_EQ(ja.large_min, ivcs_jemalloc_size_class(page / 2 * 7 + 1, 0));
    CHECK_EQ(ja.large_min, 4 * page);
    ivcs_jemalloc_stats_s st = stats_of(&ja);
    CHECK_EQ(st.allocated, 0);
    CHECK_EQ(st.nmalloc, 0);
    CHECK_EQ(st.live, 0);
    void *p = ivcs_alloc(&ja.allocator, 200, 0);
    CHECK(p != NULL);
    CHECK_EQ(ivcs_jemalloc_arena_of(p), ja.arena);
    st = stats_of(&ja);
    CHECK_EQ(st.allocated, ivcs_jemalloc_size_class(200, 0));
    /* What an arena costs beyond its blocks (one arena per channel?). */
    fprintf(stderr,
            "  fresh arena + one 200 B block: metadata %zu B, resident %zu B, mapped %zu B\n",
            st.metadata, st.resident, st.mapped);
    ivcs_free(&ja.allocator, p, 200);
    CHECK_EQ(ivcs_jemalloc_allocator_destroy(&ja), 0);
}

TEST(size_class_is_jemallocs_nallocx)
{
    /* Known jemalloc 5 classes (4 KiB pages or more), so the wrapper
     * cannot be the identity. 17 B: 32 with the 16-byte quantum of 64-bit
     * targets, 24 with the 8-byte one of armhf and mipsel. */
    size_t quantum = 0, len = sizeof quantum;
    CHECK_EQ(mallctl("arenas.quantum", &quantum, &len, NULL, 0), 0);
    CHECK(quantum == 8 || quantum == 16);
    CHECK_EQ(ivcs_jemalloc_size_class(17, 0), quantum == 16 ? 32 : 24);
    CHECK_EQ(ivcs_jemalloc_size_class(1000, 0), 1024);
    CHECK_EQ(ivcs_jemalloc_size_class(5000, 0), 5120);
    CHECK_EQ(ivcs_jemalloc_size_class(24, 64), 64);
    CHECK_EQ(ivcs_jemalloc_size_class(3, 0), 8);
    CHECK_EQ(ivcs_jemalloc_size_class(100, 3), 0); /* not a power of two */
    for (size_t i = 0; i < NREQ; i++) {
        size_t s = reqs[i].size ? reqs[i].size : 1;
        int flags = reqs[i].align ? MALLOCX_ALIGN(reqs[i].align) : 0;
        CHECK_EQ(ivcs_jemalloc_size_class(reqs[i].size, reqs[i].align), nallocx(s, flags));
    }
}

TEST(stats_equal_the_size_classes_of_live_blocks)
{
    ivcs_jemalloc_allocator_s ja;
    CHECK_EQ(ivcs_jemalloc_allocator_init(&ja), 0);
    void *p[NREQ];
    size_t expect = 0, asked = 0;
    for (size_t i = 0; i < NREQ; i++) {
        p[i] = ivcs_alloc(&ja.allocator, reqs[i].size, reqs[i].align);
        CHECK(p[i] != NULL);
        if (!p[i]) return;
        if (reqs[i].align) CHECK_EQ((uintptr_t)p[i] % reqs[i].align, 0);
        memset(p[i], (int)i, reqs[i].size); /* the whole block is usable */
        CHECK_EQ(ivcs_jemalloc_arena_of(p[i]), ja.arena);
        expect += ivcs_jemalloc_size_class(reqs[i].size, reqs[i].align);
        asked += reqs[i].size;
    }
    ivcs_jemalloc_stats_s st = stats_of(&ja);
    CHECK_EQ(st.allocated, expect);
    CHECK(st.allocated > asked); /* rounding happened, and is accounted */
    CHECK_EQ(st.nmalloc, NREQ);
    CHECK_EQ(st.live, NREQ);
    CHECK(st.active >= st.allocated);
    CHECK(st.resident >= st.active);
    CHECK(st.mapped >= st.active);
    CHECK(st.metadata > 0);
    fprintf(stderr,
            "  %zu blocks: asked %zu B, allocated %zu B, active %zu B, resident %zu B, "
            "mapped %zu B, metadata %zu B\n",
            NREQ, asked, st.allocated, st.active, st.resident, st.mapped, st.metadata);

    /* Free every other block: each free comes off at once (no thread cache). */
    for (size_t i = 0; i < NREQ; i += 2) {
        const unsigned char *b = p[i];
        int intact = 1;
        for (size_t k = 0; k < reqs[i].size; k++)
            intact &= b[k] == (unsigned char)i;
        CHECK(intact);
        ivcs_free(&ja.allocator, p[i], reqs[i].size);
        expect -= ivcs_jemalloc_size_class(reqs[i].size, reqs[i].align);
        st = stats_of(&ja);
        CHECK_EQ(st.allocated, expect);
    }
    CHECK_EQ(st.ndalloc, (NREQ + 1) / 2);
    for (size_t i = 1; i < NREQ; i += 2)
        ivcs_free(&ja.allocator, p[i], reqs[i].size);
    st = stats_of(&ja);
    CHECK_EQ(st.allocated, 0);
    CHECK_EQ(st.live, 0);
    CHECK_EQ(st.nmalloc, NREQ);
    CHECK_EQ(st.ndalloc, NREQ);
    CHECK_EQ(ivcs_jemalloc_allocator_destroy(&ja), 0);
}

TEST(many_small_frees_return_immediately)
{
    ivcs_jemalloc_allocator_s ja;
    CHECK_EQ(ivcs_jemalloc_allocator_init(&ja), 0);
    enum { N = 500 };
    static void *p[N];
    for (int i = 0; i < N; i++)
        p[i] = ivcs_alloc(&ja.allocator, 64, 0);
    CHECK_EQ(stats_of(&ja).allocated, N * 64);
    for (int i = 0; i < N; i++)
        ivcs_free(&ja.allocator, p[i], 64);
    /* With a thread cache these would still count as allocated. */
    CHECK_EQ(stats_of(&ja).allocated, 0);
    CHECK_EQ(ivcs_jemalloc_allocator_destroy(&ja), 0);
}

TEST(two_arenas_are_independent)
{
    ivcs_jemalloc_allocator_s a, b;
    CHECK_EQ(ivcs_jemalloc_allocator_init(&a), 0);
    CHECK_EQ(ivcs_jemalloc_allocator_init(&b), 0);
    CHECK(a.arena != b.arena);
    unsigned char *pb = ivcs_alloc(&b.allocator, 50000, 64);
    unsigned char *qb = ivcs_alloc(&b.allocator, 48, 0);
    CHECK(pb && qb);
    if (!pb || !qb) return;
    memset(pb, 0x5A, 50000);
    memset(qb, 0xC3, 48);
    ivcs_jemalloc_stats_s sb = stats_of(&b);
    CHECK_EQ(sb.allocated, ivcs_jemalloc_size_class(50000, 64) + ivcs_jemalloc_size_class(48, 0));

    void *pa = ivcs_alloc(&a.allocator, 300000, 0);
    void *qa = ivcs_alloc(&a.allocator, 48, 0);
    CHECK(pa && qa);
    CHECK_EQ(ivcs_jemalloc_arena_of(pa), a.arena);
    CHECK_EQ(ivcs_jemalloc_arena_of(qb), b.arena);
    CHECK_EQ(stats_of(&a).allocated,
             ivcs_jemalloc_size_class(300000, 0) + ivcs_jemalloc_size_class(48, 0));
    ivcs_jemalloc_stats_s sb2 = stats_of(&b);
    CHECK_EQ(sb2.allocated, sb.allocated); /* A's traffic is not B's */
    CHECK_EQ(sb2.nmalloc, sb.nmalloc);

    ivcs_free(&a.allocator, pa, 300000);
    ivcs_free(&a.allocator, qa, 48);
    CHECK_EQ(ivcs_jemalloc_allocator_destroy(&a), 0);
    /* Destroying A returned A's pages, not B's: B's blocks are intact. */
    int intact = 1;
    for (size_t i = 0; i < 50000; i++)
        intact &= pb[i] == 0x5A;
    for (size_t i = 0; i < 48; i++)
        intact &= qb[i] == 0xC3;
    CHECK(intact);
    CHECK_EQ(stats_of(&b).allocated, sb.allocated);
    ivcs_free(&b.allocator, pb, 50000);
    ivcs_free(&b.allocator, qb, 48);
    CHECK_EQ(ivcs_jemalloc_allocator_destroy(&b), 0);
}

TEST(destroy_refuses_while_blocks_are_live)
{
    ivcs_jemalloc_allocator_s ja;
    CHECK_EQ(ivcs_jemalloc_allocator_init(&ja), 0);
    char *p = ivcs_alloc(&ja.allocator, 1000, 0);
    CHECK(p != NULL);
    if (!p) return;
    strcpy(p, "still mine");
    CHECK_EQ(ivcs_jemalloc_allocator_destroy(&ja), IVCS_ERR_STATE);
    /* Nothing was destroyed: the block and the allocator still work. */
    CHECK(strcmp(p, "still mine") == 0);
    CHECK(ja.allocator.alloc != NULL);
    void *q = ivcs_alloc(&ja.allocator, 20, 0);
    CHECK(q != NULL);
    ivcs_free(&ja.allocator, q, 20);
    ivcs_free(&ja.allocator, p, 1000);
    CHECK_EQ(ivcs_jemalloc_allocator_destroy(&ja), 0);
    CHECK(ja.allocator.alloc == NULL);
    CHECK_EQ(ivcs_jemalloc_allocator_destroy(&ja), 0); /* second destroy: no-op */
    ivcs_jemalloc_stats_s st;
    CHECK_EQ(ivcs_jemalloc_allocator_stats(&ja, &st), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_jemalloc_allocator_destroy(NULL), 0);
}

TEST(destroyed_arenas_can_be_recreated_many_times)
{
    /* A firmware that re-inits the engine must not run out of arenas. */
    for (int i = 0; i < 200; i++) {
        ivcs_jemalloc_allocator_s ja;
        if (ivcs_jemalloc_allocator_init(&ja) != 0) {
            CHECK(!"init failed");
            return;
        }
        void *p = ivcs_alloc(&ja.allocator, 100000, 0);
        CHECK(p != NULL);
        ivcs_free(&ja.allocator, p, 100000);
        CHECK_EQ(ivcs_jemalloc_allocator_stats(&ja, &(ivcs_jemalloc_stats_s){0}), 0);
        CHECK_EQ(ivcs_jemalloc_allocator_destroy(&ja), 0);
    }
}

TEST(failures_return_null_or_an_error_never_abort)
{
    ivcs_jemalloc_allocator_s ja;
    CHECK_EQ(ivcs_jemalloc_allocator_init(NULL), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_jemalloc_allocator_init(&ja), 0);
    CHECK(ivcs_alloc(&ja.allocator, SIZE_MAX / 2, 0) == NULL);
    CHECK(ivcs_alloc(&ja.allocator, SIZE_MAX, 64) == NULL);
    CHECK(ivcs_alloc(&ja.allocator, 100, 3) == NULL); /* bad alignment */
    CHECK(ivcs_alloc(&ja.allocator, 100, 96) == NULL);
    void *z = ivcs_alloc(&ja.allocator, 0, 0); /* zero bytes: a valid, freeable block */
    CHECK(z != NULL);
    ivcs_free(&ja.allocator, z, 0);
    ivcs_free(&ja.allocator, NULL, 123);
    ivcs_jemalloc_stats_s st = stats_of(&ja);
    CHECK_EQ(st.allocated, 0);
    CHECK_EQ(st.live, 0);
    CHECK_EQ(ivcs_jemalloc_allocator_stats(NULL, &st), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_jemalloc_allocator_stats(&ja, NULL), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_jemalloc_allocator_destroy(&ja), 0);
}

/* ---------------------------------------------------------------- threads */

typedef struct {
    ivcs_jemalloc_allocator_s *ja;
    unsigned seed;
    size_t kept_bytes; /* size classes of the blocks left live */
    void *kept[16];
    size_t kept_size[16];
} worker;

static void *work(void *arg)
{
    worker *w = arg;
    unsigned x = w->seed;
    for (int i = 0; i < 20000; i++) {
        x = x * 1103515245u + 12345u;
        size_t size = 1 + (x >> 8) % (i % 64 == 0 ? 200000 : 2000);
        void *p = ivcs_alloc(&w->ja->allocator, size, (x & 1) ? 64 : 0);
        if (!p) continue;
        ((volatile char *)p)[size - 1] = 1;
        if (i % 1250 == 0) { /* keep 16 of them */
            int k = i / 1250;
            w->kept[k] = p;
            w->kept_size[k] = size;
            w->kept_bytes += ivcs_jemalloc_size_class(size, (x & 1) ? 64 : 0);
            continue;
        }
        ivcs_free(&w->ja->allocator, p, size);
    }
    return NULL;
}

TEST(concurrent_threads_in_one_arena_keep_exact_stats)
{
    ivcs_jemalloc_allocator_s ja;
    CHECK_EQ(ivcs_jemalloc_allocator_init(&ja), 0);
    worker w[3] = {{&ja, 1, 0, {0}, {0}}, {&ja, 2, 0, {0}, {0}}, {&ja, 3, 0, {0}, {0}}};
    pthread_t t[3];
    for (int i = 0; i < 3; i++)
        CHECK_EQ(pthread_create(&t[i], NULL, work, &w[i]), 0);
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    ivcs_jemalloc_stats_s st = stats_of(&ja);
    CHECK_EQ(st.allocated, w[0].kept_bytes + w[1].kept_bytes + w[2].kept_bytes);
    CHECK_EQ(st.live, 48);
    CHECK_EQ(st.nmalloc, 3 * 20000);
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 16; k++)
            ivcs_free(&ja.allocator, w[i].kept[k], w[i].kept_size[k]);
    st = stats_of(&ja);
    CHECK_EQ(st.allocated, 0);
    CHECK_EQ(st.live, 0);
    CHECK_EQ(ivcs_jemalloc_allocator_destroy(&ja), 0);
}

/* ---------------------------------------------------------------- default */

TEST(default_allocator_is_a_private_jemalloc_arena)
{
    const ivcs_allocator_s *d = ivcs_allocator_default();
    CHECK(d != NULL);
    CHECK(ivcs_allocator_or_default(NULL) == d);
    CHECK(ivcs_allocator_default() == d); /* one process-wide instance */
    const ivcs_jemalloc_allocator_s *je = ivcs_allocator_default_jemalloc();
    if (SANITIZED) {
        /* Sanitizer builds keep engine memory where the sanitizer sees it. */
        CHECK(je == NULL);
        CHECK(d == ivcs_allocator_libc());
        fprintf(stderr, "  sanitizer build: default allocator is libc\n");
    } else {
        CHECK(je != NULL);
        if (!je) return;
        CHECK(d == &je->allocator);
        CHECK(d != ivcs_allocator_libc());
        ivcs_jemalloc_stats_s s0 = stats_of(je);
        void *p = ivcs_alloc(d, 777777, 64);
        CHECK(p != NULL);
        CHECK_EQ(ivcs_jemalloc_arena_of(p), je->arena);
        ivcs_jemalloc_stats_s s1 = stats_of(je);
        CHECK_EQ(s1.allocated - s0.allocated, ivcs_jemalloc_size_class(777777, 64));
        /* The process's own malloc (jemalloc's, in this test program) does
         * not land in the engine's arena. */
        void *m = malloc(777777);
        CHECK(m != NULL);
        CHECK(ivcs_jemalloc_arena_of(m) != (long)je->arena);
        free(m);
        CHECK_EQ(stats_of(je).allocated, s1.allocated);
        ivcs_free(d, p, 777777);
        CHECK_EQ(stats_of(je).allocated, s0.allocated);
    }
    /* Either way the default honours alignment and frees cleanly. */
    void *q = ivcs_alloc(d, 5000, 4096);
    CHECK(q != NULL);
    CHECK_EQ((uintptr_t)q % 4096, 0);
    ivcs_free(d, q, 5000);
    void *l = ivcs_alloc(ivcs_allocator_libc(), 100, 64);
    CHECK(l != NULL);
    CHECK_EQ((uintptr_t)l % 64, 0);
    ivcs_free(ivcs_allocator_libc(), l, 100);
}

TEST(explicit_arena_works_in_any_build)
{
    /* Under ASan the default is libc, but an explicit arena must still work. */
    ivcs_jemalloc_allocator_s ja;
    CHECK_EQ(ivcs_jemalloc_allocator_init(&ja), 0);
    void *p = ivcs_alloc(&ja.allocator, 123456, 128);
    CHECK(p != NULL);
    memset(p, 1, 123456);
    CHECK_EQ(stats_of(&ja).allocated, ivcs_jemalloc_size_class(123456, 128));
    ivcs_free(&ja.allocator, p, 123456);
    CHECK_EQ(ivcs_jemalloc_allocator_destroy(&ja), 0);
}

int main(void)
{
    RUN(jemalloc_is_present_with_stats);
    RUN(init_creates_a_fresh_private_arena);
    RUN(size_class_is_jemallocs_nallocx);
    RUN(stats_equal_the_size_classes_of_live_blocks);
    RUN(many_small_frees_return_immediately);
    RUN(two_arenas_are_independent);
    RUN(destroy_refuses_while_blocks_are_live);
    RUN(destroyed_arenas_can_be_recreated_many_times);
    RUN(failures_return_null_or_an_error_never_abort);
    RUN(concurrent_threads_in_one_arena_keep_exact_stats);
    RUN(default_allocator_is_a_private_jemalloc_arena);
    RUN(explicit_arena_works_in_any_build);
    return check_done();
}
