/* slicer.c - the slicing rules of slicer.h: when a channel's slice opens and
 * closes, from the frame sequence, the rules and the clock only. */
#include "engine/record/slicer.h"

#include <string.h>

void ivcs_slicer_init(ivcs_slicer_s *s, const ivcs_slicer_rules_s *r)
{
    memset(s, 0, sizeof *s);
    s->r = *r;
}

/* Closes the open slice at cut_pts (nothing if none is open). */
static void close_at(ivcs_slicer_s *s, ivcs_slicer_cut_e why, uint64_t cut_pts,
                     ivcs_slicer_close_s *out)
{
    memset(out, 0, sizeof *out);
    if (!s->open) return;
    out->why = why;
    out->cut_pts = cut_pts;
    out->orphan = s->orphan;
    s->open = 0;
    s->cont = 0;
}

void ivcs_slicer_close(ivcs_slicer_s *s, ivcs_slicer_cut_e why, ivcs_slicer_close_s *out)
{
    close_at(s, why, s->last_pts + s->r.frame_ms, out);
}

int ivcs_slicer_pause_due(const ivcs_slicer_s *s, int64_t now)
{
    return s->open && now - s->last_data_at >= (int64_t)s->r.pause_ms;
}

void ivcs_slicer_pause(ivcs_slicer_s *s, ivcs_slicer_close_s *out)
{
    ivcs_slicer_close(s, IVCS_CUT_PAUSE, out);
    s->paused = 1;
}

int ivcs_slicer_lose_head(ivcs_slicer_s *s)
{
    s->cont = 0;
    if (s->open && !s->key) {
        s->orphan = 1;
        return 1;
    }
    return 0;
}

void ivcs_slicer_frame(ivcs_slicer_s *s, int key, uint64_t pts, uint64_t bytes, int64_t now,
                       ivcs_slicer_step_s *out)
{
    memset(out, 0, sizeof *out);
    if (key) {
        uint64_t d = pts - s->key_pts;
        s->gop_ms = s->key_pts && pts > s->key_pts && d <= 60000 ? (uint32_t)d : 0;
        s->key_pts = pts;
    }
    /* The discontinuity rule holds for every frame: a PTS that jumps
     * forward (or back) re-anchors the timeline, so no slice spans the jump
     * and later slices keep real dates. A P-frame that jumps continues its
     * GOP in a 'p' slice. */
    if (!s->anchored || s->paused || pts < s->last_pts || pts > s->last_pts + s->r.jump_ms) {
        if (s->anchored) {
            int cont = !key && s->open && !s->orphan; /* (paused: nothing open) */
            ivcs_slicer_close(s, IVCS_CUT_REANCHOR, &out->before);
            s->cont = cont;
            out->reanchored = 1;
        }
        s->anchored = 1;
        s->paused = 0;
        s->anchor_pts = pts;
        s->anchor_utc = now;
    } else if (s->open && key &&
               (s->orphan || pts - s->pts0 >= s->r.slice_ms || s->bytes >= s->r.max_bytes)) {
        /* an I-frame always ends an orphan: it is the head the next slice
         * needs (kept in the orphan, it was discarded with it, and with
         * GOP cuts shorter than slice_ms every later slice stayed an
         * orphan: all dropped, none ever attempted) */
        close_at(s, IVCS_CUT_KEY, pts, &out->before);
    }
    if (!s->open) {
        s->open = 1;
        s->pts0 = pts;
        s->utc0 = s->anchor_utc + (int64_t)(pts - s->anchor_pts);
        s->key = key ? 1 : 0;
        s->frames = 0;
        s->bytes = 0;
        /* a P-frame may open a slice only to continue one cut mid-GOP */
        s->orphan = !key && !s->cont;
        s->cont = 0;
        out->opened = 1;
    }
    s->frames++;
    s->bytes += bytes;
    s->last_pts = pts;
    /* a GOP larger than a quarter of the ring is cut mid-GOP ('p' next) so
     * its first part can be uploaded and freed while the GOP goes on */
    s->gop_bytes = key ? bytes : s->gop_bytes + bytes;
    if (s->gop_bytes >= s->r.gop_cut_bytes) {
        int cont = !s->orphan; /* a 'p' slice continues only a slice that will land */
        close_at(s, IVCS_CUT_GOP, pts + s->r.frame_ms, &out->after);
        s->cont = cont;
        s->gop_bytes = 0;
    }
}
