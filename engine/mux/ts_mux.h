/*
 * ts_mux.h - MPEG-TS slice muxer (docs/ARCHITECTURE.md section 4).
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
 * Layout of the stream (fixed, so tests and viewers can rely on it):
 *  - PAT (PID 0, program 1 -> PMT PID 0x1000), then PMT (PCR PID = video
 *    PID 0x100; video 0x1B H.264 / 0x24 H.265; audio PID 0x101 0x0F ADTS
 *    AAC when the muxer has audio). One packet each, at every slice start.
 *  - Video: one PES per frame, stream id 0xE0, PES_packet_length 0
 *    (unbounded, allowed for video), data_alignment_indicator, PTS only
 *    (DTS = PTS: no B-frames). Its first TS packet carries an adaptation
 *    field with the PCR, and random_access_indicator when the frame is key.
 *  - Audio: stream id 0xC0, PES_packet_length set, up to
 *    IVCS_TS_AUDIO_BATCH consecutive audio frames per PES (PTS of the first).
 *  - The last TS packet of each PES is filled with adaptation-field
 *    stuffing, so every PES starts a packet.
 *  - Timing: PCR = frame PTS (the base at 90 kHz, extension 0) and
 *    PES PTS = frame PTS + IVCS_TS_PTS_DELAY, both modulo 2^33. The fixed
 *    delay keeps PCR <= DTS for every PES (the T-STD needs the decoder
 *    clock to reach a frame's DTS after its first byte arrived), also for
 *    audio frames, whose PTS is never below the PCR of the video frame
 *    before them when the caller interleaves by time.
 *
 * Because every PES starts a packet and the PES header size is fixed, the
 * size of a slice is a closed form per PES (ivcs_ts_slice_size does not
 * generate packets).
 *
 * Nothing here allocates; all state lives in the two structs. Neither
 * struct is shared between threads: one thread drives a slice.
 */
#ifndef IVCS_MUX_TS_MUX_H
#define IVCS_MUX_TS_MUX_H

#include <stddef.h>
#include <stdint.h>

#include "engine/codec/nalu.h"
#include "ivcs_base.h"

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
/* Added to every PES PTS (90 kHz units: 700 ms, FFmpeg's default muxdelay)
 * so that PCR (= frame PTS) <= DTS. A viewer sees the first frame of a
 * stream whose PTS is 0 at 0.7 s. */
#define IVCS_TS_PTS_DELAY 63000
/* The AUD the muxer prepends to an H.264 frame that has none
 * (primary_pic_type 7: any slice type). */
#define IVCS_TS_H264_AUD_LEN 6
extern const uint8_t ivcs_ts_h264_aud[IVCS_TS_H264_AUD_LEN];
/* Largest audio frame (bytes) that fits one PES with a length field. */
#define IVCS_TS_AUDIO_FRAME_MAX (65535 - 8)

typedef enum { IVCS_ACODEC_NONE = 0, IVCS_ACODEC_AAC = 1 } ivcs_acodec_e;
typedef enum { IVCS_TS_VIDEO = 0, IVCS_TS_AUDIO = 1 } ivcs_ts_stream_e;

typedef struct ivcs_ts_frame_s {
    const uint8_t *data; /* a video AU (Annex-B) or one or more ADTS frames */
    uint32_t len;
    uint8_t stream; /* ivcs_ts_stream_e */
    uint8_t key;    /* video: an I-frame (sets random_access_indicator) */
    uint64_t pts;   /* 90 kHz units; the muxer takes it modulo 2^33 */
} ivcs_ts_frame_s;

/* The frames of one slice. next() returns 1 and fills *f, 0 at the end,
 * or a negative error; rewind() restarts at the first frame (the size pass
 * and the write pass each walk the slice once). Data pointers must stay
 * valid until the slice is read to its end. A source must give the same
 * frames after every rewind, or the size will not match the bytes. */
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
 * stack or inside a channel without allocation (about 400 bytes). */
typedef struct ivcs_ts_slice_s {
    ivcs_ts_mux_s next_state; /* counters after the bytes produced so far */
    const ivcs_ts_src_s *src;
    int phase;                                  /* internal */
    int err;                                    /* sticky error */
    ivcs_ts_frame_s batch[IVCS_TS_AUDIO_BATCH]; /* frames of the PES in flight (video: 1) */
    uint32_t batch_n;
    uint32_t seg;            /* payload segment: 0 header, i > 0 batch[i-1] */
    uint32_t seg_off;        /* offset inside that segment */
    ivcs_ts_frame_s pending; /* look-ahead frame read past an audio batch */
    int has_pending;
    int src_done;
    uint64_t pes_left; /* PES bytes not yet packetised */
    uint32_t hdr_len;  /* PES header (+AUD) staging */
    uint8_t hdr[32];
    int first_packet;
    uint64_t bytes; /* produced so far */
} ivcs_ts_slice_s;

/* Sets up a muxer for one stream layout; counters start at 0.
 * IVCS_ERR_INVALID_ARG for a NULL m or an unknown codec. */
IVCS_MUST_CHECK int ivcs_ts_mux_init(ivcs_ts_mux_s *m, ivcs_vcodec_e vcodec, ivcs_acodec_e acodec);

/* Exact number of bytes ivcs_ts_slice_read() will produce for this slice
 * (a multiple of 188), or a negative error: from src, IVCS_ERR_INVALID_ARG
 * (bad stream value, audio frame for a muxer without audio),
 * IVCS_ERR_EMPTY_FRAME (len 0 or NULL data), IVCS_ERR_FRAME_TOO_BIG (an
 * audio frame over IVCS_TS_AUDIO_FRAME_MAX). Rewinds and walks src once,
 * O(1) per frame (reads at most the first 33 bytes of a video frame); does
 * not change the muxer. */
int64_t ivcs_ts_slice_size(const ivcs_ts_mux_s *m, const ivcs_ts_src_s *src);

/* Starts generating a slice from the muxer's current counters; rewinds src.
 * May be called again on the same s to restart (a retry): the bytes are the
 * same as long as the muxer was not ended in between. */
IVCS_MUST_CHECK int ivcs_ts_slice_begin(const ivcs_ts_mux_s *m, ivcs_ts_slice_s *s,
                                        const ivcs_ts_src_s *src);

/* Fills buf with whole 188-byte packets (cap >= 188). Returns the bytes
 * written (a multiple of 188), 0 when the slice is complete, or a negative
 * error (from src, the frame errors listed at ivcs_ts_slice_size, or
 * IVCS_ERR_INVALID_ARG). Errors are sticky; bytes produced before an error
 * are returned first and the error on the next call. */
int64_t ivcs_ts_slice_read(ivcs_ts_slice_s *s, uint8_t *buf, size_t cap);

/* Commits the continuity counters of a completely read slice to the muxer
 * (call it once the slice is stored; a retry begins again from the old ones).
 * IVCS_ERR_STATE if the slice was not read to its end (or failed). */
IVCS_MUST_CHECK int ivcs_ts_slice_end(ivcs_ts_mux_s *m, const ivcs_ts_slice_s *s);

/* Convenience: size, begin/read/end, with every chunk handed to
 * write(ctx, p, n) (a non-zero return aborts with IVCS_ERR_WRITE). Returns
 * bytes written or a negative error; IVCS_ERR_STATE if the bytes produced
 * differ from the size computed first (a muxer bug or an unstable source). */
typedef int (*ivcs_ts_write_fn)(void *ctx, const uint8_t *p, size_t n);
int64_t ivcs_ts_mux_write(ivcs_ts_mux_s *m, const ivcs_ts_src_s *src, ivcs_ts_write_fn write,
                          void *ctx);

/* 1 if the muxer prepends ivcs_ts_h264_aud to this video frame: H.264 and
 * the first NAL unit (after a start code with up to 30 leading zero bytes)
 * is not an AUD. Else 0. */
int ivcs_ts_needs_aud(ivcs_vcodec_e vcodec, const uint8_t *data, uint32_t len);

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
