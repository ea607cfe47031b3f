/* slicer.h - where a channel's video is cut into slices: a pure function of
 * the frame sequence (key flag, PTS, size), the rules and the clock; no I/O.
 *
 * The rules (docs/ENGINE.md, "Slices"), each applied as a frame arrives:
 *  - anchor: the first frame, a frame after a pause, a PTS going back, or a
 *    PTS jumping forward more than jump_ms re-anchors the timeline: the open
 *    slice closes at the last frame's PTS + frame_ms, and the slice's UTC
 *    start is "now" at the anchor plus the PTS distance from the anchor. A
 *    P-frame that re-anchors continues its GOP in a 'p' slice.
 *  - I-frame cut: an I-frame closes the open slice (at its PTS) once the
 *    slice lasts slice_ms or holds max_bytes.
 *  - 'p' cut: a GOP of gop_cut_bytes (a quarter of the video ring) closes
 *    the slice after its current frame (PTS + frame_ms); the next slice
 *    continues the GOP without a key frame ('p').
 *  - orphan: a P-frame may open a slice only to continue one cut mid-GOP (or
 *    re-anchored); otherwise the slice is an orphan and is discarded. An
 *    I-frame always closes an open orphan and opens a slice of its own.
 *  - pause: no data for pause_ms (the engine's clock) closes the slice; the
 *    next frame re-anchors.
 *  - exit flush: the open slice closes at the last PTS + frame_ms.
 * The engine (uploader.c) owns what a slice holds (ring positions, audio);
 * the slicer only says when it opens and closes and what it is.
 */
#ifndef IVCS_RECORD_SLICER_H
#define IVCS_RECORD_SLICER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ivcs_slicer_rules_s {
    uint32_t slice_ms;      /* an I-frame closes a slice this long */
    uint64_t max_bytes;     /* ... or this big */
    uint64_t gop_cut_bytes; /* a GOP this big is cut mid-GOP ('p' next) */
    uint32_t frame_ms;      /* nominal frame length (1000 / fps) */
    uint32_t pause_ms;      /* no data this long pauses */
    uint32_t jump_ms;       /* a forward PTS jump past this re-anchors */
} ivcs_slicer_rules_s;

typedef enum {
    IVCS_CUT_NONE = 0,
    IVCS_CUT_KEY = 1,      /* I-frame after slice_ms or max_bytes */
    IVCS_CUT_GOP = 2,      /* mid-GOP: the GOP reached gop_cut_bytes */
    IVCS_CUT_REANCHOR = 3, /* PTS back, PTS jump, first frame after a pause */
    IVCS_CUT_PAUSE = 4,    /* no data for pause_ms */
    IVCS_CUT_FLUSH = 5,    /* exit (or a forced close) */
} ivcs_slicer_cut_e;

/* A slice that closed. */
typedef struct ivcs_slicer_close_s {
    ivcs_slicer_cut_e why; /* IVCS_CUT_NONE: nothing closed */
    uint64_t cut_pts;      /* its end: frames with PTS < cut_pts belong to it */
    int orphan;            /* a 'p' slice without its head: discard it */
} ivcs_slicer_close_s;

/* What one video frame did. */
typedef struct ivcs_slicer_step_s {
    ivcs_slicer_close_s before; /* the open slice closed before this frame */
    int reanchored;             /* the timeline was re-anchored at this frame */
    int opened;                 /* this frame opened a slice (fields below) */
    ivcs_slicer_close_s after;  /* the slice closed after this frame ('p' cut) */
} ivcs_slicer_step_s;

typedef struct ivcs_slicer_s {
    ivcs_slicer_rules_s r;
    int open;   /* a slice is being collected */
    int cont;   /* the next slice continues one cut mid-GOP ('p') */
    int orphan; /* the open slice lost its head: discard it */
    int anchored, paused;
    uint64_t anchor_pts;
    int64_t anchor_utc;
    uint64_t last_pts;
    int64_t last_data_at; /* clock when data (video or audio) was last seen */
    uint64_t gop_bytes;   /* bytes since the last I-frame */
    uint64_t key_pts;     /* PTS of the last I-frame (0: none yet) */
    uint32_t gop_ms;      /* I-frame to I-frame, as last seen (0: unknown) */
    /* the open slice */
    uint64_t pts0; /* its first frame's PTS */
    int64_t utc0;  /* its first frame's UTC ms */
    int key;       /* starts at an I-frame */
    uint32_t frames;
    uint64_t bytes; /* of its video frames */
} ivcs_slicer_s;

/* Zeroes *s and sets its rules (copied). */
void ivcs_slicer_init(ivcs_slicer_s *s, const ivcs_slicer_rules_s *r);

/* One video frame of `bytes` bytes at pts (caller ms) seen at clock now. */
void ivcs_slicer_frame(ivcs_slicer_s *s, int key, uint64_t pts, uint64_t bytes, int64_t now,
                       ivcs_slicer_step_s *out);

/* Data (video or audio) seen at now: holds off the pause. */
static inline void ivcs_slicer_saw_data(ivcs_slicer_s *s, int64_t now)
{
    s->last_data_at = now;
}

/* 1 if a slice is open and no data came for pause_ms by now. */
int ivcs_slicer_pause_due(const ivcs_slicer_s *s, int64_t now);

/* Pause: closes the open slice (*out, why IVCS_CUT_PAUSE) and makes the
 * next frame re-anchor. */
void ivcs_slicer_pause(ivcs_slicer_s *s, ivcs_slicer_close_s *out);

/* Closes the open slice, if any, at the last PTS + frame_ms (*out, why
 * `why`, or IVCS_CUT_NONE when nothing was open). */
void ivcs_slicer_close(ivcs_slicer_s *s, ivcs_slicer_cut_e why, ivcs_slicer_close_s *out);

/* The slices before the open one were dropped: the next P-frame has no head,
 * and an open 'p' slice becomes an orphan. Returns 1 if it did. */
int ivcs_slicer_lose_head(ivcs_slicer_s *s);

#ifdef __cplusplus
}
#endif
#endif
