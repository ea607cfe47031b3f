/*
 * adts.h - AAC ADTS frame headers (ISO/IEC 13818-7 / 14496-3).
 * Allocates nothing; reads only inside the buffer.
 */
#ifndef IVCS_CODEC_ADTS_H
#define IVCS_CODEC_ADTS_H

#include <stddef.h>
#include <stdint.h>

#include "ivcs_base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ivcs_adts_hdr_s {
    uint8_t profile;        /* audio object type - 1: 0 Main, 1 LC, 2 SSR, 3 LTP */
    uint8_t sr_index;       /* sampling_frequency_index 0..12 */
    uint8_t channel_config; /* 1..7 (0 = in-band PCE: rejected) */
    uint8_t has_crc;        /* protection_absent == 0 */
    uint8_t raw_blocks;     /* number_of_raw_data_blocks_in_frame + 1 */
    uint8_t header_len;     /* 7, or 9 with CRC (with CRC and several raw data blocks,
                             * 2 bytes per extra block of positions come first) */
    uint16_t frame_len;     /* whole frame including header */
    uint32_t sample_rate;   /* Hz */
    uint32_t samples;       /* 1024 * raw_blocks */
} ivcs_adts_hdr_s;

/* Parses the ADTS header at p. Returns the frame length (> 0) when the
 * header is valid and the whole frame is inside [p, p+len);
 * IVCS_ERR_INCOMPLETE when more bytes are needed (fewer than 7, or the
 * frame runs past len); IVCS_ERR_BAD_ADTS for no sync word, layer != 0,
 * reserved sampling index, channel config 0, frame_len < header_len (plus
 * the block positions, see header_len). The bytes present are judged first:
 * a first byte that is not 0xFF is IVCS_ERR_BAD_ADTS even when len < 7.
 * MPEG-2 and MPEG-4 IDs are both accepted; the CRC is not verified (the
 * decoder does that). hdr may be NULL. IVCS_ERR_INVALID_ARG for p NULL with
 * len > 0. */
int ivcs_adts_parse(const uint8_t *p, size_t len, ivcs_adts_hdr_s *hdr);

/* Validates a buffer holding one or more whole ADTS frames that must all
 * share the first one's profile, rate and channels. Returns the number of
 * frames, or IVCS_ERR_BAD_ADTS / IVCS_ERR_INCOMPLETE (trailing garbage or a
 * truncated last frame), IVCS_ERR_EMPTY_FRAME for len 0 or p NULL. *first
 * gets the first header (first may be NULL). Frames with and without CRC
 * may be mixed. */
int ivcs_adts_validate(const uint8_t *p, size_t len, ivcs_adts_hdr_s *first);

#ifdef __cplusplus
}
#endif
#endif
