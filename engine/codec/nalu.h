/*
 * nalu.h - H.264 / H.265 Annex-B byte-stream parsing.
 *
 * Nothing here allocates. Every function reads only inside [p, p + len):
 * no read past the end, ever (fuzzed, and tested against a guard page).
 * Errors are the specific ivcs codes of ivcs_err.h.
 */
#ifndef IVCS_CODEC_NALU_H
#define IVCS_CODEC_NALU_H

#include <stddef.h>
#include <stdint.h>

#include "ivcs_base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { IVCS_CODEC_H264 = 0, IVCS_CODEC_H265 = 1 } ivcs_vcodec_e;

/* Offset of the next start code (00 00 01, or 00 00 00 01: then the offset of
 * its first zero) at or after p; len if there is none. *sc_len gets 3 or 4
 * (0 when none; sc_len may be NULL). Reads only p[0..len): no padding is
 * assumed. The hot scanner of the project, at memchr speed: AVX2 when the
 * CPU has it (the environment variable IVCS_NO_AVX2=1, read once, forces
 * the SSE2 loop), else SSE2, else 8 bytes at a time. Thread-safe. */
size_t ivcs_nalu_find_start(const uint8_t *p, size_t len, size_t *sc_len);

/* One NAL unit: data points at the NAL header (after the start code), len
 * excludes trailing zero bytes that belong to the next start code. */
typedef struct ivcs_nalu_s {
    const uint8_t *data;
    uint32_t len;
    uint8_t type; /* nal_unit_type: 5 bits (H.264) or 6 bits (H.265) */
} ivcs_nalu_s;

/* Iterates the NAL units of an Annex-B buffer. *pos is the cursor (start at
 * 0). Returns 1 and fills *nal, 0 at the end, IVCS_ERR_BAD_ANNEXB if the
 * buffer does not begin with a start code (extra leading zero bytes are
 * fine) or holds an empty NAL unit (or, for H.265, one shorter than its
 * 2-byte header); IVCS_ERR_INVALID_ARG for NULL pos/nal, or p with len > 0.
 * Zero bytes after the last NAL unit are trailing_zero_8bits: skipped. */
int ivcs_nalu_next(ivcs_vcodec_e codec, const uint8_t *p, size_t len, size_t *pos,
                   ivcs_nalu_s *nal);

/* H.264 parameter sets as slice headers need them (nalu.c fills them). */
typedef struct ivcs_h264_sps_s {
    uint8_t known, log2_fn, poc_type, log2_poc, dpoaz, frame_mbs_only, sep_planes, bd_luma8;
    uint32_t mbs; /* PicWidthInMbs * PicHeightInMapUnits */
} ivcs_h264_sps_s;
typedef struct ivcs_h264_pps_s {
    uint8_t known, deep, sps_id, entropy, bottom_poc, weighted, dbf_ctl, redundant, nref0;
    int8_t init_qp; /* 26 + pic_init_qp_minus26 */
} ivcs_h264_pps_s;
/* The H.264 parameter sets a stream has defined so far (a channel keeps
 * one, 2944 bytes), for judging slices of frames that carry none. */
typedef struct ivcs_h264_ctx_s {
    ivcs_h264_sps_s sps[32];
    ivcs_h264_pps_s pps[256];
} ivcs_h264_ctx_s;

/* What one access unit (a frame as pushed by the firmware) contains. */
typedef struct ivcs_frame_info_s {
    uint8_t is_key;  /* IDR (H.264 type 5; H.265 types 16..21: BLA/IDR/CRA) */
    uint8_t has_aud; /* the first NAL unit is an access unit delimiter */
    uint8_t has_vps; /* H.265 only */
    uint8_t has_sps;
    uint8_t has_pps;
    uint8_t slice_type; /* of the first slice, one scale for both codecs: 0 P, 1 B, 2 I,
                         * 3 SP, 4 SI (H.264 slice_type % 5; H.265 0 B / 1 P / 2 I is
                         * mapped to it); 0xFF when not readable (see frame_info) */
    uint16_t nal_count;
    uint32_t width; /* from the SPS when present, else 0 */
    uint32_t height;
    /* pic_parameter_set_ids (bit id; H.264 0..255, H.265 0..63) defined by
     * a PPS in the AU, and referenced by its slices: a caller that knows
     * the PPS of earlier AUs checks used & ~(def | known) == 0 */
    uint64_t pps_def[4], pps_used[4];
} ivcs_frame_info_s;

/* Validates one access unit and describes it. Errors:
 *  IVCS_ERR_EMPTY_FRAME  len == 0 or p NULL
 *  IVCS_ERR_BAD_ANNEXB   no leading start code, empty NAL, forbidden bit set,
 *                        H.265 nuh_temporal_id_plus1 0, no VCL (slice) NAL
 *                        unit at all, or a slice header too short to read /
 *                        with a slice_type or pic_parameter_set_id that does
 *                        not exist; a first slice that does not start the
 *                        picture (first_mb_in_slice != 0 /
 *                        first_slice_segment_in_pic_flag 0); a non-intra
 *                        slice in an IDR/IRAP picture, an H.264 IDR with
 *                        nal_ref_idc 0, an H.265 base-layer NAL unit of a
 *                        reserved VCL type (10..15, 22..31)
 *  IVCS_ERR_B_FRAME      a slice header says B (every H.264 slice is read)
 *  IVCS_ERR_BAD_SPS      an SPS that cannot be parsed (for width/height), or a
 *                        PPS whose ids are out of range
 *  IVCS_ERR_NO_PARAMS    a key frame without SPS+PPS (+VPS for H.265)
 *  IVCS_ERR_INVALID_ARG  codec is neither H.264 nor H.265
 * Returns 0 on success. info may be NULL; on an error it holds what was
 * found before the failing NAL unit (slice_type 1 with IVCS_ERR_B_FRAME).
 * SPS: parsed up to frame_cropping (H.264: any profile, scaling lists,
 * 4:0:0..4:4:4, separate colour planes, fields) or up to the CTB size
 * (H.265: sub-layer profile_tier_level, conformance window); width/height
 * are the cropped size, from the first SPS of the AU.
 * H.265 slice segments: the first one of the picture is always read; its
 * num_extra_slice_header_bits comes from the PPS in the same AU, or is taken
 * as 0 when that PPS is not in the AU (every encoder we know writes 0). A
 * later (first_slice_segment_in_pic_flag 0) segment is read only when its
 * PPS and that PPS's SPS are in the AU (slice_segment_address needs the CTB
 * grid); dependent slice segments have no slice_type. NAL units with
 * nuh_layer_id > 0 are counted but not judged. Allocates nothing; the
 * parameter sets of the AU are tracked on the stack (about 1 KB). */
int ivcs_nalu_frame_info(ivcs_vcodec_e codec, const uint8_t *p, size_t len,
                         ivcs_frame_info_s *info);

/* As frame_info, and for H.264 every slice header is read to its end
 * (7.3.3: frame_num, POC, reference list modification, reference
 * marking, cabac_init_idc, QP, deblocking, then the CABAC alignment bits)
 * against the SPS/PPS of the AU or, when the AU carries none, of ctx
 * (NULL: the AU's only). Fields out of range, unbounded loops or alignment
 * bits that are not all 1: IVCS_ERR_BAD_ANNEXB. Slices of a PPS with slice
 * groups (FMO) or weighted prediction are read only up to where that
 * starts to matter. ctx is not changed: ivcs_nalu_h264_learn(ctx, AU)
 * adds the parameter sets of an AU the caller accepted. */
int ivcs_nalu_frame_check(ivcs_vcodec_e codec, const uint8_t *p, size_t len,
                          ivcs_frame_info_s *info, const ivcs_h264_ctx_s *ctx);
void ivcs_nalu_h264_learn(ivcs_h264_ctx_s *ctx, const uint8_t *p, size_t len);

/* Splits an Annex-B elementary stream (a file) into access units.
 * Returns the length of the access unit starting at p (which must begin
 * with a start code), IVCS_ERR_INCOMPLETE if the end of the AU is not in the
 * buffer yet and eof is 0, or IVCS_ERR_BAD_ANNEXB. A new AU begins at an
 * AUD, at a VPS/SPS/PPS/SEI/prefix NAL after a slice, or at a slice whose
 * first_mb_in_slice == 0 (H.264) / first_slice_segment_in_pic_flag == 1
 * (H.265) after a slice.
 * Precisely (H.264 7.4.1.2.3, H.265 7.4.2.4.4): after a slice NAL unit,
 * H.264 types 6..9 and 14..18, H.265 types 32..35, 39, 41..44, 48..55 open
 * the next AU; end of sequence/stream, filler data and suffix SEI stay with
 * the AU they follow. H.265 NAL units with nuh_layer_id > 0 never open one.
 * The AU ends where the start code (its first zero) of the next AU begins.
 * With eof 1 the last AU is the rest of the buffer. With eof 0 every cut is
 * the same as with eof 1 on a longer buffer, so a reader can feed a file in
 * pieces of any size. Interlaced streams coded as field pairs (PAFF) come
 * out one AU per field. */
int64_t ivcs_nalu_next_au(ivcs_vcodec_e codec, const uint8_t *p, size_t len, int eof);

#ifdef __cplusplus
}
#endif
#endif
