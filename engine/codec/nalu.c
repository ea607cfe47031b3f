/*
 * nalu.c - H.264 / H.265 Annex-B byte-stream parsing (see nalu.h).
 *
 * Two rules shape everything here:
 *  - no read outside [p, p + len): the start-code scanner (startcode.c)
 *    only issues loads that end inside the buffer, and the bit reader
 *    (bitreader.h) checks every byte it takes;
 *  - no allocation: emulation-prevention bytes (00 00 03) are dropped by the
 *    bit reader on the fly, so headers of any size (an H.264 SPS with twelve
 *    8x8 scaling lists runs to hundreds of bytes) need no RBSP copy.
 */
#include "engine/codec/nalu.h"

#include <stdlib.h>
#include <string.h>

#include "engine/codec/bitreader.h"


/* ------------------------------------------------------------------------ */
/* NAL unit iteration                                                        */
/* ------------------------------------------------------------------------ */

enum { NAL_OK = 1, NAL_ZEROS = 2 };

typedef struct {
    size_t start; /* first byte of the NAL header */
    size_t end;   /* one past the last byte, trailing zeros excluded */
    size_t next;  /* where the next start code begins (len if none) */
    int at_end;   /* no start code after this NAL: it runs to the end of the buffer */
} nal_span;

/* The NAL unit whose start code (after any leading zero bytes) is at pos.
 * NAL_OK, NAL_ZEROS (only zero bytes from pos to len), or
 * IVCS_ERR_BAD_ANNEXB (no start code at pos / empty NAL unit). */
static int nal_at(const uint8_t *p, size_t len, size_t pos, nal_span *s)
{
    size_t k = pos;
    while (k < len && p[k] == 0)
        k++;
    if (k == len) return NAL_ZEROS;
    if (k - pos < 2 || p[k] != 1) return IVCS_ERR_BAD_ANNEXB;
    s->start = k + 1;
    size_t sc;
    size_t off = ivcs_nalu_find_start(p + s->start, len - s->start, &sc);
    s->next = s->start + off;
    s->at_end = sc == 0;
    size_t e = s->next;
    while (e > s->start && p[e - 1] == 0)
        e--;
    s->end = e;
    return NAL_OK;
}

static size_t nal_header_len(ivcs_vcodec_e codec)
{
    return codec == IVCS_CODEC_H265 ? 2 : 1;
}

static uint8_t nal_type(ivcs_vcodec_e codec, const uint8_t *h)
{
    return codec == IVCS_CODEC_H265 ? (uint8_t)((h[0] >> 1) & 0x3f) : (uint8_t)(h[0] & 0x1f);
}

int ivcs_nalu_next(ivcs_vcodec_e codec, const uint8_t *p, size_t len, size_t *pos, ivcs_nalu_s *nal)
{
    if (!pos || !nal || (!p && len)) return IVCS_ERR_INVALID_ARG;
    if (*pos >= len) return 0;
    nal_span s;
    int r = nal_at(p, len, *pos, &s);
    if (r == NAL_ZEROS) {
        /* Zero bytes after the last NAL unit are trailing_zero_8bits; a
         * buffer of nothing but zeros has no start code at all. */
        if (*pos == 0) return IVCS_ERR_BAD_ANNEXB;
        *pos = len;
        return 0;
    }
    if (r < 0) return r;
    if (s.end - s.start < nal_header_len(codec)) return IVCS_ERR_BAD_ANNEXB;
    if (s.end - s.start > UINT32_MAX) return IVCS_ERR_BAD_ANNEXB;
    nal->data = p + s.start;
    nal->len = (uint32_t)(s.end - s.start);
    nal->type = nal_type(codec, nal->data);
    *pos = s.next;
    return 1;
}


/* ------------------------------------------------------------------------ */
/* Parameter sets                                                            */
/* ------------------------------------------------------------------------ */

/* Largest picture side accepted, in luma samples: far above any level's
 * limit, and it keeps every product below in 32 bits. */
#define MAX_SIDE 65536u

typedef struct {
    uint32_t id;
    uint32_t width;
    uint32_t height;
    uint32_t addr_bits; /* H.265: bits of slice_segment_address */
    ivcs_h264_sps_s h264; /* H.264: what slice headers need */
} sps_info;

/* Subtracts a cropping window; the result must keep a picture. */
static int crop(uint32_t *w, uint32_t *h, uint64_t ux, uint64_t uy, uint64_t l, uint64_t r,
                uint64_t t, uint64_t bo)
{
    uint64_t cw = ux * (l + r), ch = uy * (t + bo);
    if (cw >= *w || ch >= *h) return IVCS_ERR_BAD_SPS;
    *w -= (uint32_t)cw;
    *h -= (uint32_t)ch;
    return 0;
}

static int h264_scaling_list(bitrd *b, int size)
{
    int last = 8, next = 8;
    for (int j = 0; j < size; j++) {
        if (next != 0) {
            int64_t delta = br_se(b);
            if (b->err || delta < -128 || delta > 127) return IVCS_ERR_BAD_SPS;
            next = (last + (int)delta + 256) % 256;
        }
        last = next == 0 ? last : next;
    }
    return 0;
}

/* H.264 seq_parameter_set_rbsp (7.3.2.1.1) up to frame_cropping: enough for
 * the displayed size. nal points at the NAL header. */
static int h264_parse_sps(const uint8_t *nal, size_t len, sps_info *out)
{
    bitrd b;
    br_init(&b, nal + 1, len - 1);
    uint32_t profile_idc = br_u(&b, 8);
    br_u(&b, 8); /* constraint_set flags + reserved_zero_2bits */
    br_u(&b, 8); /* level_idc */
    uint32_t sps_id = br_ue(&b);
    if (b.err || sps_id > 31) return IVCS_ERR_BAD_SPS;

    uint32_t chroma_format_idc = 1, separate_colour_plane = 0, bd_luma8 = 0;
    switch (profile_idc) {
    case 100:
    case 110:
    case 122:
    case 244:
    case 44:
    case 83:
    case 86:
    case 118:
    case 128:
    case 138:
    case 139:
    case 134:
    case 135:
        chroma_format_idc = br_ue(&b);
        if (b.err || chroma_format_idc > 3) return IVCS_ERR_BAD_SPS;
        if (chroma_format_idc == 3) separate_colour_plane = br_u(&b, 1);
        bd_luma8 = br_ue(&b);
        if (bd_luma8 > 6 || br_ue(&b) > 6) return IVCS_ERR_BAD_SPS; /* bit depths - 8 */
        br_u(&b, 1);       /* qpprime_y_zero_transform_bypass_flag */
        if (br_u(&b, 1)) { /* seq_scaling_matrix_present_flag */
            int n = chroma_format_idc != 3 ? 8 : 12;
            for (int i = 0; i < n; i++) {
                if (br_u(&b, 1) && h264_scaling_list(&b, i < 6 ? 16 : 64) != 0)
                    return IVCS_ERR_BAD_SPS;
            }
        }
        break;
    default:
        break;
    }
    ivcs_h264_sps_s *hs = &out->h264;
    memset(hs, 0, sizeof *hs);
    uint32_t log2_fn = br_ue(&b) + 4;
    if (log2_fn > 16) return IVCS_ERR_BAD_SPS; /* log2_max_frame_num_minus4 */
    uint32_t poc_type = br_ue(&b);
    if (poc_type > 2) return IVCS_ERR_BAD_SPS;
    hs->log2_fn = (uint8_t)log2_fn;
    hs->poc_type = (uint8_t)poc_type;
    if (poc_type == 0) {
        uint32_t l = br_ue(&b) + 4;
        if (l > 16) return IVCS_ERR_BAD_SPS; /* log2_max_pic_order_cnt_lsb_minus4 */
        hs->log2_poc = (uint8_t)l;
    } else if (poc_type == 1) {
        hs->dpoaz = (uint8_t)br_u(&b, 1); /* delta_pic_order_always_zero_flag */
        br_se(&b);   /* offset_for_non_ref_pic */
        br_se(&b);   /* offset_for_top_to_bottom_field */
        uint32_t n = br_ue(&b);
        if (b.err || n > 255) return IVCS_ERR_BAD_SPS;
        for (uint32_t i = 0; i < n && !b.err; i++)
            br_se(&b);
    }
    br_ue(&b);   /* max_num_ref_frames */
    br_u(&b, 1); /* gaps_in_frame_num_value_allowed_flag */
    uint64_t w_mbs = (uint64_t)br_ue(&b) + 1;
    uint64_t h_map = (uint64_t)br_ue(&b) + 1;
    uint32_t frame_mbs_only = br_u(&b, 1);
    if (!frame_mbs_only) br_u(&b, 1); /* mb_adaptive_frame_field_flag */
    br_u(&b, 1);                      /* direct_8x8_inference_flag */
    uint32_t crop_flag = br_u(&b, 1);
    uint64_t cl = 0, cr = 0, ct = 0, cb = 0;
    if (crop_flag) {
        cl = br_ue(&b);
        cr = br_ue(&b);
        ct = br_ue(&b);
        cb = br_ue(&b);
    }
    if (b.err) return IVCS_ERR_BAD_SPS;
    uint64_t field = 2 - frame_mbs_only;
    uint64_t w = w_mbs * 16, h = h_map * 16 * field;
    if (w > MAX_SIDE || h > MAX_SIDE) return IVCS_ERR_BAD_SPS;
    /* Crop units (7-19..7-22): ChromaArrayType 0 (monochrome, or 4:4:4
     * coded as three separate planes) crops in luma samples. */
    uint32_t chroma_array_type = separate_colour_plane ? 0 : chroma_format_idc;
    uint64_t ux = 1, uy = field;
    if (chroma_array_type != 0) {
        ux = chroma_array_type == 3 ? 1 : 2;           /* SubWidthC */
        uy = (chroma_array_type == 1 ? 2 : 1) * field; /* SubHeightC */
    }
    out->id = sps_id;
    out->width = (uint32_t)w;
    out->height = (uint32_t)h;
    out->addr_bits = 0;
    hs->known = 1;
    hs->frame_mbs_only = (uint8_t)frame_mbs_only;
    hs->sep_planes = (uint8_t)separate_colour_plane;
    hs->bd_luma8 = (uint8_t)bd_luma8;
    hs->mbs = (uint32_t)(w_mbs * h_map);
    return crop(&out->width, &out->height, ux, uy, cl, cr, ct, cb);
}

/* H.265 profile_tier_level(1, max_sub_layers_minus1) (7.3.3): skipped. */
static void h265_skip_ptl(bitrd *b, unsigned max_sub_layers_minus1)
{
    br_skip(b, 96); /* general profile (2+1+5+32+48 bits) + general_level_idc */
    unsigned prof[8] = {0}, lvl[8] = {0};
    for (unsigned i = 0; i < max_sub_layers_minus1; i++) {
        prof[i] = br_u(b, 1);
        lvl[i] = br_u(b, 1);
    }
    if (max_sub_layers_minus1 > 0) br_skip(b, 2 * (8 - max_sub_layers_minus1));
    for (unsigned i = 0; i < max_sub_layers_minus1; i++) {
        if (prof[i]) br_skip(b, 88);
        if (lvl[i]) br_skip(b, 8);
    }
}

/* H.265 seq_parameter_set_rbsp (7.3.2.2) up to the coding block sizes: the
 * displayed size, and the CTB grid for slice_segment_address. */
static int h265_parse_sps(const uint8_t *nal, size_t len, sps_info *out)
{
    bitrd b;
    br_init(&b, nal + 2, len - 2);
    br_u(&b, 4); /* sps_video_parameter_set_id */
    unsigned max_sub_layers_minus1 = br_u(&b, 3);
    br_u(&b, 1); /* sps_temporal_id_nesting_flag */
    if (max_sub_layers_minus1 > 6) return IVCS_ERR_BAD_SPS;
    h265_skip_ptl(&b, max_sub_layers_minus1);
    uint32_t sps_id = br_ue(&b);
    if (b.err || sps_id > 15) return IVCS_ERR_BAD_SPS;
    uint32_t chroma_format_idc = br_ue(&b);
    if (b.err || chroma_format_idc > 3) return IVCS_ERR_BAD_SPS;
    uint32_t separate_colour_plane = chroma_format_idc == 3 ? br_u(&b, 1) : 0;
    uint32_t w = br_ue(&b), h = br_ue(&b);
    if (b.err || w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE) return IVCS_ERR_BAD_SPS;
    uint64_t cl = 0, cr = 0, ct = 0, cb = 0;
    if (br_u(&b, 1)) { /* conformance_window_flag */
        cl = br_ue(&b);
        cr = br_ue(&b);
        ct = br_ue(&b);
        cb = br_ue(&b);
    }
    if (br_ue(&b) > 8 || br_ue(&b) > 8) return IVCS_ERR_BAD_SPS; /* bit depths - 8 */
    if (br_ue(&b) > 12) return IVCS_ERR_BAD_SPS; /* log2_max_pic_order_cnt_lsb_minus4 */
    unsigned first = br_u(&b, 1) ? 0 : max_sub_layers_minus1;
    for (unsigned i = first; i <= max_sub_layers_minus1; i++) {
        br_ue(&b); /* sps_max_dec_pic_buffering_minus1 */
        br_ue(&b); /* sps_max_num_reorder_pics */
        br_ue(&b); /* sps_max_latency_increase_plus1 */
    }
    uint32_t min_cb = br_ue(&b), diff = br_ue(&b);
    if (b.err || min_cb > 4 || diff > 4 || min_cb + 3 + diff > 7) return IVCS_ERR_BAD_SPS;
    uint32_t ctb = 1u << (min_cb + 3 + diff);
    uint64_t ctbs = (uint64_t)((w + ctb - 1) / ctb) * ((h + ctb - 1) / ctb);
    uint32_t bits = 0;
    while (((uint64_t)1 << bits) < ctbs)
        bits++;
    /* SubWidthC/SubHeightC (Table 6-1); 1 for 4:0:0 and separate planes. */
    uint64_t ux = 1, uy = 1;
    if (!separate_colour_plane && chroma_format_idc != 0) {
        ux = chroma_format_idc == 3 ? 1 : 2;
        uy = chroma_format_idc == 1 ? 2 : 1;
    }
    out->id = sps_id;
    out->width = w;
    out->height = h;
    out->addr_bits = bits;
    return crop(&out->width, &out->height, ux, uy, cl, cr, ct, cb);
}

typedef struct {
    uint8_t known;
    uint8_t sps_id;
    uint8_t dependent_slices; /* dependent_slice_segments_enabled_flag */
    uint8_t extra_bits;       /* num_extra_slice_header_bits */
} h265_pps;

/* H.265 pic_parameter_set_rbsp (7.3.2.3.1): the fields a slice header
 * needs before slice_type. */
static int h265_parse_pps(const uint8_t *nal, size_t len, uint32_t *pps_id, h265_pps *out)
{
    bitrd b;
    br_init(&b, nal + 2, len - 2);
    uint32_t id = br_ue(&b), sps_id = br_ue(&b);
    out->dependent_slices = (uint8_t)br_u(&b, 1);
    br_u(&b, 1); /* output_flag_present_flag */
    out->extra_bits = (uint8_t)br_u(&b, 3);
    if (b.err || id > 63 || sps_id > 15) return IVCS_ERR_BAD_SPS;
    out->sps_id = (uint8_t)sps_id;
    out->known = 1;
    *pps_id = id;
    return 0;
}

/* H.264 pic_parameter_set_rbsp (7.3.2.2) up to
 * redundant_pic_cnt_present_flag, what slice headers need. A PPS with
 * slice groups (FMO) or that ends early keeps only its ids (deep 0). */
static int h264_check_pps(const uint8_t *nal, size_t len, uint32_t *pps_id, ivcs_h264_pps_s *o)
{
    bitrd b;
    br_init(&b, nal + 1, len - 1);
    uint32_t id = br_ue(&b), sps_id = br_ue(&b);
    if (b.err || id > 255 || sps_id > 31) return IVCS_ERR_BAD_SPS;
    *pps_id = id;
    memset(o, 0, sizeof *o);
    o->known = 1;
    o->sps_id = (uint8_t)sps_id;
    o->entropy = (uint8_t)br_u(&b, 1);
    o->bottom_poc = (uint8_t)br_u(&b, 1);
    if (br_ue(&b) != 0) return 0; /* num_slice_groups_minus1: FMO, not judged */
    uint32_t n0 = br_ue(&b), n1 = br_ue(&b);
    o->weighted = (uint8_t)br_u(&b, 1);
    br_u(&b, 2); /* weighted_bipred_idc */
    int64_t qp = br_se(&b);
    br_se(&b); /* pic_init_qs_minus26 */
    br_se(&b); /* chroma_qp_index_offset */
    o->dbf_ctl = (uint8_t)br_u(&b, 1);
    br_u(&b, 1); /* constrained_intra_pred_flag */
    o->redundant = (uint8_t)br_u(&b, 1);
    if (b.err) return 0; /* ends early (as some test streams do): ids only */
    if (n0 > 31 || n1 > 31 || qp < -26 - 36 || qp > 25) return IVCS_ERR_BAD_SPS;
    o->nref0 = (uint8_t)(n0 + 1);
    o->init_qp = (int8_t)(26 + qp);
    o->deep = 1;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* NAL classes                                                               */
/* ------------------------------------------------------------------------ */

/* A VCL NAL unit that starts with a slice header. H.264: non-IDR slice,
 * data partition A, IDR slice (B and C partitions carry no slice_type).
 * H.265: the defined VCL types; reserved ones are left alone. */
static int is_slice(ivcs_vcodec_e codec, uint8_t t)
{
    if (codec == IVCS_CODEC_H265) return t <= 9 || (t >= 16 && t <= 21);
    return t == 1 || t == 2 || t == 5;
}

/* H.264 7.4.1.2.3 / H.265 7.4.2.4.4: after a VCL NAL unit of the current
 * picture, these NAL unit types can only belong to the next access unit. */
static int opens_au(ivcs_vcodec_e codec, uint8_t t)
{
    if (codec == IVCS_CODEC_H265)
        return (t >= 32 && t <= 35) || t == 39 || (t >= 41 && t <= 44) || (t >= 48 && t <= 55);
    return (t >= 6 && t <= 9) || (t >= 14 && t <= 18);
}

/* first_mb_in_slice == 0 / first_slice_segment_in_pic_flag: 1 yes, 0 no,
 * -1 when the NAL unit is too short to tell. */
static int first_slice_of_pic(ivcs_vcodec_e codec, const uint8_t *nal, size_t len)
{
    bitrd b;
    size_t hl = nal_header_len(codec);
    br_init(&b, nal + hl, len - hl);
    if (codec == IVCS_CODEC_H265) {
        uint32_t f = br_u(&b, 1);
        return b.err ? -1 : (int)f;
    }
    uint32_t first_mb = br_ue(&b);
    return b.err ? -1 : first_mb == 0;
}

/* ------------------------------------------------------------------------ */
/* Slice type                                                                */
/* ------------------------------------------------------------------------ */

enum { ST_P = 0, ST_B = 1, ST_I = 2, ST_UNKNOWN = 0xff };

typedef struct {
    sps_info sps[16]; /* H.265 SPS of this AU by id (addr_bits for slices) */
    uint8_t sps_known[16];
    h265_pps pps[64];
} h265_params;

/* Slice type of one slice NAL unit in the 0 P / 1 B / 2 I (3 SP, 4 SI) form
 * of nalu.h; ST_UNKNOWN for an H.265 slice segment whose header cannot be
 * read without parameter sets that are not in this AU, or a dependent slice
 * segment (it has no slice_type of its own). IVCS_ERR_BAD_ANNEXB for a
 * header that cannot be read. *first: the slice starts the picture
 * (first_mb_in_slice 0 / first_slice_segment_in_pic_flag); *pps: its
 * pic_parameter_set_id (range-checked). */
static int slice_type_of(ivcs_vcodec_e codec, const uint8_t *nal, size_t len,
                         const h265_params *prm, int *first_out, uint32_t *pps_out)
{
    bitrd b;
    if (codec == IVCS_CODEC_H264) {
        br_init(&b, nal + 1, len - 1);
        uint32_t first_mb = br_ue(&b);
        uint32_t st = br_ue(&b);
        uint32_t pps = br_ue(&b);
        if (b.err || st > 9 || pps > 255) return IVCS_ERR_BAD_ANNEXB;
        *first_out = first_mb == 0;
        *pps_out = pps;
        return (int)(st % 5);
    }
    uint8_t t = nal_type(codec, nal);
    br_init(&b, nal + 2, len - 2);
    uint32_t first = br_u(&b, 1);
    if (t >= 16 && t <= 23) br_u(&b, 1); /* no_output_of_prior_pics_flag (IRAP) */
    uint32_t pps_id = br_ue(&b);
    if (b.err || pps_id > 63) return IVCS_ERR_BAD_ANNEXB;
    *first_out = (int)first;
    *pps_out = pps_id;
    const h265_pps *pps = &prm->pps[pps_id];
    /* A PPS that is not in this AU is taken to have
     * num_extra_slice_header_bits = 0 (what x265, libavcodec's users and
     * every camera encoder we know write). */
    unsigned extra = pps->known ? pps->extra_bits : 0;
    if (!first) {
        if (!pps->known || !prm->sps_known[pps->sps_id]) return ST_UNKNOWN;
        if (pps->dependent_slices && br_u(&b, 1)) return ST_UNKNOWN;
        br_skip(&b, prm->sps[pps->sps_id].addr_bits); /* slice_segment_address */
    }
    br_skip(&b, extra); /* slice_reserved_flag[] */
    uint32_t st = br_ue(&b);
    if (b.err || st > 2) return IVCS_ERR_BAD_ANNEXB;
    static const uint8_t map[3] = {ST_B, ST_P, ST_I};
    return map[st];
}

/* The rest of an H.264 slice header (7.3.3) after pic_parameter_set_id,
 * against its PPS and SPS: every field in its range, the loops bounded,
 * and with CABAC the cabac_alignment_one_bits (all 1). 0 when it reads
 * (or cannot be judged: no deep PPS, weighted prediction),
 * IVCS_ERR_BAD_ANNEXB when it cannot be a slice header. */
static int h264_slice_rest(const uint8_t *nal, size_t len, const ivcs_h264_pps_s *pps,
                           const ivcs_h264_sps_s *sps)
{
    if (!pps->deep || !sps->known) return 0;
    bitrd b;
    br_init(&b, nal + 1, len - 1);
    uint32_t first_mb = br_ue(&b);
    uint32_t st = br_ue(&b) % 5;
    br_ue(&b); /* pic_parameter_set_id (read before) */
    int idr = (nal[0] & 0x1f) == 5, ref = (nal[0] & 0x60) != 0;
    if (sps->sep_planes && br_u(&b, 2) > 2) return IVCS_ERR_BAD_ANNEXB; /* colour_plane_id */
    br_skip(&b, sps->log2_fn); /* frame_num */
    uint32_t field = 0;
    if (!sps->frame_mbs_only && (field = br_u(&b, 1))) br_u(&b, 1); /* bottom_field_flag */
    /* PicSizeInMbs of a frame of an interlaced stream is twice the map */
    if (first_mb >= sps->mbs * (sps->frame_mbs_only ? 1u : 2u)) return IVCS_ERR_BAD_ANNEXB;
    if (idr && br_ue(&b) > 65535) return IVCS_ERR_BAD_ANNEXB; /* idr_pic_id */
    if (sps->poc_type == 0) {
        br_skip(&b, sps->log2_poc);
        if (pps->bottom_poc && !field) br_se(&b);
    } else if (sps->poc_type == 1 && !sps->dpoaz) {
        br_se(&b);
        if (pps->bottom_poc && !field) br_se(&b);
    }
    if (pps->redundant && br_ue(&b) > 127) return IVCS_ERR_BAD_ANNEXB;
    int intra = st == 2 || st == 4;
    uint32_t nref = pps->nref0;
    if (!intra && br_u(&b, 1)) { /* num_ref_idx_active_override_flag */
        nref = br_ue(&b) + 1;
        if (nref > (field ? 32u : 16u)) return IVCS_ERR_BAD_ANNEXB;
    }
    if (!intra && br_u(&b, 1)) { /* ref_pic_list_modification_flag_l0 */
        uint32_t idc = 0;
        for (uint32_t i = 0; i <= nref && idc != 3; i++) {
            idc = br_ue(&b);
            if (b.err || idc > 3) return IVCS_ERR_BAD_ANNEXB;
            if (idc != 3) br_ue(&b); /* abs_diff_pic_num_minus1 / long_term_pic_num */
        }
        if (idc != 3) return IVCS_ERR_BAD_ANNEXB;
    }
    if (pps->weighted && !intra) return b.err ? IVCS_ERR_BAD_ANNEXB : 0; /* not judged */
    if (ref) { /* dec_ref_pic_marking */
        if (idr) {
            br_u(&b, 2); /* no_output_of_prior_pics_flag, long_term_reference_flag */
        } else if (br_u(&b, 1)) { /* adaptive_ref_pic_marking_mode_flag */
            uint32_t op = 1;
            for (int i = 0; i < 66 && op != 0; i++) {
                op = br_ue(&b);
                if (b.err || op > 6) return IVCS_ERR_BAD_ANNEXB;
                if (op == 1 || op == 3) br_ue(&b); /* difference_of_pic_nums_minus1 */
                if (op == 2) br_ue(&b);            /* long_term_pic_num */
                if (op == 3 || op == 6) br_ue(&b); /* long_term_frame_idx */
                if (op == 4) br_ue(&b);            /* max_long_term_frame_idx_plus1 */
            }
            if (op != 0) return IVCS_ERR_BAD_ANNEXB;
        }
    }
    if (pps->entropy && !intra && br_ue(&b) > 2) return IVCS_ERR_BAD_ANNEXB; /* cabac_init_idc */
    int64_t qp = pps->init_qp + br_se(&b);
    if (qp < -6 * (int64_t)sps->bd_luma8 || qp > 51) return IVCS_ERR_BAD_ANNEXB;
    if (st == 3 || st == 4) {
        if (st == 3) br_u(&b, 1); /* sp_for_switch_flag */
        br_se(&b);                /* slice_qs_delta */
    }
    if (pps->dbf_ctl) {
        uint32_t idc = br_ue(&b);
        if (idc > 2) return IVCS_ERR_BAD_ANNEXB;
        if (idc != 1) {
            int64_t a = br_se(&b), be = br_se(&b);
            if (a < -6 || a > 6 || be < -6 || be > 6) return IVCS_ERR_BAD_ANNEXB;
        }
    }
    if (b.err) return IVCS_ERR_BAD_ANNEXB;
    if (pps->entropy) { /* cabac_alignment_one_bit until byte-aligned */
        unsigned n = b.bits % 8;
        if (n && br_u(&b, n) != (1u << n) - 1) return IVCS_ERR_BAD_ANNEXB;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Access units                                                              */
/* ------------------------------------------------------------------------ */

int ivcs_nalu_frame_info(ivcs_vcodec_e codec, const uint8_t *p, size_t len, ivcs_frame_info_s *info)
{
    return ivcs_nalu_frame_check(codec, p, len, info, NULL);
}

/* An AU's own H.264 parameter sets (the last AU_PS of each kind; an AU
 * with more is judged against the ones kept and the context). */
#define AU_PS 4
typedef struct {
    uint8_t n_sps, n_pps;
    uint8_t sps_id[AU_PS], pps_id[AU_PS];
    ivcs_h264_sps_s sps[AU_PS];
    ivcs_h264_pps_s pps[AU_PS];
} h264_au_ps;

static const ivcs_h264_sps_s *au_sps(const h264_au_ps *a, const ivcs_h264_ctx_s *ctx, uint32_t id)
{
    for (int i = a->n_sps; i-- > 0;)
        if (a->sps_id[i] == id) return &a->sps[i];
    return ctx ? &ctx->sps[id & 31] : NULL;
}

static const ivcs_h264_pps_s *au_pps(const h264_au_ps *a, const ivcs_h264_ctx_s *ctx, uint32_t id)
{
    for (int i = a->n_pps; i-- > 0;)
        if (a->pps_id[i] == id) return &a->pps[i];
    return ctx ? &ctx->pps[id & 255] : NULL;
}

static void au_put(uint8_t *n, uint8_t *ids, void *arr, size_t sz, uint32_t id, const void *v)
{
    int i = 0;
    while (i < *n && ids[i] != id) i++;
    if (i == AU_PS) return; /* full: the context or nothing judges it */
    if (i == *n) (*n)++;
    ids[i] = (uint8_t)id;
    memcpy((uint8_t *)arr + (size_t)i * sz, v, sz);
}

void ivcs_nalu_h264_learn(ivcs_h264_ctx_s *ctx, const uint8_t *p, size_t len)
{
    size_t pos = 0;
    ivcs_nalu_s nal;
    while (ctx && ivcs_nalu_next(IVCS_CODEC_H264, p, len, &pos, &nal) == 1) {
        sps_info sps;
        ivcs_h264_pps_s pps;
        uint32_t id;
        if (nal.type == 7 && h264_parse_sps(nal.data, nal.len, &sps) == 0)
            ctx->sps[sps.id & 31] = sps.h264;
        else if (nal.type == 8 && h264_check_pps(nal.data, nal.len, &id, &pps) == 0)
            ctx->pps[id & 255] = pps;
    }
}

int ivcs_nalu_frame_check(ivcs_vcodec_e codec, const uint8_t *p, size_t len,
                          ivcs_frame_info_s *info, const ivcs_h264_ctx_s *ctx)
{
    ivcs_frame_info_s tmp;
    if (!info) info = &tmp;
    memset(info, 0, sizeof *info);
    if (!p || len == 0) return IVCS_ERR_EMPTY_FRAME;
    if (codec != IVCS_CODEC_H264 && codec != IVCS_CODEC_H265) return IVCS_ERR_INVALID_ARG;

    h265_params prm;
    h264_au_ps aps;
    aps.n_sps = aps.n_pps = 0;
    if (codec == IVCS_CODEC_H265) {
        memset(prm.sps_known, 0, sizeof prm.sps_known);
        memset(prm.pps, 0, sizeof prm.pps);
    }
    int have_slice = 0;
    size_t pos = 0;
    ivcs_nalu_s nal;
    int r;
    while ((r = ivcs_nalu_next(codec, p, len, &pos, &nal)) == 1) {
        const uint8_t *d = nal.data;
        uint8_t t = nal.type;
        if (d[0] & 0x80) return IVCS_ERR_BAD_ANNEXB; /* forbidden_zero_bit */
        if (info->nal_count < UINT16_MAX) info->nal_count++;
        if (codec == IVCS_CODEC_H265) {
            if ((d[1] & 7) == 0) return IVCS_ERR_BAD_ANNEXB; /* nuh_temporal_id_plus1 */
            /* Layers above the base (scalable / multiview) are not ours to
             * judge: only nuh_layer_id 0 decides what the frame is. */
            if (((d[0] & 1) << 5 | d[1] >> 3) != 0) continue;
        }
        if (info->nal_count == 1 && t == (codec == IVCS_CODEC_H265 ? 35 : 9)) info->has_aud = 1;

        sps_info sps;
        if (codec == IVCS_CODEC_H264) {
            if (t == 7) {
                if (h264_parse_sps(d, nal.len, &sps) != 0) return IVCS_ERR_BAD_SPS;
                if (!info->has_sps) {
                    info->width = sps.width;
                    info->height = sps.height;
                }
                au_put(&aps.n_sps, aps.sps_id, aps.sps, sizeof aps.sps[0], sps.id, &sps.h264);
                info->has_sps = 1;
            } else if (t == 8) {
                uint32_t id;
                ivcs_h264_pps_s pps;
                if (h264_check_pps(d, nal.len, &id, &pps) != 0) return IVCS_ERR_BAD_SPS;
                au_put(&aps.n_pps, aps.pps_id, aps.pps, sizeof aps.pps[0], id, &pps);
                info->pps_def[id >> 6] |= 1ull << (id & 63);
                info->has_pps = 1;
            }
        } else {
            if (t == 32) {
                info->has_vps = 1;
            } else if (t == 33) {
                if (h265_parse_sps(d, nal.len, &sps) != 0) return IVCS_ERR_BAD_SPS;
                if (!info->has_sps) {
                    info->width = sps.width;
                    info->height = sps.height;
                }
                prm.sps[sps.id] = sps;
                prm.sps_known[sps.id] = 1;
                info->has_sps = 1;
            } else if (t == 34) {
                h265_pps pps;
                uint32_t id;
                if (h265_parse_pps(d, nal.len, &id, &pps) != 0) return IVCS_ERR_BAD_SPS;
                prm.pps[id] = pps;
                info->pps_def[0] |= 1ull << id;
                info->has_pps = 1;
            }
        }
        /* H.265 reserved VCL types (RSV_VCL_N10..R15, RSV_IRAP_VCL22/23,
         * RSV_VCL24..31): no encoder writes them, garbage does */
        if (codec == IVCS_CODEC_H265 && ((t >= 10 && t <= 15) || (t >= 22 && t <= 31)))
            return IVCS_ERR_BAD_ANNEXB;
        if (!is_slice(codec, t)) continue;

        int first = 0;
        uint32_t pps = 0;
        int st = slice_type_of(codec, d, nal.len, &prm, &first, &pps);
        if (st < 0) return st;
        info->pps_used[pps >> 6] |= 1ull << (pps & 63);
        int irap = codec == IVCS_CODEC_H265 ? (t >= 16 && t <= 21) : t == 5;
        if (!have_slice) {
            /* an AU begins with the picture's first slice (H.264 arbitrary
             * slice order is not supported) */
            if (!first) return IVCS_ERR_BAD_ANNEXB;
            have_slice = 1;
            info->is_key = (uint8_t)irap;
            info->slice_type = (uint8_t)st;
        }
        if (st == ST_B) {
            info->slice_type = ST_B;
            return IVCS_ERR_B_FRAME;
        }
        /* an IDR/IRAP picture has intra slices only (H.264 7.4.3: I or SI;
         * H.265 7.4.7.1: I), and H.264 IDR has nal_ref_idc != 0 */
        if (irap && st != ST_I && st != 4 && st != ST_UNKNOWN) return IVCS_ERR_BAD_ANNEXB;
        if (irap && codec == IVCS_CODEC_H264 && !(d[0] & 0x60)) return IVCS_ERR_BAD_ANNEXB;
        if (codec == IVCS_CODEC_H264 && t != 2) { /* (partition A: no dec_ref_pic_marking split) */
            const ivcs_h264_pps_s *pp = au_pps(&aps, ctx, pps);
            if (pp && pp->known) {
                const ivcs_h264_sps_s *sp = au_sps(&aps, ctx, pp->sps_id);
                if (sp) {
                    int r2 = h264_slice_rest(d, nal.len, pp, sp);
                    if (r2 < 0) return r2;
                }
            }
        }
    }
    if (r < 0) return r;
    if (!have_slice) return IVCS_ERR_BAD_ANNEXB;
    if (info->is_key &&
        !(info->has_sps && info->has_pps && (codec == IVCS_CODEC_H264 || info->has_vps)))
        return IVCS_ERR_NO_PARAMS;
    return 0;
}

int64_t ivcs_nalu_next_au(ivcs_vcodec_e codec, const uint8_t *p, size_t len, int eof)
{
    if (!p && len) return IVCS_ERR_INVALID_ARG;
    if (codec != IVCS_CODEC_H264 && codec != IVCS_CODEC_H265) return IVCS_ERR_INVALID_ARG;
    size_t hl = nal_header_len(codec);
    size_t pos = 0;
    int seen_slice = 0;
    for (;;) {
        nal_span s;
        int r = nal_at(p, len, pos, &s);
        if (r == NAL_ZEROS) {
            /* Zeros only: at the start they may be the beginning of a start
             * code still to come. */
            if (!eof) return IVCS_ERR_INCOMPLETE;
            return pos == 0 ? IVCS_ERR_BAD_ANNEXB : (int64_t)len;
        }
        if (r < 0) return r;
        size_t n = s.end - s.start;
        if (n < hl) {
            /* An empty NAL unit at the end may still be arriving. */
            if (s.at_end && !eof) return IVCS_ERR_INCOMPLETE;
            return IVCS_ERR_BAD_ANNEXB;
        }
        const uint8_t *d = p + s.start;
        uint8_t t = nal_type(codec, d);
        int base_layer = codec == IVCS_CODEC_H264 || ((d[0] & 1) == 0 && (d[1] >> 3) == 0);
        if (seen_slice && base_layer) {
            int opens = opens_au(codec, t);
            if (!opens && is_slice(codec, t)) {
                /* A slice header too short to read stays with the current
                 * AU: at the end of a partial buffer the check below asks
                 * for more bytes; in a whole one frame_info rejects it. */
                opens = first_slice_of_pic(codec, d, n) == 1;
            }
            if (opens) return (int64_t)pos;
        }
        if (base_layer && is_slice(codec, t)) seen_slice = 1;
        if (s.at_end) return eof ? (int64_t)len : IVCS_ERR_INCOMPLETE;
        pos = s.next;
    }
}
