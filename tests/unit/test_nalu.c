/*
 * test_nalu.c - H.264 / H.265 Annex-B parsing (engine/codec/nalu.c,
 * startcode.c).
 *
 * Three kinds of input:
 *  - hand-made byte sequences, built with a bit writer that applies
 *    emulation prevention, for every rule and every error code;
 *  - header vectors cut from real encoder output (parameter sets whole,
 *    slices cut to their first bytes); the sizes they must give were read
 *    with ffprobe when they were cut, see each vector;
 *  - the clips of scripts/make-media in $IVCS_MEDIA_DIR, checked against
 *    what ffprobe says about them at test time (frame count, size, frame
 *    types).
 * Inputs are also placed against PROT_NONE guard pages (guard.h): any read
 * outside the buffer faults.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "engine/codec/nalu.h"
#include "guard.h"

#define H264 IVCS_CODEC_H264
#define H265 IVCS_CODEC_H265
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------- helpers */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}

/* Bit writer for RBSPs. */
typedef struct {
    uint8_t buf[4096];
    size_t bits;
} bw;

static void bw_u(bw *w, unsigned n, uint64_t v)
{
    for (unsigned i = n; i-- > 0;) {
        size_t byte = w->bits >> 3;
        if (byte >= sizeof w->buf) abort();
        if (((v >> i) & 1) != 0)
            w->buf[byte] |= (uint8_t)(0x80 >> (w->bits & 7));
        else
            w->buf[byte] &= (uint8_t) ~(0x80 >> (w->bits & 7));
        w->bits++;
    }
}

static void bw_ue(bw *w, uint64_t v)
{
    uint64_t x = v + 1;
    unsigned n = 0;
    while ((x >> n) > 1)
        n++;
    bw_u(w, n, 0);
    bw_u(w, n + 1, x);
}

static void bw_se(bw *w, int64_t v)
{
    bw_ue(w, v > 0 ? (uint64_t)(2 * v - 1) : (uint64_t)(-2 * v));
}

static void bw_trailing(bw *w)
{
    bw_u(w, 1, 1);
    while (w->bits & 7)
        bw_u(w, 1, 0);
}

/* An Annex-B stream under construction. */
typedef struct {
    uint8_t d[16384];
    size_t n;
    int ep; /* emulation-prevention bytes inserted so far */
} stream;

static void st_put(stream *s, uint8_t c)
{
    if (s->n >= sizeof s->d) abort();
    s->d[s->n++] = c;
}

static void st_raw(stream *s, const void *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        st_put(s, ((const uint8_t *)p)[i]);
}

/* Start code + header + rbsp (closed with trailing bits), escaped. */
static void st_nal(stream *s, int four, const uint8_t *hdr, size_t hl, bw *rbsp)
{
    if (four) st_put(s, 0);
    st_put(s, 0);
    st_put(s, 0);
    st_put(s, 1);
    st_raw(s, hdr, hl);
    bw_trailing(rbsp);
    int zeros = 0;
    for (size_t i = 0; i < rbsp->bits / 8; i++) {
        uint8_t c = rbsp->buf[i];
        if (zeros >= 2 && c <= 3) {
            st_put(s, 3);
            s->ep++;
            zeros = 0;
        }
        st_put(s, c);
        zeros = c == 0 ? zeros + 1 : 0;
    }
}

static void h264_nal(stream *s, uint8_t type, bw *rbsp)
{
    uint8_t h = (uint8_t)((type == 6 || type == 9 || type == 12 ? 0 : 3) << 5 | type);
    st_nal(s, 1, &h, 1, rbsp);
}

static void h265_nal_layer(stream *s, uint8_t type, unsigned layer, bw *rbsp)
{
    uint8_t h[2] = {(uint8_t)(type << 1 | layer >> 5), (uint8_t)((layer & 31) << 3 | 1)};
    st_nal(s, 1, h, 2, rbsp);
}

static void h265_nal(stream *s, uint8_t type, bw *rbsp)
{
    h265_nal_layer(s, type, 0, rbsp);
}

/* ---- H.264 builders */

typedef struct {
    unsigned profile;
    unsigned chroma; /* chroma_format_idc */
    unsigned sep;    /* separate_colour_plane_flag */
    unsigned scaling;
    unsigned poc_type;
    unsigned frame_mbs_only;
    unsigned w_mbs, h_map; /* in macroblocks / map units */
    unsigned crop, cl, cr, ct, cb;
} h264_sps_p;

static void h264_sps_rbsp(bw *w, const h264_sps_p *p)
{
    bw_u(w, 8, p->profile);
    bw_u(w, 8, 0);
    bw_u(w, 8, 40);
    bw_ue(w, 0);
    if (p->profile == 100 || p->profile == 244) {
        bw_ue(w, p->chroma);
        if (p->chroma == 3) bw_u(w, 1, p->sep);
        bw_ue(w, 0);
        bw_ue(w, 0);
        bw_u(w, 1, 0);
        bw_u(w, 1, p->scaling);
        if (p->scaling) {
            for (int i = 0; i < (p->chroma != 3 ? 8 : 12); i++) {
                bw_u(w, 1, (unsigned)(i & 1)); /* every other list present */
                if (i & 1) {
                    int size = i < 6 ? 16 : 64, last = 8;
                    for (int j = 0; j < size; j++) {
                        int next = 1 + (j * 29 + i) % 200;
                        int d = next - last;
                        if (d > 127) d -= 256;
                        if (d < -128) d += 256;
                        bw_se(w, d);
                        last = next;
                    }
                }
            }
        }
    }
    bw_ue(w, 0); /* log2_max_frame_num_minus4 */
    bw_ue(w, p->poc_type);
    if (p->poc_type == 0) bw_ue(w, 2);
    if (p->poc_type == 1) {
        bw_u(w, 1, 0);
        bw_se(w, -3);
        bw_se(w, 7);
        bw_ue(w, 3);
        bw_se(w, 1);
        bw_se(w, -1);
        bw_se(w, 100);
    }
    bw_ue(w, 1); /* max_num_ref_frames */
    bw_u(w, 1, 0);
    bw_ue(w, p->w_mbs - 1);
    bw_ue(w, p->h_map - 1);
    bw_u(w, 1, p->frame_mbs_only);
    if (!p->frame_mbs_only) bw_u(w, 1, 1);
    bw_u(w, 1, 1);
    bw_u(w, 1, p->crop);
    if (p->crop) {
        bw_ue(w, p->cl);
        bw_ue(w, p->cr);
        bw_ue(w, p->ct);
        bw_ue(w, p->cb);
    }
    bw_u(w, 1, 0); /* vui_parameters_present_flag */
}

static void h264_sps(stream *s, const h264_sps_p *p)
{
    bw w = {0};
    h264_sps_rbsp(&w, p);
    h264_nal(s, 7, &w);
}

static void h264_pps(stream *s)
{
    bw w = {0};
    bw_ue(&w, 0);
    bw_ue(&w, 0);
    bw_u(&w, 2, 0);
    h264_nal(s, 8, &w);
}

static void h264_aud(stream *s)
{
    bw w = {0};
    bw_u(&w, 3, 7);
    h264_nal(s, 9, &w);
}

static void h264_sei(stream *s)
{
    bw w = {0};
    bw_u(&w, 8, 5);  /* user_data_unregistered */
    bw_u(&w, 8, 16); /* 16 bytes of uuid */
    for (int i = 0; i < 16; i++)
        bw_u(&w, 8, 0x40 + (unsigned)i);
    h264_nal(s, 6, &w);
}

static void h264_slice(stream *s, uint8_t type, unsigned first_mb, unsigned slice_type)
{
    bw w = {0};
    bw_ue(&w, first_mb);
    bw_ue(&w, slice_type);
    bw_ue(&w, 0); /* pic_parameter_set_id */
    bw_u(&w, 16, 0xBEEF);
    h264_nal(s, type, &w);
}

static const h264_sps_p sps_320x240 = {100, 1, 0, 0, 0, 1, 20, 15, 0, 0, 0, 0, 0};

/* SPS + PPS + IDR (I) */
static void h264_idr_au(stream *s)
{
    h264_sps(s, &sps_320x240);
    h264_pps(s);
    h264_slice(s, 5, 0, 7);
}

/* ---- H.265 builders */

typedef struct {
    unsigned sub_layers_minus1;
    unsigned sub_prof, sub_lvl; /* bit i: sub_layer_{profile,level}_present_flag[i] */
    unsigned chroma, sep;
    unsigned w, h;
    unsigned conf, cl, cr, ct, cb;
    unsigned min_cb_minus3, diff;
} h265_sps_p;

static void h265_sps_rbsp(bw *w, const h265_sps_p *p)
{
    bw_u(w, 4, 0);
    bw_u(w, 3, p->sub_layers_minus1);
    bw_u(w, 1, 1);
    /* general PTL: profile_idc 1, all-zero flags (many zero bytes: the
     * writer has to escape them), level 93 */
    bw_u(w, 8, 0x01);
    bw_u(w, 32, 0x60000000);
    bw_u(w, 32, 0);
    bw_u(w, 16, 0);
    bw_u(w, 8, 93);
    for (unsigned i = 0; i < p->sub_layers_minus1; i++) {
        bw_u(w, 1, (p->sub_prof >> i) & 1);
        bw_u(w, 1, (p->sub_lvl >> i) & 1);
    }
    if (p->sub_layers_minus1 > 0)
        for (unsigned i = p->sub_layers_minus1; i < 8; i++)
            bw_u(w, 2, 0);
    for (unsigned i = 0; i < p->sub_layers_minus1; i++) {
        if ((p->sub_prof >> i) & 1) {
            bw_u(w, 8, 0x01);
            bw_u(w, 32, 0x60000000);
            bw_u(w, 32, 0);
            bw_u(w, 16, 0);
        }
        if ((p->sub_lvl >> i) & 1) bw_u(w, 8, 90);
    }
    bw_ue(w, 0); /* sps_seq_parameter_set_id */
    bw_ue(w, p->chroma);
    if (p->chroma == 3) bw_u(w, 1, p->sep);
    bw_ue(w, p->w);
    bw_ue(w, p->h);
    bw_u(w, 1, p->conf);
    if (p->conf) {
        bw_ue(w, p->cl);
        bw_ue(w, p->cr);
        bw_ue(w, p->ct);
        bw_ue(w, p->cb);
    }
    bw_ue(w, 0);
    bw_ue(w, 0);
    bw_ue(w, 4); /* log2_max_pic_order_cnt_lsb_minus4 */
    bw_u(w, 1, 1);
    for (unsigned i = 0; i <= p->sub_layers_minus1; i++) {
        bw_ue(w, 4);
        bw_ue(w, 0);
        bw_ue(w, 0);
    }
    bw_ue(w, p->min_cb_minus3);
    bw_ue(w, p->diff);
    bw_ue(w, 0);
    bw_ue(w, 3);
    bw_u(w, 8, 0x5A); /* more fields the parser need not read */
}

static const h265_sps_p sps265_320x240 = {0, 0, 0, 1, 0, 320, 240, 0, 0, 0, 0, 0, 0, 3};

static void h265_sps(stream *s, const h265_sps_p *p)
{
    bw w = {0};
    h265_sps_rbsp(&w, p);
    h265_nal(s, 33, &w);
}

static void h265_vps(stream *s)
{
    bw w = {0};
    bw_u(&w, 16, 0x0C01);
    bw_u(&w, 16, 0xFFFF);
    bw_u(&w, 8, 0x01);
    h265_nal(s, 32, &w);
}

static void h265_pps(stream *s, unsigned id, unsigned dep, unsigned extra)
{
    bw w = {0};
    bw_ue(&w, id);
    bw_ue(&w, 0);
    bw_u(&w, 1, dep);
    bw_u(&w, 1, 0);
    bw_u(&w, 3, extra);
    bw_u(&w, 8, 0x33);
    h265_nal(s, 34, &w);
}

static void h265_aud(stream *s)
{
    bw w = {0};
    bw_u(&w, 3, 2);
    h265_nal(s, 35, &w);
}

static void h265_sei(stream *s, uint8_t type)
{
    bw w = {0};
    bw_u(&w, 8, 5);
    bw_u(&w, 8, 16);
    for (int i = 0; i < 16; i++)
        bw_u(&w, 8, 0x60 + (unsigned)i);
    h265_nal(s, type, &w);
}

/* A slice segment header. addr_bits/extra are what the writer puts, which
 * need not be what the PPS/SPS in the AU say (tests of the assumptions). */
typedef struct {
    unsigned first, pps_id, dep, addr, addr_bits, extra, extra_val, slice_type;
    int dep_present; /* write dependent_slice_segment_flag */
} h265_slice_p;

static void h265_slice(stream *s, uint8_t type, const h265_slice_p *p)
{
    bw w = {0};
    bw_u(&w, 1, p->first);
    if (type >= 16 && type <= 23) bw_u(&w, 1, 0);
    bw_ue(&w, p->pps_id);
    if (!p->first) {
        if (p->dep_present) bw_u(&w, 1, p->dep);
        bw_u(&w, p->addr_bits, p->addr);
    }
    if (!p->dep) {
        bw_u(&w, p->extra, p->extra_val);
        bw_ue(&w, p->slice_type);
    }
    bw_u(&w, 16, 0xCAFE);
    h265_nal(s, type, &w);
}

static void h265_first_slice(stream *s, uint8_t type, unsigned slice_type)
{
    h265_slice_p sp = {1, 0, 0, 0, 0, 0, 0, slice_type, 0};
    h265_slice(s, type, &sp);
}

/* VPS + SPS + PPS + IDR_W_RADL (I) */
static void h265_idr_au(stream *s)
{
    h265_vps(s);
    h265_sps(s, &sps265_320x240);
    h265_pps(s, 0, 0, 0);
    h265_first_slice(s, 19, 2);
}

/* ---- reference start-code scan: the spec's definition, byte by byte */
static size_t ref_find(const uint8_t *p, size_t len, size_t *sc)
{
    for (size_t i = 0; i + 3 <= len; i++) {
        if (i + 4 <= len && !p[i] && !p[i + 1] && !p[i + 2] && p[i + 3] == 1) {
            *sc = 4;
            return i;
        }
        if (!p[i] && !p[i + 1] && p[i + 2] == 1) {
            *sc = 3;
            return i;
        }
    }
    *sc = 0;
    return len;
}

/* ---- ffprobe */

static int run_lines(const char *cmd, char *out, size_t cap)
{
    FILE *f = popen(cmd, "r");
    if (!f) return -1;
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = 0;
    int st = pclose(f);
    return st == 0 ? (int)n : -1;
}

/* "320,240,75" for the first video stream. */
static int ffprobe_stream(const char *path, unsigned *w, unsigned *h, unsigned *frames)
{
    char cmd[8192], out[256];
    snprintf(cmd, sizeof cmd,
             "ffprobe -v error -count_frames -select_streams v:0 -show_entries "
             "stream=width,height,nb_read_frames -of csv=p=0 '%s'",
             path);
    if (run_lines(cmd, out, sizeof out) <= 0) return -1;
    return sscanf(out, "%u,%u,%u", w, h, frames) == 3 ? 0 : -1;
}

/* Picture types ('I', 'P', 'B') in output order; returns their number. */
static int ffprobe_types(const char *path, char *types, size_t cap)
{
    char cmd[8192];
    static char out[65536];
    snprintf(cmd, sizeof cmd,
             "ffprobe -v error -select_streams v:0 -show_entries frame=pict_type -of csv=p=0 '%s'",
             path);
    if (run_lines(cmd, out, sizeof out) <= 0) return -1;
    size_t n = 0;
    for (char *line = strtok(out, "\n"); line && n + 1 < cap; line = strtok(NULL, "\n"))
        if (line[0] == 'I' || line[0] == 'P' || line[0] == 'B') types[n++] = line[0];
    types[n] = 0;
    return (int)n;
}

/* =============================================================== vectors */

/* Cut with a script from the first access unit of real encoder output
 * (SEI dropped, parameter sets whole, slices cut to 12 bytes). Sizes from
 * `ffprobe -show_entries stream=width,height` on the whole stream:
 *   au_h264_444_spsscaling  322x242  x264 High 4:4:4, SPS rewritten to carry
 *                           twelve explicit scaling lists (808-byte SPS with
 *                           two emulation-prevention bytes; ffmpeg decodes it)
 *   au_h264_mbaff           322x244  x264 interlaced=1: frame_mbs_only_flag 0
 *   au_h264_gray            322x242  x264 gray: chroma_format_idc 0
 *   au_h264_422             330x250  x264 yuv422p10
 *   au_h264_1918x1078      1918x1078 x264 4:2:0, crop right 2 / bottom 10
 *   au_h265_444             322x242  x265 yuv444p, conformance window
 *   au_h265_422             330x250  x265 yuv422p10
 *   au_h265_gray            322x242  x265 gray
 *   au_h265_sublayers       330x250  x265 temporal-layers: sps_max_sub_layers_minus1 1
 */
static const uint8_t au_h264_444_spsscaling[] = {
    0x00, 0x00, 0x00, 0x01, 0x67, 0xf4, 0x00, 0x0d, 0x91, 0xb1, 0xe0, 0x4a, 0x02, 0x50, 0x12, 0x80,
    0x94, 0x04, 0xa0, 0x25, 0x01, 0x30, 0x09, 0x40, 0x4a, 0x02, 0x50, 0x12, 0x80, 0x94, 0x04, 0xa0,
    0x26, 0x01, 0x2a, 0x20, 0x09, 0x40, 0x4a, 0x02, 0x50, 0x12, 0x80, 0x94, 0x04, 0xa0, 0x26, 0x01,
    0x28, 0x09, 0x40, 0x4a, 0x02, 0x50, 0x12, 0x80, 0x94, 0x04, 0xc0, 0x25, 0x43, 0xc0, 0x4a, 0x02,
    0x50, 0x12, 0x80, 0x94, 0x04, 0xa0, 0x25, 0x01, 0x30, 0x09, 0x40, 0x4a, 0x02, 0x50, 0x12, 0x80,
    0x94, 0x04, 0xa0, 0x26, 0x01, 0x2a, 0x0d, 0x00, 0x94, 0x04, 0xa0, 0x25, 0x01, 0x28, 0x09, 0x40,
    0x4c, 0x02, 0x50, 0x12, 0x80, 0x94, 0x04, 0xa0, 0x25, 0x01, 0x28, 0x09, 0x80, 0x4a, 0x02, 0x54,
    0x09, 0x40, 0x4a, 0x02, 0x50, 0x12, 0x80, 0x94, 0x04, 0xa0, 0x26, 0x01, 0x28, 0x09, 0x40, 0x4a,
    0x02, 0x50, 0x12, 0x80, 0x94, 0x04, 0xc0, 0x25, 0x01, 0x2a, 0x06, 0x00, 0x25, 0x01, 0x28, 0x09,
    0x40, 0x4a, 0x02, 0x50, 0x13, 0x00, 0x94, 0x04, 0xa0, 0x25, 0x01, 0x28, 0x09, 0x40, 0x4a, 0x02,
    0x60, 0x12, 0x80, 0x95, 0x03, 0xb0, 0x12, 0x80, 0x94, 0x04, 0xa0, 0x25, 0x01, 0x28, 0x09, 0x80,
    0x4a, 0x02, 0x50, 0x12, 0x80, 0x94, 0x04, 0xa0, 0x26, 0x01, 0x28, 0x09, 0x40, 0x4a, 0x02, 0x50,
    0x12, 0x80, 0x94, 0x04, 0xc0, 0x25, 0x01, 0x28, 0x09, 0x40, 0x4a, 0x02, 0x50, 0x12, 0x80, 0x98,
    0x04, 0xa0, 0x25, 0x01, 0x28, 0x09, 0x40, 0x4a, 0x02, 0x50, 0x13, 0x00, 0x94, 0x04, 0xa0, 0x25,
    0x01, 0x28, 0x09, 0x40, 0x4a, 0x02, 0x60, 0x12, 0x80, 0x94, 0x04, 0xa0, 0x25, 0x01, 0x28, 0x09,
    0x40, 0x4c, 0x02, 0x50, 0x12, 0x80, 0x94, 0x04, 0xa0, 0x25, 0x01, 0x28, 0x09, 0x80, 0x4a, 0x02,
    0x50, 0x12, 0x80, 0x94, 0x04, 0xa0, 0x25, 0x01, 0x30, 0x09, 0x40, 0x4a, 0x80, 0x8c, 0x02, 0x50,
    0x12, 0x80, 0x94, 0x04, 0xa0, 0x26, 0x01, 0x28, 0x09, 0x40, 0x4a, 0x02, 0x50, 0x12, 0x80, 0x94,
    0x04, 0xc0, 0x25, 0x01, 0x28, 0x09, 0x40, 0x4a, 0x02, 0x50, 0x12, 0x80, 0x98, 0x04, 0xa0, 0x25,
    0x01, 0x28, 0x09, 0x40, 0x4a, 0x02, 0x50, 0x13, 0x00, 0x94, 0x04, 0xa0, 0x25, 0x01, 0x28, 0x09,
    0x40, 0x4a, 0x02, 0x60, 0x12, 0x80, 0x94, 0x04, 0xa0, 0x25, 0x01, 0x28, 0x09, 0x40, 0x4c, 0x02,
    0x50, 0x12, 0x80, 0x94, 0x04, 0xa0, 0x25, 0x01, 0x28, 0x09, 0x80, 0x4a, 0x02, 0x50, 0x12, 0x80,
    0x94, 0x04, 0xa0, 0x25, 0x01, 0x30, 0x09, 0x40, 0x4a, 0x02, 0x50, 0x12, 0x80, 0x94, 0x04, 0xc0,
    0x25, 0x01, 0x28, 0x09, 0x50, 0x14, 0x40, 0x4a, 0x02, 0x50, 0x12, 0x80, 0x94, 0x04, 0xc0, 0x25,
    0x01, 0x28, 0x09, 0x40, 0x4a, 0x02, 0x50, 0x12, 0x80, 0x98, 0x04, 0xa0, 0x25, 0x01, 0x28, 0x09,
    0x40, 0x4a, 0x02, 0x50, 0x13, 0x00, 0x94, 0x04, 0xa0, 0x25, 0x01, 0x28, 0x09, 0x40, 0x4a, 0x02,
    0x60, 0x12, 0x80, 0x94, 0x04, 0xa0, 0x25, 0x01, 0x28, 0x09, 0x40, 0x4c, 0x02, 0x50, 0x12, 0x80,
    0x94, 0x04, 0xa0, 0x25, 0x01, 0x30, 0x09, 0x40, 0x4a, 0x02, 0x50, 0x12, 0x80, 0x94, 0x04, 0xa0,
    0x26, 0x01, 0x28, 0x09, 0x40, 0x4a, 0x02, 0x50, 0x12, 0x80, 0x94, 0x04, 0xc0, 0x25, 0x01, 0x28,
    0x09, 0x40, 0x4a, 0x02, 0x50, 0x12, 0x80, 0x98, 0x04, 0xa0, 0x25, 0x01, 0x2a, 0x02, 0xe0, 0x09,
    0x40, 0x4a, 0x02, 0x50, 0x12, 0x80, 0x98, 0x04, 0xa0, 0x25, 0x01, 0x28, 0x09, 0x40, 0x4a, 0x02,
    0x50, 0x13, 0x00, 0x94, 0x04, 0xa0, 0x25, 0x01, 0x28, 0x09, 0x40, 0x4c, 0x02, 0x50, 0x12, 0x80,
    0x94, 0x04, 0xa0, 0x25, 0x01, 0x28, 0x09, 0x80, 0x4a, 0x02, 0x50, 0x12, 0x80, 0x94, 0x04, 0xa0,
    0x25, 0x01, 0x30, 0x09, 0x40, 0x4a, 0x02, 0x50, 0x12, 0x80, 0x94, 0x04, 0xa0, 0x26, 0x01, 0x28,
    0x09, 0x40, 0x4a, 0x02, 0x50, 0x12, 0x80, 0x94, 0x04, 0xc0, 0x25, 0x01, 0x28, 0x09, 0x40, 0x4a,
    0x02, 0x50, 0x12, 0x80, 0x98, 0x04, 0xa0, 0x25, 0x01, 0x28, 0x09, 0x40, 0x4a, 0x02, 0x50, 0x13,
    0x00, 0x94, 0x04, 0xa0, 0x25, 0x40, 0x67, 0x01, 0x28, 0x09, 0x40, 0x4a, 0x02, 0x60, 0x12, 0x80,
    0x94, 0x04, 0xa0, 0x25, 0x01, 0x28, 0x09, 0x40, 0x4c, 0x02, 0x50, 0x12, 0x80, 0x94, 0x04, 0xa0,
    0x25, 0x01, 0x28, 0x09, 0x80, 0x4a, 0x02, 0x50, 0x12, 0x80, 0x94, 0x04, 0xa0, 0x25, 0x01, 0x30,
    0x09, 0x40, 0x4a, 0x02, 0x50, 0x12, 0x80, 0x94, 0x04, 0xa0, 0x26, 0x01, 0x28, 0x09, 0x40, 0x4a,
    0x02, 0x50, 0x12, 0x80, 0x94, 0x04, 0xc0, 0x25, 0x01, 0x28, 0x09, 0x40, 0x4a, 0x02, 0x50, 0x12,
    0x80, 0x98, 0x04, 0xa0, 0x25, 0x01, 0x28, 0x09, 0x40, 0x4a, 0x02, 0x50, 0x13, 0x00, 0x94, 0x04,
    0xa0, 0x25, 0x01, 0x28, 0x09, 0x40, 0x4a, 0x02, 0x60, 0x12, 0x80, 0x94, 0x04, 0xa8, 0x0e, 0x40,
    0x25, 0x01, 0x28, 0x09, 0x40, 0x4c, 0x02, 0x50, 0x12, 0x80, 0x94, 0x04, 0xa0, 0x25, 0x01, 0x28,
    0x09, 0x80, 0x4a, 0x02, 0x50, 0x12, 0x80, 0x94, 0x04, 0xa0, 0x25, 0x01, 0x30, 0x09, 0x40, 0x4a,
    0x02, 0x50, 0x12, 0x80, 0x94, 0x04, 0xa0, 0x26, 0x01, 0x28, 0x09, 0x40, 0x4a, 0x02, 0x50, 0x12,
    0x80, 0x94, 0x04, 0xc0, 0x25, 0x01, 0x28, 0x09, 0x40, 0x4a, 0x02, 0x50, 0x12, 0x80, 0x98, 0x04,
    0xa0, 0x25, 0x01, 0x28, 0x09, 0x40, 0x4a, 0x02, 0x60, 0x12, 0x80, 0x94, 0x04, 0xa0, 0x25, 0x01,
    0x28, 0x09, 0x40, 0x4c, 0x02, 0x50, 0x12, 0x80, 0x94, 0x04, 0xa0, 0x25, 0x01, 0x28, 0x09, 0x80,
    0x4a, 0x02, 0x50, 0x12, 0x80, 0x95, 0x64, 0x05, 0x42, 0x1e, 0x3e, 0x3f, 0x01, 0x10, 0x00, 0x00,
    0x03, 0x00, 0x10, 0x00, 0x00, 0x03, 0x03, 0x20, 0xf1, 0x42, 0xa4, 0x80, 0x00, 0x00, 0x00, 0x01,
    0x68, 0xeb, 0xc3, 0xc4, 0x4c, 0x00, 0x04, 0x40, 0x00, 0x00, 0x00, 0x01, 0x65, 0x88, 0x84, 0x11,
    0xff, 0xda, 0xe3, 0x98, 0x5b, 0xd7, 0x57, 0xc6,
};
static const uint8_t au_h264_mbaff[] = {
    0x00, 0x00, 0x00, 0x01, 0x67, 0x64, 0x00, 0x15, 0xac, 0xe4, 0x05, 0x44, 0x3c, 0x44,
    0x98, 0x08, 0x80, 0x00, 0x00, 0x03, 0x00, 0x80, 0x00, 0x00, 0x19, 0x0f, 0x8a, 0x15,
    0x24, 0x00, 0x00, 0x00, 0x01, 0x68, 0xfb, 0x83, 0xcb, 0x22, 0xc0, 0x00, 0x00, 0x00,
    0x01, 0x65, 0x88, 0x82, 0x2c, 0x37, 0xcc, 0xd4, 0x46, 0x33, 0xd7, 0x57, 0xdb,
};
static const uint8_t au_h264_gray[] = {
    0x00, 0x00, 0x00, 0x01, 0x67, 0x64, 0x00, 0x0d, 0xf2, 0xc8, 0x0a, 0x84, 0x3c, 0x7c, 0x7e,
    0x02, 0xd9, 0x00, 0x00, 0x03, 0x00, 0x01, 0x00, 0x00, 0x03, 0x00, 0x32, 0x0f, 0x14, 0x2a,
    0x48, 0x00, 0x00, 0x00, 0x01, 0x68, 0xeb, 0xc3, 0xcb, 0x22, 0xc0, 0x00, 0x00, 0x00, 0x01,
    0x65, 0x88, 0x84, 0x37, 0xd4, 0xd4, 0x46, 0x0e, 0xf5, 0xeb, 0x93, 0xc3,
};
static const uint8_t au_h264_422[] = {
    0x00, 0x00, 0x00, 0x01, 0x67, 0x7a, 0x00, 0x0d, 0xb6, 0xcb, 0x20, 0x2a, 0x10, 0xf2, 0x4f,
    0x80, 0x88, 0x00, 0x00, 0x03, 0x00, 0x08, 0x00, 0x00, 0x03, 0x01, 0x90, 0x78, 0xa1, 0x52,
    0x40, 0x00, 0x00, 0x00, 0x01, 0x68, 0xeb, 0xc3, 0xcb, 0x22, 0xc0, 0x00, 0x00, 0x00, 0x01,
    0x65, 0x88, 0x84, 0x11, 0xff, 0xda, 0xe3, 0x98, 0x5b, 0xd7, 0x57, 0xda,
};
static const uint8_t au_h264_1918x1078[] = {
    0x00, 0x00, 0x00, 0x01, 0x67, 0x42, 0xc0, 0x28, 0xda, 0x01, 0xe0, 0x08, 0x9e, 0xa6,
    0xc0, 0x44, 0x00, 0x00, 0x03, 0x00, 0x04, 0x00, 0x00, 0x03, 0x00, 0xc8, 0x3c, 0x60,
    0xca, 0x80, 0x00, 0x00, 0x00, 0x01, 0x68, 0xce, 0x0f, 0xc8, 0x00, 0x00, 0x00, 0x01,
    0x65, 0x88, 0x84, 0x3a, 0x0c, 0x60, 0x01, 0xe2, 0x02, 0x21, 0x5c, 0x21,
};
static const uint8_t au_h265_444[] = {
    0x00, 0x00, 0x00, 0x01, 0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x04, 0x08, 0x00, 0x00, 0x03,
    0x00, 0x9e, 0x08, 0x00, 0x00, 0x03, 0x00, 0x00, 0x3c, 0x92, 0x80, 0x90, 0x00, 0x00, 0x00,
    0x01, 0x42, 0x01, 0x01, 0x04, 0x08, 0x00, 0x00, 0x03, 0x00, 0x9e, 0x08, 0x00, 0x00, 0x03,
    0x00, 0x00, 0x3c, 0x90, 0x01, 0x49, 0x01, 0xf3, 0x9e, 0x7c, 0xb2, 0x54, 0x92, 0x65, 0x78,
    0x0b, 0x40, 0x40, 0x00, 0x00, 0x03, 0x00, 0x40, 0x00, 0x00, 0x06, 0x42, 0x00, 0x00, 0x00,
    0x01, 0x44, 0x01, 0xc1, 0x72, 0x86, 0x0c, 0x46, 0x24, 0x00, 0x00, 0x00, 0x01, 0x28, 0x01,
    0xaf, 0x1d, 0x20, 0xba, 0xb8, 0x9c, 0x97, 0x04, 0xbc, 0x75,
};
static const uint8_t au_h265_422[] = {
    0x00, 0x00, 0x00, 0x01, 0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x04, 0x08, 0x00, 0x00, 0x03,
    0x00, 0x9d, 0x08, 0x00, 0x00, 0x03, 0x00, 0x00, 0x3c, 0x92, 0x80, 0x90, 0x00, 0x00, 0x00,
    0x01, 0x42, 0x01, 0x01, 0x04, 0x08, 0x00, 0x00, 0x03, 0x00, 0x9d, 0x08, 0x00, 0x00, 0x03,
    0x00, 0x00, 0x3c, 0xb0, 0x0a, 0x88, 0x04, 0x07, 0x24, 0xed, 0x96, 0x4a, 0x92, 0x4c, 0xaf,
    0x01, 0x68, 0x08, 0x00, 0x00, 0x03, 0x00, 0x08, 0x00, 0x00, 0x03, 0x00, 0xc8, 0x40, 0x00,
    0x00, 0x00, 0x01, 0x44, 0x01, 0xc1, 0x72, 0xb4, 0x62, 0x40, 0x00, 0x00, 0x00, 0x01, 0x28,
    0x01, 0xaf, 0x1d, 0x20, 0xbd, 0x6c, 0xd6, 0x9f, 0x54, 0x62, 0x7f,
};
static const uint8_t au_h265_gray[] = {
    0x00, 0x00, 0x00, 0x01, 0x40, 0x01, 0x0c, 0x01, 0xff, 0xff, 0x04, 0x08, 0x00, 0x00, 0x03,
    0x00, 0x9f, 0xc8, 0x00, 0x00, 0x03, 0x00, 0x00, 0x3c, 0x92, 0x80, 0x90, 0x00, 0x00, 0x00,
    0x01, 0x42, 0x01, 0x01, 0x04, 0x08, 0x00, 0x00, 0x03, 0x00, 0x9f, 0xc8, 0x00, 0x00, 0x03,
    0x00, 0x00, 0x3c, 0xc0, 0x29, 0x20, 0x3e, 0x73, 0xcf, 0x96, 0x4a, 0x92, 0x4c, 0xaf, 0x01,
    0x6c, 0x08, 0x00, 0x00, 0x03, 0x00, 0x08, 0x00, 0x00, 0x03, 0x00, 0xc8, 0x40, 0x00, 0x00,
    0x00, 0x01, 0x44, 0x01, 0xc1, 0x72, 0xb4, 0x62, 0x40, 0x00, 0x00, 0x00, 0x01, 0x28, 0x01,
    0xae, 0x3a, 0x41, 0x5d, 0x9a, 0xad, 0x1a, 0xc0, 0x62, 0x65,
};
static const uint8_t au_h265_sublayers[] = {
    0x00, 0x00, 0x00, 0x01, 0x40, 0x01, 0x0c, 0x02, 0xff, 0xff, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00,
    0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x3c, 0x00, 0x00, 0x95, 0x98, 0xac, 0xc0, 0x48,
    0x00, 0x00, 0x00, 0x01, 0x42, 0x01, 0x02, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00,
    0x03, 0x00, 0x00, 0x03, 0x00, 0x3c, 0x00, 0x00, 0xa0, 0x0a, 0x88, 0x04, 0x07, 0x24, 0x99, 0x65,
    0x66, 0x2b, 0x34, 0x92, 0x65, 0x78, 0x0b, 0x40, 0x40, 0x00, 0x00, 0x03, 0x00, 0x40, 0x00, 0x00,
    0x06, 0x42, 0x00, 0x00, 0x00, 0x01, 0x44, 0x01, 0xc1, 0x72, 0xb4, 0x62, 0x40, 0x00, 0x00, 0x00,
    0x01, 0x28, 0x01, 0xaf, 0x1d, 0x20, 0xbc, 0x56, 0xd0, 0x5d, 0x64, 0x62, 0x7c,
};

typedef struct {
    const char *name;
    ivcs_vcodec_e codec;
    const uint8_t *au;
    size_t len;
    unsigned w, h;
} real_vec;

static const real_vec real_vecs[] = {
    {"h264 4:4:4 SPS scaling lists", H264, au_h264_444_spsscaling, sizeof au_h264_444_spsscaling,
     322, 242},
    {"h264 mbaff", H264, au_h264_mbaff, sizeof au_h264_mbaff, 322, 244},
    {"h264 gray", H264, au_h264_gray, sizeof au_h264_gray, 322, 242},
    {"h264 4:2:2", H264, au_h264_422, sizeof au_h264_422, 330, 250},
    {"h264 1918x1078", H264, au_h264_1918x1078, sizeof au_h264_1918x1078, 1918, 1078},
    {"h265 4:4:4", H265, au_h265_444, sizeof au_h265_444, 322, 242},
    {"h265 4:2:2", H265, au_h265_422, sizeof au_h265_422, 330, 250},
    {"h265 gray", H265, au_h265_gray, sizeof au_h265_gray, 322, 242},
    {"h265 sub-layers", H265, au_h265_sublayers, sizeof au_h265_sublayers, 330, 250},
};

/* ========================================================== find_start */

TEST(find_start_reports_3_and_4_byte_codes_at_their_first_zero)
{
    static const struct {
        uint8_t b[12];
        size_t n, off, sc;
    } cases[] = {
        {{0, 0, 1}, 3, 0, 3},          {{0, 0, 0, 1}, 4, 0, 4},
        {{0, 0, 0, 0, 1}, 5, 1, 4},    {{7, 0, 0, 1, 9}, 5, 1, 3},
        {{7, 0, 0, 0, 1, 9}, 6, 1, 4}, {{0, 0, 3, 0, 0, 2, 0, 0, 1}, 9, 6, 3},
        {{1, 1, 1, 0, 0, 1}, 6, 3, 3}, {{0, 1, 0, 0, 1}, 5, 2, 3},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        size_t sc = 99;
        CHECK_EQ(ivcs_nalu_find_start(cases[i].b, cases[i].n, &sc), cases[i].off);
        CHECK_EQ(sc, cases[i].sc);
    }
}

TEST(find_start_reports_none_without_the_01)
{
    static const struct {
        uint8_t b[8];
        size_t n;
    } cases[] = {
        {{0}, 0},          {{0}, 1},          {{0, 0}, 2},          {{0, 0, 0}, 3},
        {{0, 0, 2}, 3},    {{0, 0, 3}, 3},    {{0, 1, 0, 1}, 4},    {{5, 0, 0}, 3},
        {{0, 0, 0, 0}, 4}, {{1, 0, 0, 0}, 4}, {{0, 0, 0, 2, 1}, 5}, {{9, 0, 0, 0, 0, 0}, 6},
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        size_t sc = 99;
        CHECK_EQ(ivcs_nalu_find_start(cases[i].b, cases[i].n, &sc), cases[i].n);
        CHECK_EQ(sc, 0);
    }
    CHECK_EQ(ivcs_nalu_find_start(NULL, 0, NULL), 0);
}

TEST(find_start_agrees_with_reference_on_zero_heavy_random_data)
{
    static uint8_t buf[1200];
    for (int round = 0; round < 300; round++) {
        size_t len = rnd() % sizeof buf;
        /* Density of zeros and ones varies per round so that both the
         * rare-candidate fast path and the crowded slow path run. */
        unsigned zero_pct = 5 + rnd() % 80;
        for (size_t i = 0; i < len; i++) {
            unsigned r = rnd() % 100;
            buf[i] = r < zero_pct ? 0 : (r < zero_pct + 8 ? 1 : (uint8_t)(rnd() | 1));
        }
        for (size_t off = 0; off < len; off += 1 + rnd() % 7) {
            size_t sc_a = 99, sc_b = 99;
            size_t a = ivcs_nalu_find_start(buf + off, len - off, &sc_a);
            size_t b = ref_find(buf + off, len - off, &sc_b);
            CHECK_EQ(a, b);
            CHECK_EQ(sc_a, sc_b);
            if (a != b) return;
        }
    }
}

TEST(find_start_finds_a_code_at_every_offset_and_alignment)
{
    static uint8_t buf[1100];
    for (size_t align = 0; align < 16; align++) {
        for (size_t k = 0; k + 4 <= 1000; k++) {
            for (int four = 0; four <= 1; four++) {
                uint8_t *b = buf + align;
                memset(b, 0x5A, 1000);
                /* a decoy 00 00 03 before the code */
                if (k >= 5) memcpy(b + k - 5, "\0\0\3", 3);
                memcpy(b + k, four ? "\0\0\0\1" : "\0\0\1", four ? 4 : 3);
                size_t sc = 0;
                size_t got = ivcs_nalu_find_start(b, 1000, &sc);
                CHECK_EQ(got, k);
                CHECK_EQ(sc, four ? 4u : 3u);
                if (got != k) return;
            }
        }
    }
}

TEST(find_start_never_reads_outside_the_buffer)
{
    guard_buf ga = GUARD_INIT, gb = GUARD_INIT;
    static uint8_t buf[400];
    /* Endings that tempt a scanner to look one byte further. */
    static const uint8_t *tails[] = {(const uint8_t *)"", (const uint8_t *)"\0",
                                     (const uint8_t *)"\0\0", (const uint8_t *)"\0\0\0",
                                     (const uint8_t *)"\0\0\1"};
    static const size_t tail_len[] = {0, 1, 2, 3, 3};
    for (size_t len = 0; len <= 300; len++) {
        for (size_t t = 0; t < COUNT(tails); t++) {
            if (tail_len[t] > len) continue;
            memset(buf, 0x77, len);
            memcpy(buf + len - tail_len[t], tails[t], tail_len[t]);
            size_t sc_ref, sc1, sc2;
            size_t want = ref_find(buf, len, &sc_ref);
            const uint8_t *pa = guard_place(&ga, buf, len, GUARD_AFTER);
            CHECK_EQ(ivcs_nalu_find_start(pa, len, &sc1), want);
            const uint8_t *pb = guard_place(&gb, buf, len, GUARD_BEFORE);
            CHECK_EQ(ivcs_nalu_find_start(pb, len, &sc2), want);
            CHECK_EQ(sc1, sc_ref);
            CHECK_EQ(sc2, sc_ref);
        }
    }
    guard_release(&ga);
    guard_release(&gb);
}

/* ============================================================ nalu_next */

TEST(nalu_next_iterates_units_and_trims_trailing_zeros)
{
    static const uint8_t s[] = {0, 0, 0, 1, 0x67, 0x42, 0,    0, 1, 0x68, 0xCE, 0, 0, /* zeros */
                                0, 0, 0, 1, 0x65, 0x88, 0x84, 0, 0, 3,    0,    0};
    size_t pos = 0;
    ivcs_nalu_s nal;
    CHECK_EQ(ivcs_nalu_next(H264, s, sizeof s, &pos, &nal), 1);
    CHECK(nal.data == s + 4);
    CHECK_EQ(nal.len, 2);
    CHECK_EQ(nal.type, 7);
    CHECK_EQ(ivcs_nalu_next(H264, s, sizeof s, &pos, &nal), 1);
    CHECK(nal.data == s + 9);
    CHECK_EQ(nal.len, 2);
    CHECK_EQ(nal.type, 8);
    CHECK_EQ(ivcs_nalu_next(H264, s, sizeof s, &pos, &nal), 1);
    CHECK(nal.data == s + 17);
    CHECK_EQ(nal.len, 6); /* 65 88 84 00 00 03: the 03 ends it, the last zeros do not */
    CHECK_EQ(nal.type, 5);
    CHECK_EQ(ivcs_nalu_next(H264, s, sizeof s, &pos, &nal), 0);
    CHECK_EQ(pos, sizeof s);
    CHECK_EQ(ivcs_nalu_next(H264, s, sizeof s, &pos, &nal), 0);
}

TEST(nalu_next_reads_h265_types_and_accepts_leading_zeros)
{
    static const uint8_t s[] = {0, 0, 0, 0, 0, 1, 0x40, 0x01, 0x0C, 0, 0, 1, 0x26, 0x01, 0xAF};
    size_t pos = 0;
    ivcs_nalu_s nal;
    CHECK_EQ(ivcs_nalu_next(H265, s, sizeof s, &pos, &nal), 1);
    CHECK_EQ(nal.type, 32);
    CHECK_EQ(nal.len, 3);
    CHECK_EQ(ivcs_nalu_next(H265, s, sizeof s, &pos, &nal), 1);
    CHECK_EQ(nal.type, 19);
    CHECK_EQ(nal.len, 3);
    CHECK_EQ(ivcs_nalu_next(H265, s, sizeof s, &pos, &nal), 0);
}

TEST(nalu_next_rejects_a_buffer_without_a_leading_start_code)
{
    static const struct {
        uint8_t b[8];
        size_t n;
    } cases[] = {
        {{0x65, 0, 0, 1, 0x65}, 5}, /* garbage first */
        {{0, 1, 0x65}, 3},          /* one zero is not a start code */
        {{0, 0, 2, 0x65}, 4},
        {{0, 0, 0}, 3}, /* zeros only */
    };
    for (size_t i = 0; i < COUNT(cases); i++) {
        size_t pos = 0;
        ivcs_nalu_s nal;
        CHECK_EQ(ivcs_nalu_next(H264, cases[i].b, cases[i].n, &pos, &nal), IVCS_ERR_BAD_ANNEXB);
    }
}

TEST(nalu_next_rejects_empty_and_headerless_units)
{
    static const uint8_t empty1[] = {0, 0, 1, 0, 0, 1, 0x65, 0x88};
    static const uint8_t empty2[] = {0, 0, 1, 0x65, 0x88, 0, 0, 1};
    static const uint8_t short265[] = {0, 0, 1, 0x40, 0, 0, 1, 0x26, 0x01};
    size_t pos = 0;
    ivcs_nalu_s nal;
    CHECK_EQ(ivcs_nalu_next(H264, empty1, sizeof empty1, &pos, &nal), IVCS_ERR_BAD_ANNEXB);
    pos = 0;
    CHECK_EQ(ivcs_nalu_next(H264, empty2, sizeof empty2, &pos, &nal), 1);
    CHECK_EQ(ivcs_nalu_next(H264, empty2, sizeof empty2, &pos, &nal), IVCS_ERR_BAD_ANNEXB);
    pos = 0;
    CHECK_EQ(ivcs_nalu_next(H265, short265, sizeof short265, &pos, &nal), IVCS_ERR_BAD_ANNEXB);
    pos = 0;
    CHECK_EQ(ivcs_nalu_next(H264, short265, sizeof short265, &pos, &nal), 1); /* fine for H.264 */
    CHECK_EQ(ivcs_nalu_next(H264, NULL, 4, &pos, &nal), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_nalu_next(H264, empty2, sizeof empty2, NULL, &nal), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_nalu_next(H264, empty2, sizeof empty2, &pos, NULL), IVCS_ERR_INVALID_ARG);
}

/* ================================================================= SPS */

static int info_of(ivcs_vcodec_e c, const stream *s, ivcs_frame_info_s *fi)
{
    return ivcs_nalu_frame_info(c, s->d, s->n, fi);
}

TEST(sps_size_matches_ffprobe_on_real_encoder_headers)
{
    guard_buf g = GUARD_INIT;
    for (size_t i = 0; i < COUNT(real_vecs); i++) {
        const real_vec *v = &real_vecs[i];
        ivcs_frame_info_s fi;
        const uint8_t *p = guard_place(&g, v->au, v->len, GUARD_AFTER);
        int r = ivcs_nalu_frame_info(v->codec, p, v->len, &fi);
        if (r != 0 || fi.width != v->w || fi.height != v->h)
            fprintf(stderr, "  %s: r=%d %ux%u\n", v->name, r, fi.width, fi.height);
        CHECK_EQ(r, 0);
        CHECK_EQ(fi.width, v->w);
        CHECK_EQ(fi.height, v->h);
        CHECK_EQ(fi.is_key, 1);
        CHECK_EQ(fi.slice_type, 2);
        CHECK_EQ(fi.has_sps, 1);
        CHECK_EQ(fi.has_pps, 1);
        CHECK_EQ(fi.has_vps, v->codec == H265);
    }
    guard_release(&g);
}

TEST(h264_sps_applies_the_crop_units_of_every_chroma_format)
{
    /* Expected sizes restate 7.4.2.1.1 (CropUnitX/Y from SubWidthC,
     * SubHeightC and frame_mbs_only_flag) independently of the parser. */
    for (unsigned chroma = 0; chroma <= 3; chroma++) {
        for (unsigned sep = 0; sep <= (chroma == 3); sep++) {
            for (unsigned fmo = 0; fmo <= 1; fmo++) {
                for (unsigned poc = 0; poc <= 2; poc++) {
                    h264_sps_p p = {chroma == 1 && poc == 2 ? 100 : 244,
                                    chroma,
                                    sep,
                                    poc == 1,
                                    poc,
                                    fmo,
                                    21,
                                    9,
                                    1,
                                    1,
                                    2,
                                    1,
                                    3};
                    stream s = {0};
                    h264_sps(&s, &p);
                    h264_pps(&s);
                    h264_slice(&s, 5, 0, 2);
                    unsigned cat = sep ? 0 : chroma;
                    unsigned sw = cat == 1 || cat == 2 ? 2 : 1;
                    unsigned sh = cat == 1 ? 2 : 1;
                    unsigned ux = cat == 0 ? 1 : sw;
                    unsigned uy = (cat == 0 ? 1 : sh) * (2 - fmo);
                    unsigned want_w = 21 * 16 - ux * (1 + 2);
                    unsigned want_h = 9 * 16 * (2 - fmo) - uy * (1 + 3);
                    ivcs_frame_info_s fi;
                    CHECK_EQ(info_of(H264, &s, &fi), 0);
                    CHECK_EQ(fi.width, want_w);
                    CHECK_EQ(fi.height, want_h);
                }
            }
        }
    }
    /* Constrained baseline (no chroma fields in the SPS): 4:2:0 */
    h264_sps_p base = {66, 1, 0, 0, 0, 1, 11, 9, 1, 0, 3, 0, 2};
    stream s = {0};
    h264_sps(&s, &base);
    h264_pps(&s);
    h264_slice(&s, 5, 0, 7);
    ivcs_frame_info_s fi;
    CHECK_EQ(info_of(H264, &s, &fi), 0);
    CHECK_EQ(fi.width, 176 - 6);
    CHECK_EQ(fi.height, 144 - 4);
}

TEST(sps_emulation_prevention_bytes_are_skipped)
{
    /* A 4:4:4 SPS with scaling lists whose deltas produce 00 00 0x runs,
     * and an H.265 SPS whose zero PTL flags do. */
    h264_sps_p p = {244, 3, 0, 1, 0, 1, 80, 45, 1, 0, 0, 0, 0};
    stream s = {0};
    h264_sps(&s, &p);
    h264_pps(&s);
    h264_slice(&s, 5, 0, 7);
    ivcs_frame_info_s fi;
    CHECK_EQ(info_of(H264, &s, &fi), 0);
    CHECK_EQ(fi.width, 1280);
    CHECK_EQ(fi.height, 720);

    stream t = {0};
    h265_idr_au(&t);
    CHECK(t.ep > 0);
    CHECK_EQ(info_of(H265, &t, &fi), 0);
    CHECK_EQ(fi.width, 320);
    CHECK_EQ(fi.height, 240);
    CHECK_EQ(fi.is_key, 1);
}

TEST(h265_sps_conformance_window_and_sub_layer_ptl)
{
    for (unsigned chroma = 0; chroma <= 3; chroma++) {
        for (unsigned sep = 0; sep <= (chroma == 3); sep++) {
            for (unsigned sl = 0; sl <= 6; sl++) {
                h265_sps_p p = {sl,
                                0x15 & ((1u << sl) - 1),
                                0x2A & ((1u << sl) - 1),
                                chroma,
                                sep,
                                336,
                                256,
                                1,
                                2,
                                3,
                                1,
                                5,
                                0,
                                3};
                stream s = {0};
                h265_vps(&s);
                h265_sps(&s, &p);
                h265_pps(&s, 0, 0, 0);
                h265_first_slice(&s, 19, 2);
                unsigned sw = (!sep && (chroma == 1 || chroma == 2)) ? 2 : 1;
                unsigned sh = (!sep && chroma == 1) ? 2 : 1;
                ivcs_frame_info_s fi;
                CHECK_EQ(info_of(H265, &s, &fi), 0);
                CHECK_EQ(fi.width, 336 - sw * (2 + 3));
                CHECK_EQ(fi.height, 256 - sh * (1 + 5));
            }
        }
    }
}

TEST(bad_parameter_sets_are_rejected_with_bad_sps)
{
    ivcs_frame_info_s fi;
    /* chroma_format_idc 4 */
    {
        h264_sps_p p = {100, 4, 0, 0, 0, 1, 20, 15, 0, 0, 0, 0, 0};
        stream s = {0};
        h264_sps(&s, &p);
        h264_pps(&s);
        h264_slice(&s, 5, 0, 7);
        CHECK_EQ(info_of(H264, &s, &fi), IVCS_ERR_BAD_SPS);
    }
    /* crop as large as the picture */
    {
        h264_sps_p p = {100, 1, 0, 0, 0, 1, 20, 15, 1, 80, 80, 0, 0};
        stream s = {0};
        h264_sps(&s, &p);
        h264_pps(&s);
        h264_slice(&s, 5, 0, 7);
        CHECK_EQ(info_of(H264, &s, &fi), IVCS_ERR_BAD_SPS);
    }
    /* pic_order_cnt_type 3 */
    {
        h264_sps_p p = {66, 1, 0, 0, 3, 1, 20, 15, 0, 0, 0, 0, 0};
        stream s = {0};
        h264_sps(&s, &p);
        h264_pps(&s);
        h264_slice(&s, 5, 0, 7);
        CHECK_EQ(info_of(H264, &s, &fi), IVCS_ERR_BAD_SPS);
    }
    /* a picture wider than 65536 */
    {
        h264_sps_p p = {66, 1, 0, 0, 0, 1, 5000, 15, 0, 0, 0, 0, 0};
        stream s = {0};
        h264_sps(&s, &p);
        h264_pps(&s);
        h264_slice(&s, 5, 0, 7);
        CHECK_EQ(info_of(H264, &s, &fi), IVCS_ERR_BAD_SPS);
    }
    /* scaling-list delta out of -128..127 */
    {
        bw w = {0};
        bw_u(&w, 8, 100);
        bw_u(&w, 16, 40);
        bw_ue(&w, 0);
        bw_ue(&w, 1);
        bw_ue(&w, 0);
        bw_ue(&w, 0);
        bw_u(&w, 1, 0);
        bw_u(&w, 1, 1); /* seq_scaling_matrix_present_flag */
        bw_u(&w, 1, 1); /* list 0 present */
        bw_se(&w, 200);
        for (int i = 0; i < 40; i++)
            bw_ue(&w, 0);
        stream s = {0};
        h264_nal(&s, 7, &w);
        h264_pps(&s);
        h264_slice(&s, 5, 0, 7);
        CHECK_EQ(info_of(H264, &s, &fi), IVCS_ERR_BAD_SPS);
    }
    /* an H.264 PPS naming SPS 32 */
    {
        stream s = {0};
        h264_sps(&s, &sps_320x240);
        bw w = {0};
        bw_ue(&w, 0);
        bw_ue(&w, 32);
        h264_nal(&s, 8, &w);
        h264_slice(&s, 5, 0, 7);
        CHECK_EQ(info_of(H264, &s, &fi), IVCS_ERR_BAD_SPS);
    }
    /* H.265: sps_max_sub_layers_minus1 7, zero width, conformance window
     * wider than the picture, CTB of 256 */
    {
        h265_sps_p bad[4] = {sps265_320x240, sps265_320x240, sps265_320x240, sps265_320x240};
        bad[0].sub_layers_minus1 = 7;
        bad[1].w = 0;
        bad[2].conf = 1;
        bad[2].cl = 100;
        bad[2].cr = 60;
        bad[3].diff = 5;
        for (int i = 0; i < 4; i++) {
            stream s = {0};
            h265_vps(&s);
            h265_sps(&s, &bad[i]);
            h265_pps(&s, 0, 0, 0);
            h265_first_slice(&s, 19, 2);
            CHECK_EQ(info_of(H265, &s, &fi), IVCS_ERR_BAD_SPS);
        }
    }
    /* H.265 PPS id 64 */
    {
        stream s = {0};
        h265_vps(&s);
        h265_sps(&s, &sps265_320x240);
        h265_pps(&s, 64, 0, 0);
        h265_first_slice(&s, 19, 2);
        CHECK_EQ(info_of(H265, &s, &fi), IVCS_ERR_BAD_SPS);
    }
}

TEST(every_truncation_of_a_parameter_set_is_rejected_or_harmless)
{
    /* Cut the SPS (the first NAL unit of each real vector) at every length,
     * keep the rest of the AU, and put it against a guard page. The parser
     * reads the SPS only up to the fields it needs (VUI and more follow), so
     * a cut after them is harmless; a cut before them must be BAD_SPS. So:
     * BAD_SPS or exactly the true size, never a size out of thin air; and
     * the first bytes of an SPS can never be enough. */
    guard_buf g = GUARD_INIT;
    static uint8_t buf[4096];
    for (size_t i = 0; i < COUNT(real_vecs); i++) {
        const real_vec *v = &real_vecs[i];
        size_t pos = 0, sps_end = 0, sps_start = 0;
        ivcs_nalu_s nal;
        while (ivcs_nalu_next(v->codec, v->au, v->len, &pos, &nal) == 1) {
            if (nal.type == (v->codec == H265 ? 33 : 7)) {
                sps_start = (size_t)(nal.data - v->au);
                sps_end = sps_start + nal.len;
                break;
            }
        }
        CHECK(sps_end > 0);
        int bad = 0, rejected = 0;
        size_t hl = v->codec == H265 ? 2 : 1;
        for (size_t cut = sps_start + hl; cut < sps_end; cut++) {
            memcpy(buf, v->au, cut);
            memcpy(buf + cut, v->au + sps_end, v->len - sps_end);
            size_t n = cut + (v->len - sps_end);
            ivcs_frame_info_s fi;
            int r = ivcs_nalu_frame_info(v->codec, guard_place(&g, buf, n, GUARD_AFTER), n, &fi);
            if (r == IVCS_ERR_BAD_SPS)
                rejected++;
            else if (r != 0 || fi.width != v->w || fi.height != v->h)
                bad++;
            if (cut < sps_start + hl + 4 && r != IVCS_ERR_BAD_SPS) bad++;
            /* the SPS alone, cut, at the very end of the buffer */
            r = ivcs_nalu_frame_info(v->codec, guard_place(&g, v->au, cut, GUARD_AFTER), cut, &fi);
            CHECK(r < 0);
        }
        if (bad) fprintf(stderr, "  %s: %d truncations misread\n", v->name, bad);
        CHECK_EQ(bad, 0);
        CHECK(rejected >= 4);
    }
    guard_release(&g);
}

/* ========================================================== frame_info */

TEST(frame_info_describes_an_h264_idr_and_a_p_frame)
{
    stream s = {0};
    h264_aud(&s);
    h264_idr_au(&s);
    ivcs_frame_info_s fi;
    CHECK_EQ(info_of(H264, &s, &fi), 0);
    CHECK_EQ(fi.is_key, 1);
    CHECK_EQ(fi.has_aud, 1);
    CHECK_EQ(fi.has_vps, 0);
    CHECK_EQ(fi.has_sps, 1);
    CHECK_EQ(fi.has_pps, 1);
    CHECK_EQ(fi.slice_type, 2);
    CHECK_EQ(fi.nal_count, 4);
    CHECK_EQ(fi.width, 320);
    CHECK_EQ(fi.height, 240);

    stream p = {0};
    h264_slice(&p, 1, 0, 5);  /* P, all slices P */
    h264_slice(&p, 1, 40, 0); /* P */
    h264_slice(&p, 1, 80, 3); /* SP */
    CHECK_EQ(info_of(H264, &p, &fi), 0);
    CHECK_EQ(fi.is_key, 0);
    CHECK_EQ(fi.has_aud, 0);
    CHECK_EQ(fi.has_sps, 0);
    CHECK_EQ(fi.slice_type, 0);
    CHECK_EQ(fi.nal_count, 3);
    CHECK_EQ(fi.width, 0);
}

TEST(frame_info_rejects_h264_b_slices_in_any_slice)
{
    static const unsigned b_types[] = {1, 6};
    ivcs_frame_info_s fi;
    for (size_t i = 0; i < COUNT(b_types); i++) {
        stream s = {0};
        h264_slice(&s, 1, 0, b_types[i]);
        CHECK_EQ(info_of(H264, &s, &fi), IVCS_ERR_B_FRAME);
        CHECK_EQ(fi.slice_type, 1);
    }
    stream m = {0};
    h264_slice(&m, 1, 0, 0);
    h264_slice(&m, 1, 60, 1); /* the second slice is B */
    CHECK_EQ(info_of(H264, &m, &fi), IVCS_ERR_B_FRAME);
    /* data partition A carries a slice header too */
    stream d = {0};
    h264_slice(&d, 2, 0, 6);
    CHECK_EQ(info_of(H264, &d, &fi), IVCS_ERR_B_FRAME);
}

TEST(frame_info_rejects_h265_b_slices)
{
    ivcs_frame_info_s fi;
    stream s = {0};
    h265_first_slice(&s, 1, 0); /* TRAIL_R, slice_type 0 = B */
    CHECK_EQ(info_of(H265, &s, &fi), IVCS_ERR_B_FRAME);
    CHECK_EQ(fi.slice_type, 1);

    stream p = {0};
    h265_first_slice(&p, 1, 1); /* P */
    CHECK_EQ(info_of(H265, &p, &fi), 0);
    CHECK_EQ(fi.slice_type, 0);
    CHECK_EQ(fi.is_key, 0);

    /* CRA (IRAP: no_output_of_prior_pics_flag present) with a B slice */
    stream c = {0};
    h265_vps(&c);
    h265_sps(&c, &sps265_320x240);
    h265_pps(&c, 0, 0, 0);
    h265_first_slice(&c, 21, 0);
    CHECK_EQ(info_of(H265, &c, &fi), IVCS_ERR_B_FRAME);
}

/* Slice header fields that make random bytes behind a valid NAL header
 * (issue 9) stand out: a first slice that does not start the picture, a
 * PPS id out of range, an IDR with P slices or nal_ref_idc 0, H.265
 * reserved VCL types. */
TEST(frame_info_rejects_impossible_slice_headers)
{
    ivcs_frame_info_s fi;
    stream a = {0};
    h264_slice(&a, 1, 5, 5); /* P, first_mb_in_slice 5: not the picture's start */
    CHECK_EQ(info_of(H264, &a, &fi), IVCS_ERR_BAD_ANNEXB);
    stream b = {0};
    h264_sps(&b, &sps_320x240);
    h264_pps(&b);
    h264_slice(&b, 5, 0, 5); /* IDR with a P slice */
    CHECK_EQ(info_of(H264, &b, &fi), IVCS_ERR_BAD_ANNEXB);
    stream c = {0};
    h264_sps(&c, &sps_320x240);
    h264_pps(&c);
    size_t at = c.n;
    h264_slice(&c, 5, 0, 7); /* IDR, I slice */
    CHECK_EQ(info_of(H264, &c, &fi), 0);
    CHECK_EQ(c.d[at + 4], 0x65);
    c.d[at + 4] = 0x05; /* the same IDR with nal_ref_idc 0 */
    CHECK_EQ(info_of(H264, &c, &fi), IVCS_ERR_BAD_ANNEXB);
    stream ok = {0};
    h264_idr_au(&ok);
    CHECK_EQ(info_of(H264, &ok, &fi), 0);
    CHECK_EQ(fi.pps_def[0], 1);
    CHECK_EQ(fi.pps_used[0], 1);
    /* a good TRAIL_R P slice, then one of a reserved VCL type */
    const uint8_t rsv[] = {10, 12, 15, 22, 23, 24, 31};
    for (size_t i = 0; i < sizeof rsv; i++) {
        stream h = {0};
        h265_first_slice(&h, 1, 1);
        CHECK_EQ(info_of(H265, &h, &fi), 0);
        h265_first_slice(&h, rsv[i], 2);
        CHECK_EQ(info_of(H265, &h, &fi), IVCS_ERR_BAD_ANNEXB);
    }
}

TEST(frame_info_reads_later_h265_slice_segments_with_the_aus_parameter_sets)
{
    /* 320x240 at CTB 64 = 5x4 CTBs: slice_segment_address has 5 bits. */
    for (unsigned dep_enabled = 0; dep_enabled <= 1; dep_enabled++) {
        stream s = {0};
        h265_vps(&s);
        h265_sps(&s, &sps265_320x240);
        h265_pps(&s, 3, dep_enabled, 0);
        h265_slice_p first = {1, 3, 0, 0, 0, 0, 0, 1, 0};
        h265_slice_p later = {0, 3, 0, 9, 5, 0, 0, 0, (int)dep_enabled}; /* B */
        h265_slice(&s, 1, &first);
        h265_slice(&s, 1, &later);
        ivcs_frame_info_s fi;
        CHECK_EQ(info_of(H265, &s, &fi), IVCS_ERR_B_FRAME);
    }
    /* A later P segment is read as P: a wrong address width would shift
     * slice_type onto other bits. */
    for (unsigned addr = 0; addr < 20; addr++) {
        stream s = {0};
        h265_vps(&s);
        h265_sps(&s, &sps265_320x240);
        h265_pps(&s, 0, 0, 0);
        h265_first_slice(&s, 1, 1);
        h265_slice_p later = {0, 0, 0, addr, 5, 0, 0, 1, 0};
        h265_slice(&s, 1, &later);
        ivcs_frame_info_s fi;
        CHECK_EQ(info_of(H265, &s, &fi), 0);
    }
    /* A dependent slice segment has no slice_type of its own. */
    {
        stream s = {0};
        h265_vps(&s);
        h265_sps(&s, &sps265_320x240);
        h265_pps(&s, 0, 1, 0);
        h265_first_slice(&s, 1, 1);
        h265_slice_p dep = {0, 0, 1, 7, 5, 0, 0, 0, 1};
        h265_slice(&s, 1, &dep);
        ivcs_frame_info_s fi;
        CHECK_EQ(info_of(H265, &s, &fi), 0);
        CHECK_EQ(fi.slice_type, 0);
    }
    /* Without the parameter sets a later segment cannot be read: only the
     * first slice segment of the picture decides (documented). */
    {
        stream s = {0};
        h265_first_slice(&s, 1, 1);
        h265_slice_p later = {0, 0, 0, 9, 5, 0, 0, 0, 0};
        h265_slice(&s, 1, &later);
        ivcs_frame_info_s fi;
        CHECK_EQ(info_of(H265, &s, &fi), 0);
        CHECK_EQ(fi.slice_type, 0);
    }
}

TEST(frame_info_skips_num_extra_slice_header_bits_from_the_pps)
{
    /* Two extra bits "01" then slice_type ue "011" (2 = I). Read with the
     * PPS's num_extra_slice_header_bits = 2 that is I; a reader that
     * ignored them would read ue "010" = 1 = P. */
    stream s = {0};
    h265_pps(&s, 5, 0, 2);
    h265_slice_p sp = {1, 5, 0, 0, 0, 2, 1, 2, 0};
    h265_slice(&s, 1, &sp);
    ivcs_frame_info_s fi;
    CHECK_EQ(info_of(H265, &s, &fi), 0);
    CHECK_EQ(fi.slice_type, 2);
    /* PPS not in the AU: 0 extra bits assumed (documented), so P. */
    stream t = {0};
    h265_slice(&t, 1, &sp);
    CHECK_EQ(info_of(H265, &t, &fi), 0);
    CHECK_EQ(fi.slice_type, 0);
}

TEST(frame_info_ignores_h265_enhancement_layers)
{
    stream s = {0};
    h265_first_slice(&s, 1, 1);
    bw w = {0};
    bw_u(&w, 1, 1);
    bw_ue(&w, 0);
    bw_ue(&w, 0); /* B */
    h265_nal_layer(&s, 1, 1, &w);
    ivcs_frame_info_s fi;
    CHECK_EQ(info_of(H265, &s, &fi), 0);
    CHECK_EQ(fi.nal_count, 2);
}

TEST(frame_info_errors_are_specific)
{
    ivcs_frame_info_s fi;
    uint8_t one = 0;
    CHECK_EQ(ivcs_nalu_frame_info(H264, &one, 0, &fi), IVCS_ERR_EMPTY_FRAME);
    CHECK_EQ(ivcs_nalu_frame_info(H264, NULL, 0, &fi), IVCS_ERR_EMPTY_FRAME);
    CHECK_EQ(ivcs_nalu_frame_info(H264, NULL, 9, &fi), IVCS_ERR_EMPTY_FRAME);

    /* no start code */
    static const uint8_t nosc[] = {0x65, 0x88, 0x84, 0x00};
    CHECK_EQ(ivcs_nalu_frame_info(H264, nosc, sizeof nosc, &fi), IVCS_ERR_BAD_ANNEXB);
    /* empty NAL unit between two start codes */
    static const uint8_t empty[] = {0, 0, 1, 0, 0, 1, 0x65, 0x88};
    CHECK_EQ(ivcs_nalu_frame_info(H264, empty, sizeof empty, &fi), IVCS_ERR_BAD_ANNEXB);
    /* forbidden_zero_bit */
    static const uint8_t forb[] = {0, 0, 1, 0xE5, 0x88, 0x84};
    CHECK_EQ(ivcs_nalu_frame_info(H264, forb, sizeof forb, &fi), IVCS_ERR_BAD_ANNEXB);
    static const uint8_t forb5[] = {0, 0, 1, 0x80 | (1 << 1), 0x01, 0xD0};
    CHECK_EQ(ivcs_nalu_frame_info(H265, forb5, sizeof forb5, &fi), IVCS_ERR_BAD_ANNEXB);
    /* nuh_temporal_id_plus1 == 0 */
    static const uint8_t tid0[] = {0, 0, 1, 0x02, 0x00, 0xD0};
    CHECK_EQ(ivcs_nalu_frame_info(H265, tid0, sizeof tid0, &fi), IVCS_ERR_BAD_ANNEXB);
    /* parameter sets but no slice */
    stream ps = {0};
    h264_sps(&ps, &sps_320x240);
    h264_pps(&ps);
    CHECK_EQ(info_of(H264, &ps, &fi), IVCS_ERR_BAD_ANNEXB);
    /* a slice header cut short: slice_type missing */
    static const uint8_t cut[] = {0, 0, 1, 0x41, 0x00}; /* first_mb ue runs off the end */
    CHECK_EQ(ivcs_nalu_frame_info(H264, cut, sizeof cut, &fi), IVCS_ERR_BAD_ANNEXB);
    static const uint8_t cut1[] = {0, 0, 1, 0x41};
    CHECK_EQ(ivcs_nalu_frame_info(H264, cut1, sizeof cut1, &fi), IVCS_ERR_BAD_ANNEXB);
    /* slice_type 10 does not exist */
    stream st = {0};
    h264_slice(&st, 1, 0, 10);
    CHECK_EQ(info_of(H264, &st, &fi), IVCS_ERR_BAD_ANNEXB);
    stream st5 = {0};
    h265_first_slice(&st5, 1, 3);
    CHECK_EQ(info_of(H265, &st5, &fi), IVCS_ERR_BAD_ANNEXB);

    /* IDR without its parameter sets */
    stream k1 = {0};
    h264_slice(&k1, 5, 0, 7);
    CHECK_EQ(info_of(H264, &k1, &fi), IVCS_ERR_NO_PARAMS);
    CHECK_EQ(fi.is_key, 1);
    stream k2 = {0};
    h264_sps(&k2, &sps_320x240);
    h264_slice(&k2, 5, 0, 7);
    CHECK_EQ(info_of(H264, &k2, &fi), IVCS_ERR_NO_PARAMS);
    stream k3 = {0}; /* H.265 without VPS */
    h265_sps(&k3, &sps265_320x240);
    h265_pps(&k3, 0, 0, 0);
    h265_first_slice(&k3, 19, 2);
    CHECK_EQ(info_of(H265, &k3, &fi), IVCS_ERR_NO_PARAMS);
    for (uint8_t t = 16; t <= 21; t++) {
        stream k = {0};
        h265_first_slice(&k, t, 2);
        CHECK_EQ(info_of(H265, &k, &fi), IVCS_ERR_NO_PARAMS);
    }
    stream ok = {0};
    h265_idr_au(&ok);
    CHECK_EQ(info_of(H265, &ok, &fi), 0);
    CHECK_EQ(fi.has_vps, 1);
    CHECK_EQ(ivcs_nalu_frame_info((ivcs_vcodec_e)7, ok.d, ok.n, &fi), IVCS_ERR_INVALID_ARG);
}

/* ============================================================== next_au */

/* Offsets of the AUs of s found with eof = 1, as a count; fills starts. */
static int split_all(ivcs_vcodec_e c, const uint8_t *p, size_t n, size_t *starts, int max)
{
    size_t off = 0;
    int k = 0;
    while (off < n) {
        int64_t r = ivcs_nalu_next_au(c, p + off, n - off, 1);
        if (r <= 0) return (int)(r < 0 ? r : -1);
        if (k < max) starts[k] = off;
        k++;
        off += (size_t)r;
    }
    return k;
}

TEST(next_au_h264_boundary_rules)
{
    size_t st[16];
    size_t mark[16];
    int m = 0;
    stream s = {0};
    mark[m++] = s.n;
    h264_aud(&s);
    h264_idr_au(&s);
    h264_slice(&s, 5, 20, 7); /* same picture: first_mb != 0 */
    mark[m++] = s.n;
    h264_slice(&s, 1, 0, 5); /* new picture: first_mb == 0 */
    h264_slice(&s, 1, 30, 5);
    mark[m++] = s.n;
    h264_sei(&s); /* SEI after a slice opens an AU */
    h264_slice(&s, 1, 0, 5);
    {
        bw w = {0}; /* filler data stays with its picture */
        bw_u(&w, 8, 0xFF);
        h264_nal(&s, 12, &w);
    }
    mark[m++] = s.n;
    h264_aud(&s); /* AUD */
    h264_slice(&s, 1, 0, 5);
    mark[m++] = s.n;
    h264_sps(&s, &sps_320x240); /* SPS after a slice */
    h264_pps(&s);
    h264_slice(&s, 5, 0, 7);
    {
        bw w = {0}; /* end of sequence belongs to the AU it ends */
        h264_nal(&s, 10, &w);
    }
    mark[m++] = s.n;
    h264_pps(&s); /* a PPS alone opens one too */
    h264_slice(&s, 1, 0, 5);
    int n = split_all(H264, s.d, s.n, st, 16);
    CHECK_EQ(n, m);
    for (int i = 0; i < m && i < n; i++)
        CHECK_EQ(st[i], mark[i]);
}

TEST(next_au_h265_boundary_rules)
{
    size_t st[16];
    size_t mark[16];
    int m = 0;
    stream s = {0};
    h265_slice_p later = {0, 0, 0, 7, 5, 0, 0, 1, 0};
    mark[m++] = s.n;
    h265_aud(&s);
    h265_idr_au(&s);
    h265_slice(&s, 19, &later);
    h265_sei(&s, 40); /* suffix SEI stays */
    mark[m++] = s.n;
    h265_first_slice(&s, 1, 1);
    h265_slice(&s, 1, &later);
    mark[m++] = s.n;
    h265_sei(&s, 39); /* prefix SEI opens */
    h265_first_slice(&s, 1, 1);
    mark[m++] = s.n;
    h265_aud(&s);
    h265_first_slice(&s, 0, 1);
    {
        bw w = {0}; /* end of sequence stays */
        h265_nal(&s, 36, &w);
    }
    mark[m++] = s.n;
    h265_idr_au(&s); /* VPS opens */
    mark[m++] = s.n;
    h265_sps(&s, &sps265_320x240); /* SPS opens */
    h265_first_slice(&s, 1, 1);
    {
        bw w = {0}; /* an enhancement-layer slice does not end the AU */
        bw_u(&w, 1, 1);
        bw_ue(&w, 0);
        bw_ue(&w, 1);
        h265_nal_layer(&s, 1, 1, &w);
    }
    int n = split_all(H265, s.d, s.n, st, 16);
    CHECK_EQ(n, m);
    for (int i = 0; i < m && i < n; i++)
        CHECK_EQ(st[i], mark[i]);
}

TEST(next_au_waits_for_more_bytes_until_eof)
{
    /* Every prefix of a stream of AUs, without eof, must either be told
     * "incomplete" or give exactly the first AU found with eof on the whole
     * stream; with eof, a prefix gives at most its own length. */
    for (int c = 0; c <= 1; c++) {
        ivcs_vcodec_e codec = c ? H265 : H264;
        stream s = {0};
        if (codec == H264) {
            h264_idr_au(&s);
            h264_slice(&s, 1, 0, 5);
            h264_aud(&s);
            h264_slice(&s, 1, 0, 5);
        } else {
            h265_idr_au(&s);
            h265_first_slice(&s, 1, 1);
        }
        int64_t first = ivcs_nalu_next_au(codec, s.d, s.n, 1);
        CHECK(first > 0 && (size_t)first < s.n);
        guard_buf g = GUARD_INIT;
        for (size_t cut = 0; cut <= s.n; cut++) {
            const uint8_t *p = guard_place(&g, s.d, cut, GUARD_AFTER);
            int64_t r = ivcs_nalu_next_au(codec, p, cut, 0);
            CHECK(r == IVCS_ERR_INCOMPLETE || r == first);
            if (cut <= (size_t)first) CHECK_EQ(r, IVCS_ERR_INCOMPLETE);
            int64_t e = ivcs_nalu_next_au(codec, p, cut, 1);
            CHECK(e == IVCS_ERR_BAD_ANNEXB || (e > 0 && e <= (int64_t)cut));
        }
        guard_release(&g);
    }
}

TEST(next_au_rejects_what_is_not_annexb)
{
    static const uint8_t junk[] = {0x47, 0x40, 0x00, 0x10, 0, 0, 1, 0x65, 0x88};
    CHECK_EQ(ivcs_nalu_next_au(H264, junk, sizeof junk, 1), IVCS_ERR_BAD_ANNEXB);
    CHECK_EQ(ivcs_nalu_next_au(H264, junk, sizeof junk, 0), IVCS_ERR_BAD_ANNEXB);
    static const uint8_t zeros[] = {0, 0, 0, 0};
    CHECK_EQ(ivcs_nalu_next_au(H264, zeros, sizeof zeros, 1), IVCS_ERR_BAD_ANNEXB);
    CHECK_EQ(ivcs_nalu_next_au(H264, zeros, sizeof zeros, 0), IVCS_ERR_INCOMPLETE);
    static const uint8_t empty[] = {0, 0, 1, 0, 0, 1, 0x65, 0x88};
    CHECK_EQ(ivcs_nalu_next_au(H264, empty, sizeof empty, 1), IVCS_ERR_BAD_ANNEXB);
    CHECK_EQ(ivcs_nalu_next_au(H264, NULL, 3, 1), IVCS_ERR_INVALID_ARG);
}

/* ========================================================== real media */

static uint8_t *load_media(const char *name, size_t *len)
{
    uint8_t *b = check_read_file(check_media(name), len);
    if (!b) fprintf(stderr, "  cannot read %s (IVCS_MEDIA_DIR)\n", check_media(name));
    return b;
}

/* Splits a clip and checks it against ffprobe. want_b: the clip has B
 * frames, compare their count; else compare the type of every frame. */
static void check_clip(const char *name, ivcs_vcodec_e codec, int want_b, int want_aud)
{
    size_t len = 0;
    uint8_t *buf = load_media(name, &len);
    CHECK(buf != NULL);
    if (!buf) return;
    unsigned fw = 0, fh = 0, frames = 0;
    CHECK_EQ(ffprobe_stream(check_media(name), &fw, &fh, &frames), 0);
    static char ref_types[8192], types[8192];
    int nref = ffprobe_types(check_media(name), ref_types, sizeof ref_types);
    CHECK_EQ(nref, (int)frames);
    CHECK(frames > 0);

    guard_buf ga = GUARD_INIT, gb = GUARD_INIT;
    static ivcs_h264_ctx_s ctx;
    memset(&ctx, 0, sizeof ctx);
    size_t off = 0;
    unsigned n = 0, b_frames = 0, keys = 0;
    int errors = 0;
    while (off < len) {
        int64_t r = ivcs_nalu_next_au(codec, buf + off, len - off, 1);
        CHECK(r > 0);
        if (r <= 0) break;
        /* the same AU alone, flush against a guard page on either side */
        const uint8_t *pa = guard_place(&ga, buf + off, (size_t)r, GUARD_AFTER);
        const uint8_t *pb = guard_place(&gb, buf + off, (size_t)r, GUARD_BEFORE);
        CHECK_EQ(ivcs_nalu_next_au(codec, pa, (size_t)r, 1), r);
        CHECK_EQ(ivcs_nalu_next_au(codec, pb, (size_t)r, 0), IVCS_ERR_INCOMPLETE);
        ivcs_frame_info_s fi, fb, fc;
        int e = ivcs_nalu_frame_info(codec, pa, (size_t)r, &fi);
        CHECK_EQ(ivcs_nalu_frame_info(codec, pb, (size_t)r, &fb), e);
        /* every slice header read to its end against the parameter sets
         * of the frames before (as a channel does): the same verdict */
        CHECK_EQ(ivcs_nalu_frame_check(codec, pa, (size_t)r, &fc, &ctx), e);
        CHECK_EQ(ivcs_nalu_frame_check(codec, pb, (size_t)r, &fc, &ctx), e);
        if (e == 0 && codec == IVCS_CODEC_H264) ivcs_nalu_h264_learn(&ctx, pa, (size_t)r);
        if (e == IVCS_ERR_B_FRAME)
            b_frames++;
        else if (e != 0)
            errors++;
        if (fi.is_key) keys++;
        if (want_aud) CHECK_EQ(fi.has_aud, 1);
        if (e == 0 && fi.is_key) {
            CHECK_EQ(fi.width, fw);
            CHECK_EQ(fi.height, fh);
            CHECK(fi.has_sps && fi.has_pps);
        }
        if (n + 1 < sizeof types) types[n] = "PBI??"[fi.slice_type % 5];
        n++;
        off += (size_t)r;
    }
    types[n < sizeof types ? n : sizeof types - 1] = 0;
    fprintf(stderr, "  %s: %u AUs (ffprobe %u), %u key, %u B, %ux%u\n", name, n, frames, keys,
            b_frames, fw, fh);
    CHECK_EQ(n, frames);
    CHECK_EQ(errors, 0);
    CHECK(keys >= 1);
    if (want_b) {
        unsigned ref_b = 0;
        for (int i = 0; i < nref; i++)
            ref_b += ref_types[i] == 'B';
        CHECK(b_frames > 0);
        CHECK_EQ(b_frames, ref_b);
    } else {
        CHECK_EQ(b_frames, 0);
        /* no reordering: decode order is output order */
        CHECK(strcmp(types, ref_types) == 0);
    }
    guard_release(&ga);
    guard_release(&gb);
    free(buf);
}

TEST(real_h264_clip_splits_into_ffprobes_frames)
{
    check_clip("clip_h264.h264", H264, 0, 0);
}

TEST(real_h265_clip_splits_into_ffprobes_frames)
{
    check_clip("clip_h265.h265", H265, 0, 0);
}

TEST(real_bframes_clip_reports_every_b_frame)
{
    check_clip("clip_bframes.h264", H264, 1, 0);
}

TEST(real_h264_clip_with_auds_splits_into_ffprobes_frames)
{
    check_clip("clip_h264_aud.h264", H264, 0, 1);
}

TEST(real_camera_like_clip_splits_into_ffprobes_frames)
{
    check_clip("clip_low.h264", H264, 0, 0);
}

TEST(real_clip_split_in_chunks_matches_whole_file)
{
    /* A reader that feeds the file in pieces (eof 0 until the last one)
     * must cut exactly where the whole-file split cuts. A feed of tiny
     * pieces rescans the AU so far on every call, so the work is bounded to
     * a prefix of the file (a prefix is a stream that ends inside an AU,
     * which the final eof call must return whole). */
    static const char *names[] = {"clip_h264.h264", "clip_h265.h265"};
    static const size_t chunks[] = {1, 13, 188, 1500, 65536};
    static size_t whole[4096];
    for (int c = 0; c < 2; c++) {
        ivcs_vcodec_e codec = c ? H265 : H264;
        size_t file_len = 0;
        uint8_t *buf = load_media(names[c], &file_len);
        CHECK(buf != NULL);
        if (!buf) continue;
        for (size_t ci = 0; ci < COUNT(chunks); ci++) {
            size_t len = chunks[ci] < 10 ? 64 * 1024 : 256 * 1024;
            if (len > file_len) len = file_len;
            int n = split_all(codec, buf, len, whole, 4096);
            CHECK(n > 1);
            size_t have = 0, off = 0;
            int k = 0, mismatch = 0;
            while (off < len) {
                int eof = have == len;
                int64_t r = ivcs_nalu_next_au(codec, buf + off, have - off, eof);
                if (r == IVCS_ERR_INCOMPLETE && !eof) {
                    have = have + chunks[ci] < len ? have + chunks[ci] : len;
                    continue;
                }
                if (r <= 0 || k >= n || whole[k] != off) {
                    mismatch = 1;
                    break;
                }
                k++;
                off += (size_t)r;
            }
            CHECK_EQ(mismatch, 0);
            CHECK_EQ(k, n);
        }
        free(buf);
    }
}

TEST(real_first_au_truncated_anywhere_is_safe)
{
    /* Every prefix of the first AU of each clip, against a guard page:
     * whatever the result, no read past the end (this would fault). */
    static const char *names[] = {"clip_h264.h264", "clip_h265.h265"};
    guard_buf g = GUARD_INIT;
    for (int c = 0; c < 2; c++) {
        ivcs_vcodec_e codec = c ? H265 : H264;
        size_t len = 0;
        uint8_t *buf = load_media(names[c], &len);
        CHECK(buf != NULL);
        if (!buf) continue;
        int64_t au = ivcs_nalu_next_au(codec, buf, len, 1);
        CHECK(au > 0);
        int ok = 0;
        for (size_t cut = 0; au > 0 && cut <= (size_t)au; cut++) {
            const uint8_t *p = guard_place(&g, buf, cut, GUARD_AFTER);
            ivcs_frame_info_s fi;
            ok += ivcs_nalu_frame_info(codec, p, cut, &fi) == 0;
            (void)ivcs_nalu_next_au(codec, p, cut, 0);
            (void)ivcs_nalu_next_au(codec, p, cut, 1);
        }
        /* once the first slice header is in, the cut AU parses */
        CHECK(ok > 0);
        free(buf);
    }
    guard_release(&g);
}

static void run_scanner_tests(void)
{
    RUN(find_start_reports_3_and_4_byte_codes_at_their_first_zero);
    RUN(find_start_reports_none_without_the_01);
    RUN(find_start_agrees_with_reference_on_zero_heavy_random_data);
    RUN(find_start_finds_a_code_at_every_offset_and_alignment);
    RUN(find_start_never_reads_outside_the_buffer);
    RUN(real_clip_split_in_chunks_matches_whole_file);
}

/* The scanner picks AVX2 once per process, so the SSE2 loop is tested in a
 * child that starts with IVCS_NO_AVX2=1 before any scan. */
TEST(scanner_tests_pass_on_the_sse2_path_too)
{
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        setenv("IVCS_NO_AVX2", "1", 1);
        fprintf(stderr, "  -- child with IVCS_NO_AVX2=1:\n");
        run_scanner_tests();
        fflush(NULL);
        _exit(check_tests_failed ? 1 : 0);
    }
    int st = 0;
    CHECK(waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

int main(void)
{
    RUN(scanner_tests_pass_on_the_sse2_path_too);
    run_scanner_tests();
    RUN(nalu_next_iterates_units_and_trims_trailing_zeros);
    RUN(nalu_next_reads_h265_types_and_accepts_leading_zeros);
    RUN(nalu_next_rejects_a_buffer_without_a_leading_start_code);
    RUN(nalu_next_rejects_empty_and_headerless_units);
    RUN(sps_size_matches_ffprobe_on_real_encoder_headers);
    RUN(h264_sps_applies_the_crop_units_of_every_chroma_format);
    RUN(sps_emulation_prevention_bytes_are_skipped);
    RUN(h265_sps_conformance_window_and_sub_layer_ptl);
    RUN(bad_parameter_sets_are_rejected_with_bad_sps);
    RUN(every_truncation_of_a_parameter_set_is_rejected_or_harmless);
    RUN(frame_info_describes_an_h264_idr_and_a_p_frame);
    RUN(frame_info_rejects_h264_b_slices_in_any_slice);
    RUN(frame_info_rejects_h265_b_slices);
    RUN(frame_info_reads_later_h265_slice_segments_with_the_aus_parameter_sets);
    RUN(frame_info_skips_num_extra_slice_header_bits_from_the_pps);
    RUN(frame_info_ignores_h265_enhancement_layers);
    RUN(frame_info_errors_are_specific);
    RUN(next_au_h264_boundary_rules);
    RUN(next_au_h265_boundary_rules);
    RUN(next_au_waits_for_more_bytes_until_eof);
    RUN(next_au_rejects_what_is_not_annexb);
    RUN(real_h264_clip_splits_into_ffprobes_frames);
    RUN(frame_info_rejects_impossible_slice_headers);
    RUN(real_h265_clip_splits_into_ffprobes_frames);
    RUN(real_bframes_clip_reports_every_b_frame);
    RUN(real_h264_clip_with_auds_splits_into_ffprobes_frames);
    RUN(real_camera_like_clip_splits_into_ffprobes_frames);
    RUN(real_first_au_truncated_anywhere_is_safe);
    return check_done();
}
