/*
 * test_ts_mux.c - the MPEG-TS slice muxer (engine/mux/ts_mux.c).
 *
 * The output is checked by a small TS demuxer written here from ISO/IEC
 * 13818-1, independent of the muxer's code: sync bytes, PIDs, continuity
 * counters (also across slices), PSI CRCs, adaptation fields (PCR, random
 * access, stuffing), PES headers and lengths, and the elementary-stream
 * bytes, which must equal the frames pushed (plus an AUD where H.264 lacks
 * one). Audio batching is checked against its rules, not a copy of its code.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "engine/codec/adts.h"
#include "engine/codec/nalu.h"
#include "engine/mux/crc32.h"
#include "engine/mux/ts_mux.h"

/* ------------------------------------------------------------ helpers */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

/* CRC-32/MPEG-2, table-driven and written separately from the muxer's. */
static uint32_t ref_crc(const uint8_t *p, size_t n)
{
    static uint32_t table[256];
    static int init;
    if (!init) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i << 24;
            for (int k = 0; k < 8; k++)
                c = (c << 1) ^ ((c & 0x80000000u) ? 0x04C11DB7u : 0);
            table[i] = c;
        }
        init = 1;
    }
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++)
        crc = (crc << 8) ^ table[((crc >> 24) ^ p[i]) & 0xFF];
    return crc;
}

typedef struct {
    uint8_t *buf;
    size_t len, cap;
} bytes;

static int bytes_put(void *ctx, const uint8_t *p, size_t n)
{
    bytes *b = ctx;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        uint8_t *nb = realloc(b->buf, cap);
        if (!nb) return -1;
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, p, n);
    b->len += n;
    return 0;
}

static void bytes_free(bytes *b)
{
    free(b->buf);
    memset(b, 0, sizeof *b);
}

/* ------------------------------------------------------------ TS demuxer */

typedef struct {
    int pid;
    uint64_t pts;
    int has_pcr, rai;
    uint64_t pcr_base;
    int pes_len;     /* PES_packet_length field */
    size_t hdr_data; /* PES_header_data_length */
    bytes es;
} tpes;

typedef struct {
    int cc_last[0x2000];
    tpes *pes;
    size_t n, cap;
    int open[0x2000]; /* index+1 of the PES being assembled on a PID */
    int pat, pmt;
    int pcr_pid;
    int pmt_types[4], pmt_pids[4], pmt_n;
    int errors;
    long packets;
} tdemux;

#define TERR(d, ...)                                                                               \
    do {                                                                                           \
        if ((d)->errors++ < 10) {                                                                  \
            fprintf(stderr, "  ts: packet %ld: ", (d)->packets);                                   \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fprintf(stderr, "\n");                                                                 \
        }                                                                                          \
    } while (0)

static void tdemux_init(tdemux *d)
{
    memset(d, 0, sizeof *d);
    for (int i = 0; i < 0x2000; i++)
        d->cc_last[i] = -1;
    d->pcr_pid = -1;
}

static void tdemux_free(tdemux *d)
{
    for (size_t i = 0; i < d->n; i++)
        bytes_free(&d->pes[i].es);
    free(d->pes);
    d->pes = NULL;
    d->n = d->cap = 0;
}

static void check_section(tdemux *d, const uint8_t *p, size_t avail, int table_id)
{
    if (avail < 3 || p[0] != table_id) {
        TERR(d, "table id %d, want %d", avail ? p[0] : -1, table_id);
        return;
    }
    size_t sl = (size_t)((p[1] & 0x0F) << 8 | p[2]);
    if ((p[1] & 0xC0) != 0x80 || sl + 3 > avail) {
        TERR(d, "section header");
        return;
    }
    if (ref_crc(p, sl + 3) != 0) TERR(d, "CRC of table %d wrong", table_id);
    for (size_t i = sl + 3; i < avail; i++)
        if (p[i] != 0xFF) {
            TERR(d, "PSI fill byte not 0xFF");
            break;
        }
    if (table_id == 0) {
        if (sl != 13 || p[8] != 0 || p[9] != 1 || ((p[10] & 0x1F) << 8 | p[11]) != 0x1000)
            TERR(d, "PAT does not point program 1 at PID 0x1000");
        d->pat++;
    } else {
        d->pcr_pid = (p[8] & 0x1F) << 8 | p[9];
        size_t pil = (size_t)((p[10] & 0x0F) << 8 | p[11]);
        size_t i = 12 + pil;
        d->pmt_n = 0;
        while (i + 5 <= sl + 3 - 4 && d->pmt_n < 4) {
            d->pmt_types[d->pmt_n] = p[i];
            d->pmt_pids[d->pmt_n] = (p[i + 1] & 0x1F) << 8 | p[i + 2];
            d->pmt_n++;
            i += 5 + (size_t)((p[i + 3] & 0x0F) << 8 | p[i + 4]);
        }
        d->pmt++;
    }
}

static void finish_pes(tdemux *d, int pid)
{
    if (!d->open[pid]) return;
    tpes *e = &d->pes[d->open[pid] - 1];
    d->open[pid] = 0;
    if (pid == IVCS_TS_PID_VIDEO && e->pes_len != 0) TERR(d, "video PES length %d", e->pes_len);
    if (pid == IVCS_TS_PID_AUDIO && (size_t)e->pes_len != 3 + e->hdr_data + e->es.len)
        TERR(d, "audio PES length %d for %zu ES bytes", e->pes_len, e->es.len);
}

/* Feeds whole packets; state (CCs, open PES) carries over between calls. */
static void tdemux_feed(tdemux *d, const uint8_t *buf, size_t len)
{
    if (len % 188) TERR(d, "length %zu not a multiple of 188", len);
    for (size_t off = 0; off + 188 <= len; off += 188, d->packets++) {
        const uint8_t *p = buf + off;
        if (p[0] != 0x47) {
            TERR(d, "sync byte 0x%02x", p[0]);
            continue;
        }
        int pusi = (p[1] >> 6) & 1;
        int pid = (p[1] & 0x1F) << 8 | p[2];
        int afc = (p[3] >> 4) & 3, cc = p[3] & 15;
        if (p[1] & 0x80) TERR(d, "transport_error_indicator");
        if (p[3] & 0xC0) TERR(d, "scrambled");
        if (afc != 1 && afc != 3) TERR(d, "adaptation_field_control %d", afc);
        if (d->cc_last[pid] >= 0 && cc != ((d->cc_last[pid] + 1) & 15))
            TERR(d, "PID 0x%x CC %d after %d", pid, cc, d->cc_last[pid]);
        d->cc_last[pid] = cc;
        size_t pos = 4;
        int has_pcr = 0, rai = 0;
        uint64_t pcr = 0;
        if (afc == 3) {
            size_t afl = p[4];
            if (afl > 183) {
                TERR(d, "adaptation field length %zu", afl);
                continue;
            }
            pos = 5 + afl;
            if (afl > 0) {
                uint8_t fl = p[5];
                size_t q = 6;
                rai = (fl >> 6) & 1;
                if (fl & 0x10) {
                    has_pcr = 1;
                    pcr = (uint64_t)p[6] << 25 | (uint64_t)p[7] << 17 | (uint64_t)p[8] << 9 |
                          (uint64_t)p[9] << 1 | p[10] >> 7;
                    if ((p[10] & 0x7E) != 0x7E) TERR(d, "PCR reserved bits");
                    if (((p[10] & 1) << 8 | p[11]) != 0) TERR(d, "PCR extension not 0");
                    q = 12;
                }
                if (fl & 0x2F) TERR(d, "unexpected adaptation flags 0x%02x", fl);
                for (; q < pos; q++)
                    if (p[q] != 0xFF) {
                        TERR(d, "stuffing byte 0x%02x", p[q]);
                        break;
                    }
            }
            if (pos >= 188) TERR(d, "packet without payload");
        }
        if (has_pcr && pid != d->pcr_pid) TERR(d, "PCR on PID 0x%x", pid);
        if (pid == 0 || pid == IVCS_TS_PID_PMT) {
            if (!pusi || p[pos] != 0) {
                TERR(d, "PSI without pusi/pointer 0");
                continue;
            }
            check_section(d, p + pos + 1, 188 - pos - 1, pid == 0 ? 0 : 2);
            continue;
        }
        if (pid != IVCS_TS_PID_VIDEO && pid != IVCS_TS_PID_AUDIO) {
            TERR(d, "unexpected PID 0x%x", pid);
            continue;
        }
        if (pusi) {
            finish_pes(d, pid);
            if (d->n == d->cap) {
                d->cap = d->cap ? d->cap * 2 : 64;
                d->pes = realloc(d->pes, d->cap * sizeof *d->pes);
            }
            tpes *e = &d->pes[d->n++];
            memset(e, 0, sizeof *e);
            d->open[pid] = (int)d->n;
            e->pid = pid;
            e->has_pcr = has_pcr;
            e->pcr_base = pcr;
            e->rai = rai;
            const uint8_t *h = p + pos;
            size_t avail = 188 - pos;
            if (avail < 14 || h[0] || h[1] || h[2] != 1) {
                TERR(d, "PES start code");
                continue;
            }
            int want_sid = pid == IVCS_TS_PID_VIDEO ? 0xE0 : 0xC0;
            if (h[3] != want_sid) TERR(d, "stream id 0x%02x", h[3]);
            e->pes_len = h[4] << 8 | h[5];
            if ((h[6] & 0xC0) != 0x80) TERR(d, "PES flags 0x%02x", h[6]);
            if ((h[7] & 0xC0) != 0x80) TERR(d, "no PTS / DTS present: 0x%02x", h[7]);
            e->hdr_data = h[8];
            if ((h[9] & 0xF1) != 0x21 || !(h[11] & 1) || !(h[13] & 1)) TERR(d, "PTS markers");
            e->pts = (uint64_t)(h[9] & 0x0E) << 29 | (uint64_t)h[10] << 22 |
                     (uint64_t)(h[11] & 0xFE) << 14 | (uint64_t)h[12] << 7 | h[13] >> 1;
            if (9 + e->hdr_data > avail) {
                TERR(d, "PES header split");
                continue;
            }
            bytes_put(&e->es, h + 9 + e->hdr_data, avail - 9 - e->hdr_data);
        } else {
            if (!d->open[pid]) {
                TERR(d, "continuation without PES on 0x%x", pid);
                continue;
            }
            if (has_pcr || rai) TERR(d, "PCR/RAI in a continuation packet");
            bytes_put(&d->pes[d->open[pid] - 1].es, p + pos, 188 - pos);
        }
    }
}

static void tdemux_finish(tdemux *d)
{
    finish_pes(d, IVCS_TS_PID_VIDEO);
    finish_pes(d, IVCS_TS_PID_AUDIO);
}

/* The contract of ivcs_ts_needs_aud, restated: a start code (2..32 zeros
 * then 01; the muxer looks at no more than 32 leading bytes) and an AUD. */
static int starts_with_aud(const uint8_t *p, size_t len)
{
    size_t z = 0;
    while (z < len && z < 32 && p[z] == 0)
        z++;
    return z >= 2 && z + 1 < len && p[z] == 1 && (p[z + 1] & 0x1F) == 9;
}

/* Matches the demuxed PES list against the frames pushed, in order. */
static int check_pes_vs_frames(tdemux *d, size_t *pes_i, const ivcs_ts_frame_s *fr, size_t n,
                               ivcs_vcodec_e vc)
{
    size_t fi = 0;
    int bad = 0;
    while (fi < n) {
        if (*pes_i >= d->n) {
            fprintf(stderr, "  frame %zu: no PES left\n", fi);
            return 1;
        }
        tpes *e = &d->pes[(*pes_i)++];
        if (fr[fi].stream == IVCS_TS_VIDEO) {
            if (e->pid != IVCS_TS_PID_VIDEO) {
                fprintf(stderr, "  frame %zu: PES on PID 0x%x, want video\n", fi, e->pid);
                return 1;
            }
            const ivcs_ts_frame_s *f = &fr[fi];
            size_t aud = (vc == IVCS_CODEC_H264 && !starts_with_aud(f->data, f->len)) ? 6 : 0;
            if (e->es.len != f->len + aud || (aud && memcmp(e->es.buf, ivcs_ts_h264_aud, 6)) ||
                memcmp(e->es.buf + aud, f->data, f->len)) {
                fprintf(stderr, "  frame %zu: video bytes differ (%zu vs %u+%zu)\n", fi, e->es.len,
                        f->len, aud);
                bad = 1;
            }
            if (!e->has_pcr || e->pcr_base != (f->pts & ((1ull << 33) - 1))) {
                fprintf(stderr, "  frame %zu: PCR missing or wrong\n", fi);
                bad = 1;
            }
            if (e->rai != (f->key ? 1 : 0)) {
                fprintf(stderr, "  frame %zu: random_access_indicator %d\n", fi, e->rai);
                bad = 1;
            }
            if (e->pts != ((f->pts + IVCS_TS_PTS_DELAY) & ((1ull << 33) - 1))) {
                fprintf(stderr, "  frame %zu: PTS\n", fi);
                bad = 1;
            }
            fi++;
            continue;
        }
        if (e->pid != IVCS_TS_PID_AUDIO) {
            fprintf(stderr, "  frame %zu: PES on PID 0x%x, want audio\n", fi, e->pid);
            return 1;
        }
        if (e->has_pcr || e->rai) bad = 1;
        if (e->pts != ((fr[fi].pts + IVCS_TS_PTS_DELAY) & ((1ull << 33) - 1))) {
            fprintf(stderr, "  frame %zu: audio PTS\n", fi);
            bad = 1;
        }
        size_t off = 0, k = 0;
        while (off < e->es.len && fi < n) {
            const ivcs_ts_frame_s *f = &fr[fi];
            if (f->stream != IVCS_TS_AUDIO || off + f->len > e->es.len ||
                memcmp(e->es.buf + off, f->data, f->len)) {
                fprintf(stderr, "  frame %zu: audio batch does not hold it\n", fi);
                return 1;
            }
            off += f->len;
            k++;
            fi++;
        }
        if (off != e->es.len) {
            fprintf(stderr, "  audio PES longer than its frames\n");
            return 1;
        }
        if (k > IVCS_TS_AUDIO_BATCH || (k > 1 && 14 + off > IVCS_TS_AUDIO_PES_MAX)) {
            fprintf(stderr, "  audio PES of %zu frames, %zu bytes: over the limits\n", k, off);
            bad = 1;
        }
        /* A batch ends only for a reason. */
        if (fi < n && fr[fi].stream == IVCS_TS_AUDIO && k < IVCS_TS_AUDIO_BATCH &&
            14 + off + fr[fi].len <= IVCS_TS_AUDIO_PES_MAX) {
            fprintf(stderr, "  audio batch of %zu frames closed early at frame %zu\n", k, fi);
            bad = 1;
        }
    }
    return bad;
}

/* Muxes one slice with a given read size; appends to out. Returns bytes or error. */
static int64_t mux_slice(ivcs_ts_mux_s *m, const ivcs_ts_frame_s *fr, size_t n, size_t cap,
                         bytes *out, int64_t *predicted)
{
    ivcs_ts_array_src_s arr;
    ivcs_ts_src_s src;
    ivcs_ts_array_src_init(&src, &arr, fr, n);
    *predicted = ivcs_ts_slice_size(m, &src);
    ivcs_ts_slice_s s;
    if (ivcs_ts_slice_begin(m, &s, &src) != 0) return IVCS_ERR_STATE;
    uint8_t *buf = malloc(cap);
    int64_t got, total = 0;
    while ((got = ivcs_ts_slice_read(&s, buf, cap)) > 0) {
        if (got % 188 || (size_t)got > cap) {
            free(buf);
            return IVCS_ERR_STATE;
        }
        bytes_put(out, buf, (size_t)got);
        total += got;
    }
    free(buf);
    if (got < 0) return got;
    int r = ivcs_ts_slice_end(m, &s);
    return r < 0 ? r : total;
}

/* Full check of one slice from fresh counters: size, structure, content. */
static int mux_and_verify(ivcs_vcodec_e vc, ivcs_acodec_e ac, const ivcs_ts_frame_s *fr, size_t n)
{
    ivcs_ts_mux_s m;
    if (ivcs_ts_mux_init(&m, vc, ac) != 0) return 1;
    bytes out = {0};
    int64_t pred;
    int64_t got = mux_slice(&m, fr, n, 188 * 7, &out, &pred);
    int bad = 0;
    if (got < 0 || pred != got) {
        fprintf(stderr, "  predicted %lld, written %lld\n", (long long)pred, (long long)got);
        bad = 1;
    }
    tdemux d;
    tdemux_init(&d);
    tdemux_feed(&d, out.buf, out.len);
    tdemux_finish(&d);
    size_t pi = 0;
    if (d.errors || d.pat != 1 || d.pmt != 1) bad = 1;
    if (check_pes_vs_frames(&d, &pi, fr, n, vc) || pi != d.n) bad = 1;
    tdemux_free(&d);
    bytes_free(&out);
    return bad;
}

/* Synthetic frames: video AUs start with a start code + NAL header. */
static uint8_t *make_video(uint32_t len, int key, int aud, int sc3)
{
    uint8_t *p = malloc(len + 1);
    for (uint32_t i = 0; i < len; i++)
        p[i] = (uint8_t)rnd();
    size_t i = 0;
    if (len >= 5) {
        if (sc3) {
            p[0] = 0, p[1] = 0, p[2] = 1;
            i = 3;
        } else {
            p[0] = 0, p[1] = 0, p[2] = 0, p[3] = 1;
            i = 4;
        }
        p[i] = aud ? 0x09 : (key ? 0x65 : 0x41);
    }
    return p;
}

static uint8_t *make_audio(uint32_t len)
{
    uint8_t *p = malloc(len + 1);
    for (uint32_t i = 0; i < len; i++)
        p[i] = (uint8_t)rnd();
    if (len >= 2) p[0] = 0xFF, p[1] = 0xF1;
    return p;
}

static void free_frames(ivcs_ts_frame_s *fr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free((void *)fr[i].data);
}

/* ------------------------------------------------------------ tests */

TEST(crc32_matches_the_mpeg2_check_value)
{
    CHECK_EQ(ivcs_crc32_mpeg2((const uint8_t *)"123456789", 9), 0x0376E6E7u);
    uint8_t buf[300];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)rnd();
    for (size_t n = 0; n < sizeof buf; n += 37)
        CHECK_EQ(ivcs_crc32_mpeg2(buf, n), ref_crc(buf, n));
}

TEST(init_rejects_unknown_codecs)
{
    ivcs_ts_mux_s m;
    CHECK_EQ(ivcs_ts_mux_init(&m, (ivcs_vcodec_e)7, IVCS_ACODEC_NONE), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_ts_mux_init(&m, IVCS_CODEC_H264, (ivcs_acodec_e)9), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_ts_mux_init(NULL, IVCS_CODEC_H264, IVCS_ACODEC_NONE), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_ts_mux_init(&m, IVCS_CODEC_H265, IVCS_ACODEC_AAC), 0);
    CHECK_EQ(m.cc_pat + m.cc_pmt + m.cc_video + m.cc_audio, 0);
}

TEST(slice_starts_with_pat_and_pmt_with_correct_crc)
{
    for (int vc = 0; vc < 2; vc++)
        for (int ac = 0; ac < 2; ac++) {
            ivcs_ts_frame_s f = {make_video(1000, 1, 0, 0), 1000, IVCS_TS_VIDEO, 1, 90000};
            ivcs_ts_mux_s m;
            CHECK_EQ(ivcs_ts_mux_init(&m, (ivcs_vcodec_e)vc, (ivcs_acodec_e)ac), 0);
            bytes out = {0};
            int64_t pred;
            CHECK_EQ(mux_slice(&m, &f, 1, 188 * 100, &out, &pred), pred);
            CHECK(out.len >= 3 * 188);
            const uint8_t *p = out.buf;
            CHECK(p[0] == 0x47 && p[1] == 0x40 && p[2] == 0x00);       /* PAT, pusi */
            CHECK(p[188] == 0x47 && p[189] == 0x50 && p[190] == 0x00); /* PMT 0x1000 */
            /* The CRC is over the section from table_id; a section followed
             * by its CRC has CRC 0. */
            size_t pat_len = (size_t)((p[6] & 0x0F) << 8 | p[7]) + 3;
            CHECK_EQ(ref_crc(p + 5, pat_len), 0);
            const uint8_t *q = p + 188;
            size_t pmt_len = (size_t)((q[6] & 0x0F) << 8 | q[7]) + 3;
            CHECK_EQ(ref_crc(q + 5, pmt_len), 0);
            tdemux d;
            tdemux_init(&d);
            tdemux_feed(&d, out.buf, out.len);
            tdemux_finish(&d);
            CHECK_EQ(d.errors, 0);
            CHECK_EQ(d.pcr_pid, IVCS_TS_PID_VIDEO);
            CHECK_EQ(d.pmt_n, ac ? 2 : 1);
            CHECK_EQ(d.pmt_types[0], vc ? 0x24 : 0x1B);
            CHECK_EQ(d.pmt_pids[0], IVCS_TS_PID_VIDEO);
            if (ac) {
                CHECK_EQ(d.pmt_types[1], 0x0F);
                CHECK_EQ(d.pmt_pids[1], IVCS_TS_PID_AUDIO);
            }
            tdemux_free(&d);
            bytes_free(&out);
            free((void *)f.data);
        }
}

TEST(every_packet_has_sync_byte_and_known_pid)
{
    ivcs_ts_frame_s fr[40];
    for (int i = 0; i < 40; i++) {
        int audio = i % 3 == 1;
        uint32_t len = audio ? 200 + rnd() % 700 : 1 + rnd() % 30000;
        fr[i] = (ivcs_ts_frame_s){audio ? make_audio(len) : make_video(len, i == 0, 0, 0), len,
                                  (uint8_t)(audio ? IVCS_TS_AUDIO : IVCS_TS_VIDEO), i == 0,
                                  (uint64_t)i * 3600};
    }
    ivcs_ts_mux_s m;
    CHECK_EQ(ivcs_ts_mux_init(&m, IVCS_CODEC_H264, IVCS_ACODEC_AAC), 0);
    bytes out = {0};
    int64_t pred;
    CHECK_EQ(mux_slice(&m, fr, 40, 188 * 3, &out, &pred), pred);
    for (size_t i = 0; i < out.len; i += 188) {
        CHECK_EQ(out.buf[i], 0x47);
        int pid = (out.buf[i + 1] & 0x1F) << 8 | out.buf[i + 2];
        CHECK(pid == 0 || pid == 0x1000 || pid == 0x100 || pid == 0x101);
    }
    bytes_free(&out);
    CHECK_EQ(mux_and_verify(IVCS_CODEC_H264, IVCS_ACODEC_AAC, fr, 40), 0);
    free_frames(fr, 40);
}

/* Frame lengths where the PES (14-byte header, +6 AUD) just fits, just
 * misses, or exactly fills the first packet (176 bytes for video, 184 for
 * audio) or a later one (184), and small, empty-ish and large frames. */
TEST(predicted_size_equals_written_around_packet_boundaries)
{
    uint32_t lens[512];
    size_t nl = 0;
    for (uint32_t l = 1; l <= 40; l++)
        lens[nl++] = l;
    for (int k = 0; k < 6; k++)
        for (int d = -3; d <= 3; d++) {
            int base[] = {176 - 14,           176 - 20,           184 - 14, 176 - 14 + 184 * k,
                          176 - 20 + 184 * k, 184 - 14 + 184 * k, 184 * k};
            for (size_t b = 0; b < sizeof base / sizeof base[0]; b++) {
                int l = base[b] + d;
                if (l > 0 && nl < 500) lens[nl++] = (uint32_t)l;
            }
        }
    lens[nl++] = 65535;
    lens[nl++] = 65536;
    lens[nl++] = 65535 - 8;
    lens[nl++] = 200000;
    int failures = 0;
    for (size_t i = 0; i < nl; i++) {
        uint32_t l = lens[i];
        for (int variant = 0; variant < 5; variant++) {
            ivcs_ts_frame_s f;
            ivcs_vcodec_e vc = variant == 3 ? IVCS_CODEC_H265 : IVCS_CODEC_H264;
            if (variant == 4) {
                if (l > IVCS_TS_AUDIO_FRAME_MAX) continue;
                f = (ivcs_ts_frame_s){make_audio(l), l, IVCS_TS_AUDIO, 0, 1234};
            } else {
                /* 0: no AUD (one is added), 1: has AUD, 2: 3-byte start code, 3: H.265 */
                f = (ivcs_ts_frame_s){make_video(l, 1, variant == 1, variant == 2), l,
                                      IVCS_TS_VIDEO, 1, 1234};
            }
            if (mux_and_verify(vc, IVCS_ACODEC_AAC, &f, 1)) {
                fprintf(stderr, "  len %u variant %d\n", l, variant);
                failures++;
            }
            free((void *)f.data);
        }
    }
    CHECK_EQ(failures, 0);
}

TEST(predicted_size_equals_written_for_random_mixes)
{
    int failures = 0;
    for (int round = 0; round < 200; round++) {
        size_t n = 1 + rnd() % 60;
        ivcs_ts_frame_s fr[60];
        uint64_t pts = (uint64_t)rnd() * 7;
        for (size_t i = 0; i < n; i++) {
            int audio = rnd() % 2;
            uint32_t len = audio ? 1 + rnd() % (rnd() % 8 ? 1500 : 9000)
                                 : 1 + rnd() % (rnd() % 4 ? 2000 : 100000);
            pts += rnd() % 4000;
            fr[i] = (ivcs_ts_frame_s){
                audio ? make_audio(len) : make_video(len, rnd() % 3 == 0, rnd() % 2, rnd() % 2),
                len, (uint8_t)audio, (uint8_t)(!audio && rnd() % 3 == 0), pts};
        }
        if (mux_and_verify(round % 2 ? IVCS_CODEC_H265 : IVCS_CODEC_H264, IVCS_ACODEC_AAC, fr, n))
            failures++;
        free_frames(fr, n);
    }
    CHECK_EQ(failures, 0);
}

TEST(pcr_on_every_video_pes_start_and_pts_has_the_fixed_delay)
{
    ivcs_ts_frame_s fr[10];
    for (int i = 0; i < 10; i++)
        fr[i] = (ivcs_ts_frame_s){make_video(5000 + 100 * (uint32_t)i, i == 0 || i == 5, 0, 0),
                                  5000 + 100 * (uint32_t)i, IVCS_TS_VIDEO,
                                  (uint8_t)(i == 0 || i == 5), 3600 * (uint64_t)i};
    ivcs_ts_mux_s m;
    CHECK_EQ(ivcs_ts_mux_init(&m, IVCS_CODEC_H264, IVCS_ACODEC_NONE), 0);
    bytes out = {0};
    int64_t pred;
    CHECK_EQ(mux_slice(&m, fr, 10, 4096, &out, &pred), pred);
    tdemux d;
    tdemux_init(&d);
    tdemux_feed(&d, out.buf, out.len);
    tdemux_finish(&d);
    CHECK_EQ(d.errors, 0);
    CHECK_EQ(d.n, 10);
    for (size_t i = 0; i < d.n && i < 10; i++) {
        CHECK(d.pes[i].has_pcr);
        CHECK_EQ(d.pes[i].pcr_base, 3600 * i);
        CHECK_EQ(d.pes[i].pts, 3600 * i + IVCS_TS_PTS_DELAY);
        CHECK(d.pes[i].pcr_base <= d.pes[i].pts); /* PCR <= DTS (= PTS) */
        CHECK_EQ(d.pes[i].rai, i == 0 || i == 5);
    }
    /* Exactly one PCR per video PES: no continuation packet carries one
     * (tdemux flags that as an error, checked above). */
    tdemux_free(&d);
    bytes_free(&out);
    free_frames(fr, 10);
}

TEST(pts_and_pcr_wrap_at_33_bits)
{
    uint64_t big = (1ull << 33) - 1000;
    ivcs_ts_frame_s fr[2] = {
        {make_video(300, 1, 0, 0), 300, IVCS_TS_VIDEO, 1, big},
        {make_audio(300), 300, IVCS_TS_AUDIO, 0, big + 500},
    };
    CHECK_EQ(mux_and_verify(IVCS_CODEC_H264, IVCS_ACODEC_AAC, fr, 2), 0);
    free_frames(fr, 2);
}

TEST(aud_is_inserted_only_when_missing_and_only_for_h264)
{
    /* H.264 without AUD: the PES starts with 00 00 00 01 09 F0. */
    ivcs_ts_frame_s f = {make_video(500, 1, 0, 0), 500, IVCS_TS_VIDEO, 1, 0};
    CHECK_EQ(ivcs_ts_needs_aud(IVCS_CODEC_H264, f.data, f.len), 1);
    CHECK_EQ(ivcs_ts_needs_aud(IVCS_CODEC_H265, f.data, f.len), 0);
    ivcs_ts_frame_s g = {make_video(500, 1, 1, 0), 500, IVCS_TS_VIDEO, 1, 0};
    CHECK_EQ(ivcs_ts_needs_aud(IVCS_CODEC_H264, g.data, g.len), 0);
    ivcs_ts_frame_s h = {make_video(500, 1, 1, 1), 500, IVCS_TS_VIDEO, 1, 0};
    CHECK_EQ(ivcs_ts_needs_aud(IVCS_CODEC_H264, h.data, h.len), 0);
    /* Extra leading zeros before the start code, and tiny frames. */
    static const uint8_t z_aud[] = {0, 0, 0, 0, 0, 1, 0x09, 0xF0, 0, 0, 1, 0x65, 0x88};
    static const uint8_t z_idr[] = {0, 0, 0, 0, 0, 1, 0x65, 0x88, 0x84};
    static const uint8_t tiny[] = {0, 0, 1, 0x09};
    static const uint8_t cut[] = {0, 0, 1};
    CHECK_EQ(ivcs_ts_needs_aud(IVCS_CODEC_H264, z_aud, sizeof z_aud), 0);
    CHECK_EQ(ivcs_ts_needs_aud(IVCS_CODEC_H264, z_idr, sizeof z_idr), 1);
    CHECK_EQ(ivcs_ts_needs_aud(IVCS_CODEC_H264, tiny, sizeof tiny), 0);
    CHECK_EQ(ivcs_ts_needs_aud(IVCS_CODEC_H264, cut, sizeof cut), 1);
    CHECK_EQ(ivcs_ts_needs_aud(IVCS_CODEC_H264, cut, 0), 1);
    for (size_t l = 1; l <= sizeof z_aud; l++)
        CHECK_EQ(ivcs_ts_needs_aud(IVCS_CODEC_H264, z_aud, (uint32_t)l),
                 !starts_with_aud(z_aud, l));
    struct {
        ivcs_vcodec_e vc;
        ivcs_ts_frame_s *f;
        int aud;
    } cases[] = {{IVCS_CODEC_H264, &f, 1},
                 {IVCS_CODEC_H264, &g, 0},
                 {IVCS_CODEC_H264, &h, 0},
                 {IVCS_CODEC_H265, &f, 0}};
    for (size_t c = 0; c < 4; c++) {
        ivcs_ts_mux_s m;
        CHECK_EQ(ivcs_ts_mux_init(&m, cases[c].vc, IVCS_ACODEC_NONE), 0);
        bytes out = {0};
        int64_t pred;
        CHECK_EQ(mux_slice(&m, cases[c].f, 1, 4096, &out, &pred), pred);
        tdemux d;
        tdemux_init(&d);
        tdemux_feed(&d, out.buf, out.len);
        tdemux_finish(&d);
        CHECK_EQ(d.errors, 0);
        CHECK_EQ(d.n, 1);
        if (d.n == 1) {
            size_t a = cases[c].aud ? 6 : 0;
            CHECK_EQ(d.pes[0].es.len, 500 + a);
            CHECK(!a || memcmp(d.pes[0].es.buf, "\x00\x00\x00\x01\x09\xF0", 6) == 0);
            CHECK(memcmp(d.pes[0].es.buf + a, cases[c].f->data, 500) == 0);
        }
        tdemux_free(&d);
        bytes_free(&out);
    }
    free((void *)f.data);
    free((void *)g.data);
    free((void *)h.data);
}

TEST(audio_batches_follow_their_limits)
{
    /* 20 audio frames in a row: 8 + 8 + 4. */
    ivcs_ts_frame_s fr[64];
    size_t n = 0;
    for (int i = 0; i < 20; i++)
        fr[n++] = (ivcs_ts_frame_s){make_audio(300), 300, IVCS_TS_AUDIO, 0, 1920 * (uint64_t)i};
    CHECK_EQ(mux_and_verify(IVCS_CODEC_H264, IVCS_ACODEC_AAC, fr, n), 0);
    ivcs_ts_mux_s m;
    CHECK_EQ(ivcs_ts_mux_init(&m, IVCS_CODEC_H264, IVCS_ACODEC_AAC), 0);
    bytes out = {0};
    int64_t pred;
    CHECK_EQ(mux_slice(&m, fr, n, 188 * 50, &out, &pred), pred);
    tdemux d;
    tdemux_init(&d);
    tdemux_feed(&d, out.buf, out.len);
    tdemux_finish(&d);
    CHECK_EQ(d.n, 3);
    if (d.n == 3) {
        CHECK_EQ(d.pes[0].es.len, 8 * 300);
        CHECK_EQ(d.pes[1].es.len, 8 * 300);
        CHECK_EQ(d.pes[2].es.len, 4 * 300);
        CHECK_EQ(d.pes[1].pts, 1920 * 8 + IVCS_TS_PTS_DELAY);
    }
    tdemux_free(&d);
    bytes_free(&out);
    free_frames(fr, n);

    /* Size limit: 1000-byte frames, 14 + 8 * 1000 <= 8192 -> 8 fit;
     * 1100-byte frames: 14 + 7 * 1100 = 7714 fits, 8 would be 8814 -> 7. */
    n = 0;
    for (int i = 0; i < 16; i++)
        fr[n++] = (ivcs_ts_frame_s){make_audio(1100), 1100, IVCS_TS_AUDIO, 0, 1920 * (uint64_t)i};
    CHECK_EQ(ivcs_ts_mux_init(&m, IVCS_CODEC_H264, IVCS_ACODEC_AAC), 0);
    memset(&out, 0, sizeof out);
    CHECK_EQ(mux_slice(&m, fr, n, 188 * 50, &out, &pred), pred);
    tdemux_init(&d);
    tdemux_feed(&d, out.buf, out.len);
    tdemux_finish(&d);
    CHECK_EQ(d.n, 3);
    if (d.n == 3) {
        CHECK_EQ(d.pes[0].es.len, 7 * 1100);
        CHECK_EQ(d.pes[1].es.len, 7 * 1100);
        CHECK_EQ(d.pes[2].es.len, 2 * 1100);
    }
    tdemux_free(&d);
    bytes_free(&out);
    CHECK_EQ(mux_and_verify(IVCS_CODEC_H264, IVCS_ACODEC_AAC, fr, n), 0);
    free_frames(fr, n);

    /* Exactly at the limit: 14 + 2 * 4089 = 8192 -> both in one PES. */
    fr[0] = (ivcs_ts_frame_s){make_audio(4089), 4089, IVCS_TS_AUDIO, 0, 0};
    fr[1] = (ivcs_ts_frame_s){make_audio(4089), 4089, IVCS_TS_AUDIO, 0, 1920};
    fr[2] = (ivcs_ts_frame_s){make_audio(4090), 4090, IVCS_TS_AUDIO, 0, 3840};
    fr[3] = (ivcs_ts_frame_s){make_audio(4089), 4089, IVCS_TS_AUDIO, 0, 5760};
    CHECK_EQ(ivcs_ts_mux_init(&m, IVCS_CODEC_H264, IVCS_ACODEC_AAC), 0);
    memset(&out, 0, sizeof out);
    CHECK_EQ(mux_slice(&m, fr, 4, 188 * 50, &out, &pred), pred);
    tdemux_init(&d);
    tdemux_feed(&d, out.buf, out.len);
    tdemux_finish(&d);
    /* [4089 4089] (14 + 8178 = 8192 fits exactly) | [4090] | [4089] (8193 would not) */
    CHECK_EQ(d.n, 3);
    if (d.n == 3) {
        CHECK_EQ(d.pes[0].es.len, 8178);
        CHECK_EQ(d.pes[1].es.len, 4090);
        CHECK_EQ(d.pes[2].es.len, 4089);
    }
    tdemux_free(&d);
    bytes_free(&out);
    CHECK_EQ(mux_and_verify(IVCS_CODEC_H264, IVCS_ACODEC_AAC, fr, 4), 0);
    free_frames(fr, 4);

    /* A video frame between audio frames ends the batch. */
    n = 0;
    for (int i = 0; i < 12; i++) {
        int v = i == 3 || i == 4 || i == 9;
        fr[n++] =
            (ivcs_ts_frame_s){v ? make_video(700, 0, 0, 0) : make_audio(200), v ? 700 : 200,
                              (uint8_t)(v ? IVCS_TS_VIDEO : IVCS_TS_AUDIO), 0, 1000 * (uint64_t)i};
    }
    CHECK_EQ(ivcs_ts_mux_init(&m, IVCS_CODEC_H264, IVCS_ACODEC_AAC), 0);
    memset(&out, 0, sizeof out);
    CHECK_EQ(mux_slice(&m, fr, n, 188 * 50, &out, &pred), pred);
    tdemux_init(&d);
    tdemux_feed(&d, out.buf, out.len);
    tdemux_finish(&d);
    /* a a a | v | v | a a a a | v | a a */
    CHECK_EQ(d.n, 6);
    if (d.n == 6) {
        CHECK_EQ(d.pes[0].es.len, 600);
        CHECK_EQ(d.pes[3].es.len, 800);
        CHECK_EQ(d.pes[5].es.len, 400);
    }
    tdemux_free(&d);
    bytes_free(&out);
    CHECK_EQ(mux_and_verify(IVCS_CODEC_H264, IVCS_ACODEC_AAC, fr, n), 0);
    free_frames(fr, n);

    /* The largest audio frame fits one PES alone; one byte more is refused. */
    fr[0] = (ivcs_ts_frame_s){make_audio(IVCS_TS_AUDIO_FRAME_MAX), IVCS_TS_AUDIO_FRAME_MAX,
                              IVCS_TS_AUDIO, 0, 0};
    fr[1] = (ivcs_ts_frame_s){make_audio(100), 100, IVCS_TS_AUDIO, 0, 0};
    CHECK_EQ(mux_and_verify(IVCS_CODEC_H264, IVCS_ACODEC_AAC, fr, 2), 0);
    free_frames(fr, 2);
    fr[0] = (ivcs_ts_frame_s){make_audio(IVCS_TS_AUDIO_FRAME_MAX + 1), IVCS_TS_AUDIO_FRAME_MAX + 1,
                              IVCS_TS_AUDIO, 0, 0};
    ivcs_ts_array_src_s arr;
    ivcs_ts_src_s src;
    ivcs_ts_array_src_init(&src, &arr, fr, 1);
    CHECK_EQ(ivcs_ts_slice_size(&m, &src), IVCS_ERR_FRAME_TOO_BIG);
    free_frames(fr, 1);
}

TEST(continuity_counters_carry_across_slices)
{
    /* 5 slices; the concatenation must be one stream with continuous CCs
     * (tdemux keeps CC state across feeds), and PAT/PMT once per slice. */
    ivcs_ts_mux_s m;
    CHECK_EQ(ivcs_ts_mux_init(&m, IVCS_CODEC_H264, IVCS_ACODEC_AAC), 0);
    tdemux d;
    tdemux_init(&d);
    size_t pi = 0;
    for (int sl = 0; sl < 5; sl++) {
        ivcs_ts_frame_s fr[30];
        for (int i = 0; i < 30; i++) {
            int audio = i % 2;
            uint32_t len = audio ? 100 + rnd() % 600 : 50 + rnd() % 9000;
            fr[i] = (ivcs_ts_frame_s){audio ? make_audio(len) : make_video(len, i == 0, 0, 0), len,
                                      (uint8_t)audio, i == 0, (uint64_t)(sl * 30 + i) * 1800};
        }
        bytes out = {0};
        int64_t pred;
        CHECK_EQ(mux_slice(&m, fr, 30, 188 * 11, &out, &pred), pred);
        tdemux_feed(&d, out.buf, out.len);
        /* The last PES of a slice is already whole here (the demuxer only
         * closes it at the next start), so the frames can be compared. */
        CHECK_EQ(check_pes_vs_frames(&d, &pi, fr, 30, IVCS_CODEC_H264), 0);
        bytes_free(&out);
        free_frames(fr, 30);
    }
    tdemux_finish(&d);
    CHECK_EQ(d.errors, 0);
    CHECK_EQ(d.pat, 5);
    CHECK_EQ(d.pmt, 5);
    tdemux_free(&d);
}

TEST(retry_after_begin_again_produces_identical_bytes)
{
    ivcs_ts_frame_s fr[25];
    for (int i = 0; i < 25; i++) {
        int audio = i % 4 == 3;
        uint32_t len = audio ? 400 : 3000 + (uint32_t)i * 37;
        fr[i] = (ivcs_ts_frame_s){audio ? make_audio(len) : make_video(len, i == 0, 0, 0), len,
                                  (uint8_t)audio, i == 0, (uint64_t)i * 3600};
    }
    ivcs_ts_mux_s m;
    CHECK_EQ(ivcs_ts_mux_init(&m, IVCS_CODEC_H264, IVCS_ACODEC_AAC), 0);
    m.cc_video = 9; /* a muxer in the middle of a stream */
    m.cc_audio = 15;
    ivcs_ts_array_src_s arr;
    ivcs_ts_src_s src;
    ivcs_ts_array_src_init(&src, &arr, fr, 25);
    ivcs_ts_slice_s s;
    bytes a = {0}, b = {0};
    uint8_t buf[188 * 5];
    /* First attempt: read part of it, then give up (a failed upload). */
    CHECK_EQ(ivcs_ts_slice_begin(&m, &s, &src), 0);
    for (int i = 0; i < 7; i++) {
        int64_t got = ivcs_ts_slice_read(&s, buf, sizeof buf);
        CHECK(got > 0);
        if (got > 0) bytes_put(&a, buf, (size_t)got);
    }
    CHECK_EQ(ivcs_ts_slice_end(&m, &s), IVCS_ERR_STATE); /* not complete: nothing committed */
    CHECK_EQ(m.cc_video, 9);
    /* Retry from the start, on the same slice struct, and read it all. */
    CHECK_EQ(ivcs_ts_slice_begin(&m, &s, &src), 0);
    int64_t got;
    while ((got = ivcs_ts_slice_read(&s, buf, sizeof buf)) > 0)
        bytes_put(&b, buf, (size_t)got);
    CHECK_EQ(got, 0);
    CHECK(b.len >= a.len && memcmp(a.buf, b.buf, a.len) == 0);
    /* A third run after the retry is identical to the second. */
    bytes c = {0};
    CHECK_EQ(ivcs_ts_slice_begin(&m, &s, &src), 0);
    while ((got = ivcs_ts_slice_read(&s, buf, sizeof buf)) > 0)
        bytes_put(&c, buf, (size_t)got);
    CHECK(b.len == c.len && memcmp(b.buf, c.buf, b.len) == 0);
    CHECK_EQ((int64_t)b.len, ivcs_ts_slice_size(&m, &src));
    CHECK_EQ(ivcs_ts_slice_read(&s, buf, sizeof buf), 0); /* stays complete */
    CHECK_EQ(ivcs_ts_slice_end(&m, &s), 0);
    CHECK(m.cc_video != 9 || m.cc_audio != 15);
    /* The first video packet used the counters given. */
    CHECK_EQ(b.buf[2 * 188 + 3] & 15, 9);
    bytes_free(&a);
    bytes_free(&b);
    bytes_free(&c);
    free_frames(fr, 25);
}

TEST(small_read_buffers_give_identical_output)
{
    ivcs_ts_frame_s fr[30];
    for (int i = 0; i < 30; i++) {
        int audio = i % 3 == 2;
        uint32_t len = audio ? 150 + rnd() % 500 : 1 + rnd() % 12000;
        fr[i] = (ivcs_ts_frame_s){audio ? make_audio(len) : make_video(len, i == 0, 0, 0), len,
                                  (uint8_t)audio, i == 0, (uint64_t)i * 3000};
    }
    size_t caps[] = {1 << 20, 188, 189, 375, 376, 1000, 188 * 7 + 5, 188 * 64};
    bytes ref = {0};
    for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        ivcs_ts_mux_s m;
        CHECK_EQ(ivcs_ts_mux_init(&m, IVCS_CODEC_H264, IVCS_ACODEC_AAC), 0);
        bytes out = {0};
        int64_t pred;
        CHECK_EQ(mux_slice(&m, fr, 30, caps[c], &out, &pred), pred);
        if (c == 0) {
            ref = out;
            continue;
        }
        CHECK(out.len == ref.len && memcmp(out.buf, ref.buf, ref.len) == 0);
        bytes_free(&out);
    }
    /* A buffer smaller than one packet is refused, not half-filled. */
    ivcs_ts_mux_s m;
    CHECK_EQ(ivcs_ts_mux_init(&m, IVCS_CODEC_H264, IVCS_ACODEC_AAC), 0);
    ivcs_ts_array_src_s arr;
    ivcs_ts_src_s src;
    ivcs_ts_array_src_init(&src, &arr, fr, 30);
    ivcs_ts_slice_s s;
    uint8_t small[187];
    CHECK_EQ(ivcs_ts_slice_begin(&m, &s, &src), 0);
    CHECK_EQ(ivcs_ts_slice_read(&s, small, sizeof small), IVCS_ERR_INVALID_ARG);
    bytes_free(&ref);
    free_frames(fr, 30);
}

/* A source that fails after `fail_at` frames. */
typedef struct {
    const ivcs_ts_frame_s *fr;
    size_t n, i, fail_at;
    int rewinds;
} failing_src;

static int failing_next(void *ctx, ivcs_ts_frame_s *f)
{
    failing_src *s = ctx;
    if (s->i == s->fail_at) return IVCS_ERR_IO;
    if (s->i >= s->n) return 0;
    *f = s->fr[s->i++];
    return 1;
}

static void failing_rewind(void *ctx)
{
    failing_src *s = ctx;
    s->i = 0;
    s->rewinds++;
}

TEST(errors_from_frames_and_sources_are_reported_and_sticky)
{
    ivcs_ts_frame_s fr[12];
    for (int i = 0; i < 12; i++)
        fr[i] = (ivcs_ts_frame_s){make_video(3000, i == 0, 0, 0), 3000, IVCS_TS_VIDEO, i == 0,
                                  (uint64_t)i * 3600};
    ivcs_ts_mux_s m;
    CHECK_EQ(ivcs_ts_mux_init(&m, IVCS_CODEC_H264, IVCS_ACODEC_NONE), 0);
    failing_src fs = {fr, 12, 0, 10, 0};
    ivcs_ts_src_s src = {failing_next, failing_rewind, &fs};
    CHECK_EQ(ivcs_ts_slice_size(&m, &src), IVCS_ERR_IO);
    CHECK_EQ(fs.rewinds, 1);
    ivcs_ts_slice_s s;
    CHECK_EQ(ivcs_ts_slice_begin(&m, &s, &src), 0);
    uint8_t buf[188 * 1000];
    int64_t got = ivcs_ts_slice_read(&s, buf, sizeof buf);
    CHECK(got > 0 && got % 188 == 0); /* the bytes before the failure come first */
    CHECK_EQ(ivcs_ts_slice_read(&s, buf, sizeof buf), IVCS_ERR_IO);
    CHECK_EQ(ivcs_ts_slice_read(&s, buf, sizeof buf), IVCS_ERR_IO);
    CHECK_EQ(ivcs_ts_slice_end(&m, &s), IVCS_ERR_STATE);
    CHECK_EQ(m.cc_video, 0);

    ivcs_ts_array_src_s arr;
    /* An audio frame for a muxer without audio. */
    ivcs_ts_frame_s a = {fr[1].data, 100, IVCS_TS_AUDIO, 0, 0};
    ivcs_ts_array_src_init(&src, &arr, &a, 1);
    CHECK_EQ(ivcs_ts_slice_size(&m, &src), IVCS_ERR_INVALID_ARG);
    /* An unknown stream value. */
    ivcs_ts_frame_s x = {fr[1].data, 100, 7, 0, 0};
    ivcs_ts_array_src_init(&src, &arr, &x, 1);
    CHECK_EQ(ivcs_ts_slice_size(&m, &src), IVCS_ERR_INVALID_ARG);
    /* Empty frames, in the size pass and in the writer alike. */
    ivcs_ts_frame_s e[2] = {fr[0], {fr[1].data, 0, IVCS_TS_VIDEO, 0, 3600}};
    ivcs_ts_array_src_init(&src, &arr, e, 2);
    CHECK_EQ(ivcs_ts_slice_size(&m, &src), IVCS_ERR_EMPTY_FRAME);
    e[1] = (ivcs_ts_frame_s){NULL, 10, IVCS_TS_VIDEO, 0, 3600};
    CHECK_EQ(ivcs_ts_slice_size(&m, &src), IVCS_ERR_EMPTY_FRAME);
    CHECK_EQ(ivcs_ts_slice_begin(&m, &s, &src), 0);
    int64_t total = 0;
    while ((got = ivcs_ts_slice_read(&s, buf, 188)) > 0)
        total += got;
    CHECK_EQ(got, IVCS_ERR_EMPTY_FRAME);
    CHECK(total > 0);
    /* An empty slice is PAT + PMT only. */
    ivcs_ts_array_src_init(&src, &arr, fr, 0);
    CHECK_EQ(ivcs_ts_slice_size(&m, &src), 2 * 188);
    /* NULL arguments. */
    CHECK_EQ(ivcs_ts_slice_size(NULL, &src), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_ts_slice_begin(&m, NULL, &src), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_ts_slice_read(NULL, buf, 188), IVCS_ERR_INVALID_ARG);
    free_frames(fr, 12);
}

static int failing_write(void *ctx, const uint8_t *p, size_t n)
{
    (void)p;
    size_t *left = ctx;
    if (n > *left) return -1;
    *left -= n;
    return 0;
}

TEST(mux_write_streams_through_the_callback)
{
    ivcs_ts_frame_s fr[20];
    for (int i = 0; i < 20; i++) {
        int audio = i % 2;
        uint32_t len = audio ? 300 : 9000;
        fr[i] = (ivcs_ts_frame_s){audio ? make_audio(len) : make_video(len, i == 0, 0, 0), len,
                                  (uint8_t)audio, i == 0, (uint64_t)i * 1800};
    }
    ivcs_ts_mux_s m, m2;
    CHECK_EQ(ivcs_ts_mux_init(&m, IVCS_CODEC_H265, IVCS_ACODEC_AAC), 0);
    m2 = m;
    ivcs_ts_array_src_s arr;
    ivcs_ts_src_s src;
    ivcs_ts_array_src_init(&src, &arr, fr, 20);
    bytes out = {0};
    int64_t size = ivcs_ts_slice_size(&m, &src);
    CHECK_EQ(ivcs_ts_mux_write(&m, &src, bytes_put, &out), size);
    CHECK_EQ((int64_t)out.len, size);
    /* Same bytes as begin/read/end by hand, and the counters committed. */
    bytes ref = {0};
    int64_t pred;
    CHECK_EQ(mux_slice(&m2, fr, 20, 188, &ref, &pred), size);
    CHECK(ref.len == out.len && memcmp(ref.buf, out.buf, out.len) == 0);
    CHECK(memcmp(&m, &m2, sizeof m) == 0);
    /* A write failure aborts with IVCS_ERR_WRITE and commits nothing. */
    ivcs_ts_mux_s before = m;
    size_t left = 188 * 70;
    CHECK_EQ(ivcs_ts_mux_write(&m, &src, failing_write, &left), IVCS_ERR_WRITE);
    CHECK(memcmp(&m, &before, sizeof m) == 0);
    bytes_free(&out);
    bytes_free(&ref);
    free_frames(fr, 20);
}

/* ------------------------------------------------------------ real media */

typedef struct {
    uint8_t *buf;
    size_t len;
} media;

static int load(const char *name, media *md)
{
    md->buf = check_read_file(check_media(name), &md->len);
    return md->buf != NULL;
}

/* Splits a clip with the engine's parsers, interleaves by time (as ivcs mux
 * does), cuts 2-second slices at key frames and checks every slice: size
 * predicted == written, structure, content, and CC continuity across all. */
static void mux_media(const char *vname, ivcs_vcodec_e vc, int fps, const char *aname)
{
    media v, a = {0};
    if (!load(vname, &v)) {
        fprintf(stderr, "  skip: %s not found (run scripts/make-media)\n", check_media(vname));
        return;
    }
    if (aname && !load(aname, &a)) aname = NULL;
    size_t cap = 1024, n = 0;
    ivcs_ts_frame_s *fr = malloc(cap * sizeof *fr);
    size_t nv = 0, na = 0, vo = 0, ao = 0;
    uint64_t apts_samples = 0;
    uint32_t rate = 0;
    for (;;) {
        int have_v = vo < v.len, have_a = aname && ao < a.len;
        if (!have_v && !have_a) break;
        uint64_t vpts = (uint64_t)nv * 1000 / (uint64_t)fps;
        uint64_t apts = rate ? apts_samples * 1000 / rate : 0;
        if (n == cap) fr = realloc(fr, (cap *= 2) * sizeof *fr);
        if (have_a && (!have_v || apts <= vpts)) {
            ivcs_adts_hdr_s h;
            int r = ivcs_adts_parse(a.buf + ao, a.len - ao, &h);
            CHECK(r > 0);
            if (r <= 0) break;
            rate = h.sample_rate;
            apts = apts_samples * 1000 / rate;
            fr[n++] = (ivcs_ts_frame_s){a.buf + ao, (uint32_t)r, IVCS_TS_AUDIO, 0, apts * 90};
            apts_samples += h.samples;
            ao += (size_t)r;
            na++;
        } else {
            int64_t r = ivcs_nalu_next_au(vc, v.buf + vo, v.len - vo, 1);
            CHECK(r > 0);
            if (r <= 0) break;
            ivcs_frame_info_s info;
            CHECK_EQ(ivcs_nalu_frame_info(vc, v.buf + vo, (size_t)r, &info), 0);
            fr[n++] =
                (ivcs_ts_frame_s){v.buf + vo, (uint32_t)r, IVCS_TS_VIDEO, info.is_key, vpts * 90};
            vo += (size_t)r;
            nv++;
        }
    }
    CHECK(nv > 50);
    ivcs_ts_mux_s m;
    CHECK_EQ(ivcs_ts_mux_init(&m, vc, aname ? IVCS_ACODEC_AAC : IVCS_ACODEC_NONE), 0);
    tdemux d;
    tdemux_init(&d);
    size_t pi = 0, start = 0, slices = 0;
    uint64_t slice_pts = fr[0].pts;
    for (size_t i = 1; i <= n; i++) {
        if (i < n &&
            !(fr[i].stream == IVCS_TS_VIDEO && fr[i].key && fr[i].pts >= slice_pts + 2000 * 90))
            continue;
        bytes out = {0};
        int64_t pred;
        int64_t got = mux_slice(&m, fr + start, i - start, 188 * 256, &out, &pred);
        CHECK(got > 0);
        CHECK_EQ(pred, got);
        tdemux_feed(&d, out.buf, out.len);
        CHECK_EQ(check_pes_vs_frames(&d, &pi, fr + start, i - start, vc), 0);
        bytes_free(&out);
        slices++;
        start = i;
        if (i < n) slice_pts = fr[i].pts;
    }
    tdemux_finish(&d);
    CHECK_EQ(d.errors, 0);
    CHECK(slices >= 2);
    fprintf(stderr, "  %s%s%s: %zu video + %zu audio frames, %zu slices\n", vname,
            aname ? " + " : "", aname ? aname : "", nv, na, slices);
    tdemux_free(&d);
    free(fr);
    free(v.buf);
    free(a.buf);
}

TEST(real_clips_mux_with_exact_sizes)
{
    mux_media("clip_h264.h264", IVCS_CODEC_H264, 25, "clip_aac.aac");
    mux_media("clip_h264_aud.h264", IVCS_CODEC_H264, 25, "clip_aac.aac");
    mux_media("clip_h265.h265", IVCS_CODEC_H265, 25, "clip_aac.aac");
    mux_media("clip_low.h264", IVCS_CODEC_H264, 15, NULL);
}

int main(void)
{
    RUN(crc32_matches_the_mpeg2_check_value);
    RUN(init_rejects_unknown_codecs);
    RUN(slice_starts_with_pat_and_pmt_with_correct_crc);
    RUN(every_packet_has_sync_byte_and_known_pid);
    RUN(predicted_size_equals_written_around_packet_boundaries);
    RUN(predicted_size_equals_written_for_random_mixes);
    RUN(pcr_on_every_video_pes_start_and_pts_has_the_fixed_delay);
    RUN(pts_and_pcr_wrap_at_33_bits);
    RUN(aud_is_inserted_only_when_missing_and_only_for_h264);
    RUN(audio_batches_follow_their_limits);
    RUN(continuity_counters_carry_across_slices);
    RUN(retry_after_begin_again_produces_identical_bytes);
    RUN(small_read_buffers_give_identical_output);
    RUN(errors_from_frames_and_sources_are_reported_and_sticky);
    RUN(mux_write_streams_through_the_callback);
    RUN(real_clips_mux_with_exact_sizes);
    return check_done();
}
