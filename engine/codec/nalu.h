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

#include "ivcs.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { IVCS_CODEC_H264 = 0, IVCS_CODEC_H265 = 1 } ivcs_vcodec_e;

/* Offset of the next start code (00 00 01, or 00 00 00 01: then the offset of
 * its first zero) at or after p; len if there is none. *sc_len gets 3 or 4
 * (0 when none). The hot scanner of the project: memchr-speed. */
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
 * buffer does not begin with a start code or holds an empty NAL unit. */
int ivcs_nalu_next(ivcs_vcodec_e codec, const uint8_t *p, size_t len, size_t *pos,
                   ivcs_nalu_s *nal);

/* What one access unit (a frame as pushed by the firmware) contains. */
typedef struct ivcs_frame_info_s {
    uint8_t is_key;     /* IDR (H.264 type 5; H.265 types 16..21: BLA/IDR/CRA) */
    uint8_t has_aud;    /* the first NAL unit is an access unit delimiter */
    uint8_t has_vps;    /* H.265 only */
    uint8_t has_sps;
    uint8_t has_pps;
    uint8_t slice_type; /* of the first slice: 0 P, 1 B, 2 I (H.264 mod 5 / H.265 values) */
    uint16_t nal_count;
    uint32_t width;     /* from the SPS when present, else 0 */
    uint32_t height;
} ivcs_frame_info_s;

/* Validates one access unit and describes it. Errors:
 *  IVCS_ERR_EMPTY_FRAME  len == 0
 *  IVCS_ERR_BAD_ANNEXB   no leading start code, empty NAL, forbidden bit set,
 *                        or no VCL (slice) NAL unit at all
 *  IVCS_ERR_B_FRAME      a slice header says B
 *  IVCS_ERR_BAD_SPS      an SPS that cannot be parsed (for width/height)
 *  IVCS_ERR_NO_PARAMS    a key frame without SPS+PPS (+VPS for H.265)
 */
int ivcs_nalu_frame_info(ivcs_vcodec_e codec, const uint8_t *p, size_t len,
                         ivcs_frame_info_s *info);

/* Splits an Annex-B elementary stream (a file) into access units.
 * Returns the length of the access unit starting at p (which must begin
 * with a start code), IVCS_ERR_INCOMPLETE if the end of the AU is not in the
 * buffer yet and eof is 0, or IVCS_ERR_BAD_ANNEXB. A new AU begins at an
 * AUD, at a VPS/SPS/PPS/SEI/prefix NAL after a slice, or at a slice whose
 * first_mb_in_slice == 0 (H.264) / first_slice_segment_in_pic_flag == 1
 * (H.265) after a slice. */
int64_t ivcs_nalu_next_au(ivcs_vcodec_e codec, const uint8_t *p, size_t len, int eof);

#ifdef __cplusplus
}
#endif
#endif
