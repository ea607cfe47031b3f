/*
 * ts_mux.h - MPEG-TS slice muxer (ARCHITECTURE.md section 4).
 *
 * A slice is a run of frames (video access units and audio frames, in
 * presentation order as the caller interleaved them) written as one
 * self-contained MPEG-TS: PAT + PMT first, then one PES per video frame
 * (PTS, DTS = PTS; PCR in the adaptation field of the first packet of every
 * video PES; for H.264 an AUD is prepended when the frame has none) and
 * audio frames batched into PES packets. Continuity counters carry over from
 * slice to slice, so concatenated slices are one valid stream.
 *
 * The muxer is a pull generator so the engine can stream a slice straight
 * from its ring into TLS without a slice buffer, and a retried upload
 * produces the same bytes again:
 *
 *     int64_t n = ivcs_ts_slice_size(&mux, &src);          // exact byte count
 *     ivcs_ts_slice_s s;
 *     ivcs_ts_slice_begin(&mux, &s, &src);                 // rewinds src
 *     while ((got = ivcs_ts_slice_read(&s, buf, cap)) > 0) send(buf, got);
 *     ivcs_ts_slice_end(&mux, &s);                         // commit CCs (after 2xx)
 *
 * Nothing here allocates; all state lives in the two structs.
 */
#ifndef IVCS_MUX_TS_MUX_H
#define IVCS_MUX_TS_MUX_H

#include <stddef.h>
#include <stdint.h>

#include "engine/codec/nalu.h"
#include "ivcs.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IVCS_TS_PACKET 188
#define IVCS_TS_PID_PMT 0x1000
#define IVCS_TS_PID_VIDEO 0x0100
#define IVCS_TS_PID_AUDIO 0x0101
/* Up to this many audio frames share one PES (fewer when a video frame
 * comes between them or the PES would pass IVCS_TS_AUDIO_PES_MAX bytes). */
#define IVCS_TS_AUDIO_BATCH 8
#define IVCS_TS_AUDIO_PES_MAX 8192

typedef enum { IVCS_ACODEC_NONE = 0, IVCS_ACODEC_AAC = 1 } ivcs_acodec_e;
typedef enum { IVCS_TS_VIDEO = 0, IVCS_TS_AUDIO = 1 } ivcs_ts_stream_e;

typedef struct ivcs_ts_frame_s {
    const uint8_t *data; /* a video AU (Annex-B) or one or more ADTS frames */
    uint32_t len;
    uint8_t stream;      /* ivcs_ts_stream_e */
    uint8_t key;         /* video: an I-frame (sets random_access_indicator) */
    uint64_t pts;        /* 90 kHz units; the muxer takes it modulo 2^33 */
} ivcs_ts_frame_s;

/* The frames of one slice. next() returns 1 and fills *f, 0 at the end,
 * or a negative error; rewind() restarts at the first frame (the size pass
 * and the write pass each walk the slice once). Data pointers must stay
 * valid until the slice is read to its end. */
typedef struct ivcs_ts_src_s {
    int (*next)(void *ctx, ivcs_ts_frame_s *f);
    void (*rewind)(void *ctx);
    void *ctx;
} ivcs_ts_src_s;

typedef struct ivcs_ts_mux_s {
    ivcs_vcodec_e vcodec;
    ivcs_acodec_e acodec;
    uint8_t cc_pat, cc_pmt, cc_video, cc_audio; /* next continuity counters */
} ivcs_ts_mux_s;

/* A slice being generated. Opaque in use; public only so it can live on the
 * stack or inside a channel without allocation. */
typedef struct ivcs_ts_slice_s {
    ivcs_ts_mux_s next_state;         /* counters after the bytes produced so far */
    const ivcs_ts_src_s *src;
    int phase;                        /* internal */
    int err;                          /* sticky error */
    ivcs_ts_frame_s cur;              /* frame (or first of the audio batch) in flight */
    ivcs_ts_frame_s batch[IVCS_TS_AUDIO_BATCH];
    uint32_t batch_n, batch_i;
    ivcs_ts_frame_s pending;          /* look-ahead frame read past the batch */
    int has_pending;
    uint32_t pes_left;                /* PES bytes not yet packetised */
    uint32_t hdr_len, hdr_off;        /* PES header (+AUD) staging */
    uint8_t hdr[32];
    uint32_t data_off;                /* offset in the current frame's data */
    int first_packet;
    uint64_t bytes;                   /* produced so far */
} ivcs_ts_slice_s;

/* Sets up a muxer for one stream layout; counters start at 0. */
int ivcs_ts_mux_init(ivcs_ts_mux_s *m, ivcs_vcodec_e vcodec, ivcs_acodec_e acodec);

/* Exact number of bytes ivcs_ts_slice_read() will produce for this slice
 * (a multiple of 188), or a negative error. Rewinds and walks src; does not
 * change the muxer. */
int64_t ivcs_ts_slice_size(const ivcs_ts_mux_s *m, const ivcs_ts_src_s *src);

/* Starts generating a slice from the muxer's current counters; rewinds src. */
int ivcs_ts_slice_begin(const ivcs_ts_mux_s *m, ivcs_ts_slice_s *s, const ivcs_ts_src_s *src);

/* Fills buf with whole 188-byte packets (cap >= 188). Returns the bytes
 * written (a multiple of 188), 0 when the slice is complete, or a negative
 * error (from src, or IVCS_ERR_INVALID_ARG). */
int64_t ivcs_ts_slice_read(ivcs_ts_slice_s *s, uint8_t *buf, size_t cap);

/* Commits the continuity counters of a completely read slice to the muxer
 * (call it once the slice is stored; a retry begins again from the old ones). */
int ivcs_ts_slice_end(ivcs_ts_mux_s *m, const ivcs_ts_slice_s *s);

/* Convenience: size check, begin/read/end, with every chunk handed to
 * write(ctx, p, n) (a non-zero return aborts with IVCS_ERR_WRITE). Returns
 * bytes written or a negative error. */
typedef int (*ivcs_ts_write_fn)(void *ctx, const uint8_t *p, size_t n);
int64_t ivcs_ts_mux_write(ivcs_ts_mux_s *m, const ivcs_ts_src_s *src, ivcs_ts_write_fn write,
                          void *ctx);

/* A source over an array of frames (tests, tools). */
typedef struct ivcs_ts_array_src_s {
    const ivcs_ts_frame_s *frames;
    size_t n, i;
} ivcs_ts_array_src_s;
void ivcs_ts_array_src_init(ivcs_ts_src_s *src, ivcs_ts_array_src_s *arr,
                            const ivcs_ts_frame_s *frames, size_t n);

#ifdef __cplusplus
}
#endif
#endif
