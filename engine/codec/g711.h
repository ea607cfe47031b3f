/*
 * g711.h - ITU-T G.711 A-law and mu-law expansion to 16-bit linear PCM.
 *
 * Every byte value is a valid code, so there is nothing to validate: this
 * is a table-free bit expansion (the classic segment/mantissa formulas),
 * checked sample-for-sample against ffmpeg's pcm_alaw / pcm_mulaw decoders
 * in tests/unit/test_audio_enc.c.
 */
#ifndef IVCS_CODEC_G711_H
#define IVCS_CODEC_G711_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One A-law / mu-law code to linear PCM (range -32256..32256 / -32124..32124). */
int16_t ivcs_g711_alaw_to_s16(uint8_t code);
int16_t ivcs_g711_ulaw_to_s16(uint8_t code);

/* n codes from in to n samples in out (the buffers must not overlap). */
void ivcs_g711_alaw_expand(const uint8_t *in, int16_t *out, size_t n);
void ivcs_g711_ulaw_expand(const uint8_t *in, int16_t *out, size_t n);

#ifdef __cplusplus
}
#endif
#endif
