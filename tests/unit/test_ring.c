/* test_ring.c - the SPSC frame ring, one thread playing both sides. */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "engine/ring/ring.h"

/* ---------------------------------------------------------------- helpers */

typedef struct {
    ivcs_ring_s *r;
    uint8_t *mem;
    size_t mem_len;
} tring;

#define GUARD 128

/* A ring of cap bytes in check_alloc memory, with GUARD canary bytes after
 * the block so a write past the data area is seen even without ASan. */
static tring tring_new(size_t cap)
{
    tring t = {0};
    t.mem_len = ivcs_ring_mem_size(cap);
    t.mem = check_alloc.alloc(check_alloc.ctx, t.mem_len + GUARD, IVCS_RING_MEM_ALIGN);
    memset(t.mem + t.mem_len, 0xA5, GUARD);
    if (ivcs_ring_init(&t.r, t.mem, t.mem_len, cap) != 0) t.r = NULL;
    return t;
}

static int tring_guard_ok(const tring *t)
{
    for (size_t i = 0; i < GUARD; i++)
        if (t->mem[t->mem_len + i] != 0xA5) return 0;
    return 1;
}

static void tring_free(tring *t)
{
    check_alloc.free(check_alloc.ctx, t->mem, t->mem_len + GUARD);
}

static uint8_t pat(uint32_t seq, size_t i)
{
    return (uint8_t)(seq * 131u + i * 7u + (i >> 8));
}

static void fill(uint8_t *p, uint32_t seq, size_t len)
{
    for (size_t i = 0; i < len; i++)
        p[i] = pat(seq, i);
}

static int payload_ok(const ivcs_ring_view_s *v, uint32_t seq, size_t len)
{
    if (v->rec->len != len) return 0;
    for (size_t i = 0; i < len; i++)
        if (v->data[i] != pat(seq, i)) return 0;
    return 1;
}

static uint8_t scratch[1 << 16];

/* Pushes a record of `len` payload bytes with pattern seq. */
static int push_seq(ivcs_ring_s *r, uint32_t seq, size_t len)
{
    ivcs_ring_rec_s rec = {
        .len = (uint32_t)len, .type = 1, .flags = 2, .pts = 1000u + seq, .seq = seq, .user = 7};
    fill(scratch, seq, len);
    return ivcs_ring_push(r, &rec, scratch);
}

/* Payload length whose record takes exactly size bytes (size >= 24, 8-aligned). */
static size_t len_for(size_t size)
{
    return size - IVCS_RING_HDR_SIZE;
}

/* A record size <= d that leaves 0 or >= 24 bytes of d (and fits in a ring). */
static uint64_t step_size(uint64_t d, uint64_t cap)
{
    uint64_t s = d > cap / 2 ? cap / 2 : d;
    if (d - s != 0 && d - s < IVCS_RING_HDR_SIZE) s = d - IVCS_RING_HDR_SIZE;
    return s;
}

/* Moves an empty ring's head (and tail) to data offset off (0, or >= 24) by
 * pushing and releasing records, at most a few laps. */
static void move_empty_ring_to(ivcs_ring_s *r, uint64_t off)
{
    uint64_t cap = ivcs_ring_capacity(r);
    ivcs_ring_view_s v;
    for (int i = 0; i < 100; i++) {
        uint64_t cur = ivcs_ring_head_pos(r) & (cap - 1);
        if (cur == off) break;
        uint64_t s;
        if (off > cur && off - cur >= IVCS_RING_HDR_SIZE)
            s = step_size(off - cur, cap);
        else if (cap - cur >= IVCS_RING_HDR_SIZE)
            s = step_size(cap - cur, cap); /* towards the wrap */
        else
            s = IVCS_RING_HDR_SIZE; /* pads the small gap, lands at 24 */
        CHECK_EQ(push_seq(r, 0, len_for(s)), 0);
        CHECK_EQ(ivcs_ring_next(r, &v), 1);
        CHECK_EQ(ivcs_ring_release(r, v.next), 0);
    }
    CHECK_EQ(ivcs_ring_head_pos(r) & (cap - 1), off);
    CHECK_EQ(ivcs_ring_used(r), 0);
    CHECK_EQ(ivcs_ring_unread(r), 0);
}

/* ---------------------------------------------------------------- memory */

TEST(mem_size_needs_a_power_of_two_capacity)
{
    CHECK_EQ(ivcs_ring_mem_size(0), 0);
    CHECK_EQ(ivcs_ring_mem_size(32), 0);
    CHECK_EQ(ivcs_ring_mem_size(96), 0);
    CHECK_EQ(ivcs_ring_mem_size(1000), 0);
    CHECK_EQ(ivcs_ring_mem_size((size_t)IVCS_RING_MAX_CAPACITY * 2), 0);
    size_t ctl = ivcs_ring_mem_size(64) - 64;
    /* the control block keeps the data cache-line aligned and holds at least
     * three separate lines (constants, head, tail) */
    CHECK_EQ(ctl % 64, 0);
    CHECK(ctl >= 3 * 64);
    CHECK(ctl <= 512);
    CHECK_EQ(ivcs_ring_mem_size(1 << 20), ctl + (1 << 20));
    CHECK_EQ(ivcs_ring_mem_size(IVCS_RING_MAX_CAPACITY), ctl + IVCS_RING_MAX_CAPACITY);
}

TEST(capacity_for_picks_the_largest_ring_in_a_budget)
{
    size_t ctl = ivcs_ring_mem_size(64) - 64;
    CHECK_EQ(ivcs_ring_capacity_for(0), 0);
    CHECK_EQ(ivcs_ring_capacity_for(ctl + 63), 0);
    CHECK_EQ(ivcs_ring_capacity_for(ctl + 64), 64);
    CHECK_EQ(ivcs_ring_capacity_for(ivcs_ring_mem_size(1024)), 1024);
    CHECK_EQ(ivcs_ring_capacity_for(ivcs_ring_mem_size(1024) - 1), 512);
    CHECK_EQ(ivcs_ring_capacity_for(ivcs_ring_mem_size(1024) + 1000), 1024);
    CHECK_EQ(ivcs_ring_capacity_for(3u << 20), 2u << 20);
    CHECK_EQ(ivcs_ring_capacity_for(SIZE_MAX), IVCS_RING_MAX_CAPACITY);
    for (size_t b = ctl + 64; b < 70000; b += 997) {
        size_t c = ivcs_ring_capacity_for(b);
        CHECK(ivcs_ring_mem_size(c) <= b);
        CHECK(ivcs_ring_mem_size(c * 2) > b);
    }
}

TEST(init_rejects_bad_memory_and_capacity)
{
    size_t len = ivcs_ring_mem_size(1024);
    uint8_t *mem = check_alloc.alloc(check_alloc.ctx, len + 64, IVCS_RING_MEM_ALIGN);
    ivcs_ring_s *r = (ivcs_ring_s *)(void *)1;
    CHECK_EQ(ivcs_ring_init(NULL, mem, len, 1024), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_ring_init(&r, NULL, len, 1024), IVCS_ERR_INVALID_ARG);
    CHECK(r == NULL);
    CHECK_EQ(ivcs_ring_init(&r, mem + 8, len, 1024), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_ring_init(&r, mem, len - 1, 1024), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_ring_init(&r, mem, len, 1000), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_ring_init(&r, mem, len, 32), IVCS_ERR_INVALID_ARG);
    CHECK(r == NULL);
    CHECK_EQ(ivcs_ring_init(&r, mem, len, 1024), 0);
    CHECK(r == (ivcs_ring_s *)(void *)mem);
    CHECK_EQ(ivcs_ring_capacity(r), 1024);
    CHECK_EQ(ivcs_ring_max_payload(r), 512 - IVCS_RING_HDR_SIZE);
    CHECK_EQ(ivcs_ring_used(r), 0);
    CHECK_EQ(ivcs_ring_free(r), 1024);
    CHECK_EQ(ivcs_ring_head_pos(r), 0);
    CHECK_EQ(ivcs_ring_read_pos(r), 0);
    CHECK_EQ(ivcs_ring_release_pos(r), 0);
    /* a larger block than needed is fine */
    CHECK_EQ(ivcs_ring_init(&r, mem, len + 64, 1024), 0);
    check_alloc.free(check_alloc.ctx, mem, len + 64);
}

/* ---------------------------------------------------------------- basics */

TEST(empty_ring_yields_nothing)
{
    tring t = tring_new(1024);
    ivcs_ring_view_s v;
    CHECK_EQ(ivcs_ring_next(t.r, &v), 0);
    CHECK_EQ(ivcs_ring_peek(t.r, 0, &v), 0);
    CHECK_EQ(ivcs_ring_unread(t.r), 0);
    CHECK_EQ(ivcs_ring_used(t.r), 0);
    CHECK_EQ(ivcs_ring_release(t.r, 0), 0);
    CHECK_EQ(ivcs_ring_release(t.r, 8), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_ring_seek(t.r, 8), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_ring_peek(t.r, 24, &v), IVCS_ERR_INVALID_ARG);
    tring_free(&t);
}

TEST(push_then_next_returns_header_and_payload)
{
    tring t = tring_new(1024);
    ivcs_ring_rec_s rec = {.len = 13,
                           .type = 0xAB,
                           .flags = 0x81,
                           .kind = 0xFFFF,
                           .pts = 0x123456789ABCull,
                           .seq = 42,
                           .user = 0xDEADBEEF};
    fill(scratch, 42, 13);
    CHECK_EQ(ivcs_ring_push(t.r, &rec, scratch), 0);
    CHECK_EQ(ivcs_ring_used(t.r), ivcs_ring_record_size(13));
    CHECK_EQ(ivcs_ring_record_size(13), 24 + 16);
    CHECK_EQ(ivcs_ring_unread(t.r), 40);
    ivcs_ring_view_s v;
    CHECK_EQ(ivcs_ring_next(t.r, &v), 1);
    CHECK_EQ(v.pos, 0);
    CHECK_EQ(v.next, 40);
    CHECK_EQ(v.rec->len, 13);
    CHECK_EQ(v.rec->type, 0xAB);
    CHECK_EQ(v.rec->flags, 0x81);
    CHECK_EQ(v.rec->kind, 0); /* ring-owned: the caller's value is ignored */
    CHECK_EQ(v.rec->pts, 0x123456789ABCull);
    CHECK_EQ(v.rec->seq, 42);
    CHECK_EQ(v.rec->user, 0xDEADBEEF);
    CHECK(v.data == (const uint8_t *)v.rec + IVCS_RING_HDR_SIZE);
    CHECK(payload_ok(&v, 42, 13));
    CHECK_EQ(ivcs_ring_next(t.r, &v), 0);
    CHECK_EQ(ivcs_ring_unread(t.r), 0);
    /* empty payloads are records too */
    rec.len = 0;
    CHECK_EQ(ivcs_ring_push(t.r, &rec, NULL), 0);
    CHECK_EQ(ivcs_ring_next(t.r, &v), 1);
    CHECK_EQ(v.rec->len, 0);
    CHECK_EQ(v.next - v.pos, IVCS_RING_HDR_SIZE);
    rec.len = 5;
    CHECK_EQ(ivcs_ring_push(t.r, &rec, NULL), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_ring_push(t.r, NULL, scratch), IVCS_ERR_INVALID_ARG);
    tring_free(&t);
}

TEST(full_ring_says_buffer_full_until_released)
{
    tring t = tring_new(1024);
    /* 104-byte payloads: 128-byte records, 8 fill the ring exactly */
    for (uint32_t i = 0; i < 8; i++)
        CHECK_EQ(push_seq(t.r, i, 104), 0);
    CHECK_EQ(ivcs_ring_used(t.r), 1024);
    CHECK_EQ(ivcs_ring_free(t.r), 0);
    CHECK_EQ(push_seq(t.r, 8, 104), IVCS_ERR_BUFFER_FULL);
    CHECK_EQ(push_seq(t.r, 8, 0), IVCS_ERR_BUFFER_FULL);
    void *p = (void *)1;
    CHECK_EQ(ivcs_ring_reserve(t.r, 0, &p), IVCS_ERR_BUFFER_FULL);
    CHECK(p == NULL);
    /* reading frees nothing */
    ivcs_ring_view_s v;
    for (uint32_t i = 0; i < 8; i++) {
        CHECK_EQ(ivcs_ring_next(t.r, &v), 1);
        CHECK_EQ(v.rec->seq, i);
        CHECK(payload_ok(&v, i, 104));
    }
    CHECK_EQ(push_seq(t.r, 8, 104), IVCS_ERR_BUFFER_FULL);
    /* releasing the first record makes room for exactly one more */
    CHECK_EQ(ivcs_ring_release(t.r, 128), 0);
    CHECK_EQ(ivcs_ring_free(t.r), 128);
    CHECK_EQ(push_seq(t.r, 8, 104), 0);
    CHECK_EQ(push_seq(t.r, 9, 0), IVCS_ERR_BUFFER_FULL);
    CHECK_EQ(ivcs_ring_next(t.r, &v), 1);
    CHECK_EQ(v.rec->seq, 8);
    CHECK_EQ(v.pos, 1024); /* wrapped to offset 0 without padding */
    CHECK(payload_ok(&v, 8, 104));
    CHECK(tring_guard_ok(&t));
    tring_free(&t);
}

TEST(too_big_never_fits_but_max_payload_always_fits_an_empty_ring)
{
    tring t = tring_new(1024);
    size_t max = ivcs_ring_max_payload(t.r);
    void *p;
    CHECK_EQ(ivcs_ring_reserve(t.r, max + 1, &p), IVCS_ERR_FRAME_TOO_BIG);
    CHECK(p == NULL);
    CHECK_EQ(ivcs_ring_reserve(t.r, SIZE_MAX, &p), IVCS_ERR_FRAME_TOO_BIG);
    CHECK_EQ(ivcs_ring_reserve(t.r, 1024, &p), IVCS_ERR_FRAME_TOO_BIG);
    /* at every offset a record can start at (0, and 24.. in steps of 8), and
     * at the two offsets only padding can start at (cap-16, cap-8) */
    ivcs_ring_view_s v;
    for (uint64_t off = 0; off < 1024; off += 8) {
        if (off > 0 && off < 24) continue;
        move_empty_ring_to(t.r, off);
        CHECK_EQ(push_seq(t.r, (uint32_t)off, max), 0);
        /* a second may fit now (depending on the offset), a third never */
        int rc = push_seq(t.r, 1, max);
        CHECK(rc == 0 || rc == IVCS_ERR_BUFFER_FULL);
        CHECK_EQ(push_seq(t.r, 2, max), IVCS_ERR_BUFFER_FULL);
        CHECK_EQ(ivcs_ring_next(t.r, &v), 1);
        CHECK(payload_ok(&v, (uint32_t)off, max));
        if (rc == 0) {
            CHECK_EQ(ivcs_ring_next(t.r, &v), 1);
            CHECK(payload_ok(&v, 1, max));
        }
        CHECK_EQ(ivcs_ring_release(t.r, v.next), 0);
    }
    /* too big stays too big in an empty ring */
    CHECK_EQ(ivcs_ring_used(t.r), 0);
    CHECK_EQ(push_seq(t.r, 1, max + 1), IVCS_ERR_FRAME_TOO_BIG);
    CHECK(tring_guard_ok(&t));
    tring_free(&t);
}

/* ---------------------------------------------------------------- wrap */

TEST(wrap_pads_the_end_and_keeps_the_record_contiguous)
{
    tring t = tring_new(1024);
    ivcs_ring_view_s v, first;
    CHECK_EQ(push_seq(t.r, 1, len_for(512)), 0);
    CHECK_EQ(push_seq(t.r, 2, len_for(256)), 0);
    CHECK_EQ(ivcs_ring_next(t.r, &first), 1);
    const uint8_t *base = (const uint8_t *)first.rec; /* data offset 0 */
    CHECK_EQ(ivcs_ring_next(t.r, &v), 1);
    CHECK_EQ(v.next, 768);
    CHECK_EQ(ivcs_ring_release(t.r, 768), 0);
    /* 400 payload bytes (424-byte record) do not fit in the 256 before the end */
    CHECK_EQ(push_seq(t.r, 3, 400), 0);
    CHECK_EQ(ivcs_ring_used(t.r), 256 + 424); /* the padding counts until released */
    CHECK_EQ(ivcs_ring_unread(t.r), 256 + 424);
    CHECK_EQ(ivcs_ring_next(t.r, &v), 1);
    CHECK_EQ(v.rec->seq, 3);
    CHECK_EQ(v.pos, 1024); /* the padding is skipped */
    CHECK_EQ(v.next, 1024 + 424);
    CHECK((const uint8_t *)v.rec == base);
    CHECK(payload_ok(&v, 3, 400));
    /* peeking at the padding's position finds the same record */
    ivcs_ring_view_s w;
    CHECK_EQ(ivcs_ring_peek(t.r, 768, &w), 1);
    CHECK(w.rec == v.rec);
    CHECK_EQ(w.pos, 1024);
    CHECK_EQ(ivcs_ring_release(t.r, v.next), 0);
    CHECK_EQ(ivcs_ring_used(t.r), 0);
    CHECK(tring_guard_ok(&t));
    tring_free(&t);
}

TEST(wrap_works_when_the_gap_is_smaller_than_a_header)
{
    for (uint64_t gap = 8; gap <= 16; gap += 8) {
        tring t = tring_new(1024);
        ivcs_ring_view_s v;
        move_empty_ring_to(t.r, 1024 - gap);
        CHECK_EQ(push_seq(t.r, 5, 0), 0);
        CHECK_EQ(ivcs_ring_used(t.r), gap + 24);
        CHECK_EQ(ivcs_ring_next(t.r, &v), 1);
        CHECK_EQ(v.rec->seq, 5);
        CHECK_EQ(v.pos & 1023, 0);
        CHECK_EQ(ivcs_ring_release(t.r, v.next), 0);
        CHECK(tring_guard_ok(&t));
        tring_free(&t);
    }
}

TEST(exact_fit_before_the_end_needs_no_padding)
{
    tring t = tring_new(1024);
    ivcs_ring_view_s v;
    move_empty_ring_to(t.r, 512);
    CHECK_EQ(push_seq(t.r, 1, len_for(512)), 0); /* ends exactly at the wrap */
    CHECK_EQ(ivcs_ring_used(t.r), 512);
    CHECK_EQ(push_seq(t.r, 2, len_for(64)), 0);
    CHECK_EQ(ivcs_ring_used(t.r), 512 + 64);
    CHECK_EQ(ivcs_ring_next(t.r, &v), 1);
    CHECK_EQ(v.pos & 1023, 512);
    CHECK_EQ(v.next & 1023, 0);
    CHECK(payload_ok(&v, 1, len_for(512)));
    CHECK_EQ(ivcs_ring_next(t.r, &v), 1);
    CHECK_EQ(v.pos & 1023, 0);
    CHECK(payload_ok(&v, 2, len_for(64)));
    tring_free(&t);
}

TEST(exact_fit_of_the_free_space_fills_the_ring)
{
    tring t = tring_new(1024);
    ivcs_ring_view_s v;
    /* no padding: head at 768, tail at 256 -> 512 free, 256 before the end */
    CHECK_EQ(push_seq(t.r, 1, len_for(256)), 0);
    CHECK_EQ(push_seq(t.r, 2, len_for(512)), 0);
    CHECK_EQ(ivcs_ring_next(t.r, &v), 1);
    CHECK_EQ(ivcs_ring_release(t.r, v.next), 0);
    CHECK_EQ(push_seq(t.r, 3, len_for(256)), 0);
    CHECK_EQ(push_seq(t.r, 4, len_for(256) + 1), IVCS_ERR_BUFFER_FULL);
    CHECK_EQ(push_seq(t.r, 4, len_for(256)), 0);
    CHECK_EQ(ivcs_ring_free(t.r), 0);
    CHECK_EQ(push_seq(t.r, 5, 0), IVCS_ERR_BUFFER_FULL);
    tring_free(&t);
}

TEST(exact_fit_with_padding_fills_the_ring)
{
    /* With the tail behind the head in the same lap, a record that needs
     * padding fits exactly when its size <= the tail's offset. */
    for (uint64_t tail_off = 504; tail_off <= 512; tail_off += 8) {
        tring t = tring_new(1024);
        move_empty_ring_to(t.r, tail_off);
        CHECK_EQ(push_seq(t.r, 1, len_for(768 - tail_off)), 0); /* head offset 768 */
        CHECK_EQ(ivcs_ring_free(t.r), 256 + tail_off);
        int rc = push_seq(t.r, 2, len_for(512)); /* 256 padding + 512 */
        if (tail_off == 512) {
            CHECK_EQ(rc, 0);
            CHECK_EQ(ivcs_ring_free(t.r), 0);
            CHECK_EQ(push_seq(t.r, 3, 0), IVCS_ERR_BUFFER_FULL);
            ivcs_ring_view_s v;
            CHECK_EQ(ivcs_ring_next(t.r, &v), 1);
            CHECK_EQ(ivcs_ring_next(t.r, &v), 1);
            CHECK_EQ(v.pos & 1023, 0);
            CHECK(payload_ok(&v, 2, len_for(512)));
        } else {
            CHECK_EQ(rc, IVCS_ERR_BUFFER_FULL); /* 8 bytes short */
            CHECK_EQ(ivcs_ring_free(t.r), 256 + tail_off);
        }
        CHECK(tring_guard_ok(&t));
        tring_free(&t);
    }
}

/* ---------------------------------------------------------------- reserve */

TEST(reserved_record_is_invisible_until_committed)
{
    tring t = tring_new(1024);
    ivcs_ring_view_s v;
    void *p;
    CHECK_EQ(ivcs_ring_reserve(t.r, 100, &p), 0);
    fill(p, 9, 100);
    CHECK_EQ(ivcs_ring_peek(t.r, 0, &v), 0);
    CHECK_EQ(ivcs_ring_next(t.r, &v), 0);
    CHECK_EQ(ivcs_ring_unread(t.r), 0);
    CHECK_EQ(ivcs_ring_used(t.r), 0);
    CHECK_EQ(ivcs_ring_head_pos(t.r), 0);
    CHECK_EQ(ivcs_ring_prepare_sleep(t.r), 0); /* nothing to read: may sleep */
    ivcs_ring_cancel_sleep(t.r);
    /* commit a shorter record than reserved: the rest goes back */
    ivcs_ring_rec_s rec = {.len = 60, .seq = 9};
    CHECK_EQ(ivcs_ring_commit(t.r, &rec), 0);
    CHECK_EQ(ivcs_ring_used(t.r), ivcs_ring_record_size(60));
    CHECK_EQ(ivcs_ring_next(t.r, &v), 1);
    CHECK(payload_ok(&v, 9, 60));
    CHECK_EQ(v.next, ivcs_ring_record_size(60));
    /* a commit needs an open reservation */
    CHECK_EQ(ivcs_ring_commit(t.r, &rec), IVCS_ERR_STATE);
    tring_free(&t);
}

TEST(a_new_reserve_forgets_the_uncommitted_one)
{
    tring t = tring_new(1024);
    ivcs_ring_view_s v;
    void *p1, *p2;
    CHECK_EQ(ivcs_ring_reserve(t.r, 100, &p1), 0);
    memset(p1, 0xEE, 100);
    CHECK_EQ(ivcs_ring_reserve(t.r, 50, &p2), 0);
    CHECK(p1 == p2);
    fill(p2, 3, 50);
    ivcs_ring_rec_s rec = {.len = 51, .seq = 3};
    CHECK_EQ(ivcs_ring_commit(t.r, &rec), IVCS_ERR_INVALID_ARG); /* more than reserved */
    rec.len = 50;
    CHECK_EQ(ivcs_ring_commit(t.r, &rec), 0); /* the reservation stayed open */
    CHECK_EQ(ivcs_ring_next(t.r, &v), 1);
    CHECK(payload_ok(&v, 3, 50));
    CHECK_EQ(ivcs_ring_next(t.r, &v), 0);
    /* a failed reserve also closes the reservation */
    CHECK_EQ(ivcs_ring_reserve(t.r, 10, &p1), 0);
    CHECK_EQ(ivcs_ring_reserve(t.r, 4096, &p1), IVCS_ERR_FRAME_TOO_BIG);
    CHECK_EQ(ivcs_ring_commit(t.r, &rec), IVCS_ERR_STATE);
    CHECK_EQ(ivcs_ring_commit(NULL, &rec), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_ring_reserve(t.r, 10, NULL), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_ring_reserve(NULL, 10, &p1), IVCS_ERR_INVALID_ARG);
    tring_free(&t);
}

TEST(abandoned_wrapping_reserve_leaves_no_padding_behind)
{
    tring t = tring_new(1024);
    ivcs_ring_view_s v;
    void *p;
    move_empty_ring_to(t.r, 768);
    CHECK_EQ(ivcs_ring_reserve(t.r, 400, &p), 0); /* pads [768, 1024) */
    CHECK_EQ(ivcs_ring_unread(t.r), 0);
    CHECK_EQ(ivcs_ring_reserve(t.r, 40, &p), 0); /* fits before the end */
    fill(p, 4, 40);
    ivcs_ring_rec_s rec = {.len = 40, .seq = 4};
    CHECK_EQ(ivcs_ring_commit(t.r, &rec), 0);
    CHECK_EQ(ivcs_ring_next(t.r, &v), 1);
    CHECK_EQ(v.pos, 768);
    CHECK(payload_ok(&v, 4, 40));
    CHECK_EQ(ivcs_ring_used(t.r), 64);
    tring_free(&t);
}

/* ---------------------------------------------------------------- consumer */

TEST(reading_frees_nothing_until_release)
{
    tring t = tring_new(4096);
    ivcs_ring_view_s v[5], w;
    for (uint32_t i = 0; i < 5; i++)
        CHECK_EQ(push_seq(t.r, i, 100 + i * 30), 0);
    size_t used = ivcs_ring_used(t.r);
    uint64_t start = ivcs_ring_read_pos(t.r);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(ivcs_ring_next(t.r, &v[i]), 1);
    CHECK_EQ(ivcs_ring_used(t.r), used);
    CHECK_EQ(ivcs_ring_release_pos(t.r), 0);
    CHECK_EQ(ivcs_ring_read_pos(t.r), v[2].next);
    CHECK_EQ(ivcs_ring_unread(t.r), used - v[2].next);
    /* retry: read the same records again, same memory, same bytes */
    CHECK_EQ(ivcs_ring_seek(t.r, start), 0);
    for (uint32_t i = 0; i < 3; i++) {
        CHECK_EQ(ivcs_ring_next(t.r, &w), 1);
        CHECK(w.rec == v[i].rec);
        CHECK_EQ(w.pos, v[i].pos);
        CHECK(payload_ok(&w, i, 100 + i * 30));
    }
    /* peek anywhere held, cursor unchanged */
    CHECK_EQ(ivcs_ring_peek(t.r, v[1].pos, &w), 1);
    CHECK(w.rec == v[1].rec);
    CHECK_EQ(ivcs_ring_read_pos(t.r), v[2].next);
    /* release the first two: exactly their bytes come back */
    CHECK_EQ(ivcs_ring_release(t.r, v[1].next), 0);
    CHECK_EQ(ivcs_ring_used(t.r), used - v[1].next);
    CHECK_EQ(ivcs_ring_release_pos(t.r), v[1].next);
    CHECK_EQ(ivcs_ring_read_pos(t.r), v[2].next); /* cursor untouched */
    CHECK_EQ(ivcs_ring_peek(t.r, v[0].pos, &w), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_ring_seek(t.r, v[0].pos), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_ring_release(t.r, v[0].next), IVCS_ERR_INVALID_ARG); /* backwards */
    CHECK_EQ(ivcs_ring_peek(t.r, v[2].pos, &w), 1);                    /* still held */
    CHECK(payload_ok(&w, 2, 160));
    tring_free(&t);
}

TEST(release_past_the_cursor_drops_unread_records)
{
    tring t = tring_new(4096);
    ivcs_ring_view_s v;
    uint64_t ends[6];
    for (uint32_t i = 0; i < 6; i++) {
        CHECK_EQ(push_seq(t.r, i, 200), 0);
        ends[i] = ivcs_ring_head_pos(t.r);
    }
    CHECK_EQ(ivcs_ring_next(t.r, &v), 1);
    CHECK_EQ(ivcs_ring_release(t.r, ends[3]), 0); /* drop records 1..3 unread */
    CHECK_EQ(ivcs_ring_read_pos(t.r), ends[3]);
    CHECK_EQ(ivcs_ring_next(t.r, &v), 1);
    CHECK_EQ(v.rec->seq, 4);
    CHECK(payload_ok(&v, 4, 200));
    CHECK_EQ(ivcs_ring_used(t.r), ends[5] - ends[3]);
    tring_free(&t);
}

TEST(bad_consumer_positions_are_rejected)
{
    tring t = tring_new(4096);
    ivcs_ring_view_s v;
    ivcs_ring_rec_s rec = {.len = 64, .pts = 0x00000000FFFFFFF0ull, .seq = 1};
    fill(scratch, 1, 64);
    CHECK_EQ(ivcs_ring_push(t.r, &rec, scratch), 0);
    uint64_t head = ivcs_ring_head_pos(t.r);
    CHECK_EQ(ivcs_ring_peek(t.r, 4, &v), IVCS_ERR_INVALID_ARG);        /* misaligned */
    CHECK_EQ(ivcs_ring_peek(t.r, head + 8, &v), IVCS_ERR_INVALID_ARG); /* past head */
    CHECK_EQ(ivcs_ring_peek(t.r, 8, &v), IVCS_ERR_INVALID_ARG);        /* inside a record */
    CHECK_EQ(ivcs_ring_seek(t.r, head + 8), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_ring_seek(t.r, 3), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_ring_release(t.r, head + 8), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_ring_release(t.r, 12), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_ring_peek(t.r, 0, NULL), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_ring_next(NULL, &v), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_ring_used(t.r), head); /* nothing changed */
    CHECK_EQ(ivcs_ring_read_pos(t.r), 0);
    CHECK_EQ(ivcs_ring_seek(t.r, head), 0);
    CHECK_EQ(ivcs_ring_next(t.r, &v), 0);
    tring_free(&t);
}

TEST(payload_pointers_are_8_byte_aligned)
{
    tring t = tring_new(8192);
    ivcs_ring_view_s v;
    uint32_t x = 12345, seq = 0;
    size_t max = ivcs_ring_max_payload(t.r);
    for (int i = 0; i < 20000; i++) {
        x = x * 1103515245u + 12345u;
        size_t len = (x >> 8) % (max + 1);
        void *p;
        if (ivcs_ring_reserve(t.r, len, &p) == 0) {
            CHECK_EQ((uintptr_t)p % 8, 0);
            fill(p, seq, len);
            ivcs_ring_rec_s rec = {.len = (uint32_t)len, .seq = seq++};
            CHECK_EQ(ivcs_ring_commit(t.r, &rec), 0);
        }
        while (ivcs_ring_next(t.r, &v) == 1) {
            CHECK_EQ((uintptr_t)v.rec % 8, 0);
            CHECK_EQ((uintptr_t)v.data % 8, 0);
            CHECK_EQ(v.pos % 8, 0);
            CHECK(payload_ok(&v, v.rec->seq, v.rec->len));
            if (x & 0x10000) CHECK_EQ(ivcs_ring_release(t.r, v.next), 0);
        }
        if (ivcs_ring_free(t.r) < max + 24) CHECK_EQ(ivcs_ring_release(t.r, v.next), 0);
    }
    CHECK(seq > 1000);
    CHECK(tring_guard_ok(&t));
    tring_free(&t);
}

/* ---------------------------------------------------------------- wake-up */

TEST(wake_flag_protocol)
{
    tring t = tring_new(4096);
    ivcs_ring_view_s v;
    /* nobody sleeping: no wake-up */
    CHECK_EQ(push_seq(t.r, 1, 10), 0);
    /* data unread: the consumer must not sleep, and the flag is clear again */
    CHECK_EQ(ivcs_ring_prepare_sleep(t.r), 1);
    CHECK_EQ(push_seq(t.r, 2, 10), 0);
    CHECK_EQ(ivcs_ring_next(t.r, &v), 1);
    CHECK_EQ(ivcs_ring_next(t.r, &v), 1);
    /* everything read (though held, not released): the consumer may sleep */
    CHECK_EQ(ivcs_ring_prepare_sleep(t.r), 0);
    /* a reservation alone wakes nobody; its commit does, once */
    void *p;
    CHECK_EQ(ivcs_ring_reserve(t.r, 10, &p), 0);
    ivcs_ring_rec_s rec = {.len = 10, .seq = 3};
    CHECK_EQ(ivcs_ring_commit(t.r, &rec), 1);
    CHECK_EQ(push_seq(t.r, 4, 10), 0); /* the first commit claimed the wake-up */
    ivcs_ring_cancel_sleep(t.r);
    CHECK_EQ(ivcs_ring_next(t.r, &v), 1);
    CHECK_EQ(ivcs_ring_next(t.r, &v), 1);
    /* sleep, then wake up for another reason and cancel: no wake-up */
    CHECK_EQ(ivcs_ring_prepare_sleep(t.r), 0);
    ivcs_ring_cancel_sleep(t.r);
    CHECK_EQ(push_seq(t.r, 5, 10), 0);
    CHECK_EQ(ivcs_ring_next(t.r, &v), 1);
    /* a push that fails publishes nothing and wakes nobody */
    CHECK_EQ(ivcs_ring_prepare_sleep(t.r), 0);
    CHECK_EQ(ivcs_ring_reserve(t.r, 1 << 20, &p), IVCS_ERR_FRAME_TOO_BIG);
    CHECK_EQ(ivcs_ring_commit(t.r, &rec), IVCS_ERR_STATE);
    CHECK_EQ(push_seq(t.r, 6, 10), 1);
    ivcs_ring_cancel_sleep(t.r);
    tring_free(&t);
}

/* ---------------------------------------------------------------- model */

/* Random operations on both sides against a plain model of what the ring
 * promises: FIFO order, exact bytes, free space = cap - (head - tail) with
 * a record placed contiguously (padding to the end when needed). */
TEST(random_operations_match_the_model)
{
    enum { CAP = 4096, HELD = 512 };
    tring t = tring_new(CAP);
    uint64_t m_head = 0, m_tail = 0;
    uint64_t pos[HELD], nxt[HELD]; /* published records not yet released */
    uint32_t sq[HELD], ln[HELD];
    int n = 0, rd = 0; /* records held; index of the next unread */
    uint64_t m_rd = 0; /* the read cursor */
    uint32_t seq = 0, x = 777;
    size_t max = ivcs_ring_max_payload(t.r);
    long pushed = 0, full = 0, big = 0, padded = 0;

    for (int step = 0; step < 300000; step++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        unsigned op = x % 100;
        if (op < 45) { /* produce */
            size_t len = (x >> 8) % 64 == 0 ? max + 1 + (x >> 20) % 64 : (x >> 8) % (max / 2);
            uint64_t size = ivcs_ring_record_size(len);
            uint64_t room = CAP - (m_head & (CAP - 1));
            uint64_t need = size <= room ? size : room + size;
            int expect = len > max                      ? IVCS_ERR_FRAME_TOO_BIG
                         : m_head + need - m_tail > CAP ? IVCS_ERR_BUFFER_FULL
                                                        : 0;
            int rc;
            uint32_t clen = (uint32_t)len;
            if (op < 15) {
                rc = push_seq(t.r, seq, len);
            } else {
                void *p;
                rc = ivcs_ring_reserve(t.r, len, &p);
                if (rc == 0) {
                    if (op < 20) continue; /* abandoned: must leave no trace */
                    clen = (uint32_t)(len - (len ? (x >> 3) % len : 0)); /* shrink */
                    fill(p, seq, clen);
                    ivcs_ring_rec_s rec = {.len = clen, .seq = seq};
                    rc = ivcs_ring_commit(t.r, &rec);
                    size = ivcs_ring_record_size(clen);
                    need = need == ivcs_ring_record_size(len) ? size : room + size;
                }
            }
            CHECK_EQ(rc, expect);
            if (rc == IVCS_ERR_BUFFER_FULL) full++;
            if (rc == IVCS_ERR_FRAME_TOO_BIG) big++;
            if (rc != 0) continue;
            CHECK(n < HELD);
            if (need != size) padded++;
            pos[n] = m_head + need - size;
            nxt[n] = m_head + need;
            sq[n] = seq++;
            ln[n] = clen;
            n++;
            m_head += need;
            pushed++;
        } else if (op < 80) { /* read the next record */
            ivcs_ring_view_s v;
            int rc = ivcs_ring_next(t.r, &v);
            if (rd == n) {
                CHECK_EQ(rc, 0);
                continue;
            }
            CHECK_EQ(rc, 1);
            if (rc != 1) break;
            CHECK_EQ(v.pos, pos[rd]);
            CHECK_EQ(v.next, nxt[rd]);
            CHECK_EQ(v.rec->seq, sq[rd]);
            CHECK(payload_ok(&v, sq[rd], ln[rd]));
            m_rd = nxt[rd];
            rd++;
        } else if (op < 85 && n > 0) { /* retry: seek back to a held record */
            int k = (int)((x >> 8) % (unsigned)n);
            CHECK_EQ(ivcs_ring_seek(t.r, pos[k]), 0);
            m_rd = pos[k];
            rd = k;
        } else if (op < 97 && rd > 0) { /* release up to a read record */
            int k = 1 + (int)((x >> 8) % (unsigned)rd);
            CHECK_EQ(ivcs_ring_release(t.r, nxt[k - 1]), 0);
            m_tail = nxt[k - 1];
            if (m_rd < m_tail) m_rd = m_tail;
            memmove(pos, pos + k, (size_t)(n - k) * sizeof pos[0]);
            memmove(nxt, nxt + k, (size_t)(n - k) * sizeof nxt[0]);
            memmove(sq, sq + k, (size_t)(n - k) * sizeof sq[0]);
            memmove(ln, ln + k, (size_t)(n - k) * sizeof ln[0]);
            n -= k;
            rd -= k;
        } else if (n > 0) { /* drop everything, read or not */
            CHECK_EQ(ivcs_ring_release(t.r, nxt[n - 1]), 0);
            m_tail = nxt[n - 1];
            if (m_rd < m_tail) m_rd = m_tail;
            n = rd = 0;
        }
        CHECK_EQ(ivcs_ring_used(t.r), m_head - m_tail);
        CHECK_EQ(ivcs_ring_free(t.r), CAP - (m_head - m_tail));
        CHECK_EQ(ivcs_ring_head_pos(t.r), m_head);
        CHECK_EQ(ivcs_ring_read_pos(t.r), m_rd);
        CHECK_EQ(ivcs_ring_unread(t.r), m_head - m_rd);
        if (check_failed_now) break;
    }
    fprintf(stderr, "     %ld pushed, %ld full, %ld too big, %ld padded, %llu laps\n", pushed, full,
            big, padded, (unsigned long long)(m_head / CAP));
    CHECK(pushed > 50000);
    CHECK(full > 1000);
    CHECK(big > 1000);
    CHECK(padded > 1000);
    CHECK(tring_guard_ok(&t));
    tring_free(&t);
}

/* Positions cross 2^32, where the published words of a 32-bit target wrap
 * (test_ring_pos32 runs this file with them), with the ring filled up and
 * drained by half over and over on both sides of it: every record comes
 * back in order, at the position it was committed at, and used/unread stay
 * exact. */
TEST(positions_cross_the_32_bit_wrap)
{
    enum { CAP = 1 << 16, FIFO = 4096 };
    tring t = tring_new(CAP);
    CHECK(t.r != NULL);
    if (!t.r) return;
    static uint64_t at[FIFO]; /* positions of the records in the ring */
    uint32_t pushed = 0, popped = 0, rnd = 12345;
    int ok = 1, crossed_full = 0;
    const uint64_t goal = (1ull << 32) + 4 * CAP;
    size_t maxp = ivcs_ring_max_payload(t.r);
    for (long iter = 0; ok && ivcs_ring_pushed_pos(t.r) < goal && iter < 4000000; iter++) {
        for (;;) { /* fill */
            rnd = rnd * 1103515245u + 12345u;
            size_t len = 1 + (rnd >> 8) % maxp;
            void *p;
            int rc = ivcs_ring_reserve(t.r, len, &p);
            if (rc == IVCS_ERR_BUFFER_FULL) break;
            ok &= rc == 0 && pushed - popped < FIFO;
            if (!ok) break;
            memset(p, (int)(pushed & 0xff), len < 8 ? len : 8);
            ivcs_ring_rec_s rec = {.len = (uint32_t)len, .seq = pushed};
            rc = ivcs_ring_commit(t.r, &rec);
            uint64_t end = ivcs_ring_pushed_pos(t.r);
            at[pushed % FIFO] = end - ivcs_ring_record_size(len);
            ok &= rc == 0 && ivcs_ring_head_pos(t.r) == end;
            pushed++;
        }
        uint64_t head = ivcs_ring_head_pos(t.r);
        ok &= ivcs_ring_used(t.r) == head - ivcs_ring_release_pos(t.r);
        if (ivcs_ring_release_pos(t.r) < (1ull << 32) && head > (1ull << 32)) crossed_full = 1;
        for (uint32_t n = (pushed - popped + 1) / 2; ok && n > 0; n--) { /* drain half */
            ivcs_ring_view_s v;
            ok &= ivcs_ring_next(t.r, &v) == 1;
            if (!ok) break;
            ok &= v.rec->seq == popped && v.pos == at[popped % FIFO] &&
                  v.data[0] == (uint8_t)(popped & 0xff);
            ok &= ivcs_ring_release(t.r, v.next) == 0;
            popped++;
        }
        ok &= ivcs_ring_unread(t.r) == ivcs_ring_head_pos(t.r) - ivcs_ring_read_pos(t.r);
    }
    CHECK(ok);
    CHECK(crossed_full);
    CHECK(ivcs_ring_pushed_pos(t.r) >= goal);
    ivcs_ring_view_s v;
    while (ok && ivcs_ring_next(t.r, &v) == 1) {
        CHECK(v.rec->seq == popped && v.pos == at[popped % FIFO]);
        CHECK_EQ(ivcs_ring_release(t.r, v.next), 0);
        popped++;
    }
    CHECK_EQ(popped, pushed);
    CHECK_EQ(ivcs_ring_used(t.r), 0);
    CHECK_EQ(ivcs_ring_unread(t.r), 0);
    CHECK(tring_guard_ok(&t));
    tring_free(&t);
}

int main(void)
{
    RUN(mem_size_needs_a_power_of_two_capacity);
    RUN(capacity_for_picks_the_largest_ring_in_a_budget);
    RUN(init_rejects_bad_memory_and_capacity);
    RUN(empty_ring_yields_nothing);
    RUN(push_then_next_returns_header_and_payload);
    RUN(full_ring_says_buffer_full_until_released);
    RUN(too_big_never_fits_but_max_payload_always_fits_an_empty_ring);
    RUN(wrap_pads_the_end_and_keeps_the_record_contiguous);
    RUN(wrap_works_when_the_gap_is_smaller_than_a_header);
    RUN(exact_fit_before_the_end_needs_no_padding);
    RUN(exact_fit_of_the_free_space_fills_the_ring);
    RUN(exact_fit_with_padding_fills_the_ring);
    RUN(reserved_record_is_invisible_until_committed);
    RUN(a_new_reserve_forgets_the_uncommitted_one);
    RUN(abandoned_wrapping_reserve_leaves_no_padding_behind);
    RUN(reading_frees_nothing_until_release);
    RUN(release_past_the_cursor_drops_unread_records);
    RUN(bad_consumer_positions_are_rejected);
    RUN(payload_pointers_are_8_byte_aligned);
    RUN(wake_flag_protocol);
    RUN(random_operations_match_the_model);
    RUN(positions_cross_the_32_bit_wrap);
    return check_done();
}
