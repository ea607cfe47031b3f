/* test_slicer.c - the slicing rules of engine/record/slicer.h, one test per
 * rule, on synthetic frame sequences with an injected clock: no ring, no
 * network, milliseconds. (The engine tests and the radosgw tests remain the
 * end-to-end check of the same rules.)
 *  - I-frame cut after slice_ms; an I-frame earlier does not cut;
 *  - I-frame cut once max_bytes (slice_max_bytes) are collected;
 *  - 'p' cut: a GOP reaching gop_cut_bytes (a quarter of the ring) closes
 *    after its frame, the next slice continues without a key frame;
 *  - orphan: a P-frame that continues nothing opens a slice to discard,
 *    and a slice whose head was dropped becomes one; the next I-frame
 *    ends an orphan at once;
 *  - pause: no data for pause_ms closes the slice, the next frame
 *    re-anchors the timeline at the clock;
 *  - PTS jump forward / backwards re-anchors (a P-frame continues its GOP);
 *  - exit flush closes at the last PTS + one frame. */
#include <string.h>

#include "check.h"
#include "engine/record/slicer.h"

static const ivcs_slicer_rules_s RULES = {.slice_ms = 4000,
                                          .max_bytes = 1u << 20,
                                          .gop_cut_bytes = 1u << 20,
                                          .frame_ms = 40,
                                          .pause_ms = 120000,
                                          .jump_ms = 10000};
#define T0 1767225600000LL /* the clock at the first frame */

/* Feeds n frames 40 ms apart from pts, an I-frame every gop frames (gop 0:
 * only the first), each `bytes` big; clock = T0 + pts. Returns the number
 * of slices closed (before/after), the last close in *last. */
static int feed(ivcs_slicer_s *s, uint64_t pts, int n, int gop, uint64_t bytes,
                ivcs_slicer_close_s *last)
{
    int closes = 0;
    for (int i = 0; i < n; i++, pts += 40) {
        int key = gop ? i % gop == 0 : i == 0;
        ivcs_slicer_step_s st;
        ivcs_slicer_frame(s, key, pts, bytes, T0 + (int64_t)pts, &st);
        ivcs_slicer_saw_data(s, T0 + (int64_t)pts);
        if (st.before.why) {
            closes++;
            if (last) *last = st.before;
        }
        if (st.after.why) {
            closes++;
            if (last) *last = st.after;
        }
    }
    return closes;
}

TEST(key_frame_cut_after_slice_ms)
{
    ivcs_slicer_s s;
    ivcs_slicer_init(&s, &RULES);
    ivcs_slicer_close_s cl = {0};
    /* 2 s GOPs: the I-frame at 2000 is too early, the one at 4000 cuts */
    CHECK_EQ(feed(&s, 0, 100, 50, 1000, &cl), 0);
    CHECK_EQ(feed(&s, 4000, 1, 50, 1000, &cl), 1);
    CHECK_EQ(cl.why, IVCS_CUT_KEY);
    CHECK_EQ(cl.cut_pts, 4000);
    CHECK_EQ(cl.orphan, 0);
    CHECK(s.open && s.key && s.pts0 == 4000 && s.utc0 == T0 + 4000);
    /* a P-frame past slice_ms never cuts */
    CHECK_EQ(feed(&s, 4040, 150, 0, 1000, NULL), 0);
}

TEST(key_frame_cut_at_max_bytes)
{
    ivcs_slicer_rules_s r = RULES;
    r.max_bytes = 10000;
    ivcs_slicer_s s;
    ivcs_slicer_init(&s, &r);
    ivcs_slicer_close_s cl = {0};
    /* 1000-byte frames, I every 5: the first I-frame at or past 10000 bytes
     * (frame 10, 400 ms) cuts, long before slice_ms */
    CHECK_EQ(feed(&s, 0, 10, 5, 1000, &cl), 0);
    CHECK_EQ(feed(&s, 400, 1, 5, 1000, &cl), 1);
    CHECK_EQ(cl.why, IVCS_CUT_KEY);
    CHECK_EQ(cl.cut_pts, 400);
    CHECK_EQ(s.bytes, 1000);
}

TEST(p_cut_at_a_quarter_of_the_ring)
{
    ivcs_slicer_rules_s r = RULES;
    r.gop_cut_bytes = 8000;
    r.max_bytes = 1u << 30;
    ivcs_slicer_s s;
    ivcs_slicer_init(&s, &r);
    ivcs_slicer_step_s st;
    for (int i = 0; i < 7; i++) {
        ivcs_slicer_frame(&s, i == 0, (uint64_t)i * 40, 1000, T0 + i * 40, &st);
        CHECK_EQ(st.after.why, IVCS_CUT_NONE);
    }
    ivcs_slicer_frame(&s, 0, 280, 1000, T0 + 280, &st); /* 8000 bytes of GOP */
    CHECK_EQ(st.after.why, IVCS_CUT_GOP);
    CHECK_EQ(st.after.cut_pts, 320);
    CHECK(!s.open && s.cont);
    ivcs_slicer_frame(&s, 0, 320, 1000, T0 + 320, &st); /* continues the GOP */
    CHECK(st.opened && !s.key && !s.orphan);
    CHECK_EQ(s.utc0, T0 + 320);
}

TEST(p_frame_without_head_is_an_orphan)
{
    ivcs_slicer_s s;
    ivcs_slicer_init(&s, &RULES);
    ivcs_slicer_step_s st;
    ivcs_slicer_frame(&s, 0, 0, 1000, T0, &st); /* a P-frame first */
    CHECK(st.opened && s.orphan);
    ivcs_slicer_close_s cl;
    ivcs_slicer_close(&s, IVCS_CUT_FLUSH, &cl);
    CHECK_EQ(cl.orphan, 1);
    /* a 'p' slice whose head was dropped */
    ivcs_slicer_init(&s, &RULES);
    ivcs_slicer_rules_s r = RULES;
    r.gop_cut_bytes = 3000;
    ivcs_slicer_init(&s, &r);
    CHECK_EQ(feed(&s, 0, 4, 0, 1000, NULL), 1); /* cut after frame 3: 'p' next */
    CHECK(s.open && !s.key && !s.orphan);
    CHECK_EQ(ivcs_slicer_lose_head(&s), 1);
    ivcs_slicer_close(&s, IVCS_CUT_FLUSH, &cl);
    CHECK_EQ(cl.orphan, 1);
    CHECK_EQ(ivcs_slicer_lose_head(&s), 0); /* nothing open */
}

TEST(key_frame_ends_an_orphan)
{
    /* an orphan (its head dropped) cut into 'p' slices shorter than
     * slice_ms: the next I-frame opens a slice of its own, not an orphan,
     * however soon it comes (before: it stayed in the orphan, and every
     * later 'p' slice was an orphan too, forever) */
    ivcs_slicer_rules_s r = RULES;
    r.gop_cut_bytes = 3000;
    ivcs_slicer_s s;
    ivcs_slicer_init(&s, &r);
    CHECK_EQ(feed(&s, 0, 4, 0, 1000, NULL), 1); /* 'p' slice open after frame 3 */
    CHECK_EQ(ivcs_slicer_lose_head(&s), 1);
    CHECK(s.open && s.orphan);
    ivcs_slicer_step_s st;
    ivcs_slicer_frame(&s, 1, 160, 1000, T0 + 160, &st); /* an I-frame 40 ms later */
    CHECK_EQ(st.before.why, IVCS_CUT_KEY);
    CHECK_EQ(st.before.orphan, 1);
    CHECK(st.opened && s.key && !s.orphan);
    CHECK_EQ(s.pts0, 160);
    /* and its GOP goes on in 'p' slices that land */
    ivcs_slicer_close_s cl = {0};
    CHECK_EQ(feed(&s, 200, 4, 0, 1000, &cl), 1);
    CHECK_EQ(cl.orphan, 0);
    CHECK(s.open && !s.orphan);
}

TEST(pause_after_pause_ms_reanchors)
{
    ivcs_slicer_s s;
    ivcs_slicer_init(&s, &RULES);
    feed(&s, 0, 25, 25, 1000, NULL); /* last frame pts 960 at T0 + 960 */
    CHECK(!ivcs_slicer_pause_due(&s, T0 + 960 + 119999));
    CHECK(ivcs_slicer_pause_due(&s, T0 + 960 + 120000));
    ivcs_slicer_close_s cl;
    ivcs_slicer_pause(&s, &cl);
    CHECK_EQ(cl.why, IVCS_CUT_PAUSE);
    CHECK_EQ(cl.cut_pts, 1000);
    CHECK(!ivcs_slicer_pause_due(&s, T0 + 10000000)); /* nothing open */
    /* the next frame (continuous PTS) is anchored at the clock, not the PTS */
    ivcs_slicer_step_s st;
    ivcs_slicer_frame(&s, 1, 1000, 1000, T0 + 500000, &st);
    CHECK(st.reanchored && st.opened);
    CHECK_EQ(st.before.why, IVCS_CUT_NONE);
    CHECK_EQ(s.utc0, T0 + 500000);
}

TEST(pts_jump_reanchors)
{
    ivcs_slicer_s s;
    ivcs_slicer_init(&s, &RULES);
    feed(&s, 0, 10, 0, 1000, NULL); /* last pts 360 */
    ivcs_slicer_step_s st;
    /* forward past jump_ms on a P-frame: close, continue the GOP ('p') */
    ivcs_slicer_frame(&s, 0, 360 + 10041, 1000, T0 + 400, &st);
    CHECK(st.reanchored && st.opened);
    CHECK_EQ(st.before.why, IVCS_CUT_REANCHOR);
    CHECK_EQ(st.before.cut_pts, 400);
    CHECK(!s.key && !s.orphan);
    CHECK_EQ(s.utc0, T0 + 400); /* dated by the clock, not the jump */
    /* a jump of exactly jump_ms does not re-anchor */
    ivcs_slicer_frame(&s, 0, 360 + 10041 + 10000, 1000, T0 + 440, &st);
    CHECK(!st.reanchored && !st.before.why);
    /* backwards on an I-frame: close, new 'k' slice */
    ivcs_slicer_frame(&s, 1, 5, 1000, T0 + 480, &st);
    CHECK(st.reanchored && st.opened && s.key);
    CHECK_EQ(st.before.why, IVCS_CUT_REANCHOR);
    CHECK_EQ(s.utc0, T0 + 480);
}

TEST(exit_flush_closes_at_last_pts_plus_a_frame)
{
    ivcs_slicer_s s;
    ivcs_slicer_init(&s, &RULES);
    ivcs_slicer_close_s cl;
    ivcs_slicer_close(&s, IVCS_CUT_FLUSH, &cl);
    CHECK_EQ(cl.why, IVCS_CUT_NONE);    /* nothing open: nothing closed */
    feed(&s, 1000, 30, 25, 1000, NULL); /* last pts 2160 */
    ivcs_slicer_close(&s, IVCS_CUT_FLUSH, &cl);
    CHECK_EQ(cl.why, IVCS_CUT_FLUSH);
    CHECK_EQ(cl.cut_pts, 2200);
    CHECK(!s.open);
}

int main(void)
{
    RUN(key_frame_cut_after_slice_ms);
    RUN(key_frame_cut_at_max_bytes);
    RUN(p_cut_at_a_quarter_of_the_ring);
    RUN(p_frame_without_head_is_an_orphan);
    RUN(key_frame_ends_an_orphan);
    RUN(pause_after_pause_ms_reanchors);
    RUN(pts_jump_reanchors);
    RUN(exit_flush_closes_at_last_pts_plus_a_frame);
    return check_done();
}
