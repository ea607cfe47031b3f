/* ts_mux.c - MPEG-TS slice muxer: a pull generator with a closed-form size. */
#include "engine/mux/ts_mux.h"

#include <string.h>

#include "engine/mux/crc32.h"

const uint8_t ivcs_ts_h264_aud[IVCS_TS_H264_AUD_LEN] = {0x00, 0x00, 0x00, 0x01, 0x09, 0xF0};

enum { PH_PAT, PH_PMT, PH_PES_START, PH_PES_BODY, PH_DONE };

#define TS IVCS_TS_PACKET
#define PAYLOAD 184 /* TS packet minus its 4-byte header */
#define PES_HDR 14  /* 9 fixed bytes + a 5-byte PTS */
#define VIDEO_AF 8  /* adaptation field of a video PES start: length, flags, PCR */
#define PTS_MASK ((UINT64_C(1) << 33) - 1)
#define SYNC 0x47
#define AUD_SCAN 32 /* leading zero bytes looked at before the first NAL header */

/* What one PES holds. The size pass and the writer both get it from
 * next_pes(), so they cannot disagree about batching or AUDs. */
typedef struct {
    uint8_t stream;
    uint8_t aud;      /* H.264 AUD prepended */
    uint32_t n;       /* frames */
    uint64_t payload; /* elementary-stream bytes, AUD included */
} pes_desc;

/* Look-ahead state of the frame walk (the slice keeps its own copy). */
typedef struct {
    ivcs_ts_frame_s *pending;
    int *has_pending;
    int *done;
} pes_iter;

int ivcs_ts_mux_init(ivcs_ts_mux_s *m, ivcs_vcodec_e vcodec, ivcs_acodec_e acodec)
{
    if (!m) return IVCS_ERR_INVALID_ARG;
    if (vcodec != IVCS_CODEC_H264 && vcodec != IVCS_CODEC_H265) return IVCS_ERR_INVALID_ARG;
    if (acodec != IVCS_ACODEC_NONE && acodec != IVCS_ACODEC_AAC) return IVCS_ERR_INVALID_ARG;
    memset(m, 0, sizeof *m);
    m->vcodec = vcodec;
    m->acodec = acodec;
    return 0;
}

int ivcs_ts_needs_aud(ivcs_vcodec_e vcodec, const uint8_t *data, uint32_t len)
{
    if (vcodec != IVCS_CODEC_H264) return 0;
    if (!data) return 1;
    /* The start code may carry extra leading zeros (trailing_zero_8bits of
     * the unit before); a bounded look keeps this O(1) per frame. */
    uint32_t i = 0, lim = len < AUD_SCAN ? len : AUD_SCAN;
    while (i < lim && data[i] == 0)
        i++;
    if (i < 2 || i + 1 >= len || data[i] != 1)
        return 1; /* not Annex-B: nothing was validated here; mux it all the same */
    return (data[i + 1] & 0x1F) != 9;
}

/* One frame from the source, checked. 1, 0 at the end, or an error. */
static int fetch(const ivcs_ts_mux_s *m, const ivcs_ts_src_s *src, ivcs_ts_frame_s *f)
{
    int r = src->next(src->ctx, f);
    if (r <= 0) return r;
    if (!f->data || f->len == 0) return IVCS_ERR_EMPTY_FRAME;
    if (f->stream == IVCS_TS_VIDEO) return 1;
    if (f->stream != IVCS_TS_AUDIO || m->acodec == IVCS_ACODEC_NONE) return IVCS_ERR_INVALID_ARG;
    if (f->len > IVCS_TS_AUDIO_FRAME_MAX) return IVCS_ERR_FRAME_TOO_BIG;
    return 1;
}

/* The frames of the next PES into batch[], described in *d. A video frame is
 * a PES of its own; consecutive audio frames share one up to the batch
 * limits, and the first frame that ends a batch is kept as pending. */
static int next_pes(const ivcs_ts_mux_s *m, const ivcs_ts_src_s *src, pes_iter it,
                    ivcs_ts_frame_s *batch, pes_desc *d)
{
    if (*it.has_pending) {
        batch[0] = *it.pending;
        *it.has_pending = 0;
    } else {
        if (*it.done) return 0;
        int r = fetch(m, src, &batch[0]);
        if (r <= 0) {
            if (r == 0) *it.done = 1;
            return r;
        }
    }
    d->stream = batch[0].stream;
    d->n = 1;
    if (batch[0].stream == IVCS_TS_VIDEO) {
        d->aud = (uint8_t)ivcs_ts_needs_aud(m->vcodec, batch[0].data, batch[0].len);
        d->payload = (uint64_t)batch[0].len + (d->aud ? IVCS_TS_H264_AUD_LEN : 0);
        return 1;
    }
    d->aud = 0;
    uint64_t total = batch[0].len;
    while (d->n < IVCS_TS_AUDIO_BATCH && !*it.done) {
        ivcs_ts_frame_s g;
        int r = fetch(m, src, &g);
        if (r < 0) return r;
        if (r == 0) {
            *it.done = 1;
            break;
        }
        if (g.stream != IVCS_TS_AUDIO || PES_HDR + total + g.len > IVCS_TS_AUDIO_PES_MAX) {
            *it.pending = g;
            *it.has_pending = 1;
            break;
        }
        batch[d->n++] = g;
        total += g.len;
    }
    d->payload = total;
    return 1;
}

/* TS packets of one PES: the first has room for PAYLOAD bytes minus the
 * video adaptation field, every later one for PAYLOAD; the last is padded
 * with adaptation-field stuffing, which fits any shortfall from 1 byte up. */
static inline uint64_t pes_packets(const pes_desc *d)
{
    uint64_t p = PES_HDR + d->payload;
    uint64_t c1 = d->stream == IVCS_TS_VIDEO ? PAYLOAD - VIDEO_AF : PAYLOAD;
    return p <= c1 ? 1 : 1 + (p - c1 + PAYLOAD - 1) / PAYLOAD;
}

int64_t ivcs_ts_slice_size(const ivcs_ts_mux_s *m, const ivcs_ts_src_s *src)
{
    if (!m || !src || !src->next || !src->rewind) return IVCS_ERR_INVALID_ARG;
    src->rewind(src->ctx);
    ivcs_ts_frame_s batch[IVCS_TS_AUDIO_BATCH], pending;
    int has_pending = 0, done = 0;
    pes_iter it = {&pending, &has_pending, &done};
    uint64_t packets = 2; /* PAT + PMT */
    pes_desc d;
    int r;
    while ((r = next_pes(m, src, it, batch, &d)) > 0)
        packets += pes_packets(&d);
    if (r < 0) return r;
    return (int64_t)(packets * TS);
}

int ivcs_ts_slice_begin(const ivcs_ts_mux_s *m, ivcs_ts_slice_s *s, const ivcs_ts_src_s *src)
{
    if (!m || !s || !src || !src->next || !src->rewind) return IVCS_ERR_INVALID_ARG;
    memset(s, 0, sizeof *s);
    s->next_state = *m;
    s->src = src;
    s->phase = PH_PAT;
    src->rewind(src->ctx);
    return 0;
}

static inline void put_pts(uint8_t *p, uint64_t pts)
{
    /* '0010' marks "PTS only"; the marker bits are the trailing 1s. */
    p[0] = (uint8_t)(0x21 | ((pts >> 29) & 0x0E));
    p[1] = (uint8_t)(pts >> 22);
    p[2] = (uint8_t)(((pts >> 14) & 0xFE) | 1);
    p[3] = (uint8_t)(pts >> 7);
    p[4] = (uint8_t)(((pts << 1) & 0xFE) | 1);
}

static inline void put_pcr(uint8_t *p, uint64_t base)
{
    p[0] = (uint8_t)(base >> 25);
    p[1] = (uint8_t)(base >> 17);
    p[2] = (uint8_t)(base >> 9);
    p[3] = (uint8_t)(base >> 1);
    p[4] = (uint8_t)(((base & 1) << 7) | 0x7E); /* 6 reserved 1s, extension 0 */
    p[5] = 0;
}

static inline void put_ts_header(uint8_t *p, int pusi, uint16_t pid, int af, uint8_t cc)
{
    p[0] = SYNC;
    p[1] = (uint8_t)((pusi ? 0x40 : 0) | (pid >> 8));
    p[2] = (uint8_t)pid;
    p[3] = (uint8_t)((af ? 0x30 : 0x10) | cc);
}

/* One PSI packet: header, pointer_field 0, the section + its CRC, 0xFF fill. */
static void put_psi(uint8_t *out, uint16_t pid, uint8_t *cc, uint8_t *sec, size_t n)
{
    uint32_t crc = ivcs_crc32_mpeg2(sec, n);
    sec[n] = (uint8_t)(crc >> 24);
    sec[n + 1] = (uint8_t)(crc >> 16);
    sec[n + 2] = (uint8_t)(crc >> 8);
    sec[n + 3] = (uint8_t)crc;
    put_ts_header(out, 1, pid, 0, *cc);
    *cc = (*cc + 1) & 15;
    out[4] = 0;
    memcpy(out + 5, sec, n + 4);
    memset(out + 5 + n + 4, 0xFF, TS - 5 - n - 4);
}

static void put_pat(ivcs_ts_mux_s *st, uint8_t *out)
{
    /* clang-format off */
    uint8_t sec[16] = {
        0x00,                                         /* table_id: program_association_section */
        0xB0, 13,                                     /* syntax 1, section_length */
        0x00, 0x01,                                   /* transport_stream_id */
        0xC1, 0x00, 0x00,                             /* version 0, current, section 0 of 0 */
        0x00, 0x01,                                   /* program_number 1 */
        0xE0 | (IVCS_TS_PID_PMT >> 8), IVCS_TS_PID_PMT & 0xFF,
    };
    /* clang-format on */
    put_psi(out, 0, &st->cc_pat, sec, 12);
}

static void put_pmt(ivcs_ts_mux_s *st, uint8_t *out)
{
    int audio = st->acodec == IVCS_ACODEC_AAC;
    /* clang-format off */
    uint8_t sec[32] = {
        0x02,                                        /* table_id: TS_program_map_section */
        0xB0, (uint8_t)(13 + 5 + (audio ? 5 : 0)),   /* section_length */
        0x00, 0x01,                                  /* program_number */
        0xC1, 0x00, 0x00,
        0xE0 | (IVCS_TS_PID_VIDEO >> 8), IVCS_TS_PID_VIDEO & 0xFF, /* PCR_PID */
        0xF0, 0x00,                                  /* program_info_length 0 */
        st->vcodec == IVCS_CODEC_H265 ? 0x24 : 0x1B,
        0xE0 | (IVCS_TS_PID_VIDEO >> 8), IVCS_TS_PID_VIDEO & 0xFF, 0xF0, 0x00,
        0x0F, 0xE0 | (IVCS_TS_PID_AUDIO >> 8), IVCS_TS_PID_AUDIO & 0xFF, 0xF0, 0x00,
    };
    /* clang-format on */
    put_psi(out, IVCS_TS_PID_PMT, &st->cc_pmt, sec, audio ? 22 : 17);
}

/* Copies n bytes of the PES in flight (header staging, then the frames). */
static void copy_payload(ivcs_ts_slice_s *s, uint8_t *dst, uint32_t n)
{
    while (n) {
        const uint8_t *base;
        uint32_t len;
        if (s->seg == 0) {
            base = s->hdr;
            len = s->hdr_len;
        } else {
            base = s->batch[s->seg - 1].data;
            len = s->batch[s->seg - 1].len;
        }
        uint32_t avail = len - s->seg_off;
        if (avail == 0) {
            s->seg++;
            s->seg_off = 0;
            continue;
        }
        uint32_t t = avail < n ? avail : n;
        memcpy(dst, base + s->seg_off, t);
        dst += t;
        n -= t;
        s->seg_off += t;
    }
}

/* PES header (+ AUD) of the PES whose frames are in s->batch. */
static void start_pes(ivcs_ts_slice_s *s, const pes_desc *d)
{
    uint8_t *h = s->hdr;
    const ivcs_ts_frame_s *f = &s->batch[0];
    int video = d->stream == IVCS_TS_VIDEO;
    h[0] = 0;
    h[1] = 0;
    h[2] = 1;
    h[3] = video ? 0xE0 : 0xC0;
    /* Video: 0 = unbounded (frames may pass 64 KiB). Audio: batches stay
     * far below the 16-bit limit (fetch() and next_pes() bound them). */
    uint32_t plen = video ? 0 : (uint32_t)(PES_HDR - 6 + d->payload);
    h[4] = (uint8_t)(plen >> 8);
    h[5] = (uint8_t)plen;
    h[6] = 0x84; /* '10', data_alignment_indicator: the PES starts an AU / ADTS frame */
    h[7] = 0x80; /* PTS only */
    h[8] = 5;
    put_pts(h + 9, (f->pts + IVCS_TS_PTS_DELAY) & PTS_MASK);
    s->hdr_len = PES_HDR;
    if (d->aud) {
        memcpy(h + PES_HDR, ivcs_ts_h264_aud, IVCS_TS_H264_AUD_LEN);
        s->hdr_len += IVCS_TS_H264_AUD_LEN;
    }
    s->batch_n = d->n;
    s->seg = 0;
    s->seg_off = 0;
    s->pes_left = PES_HDR + d->payload;
    s->first_packet = 1;
}

/* Packetises the PES in flight into [out, end) (whole packets); returns the
 * new out. Leaves phase PH_PES_START once the PES is complete. */
static uint8_t *emit_pes(ivcs_ts_slice_s *s, uint8_t *out, uint8_t *end)
{
    const ivcs_ts_frame_s *f0 = &s->batch[0];
    int video = f0->stream == IVCS_TS_VIDEO;
    uint16_t pid = video ? IVCS_TS_PID_VIDEO : IVCS_TS_PID_AUDIO;
    uint8_t *ccp = video ? &s->next_state.cc_video : &s->next_state.cc_audio;
    uint8_t cc = *ccp;

    if (s->first_packet && out < end) {
        uint32_t room = video ? PAYLOAD - VIDEO_AF : PAYLOAD;
        uint32_t take = s->pes_left < room ? (uint32_t)s->pes_left : room;
        uint32_t af = PAYLOAD - take; /* adaptation field bytes, length byte included */
        put_ts_header(out, 1, pid, af != 0, cc);
        cc = (cc + 1) & 15;
        if (af) {
            out[4] = (uint8_t)(af - 1);
            if (af >= 2) {
                uint8_t *p = out + 6;
                if (video) {
                    out[5] = (uint8_t)(0x10 | (f0->key ? 0x40 : 0)); /* PCR, random access */
                    put_pcr(p, f0->pts & PTS_MASK);
                    p += 6;
                } else {
                    out[5] = 0;
                }
                memset(p, 0xFF, (size_t)(out + 4 + af - p));
            }
        }
        copy_payload(s, out + 4 + af, take);
        s->pes_left -= take;
        s->first_packet = 0;
        out += TS;
    }

    while (out < end && s->pes_left >= PAYLOAD) {
        /* Fast path: whole packets straight out of one frame. */
        if (s->seg > 0) {
            const ivcs_ts_frame_s *f = &s->batch[s->seg - 1];
            uint32_t run = (f->len - s->seg_off) / PAYLOAD;
            size_t room = (size_t)(end - out) / TS;
            if (run > room) run = (uint32_t)room;
            if (run) {
                const uint8_t *src = f->data + s->seg_off;
                uint8_t h1 = (uint8_t)(pid >> 8), h2 = (uint8_t)pid;
                for (uint32_t i = 0; i < run; i++) {
                    out[0] = SYNC;
                    out[1] = h1;
                    out[2] = h2;
                    out[3] = (uint8_t)(0x10 | cc);
                    cc = (cc + 1) & 15;
                    memcpy(out + 4, src, PAYLOAD);
                    src += PAYLOAD;
                    out += TS;
                }
                s->seg_off += run * PAYLOAD;
                s->pes_left -= (uint64_t)run * PAYLOAD;
                continue;
            }
        }
        put_ts_header(out, 0, pid, 0, cc);
        cc = (cc + 1) & 15;
        copy_payload(s, out + 4, PAYLOAD);
        s->pes_left -= PAYLOAD;
        out += TS;
    }

    if (out < end && s->pes_left > 0 && s->pes_left < PAYLOAD) {
        uint32_t take = (uint32_t)s->pes_left;
        uint32_t af = PAYLOAD - take;
        put_ts_header(out, 0, pid, 1, cc);
        cc = (cc + 1) & 15;
        out[4] = (uint8_t)(af - 1);
        if (af >= 2) {
            out[5] = 0;
            memset(out + 6, 0xFF, af - 2);
        }
        copy_payload(s, out + 4 + af, take);
        s->pes_left = 0;
        out += TS;
    }
    *ccp = cc;
    if (s->pes_left == 0) s->phase = PH_PES_START;
    return out;
}

int64_t ivcs_ts_slice_read(ivcs_ts_slice_s *s, uint8_t *buf, size_t cap)
{
    if (!s || !buf || cap < TS || !s->src) return IVCS_ERR_INVALID_ARG;
    if (s->err) return s->err;
    uint8_t *out = buf;
    uint8_t *end = buf + cap / TS * TS;
    pes_iter it = {&s->pending, &s->has_pending, &s->src_done};
    while (out < end) {
        if (s->phase == PH_PES_BODY) {
            out = emit_pes(s, out, end);
        } else if (s->phase == PH_PES_START) {
            pes_desc d;
            int r = next_pes(&s->next_state, s->src, it, s->batch, &d);
            if (r < 0) {
                s->err = r;
                break;
            }
            if (r == 0) {
                s->phase = PH_DONE;
                break;
            }
            start_pes(s, &d);
            s->phase = PH_PES_BODY;
        } else if (s->phase == PH_PAT) {
            put_pat(&s->next_state, out);
            out += TS;
            s->phase = PH_PMT;
        } else if (s->phase == PH_PMT) {
            put_pmt(&s->next_state, out);
            out += TS;
            s->phase = PH_PES_START;
        } else {
            break;
        }
    }
    int64_t n = out - buf;
    s->bytes += (uint64_t)n;
    if (n == 0 && s->err) return s->err;
    return n;
}

int ivcs_ts_slice_end(ivcs_ts_mux_s *m, const ivcs_ts_slice_s *s)
{
    if (!m || !s) return IVCS_ERR_INVALID_ARG;
    if (s->phase != PH_DONE || s->err) return IVCS_ERR_STATE;
    m->cc_pat = s->next_state.cc_pat;
    m->cc_pmt = s->next_state.cc_pmt;
    m->cc_video = s->next_state.cc_video;
    m->cc_audio = s->next_state.cc_audio;
    return 0;
}

int64_t ivcs_ts_mux_write(ivcs_ts_mux_s *m, const ivcs_ts_src_s *src, ivcs_ts_write_fn write,
                          void *ctx)
{
    if (!m || !src || !write) return IVCS_ERR_INVALID_ARG;
    int64_t size = ivcs_ts_slice_size(m, src);
    if (size < 0) return size;
    ivcs_ts_slice_s s;
    int r = ivcs_ts_slice_begin(m, &s, src);
    if (r < 0) return r;
    uint8_t buf[TS * 64];
    int64_t got, total = 0;
    while ((got = ivcs_ts_slice_read(&s, buf, sizeof buf)) > 0) {
        if (write(ctx, buf, (size_t)got) != 0) return IVCS_ERR_WRITE;
        total += got;
    }
    if (got < 0) return got;
    if (total != size) return IVCS_ERR_STATE;
    r = ivcs_ts_slice_end(m, &s);
    return r < 0 ? r : total;
}

static int array_next(void *ctx, ivcs_ts_frame_s *f)
{
    ivcs_ts_array_src_s *a = ctx;
    if (a->i >= a->n) return 0;
    *f = a->frames[a->i++];
    return 1;
}

static void array_rewind(void *ctx)
{
    ((ivcs_ts_array_src_s *)ctx)->i = 0;
}

void ivcs_ts_array_src_init(ivcs_ts_src_s *src, ivcs_ts_array_src_s *arr,
                            const ivcs_ts_frame_s *frames, size_t n)
{
    arr->frames = frames;
    arr->n = n;
    arr->i = 0;
    src->next = array_next;
    src->rewind = array_rewind;
    src->ctx = arr;
}
