/*
 * adts.c - AAC ADTS frame headers (see adts.h).
 *
 * adts_fixed_header + adts_variable_header, 56 bits:
 *   syncword 12 | ID 1 | layer 2 | protection_absent 1 | profile 2 |
 *   sampling_frequency_index 4 | private 1 | channel_configuration 3 |
 *   original/copy 1 | home 1 | copyright_id_bit 1 | copyright_id_start 1 |
 *   aac_frame_length 13 | adts_buffer_fullness 11 |
 *   number_of_raw_data_blocks_in_frame 2
 * then, when protection_absent == 0, a 16-bit CRC (and for several raw data
 * blocks their positions, 16 bits each, before it).
 */
#include "engine/codec/adts.h"

#include <limits.h>
#include <string.h>

static const uint32_t adts_rates[13] = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                        22050, 16000, 12000, 11025, 8000,  7350};

int ivcs_adts_parse(const uint8_t *p, size_t len, ivcs_adts_hdr_s *hdr)
{
    if (!p && len) return IVCS_ERR_INVALID_ARG;
    /* Judge what is there before asking for more: a stream that has lost
     * sync must be reported as such, not as "incomplete", as soon as the
     * first bytes show it. */
    if (len >= 1 && p[0] != 0xFF) return IVCS_ERR_BAD_ADTS;
    if (len >= 2 && (p[1] & 0xF6) != 0xF0) return IVCS_ERR_BAD_ADTS; /* sync low bits, layer */
    if (len < 7) return IVCS_ERR_INCOMPLETE;

    unsigned has_crc = !(p[1] & 1);
    unsigned profile = p[2] >> 6;
    unsigned sr_index = (p[2] >> 2) & 0x0F;
    unsigned channels = (unsigned)((p[2] & 1) << 2) | (p[3] >> 6);
    unsigned frame_len = (unsigned)((p[3] & 3) << 11) | (unsigned)(p[4] << 3) | (p[5] >> 5);
    unsigned raw_blocks = (p[6] & 3) + 1u;
    unsigned header_len = has_crc ? 9 : 7;
    /* With a CRC, frames of several raw data blocks also carry the block
     * positions: a frame must at least hold its whole header. */
    unsigned min_len = header_len + (has_crc ? 2 * (raw_blocks - 1) : 0);

    if (sr_index > 12) return IVCS_ERR_BAD_ADTS;
    if (channels == 0) return IVCS_ERR_BAD_ADTS;
    if (frame_len < min_len) return IVCS_ERR_BAD_ADTS;
    if (frame_len > len) return IVCS_ERR_INCOMPLETE;

    if (hdr) {
        hdr->profile = (uint8_t)profile;
        hdr->sr_index = (uint8_t)sr_index;
        hdr->channel_config = (uint8_t)channels;
        hdr->has_crc = (uint8_t)has_crc;
        hdr->raw_blocks = (uint8_t)raw_blocks;
        hdr->header_len = (uint8_t)header_len;
        hdr->frame_len = (uint16_t)frame_len;
        hdr->sample_rate = adts_rates[sr_index];
        hdr->samples = 1024u * raw_blocks;
    }
    return (int)frame_len;
}

int ivcs_adts_validate(const uint8_t *p, size_t len, ivcs_adts_hdr_s *first)
{
    if (!p || len == 0) return IVCS_ERR_EMPTY_FRAME;
    ivcs_adts_hdr_s f, h;
    size_t off = 0;
    int n = 0;
    while (off < len) {
        int r = ivcs_adts_parse(p + off, len - off, n == 0 ? &f : &h);
        if (r < 0) return r;
        if (n == 0) {
            if (first) *first = f;
        } else if (h.profile != f.profile || h.sr_index != f.sr_index ||
                   h.channel_config != f.channel_config) {
            return IVCS_ERR_BAD_ADTS;
        }
        if (n == INT_MAX) return IVCS_ERR_BAD_ADTS; /* frames are >= 7 bytes: needs 14 GB */
        n++;
        off += (size_t)r;
    }
    return n;
}
