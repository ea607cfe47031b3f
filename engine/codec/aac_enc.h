/*
 * aac_enc.h - G.711A / G.711U / PCM frames to AAC-LC ADTS frames, for
 * channels whose firmware pushes uncompressed or G.711 audio.
 *
 * MPEG-TS has no stream type that players (or ffmpeg) read back for G.711
 * or raw PCM, so the engine transcodes on its own thread: each pushed frame
 * of 1024 samples per channel becomes one AAC-LC frame with an ADTS header,
 * which the slicer and the TS muxer then treat like pushed AAC.
 *
 * The encoder is VisualOn's (libvo-aacenc, Apache-2.0, Debian main). Its
 * memory operator has no user pointer, so the allocator hook is handed to
 * it through a thread-local set only around its Init and Uninit; every
 * byte it holds (~48 KiB, measured by ivcs_aac_enc_bytes) comes from the
 * channel's allocator at channel open, and encoding allocates nothing.
 *
 * Delay: what a decoder plays as sample n of AAC frame k is input sample
 * k*1024 + n - IVCS_AAC_ENC_DELAY (1600 samples for this encoder, measured
 * at 8, 16 and 48 kHz by cross-correlation; tests/python/test_cloud_audio.py
 * checks the lip-sync end to end). The engine stamps each AAC frame with
 * its input frame's PTS minus that delay.
 */
#ifndef IVCS_CODEC_AAC_ENC_H
#define IVCS_CODEC_AAC_ENC_H

#include <stddef.h>
#include <stdint.h>

#include "iv_cm.h"
#include "ivcs_base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IVCS_AAC_ENC_FRAME_SAMPLES 1024 /* per channel, in and out */
#define IVCS_AAC_ENC_DELAY 1600         /* samples, see above */
/* Room for one output frame: AAC-LC carries at most 6144 bits per channel
 * per frame, plus the 7-byte ADTS header (and slack the encoder asks for). */
#define IVCS_AAC_ENC_MAX_FRAME(ch) (768u * (ch) + 64u)

typedef struct ivcs_aac_enc_s ivcs_aac_enc_s;

/* 1 if ivcs transcodes this audio type (G711A, G711U, PCM), else 0. */
int ivcs_aac_enc_handles(iv_cm_aenc_type_e type);

/* Bytes of one input frame: 1024 samples per channel, 1 byte per G.711
 * sample, 2 (signed 16-bit little-endian, interleaved) per PCM sample.
 * 0 for a type this module does not handle or channels not 1/2. */
uint32_t ivcs_aac_enc_frame_bytes(iv_cm_aenc_type_e type, unsigned channels);

/* 1 if the encoder takes this rate (8000..48000 of the AAC rates). */
int ivcs_aac_enc_rate_ok(uint32_t rate);

/* The bit rate used: 2 bits per sample per channel, 16..64 kbit/s per channel. */
uint32_t ivcs_aac_enc_bitrate(uint32_t rate, unsigned channels);

/* Creates an encoder for type/rate/channels whose memory all comes from a
 * (kept, must outlive the encoder). 0, IVCS_ERR_INVALID_ARG (NULL, a type
 * not handled, a rate not taken, channels not 1/2), IV_ERR_SYS_MALLOC_FAIL,
 * IVCS_ERR_UNSUPPORTED (the library refused the parameters). */
int ivcs_aac_enc_new(const ivcs_allocator_s *a, iv_cm_aenc_type_e type, uint32_t rate,
                     unsigned channels, ivcs_aac_enc_s **out);

/* Everything the encoder holds from its allocator, in bytes. */
size_t ivcs_aac_enc_bytes(const ivcs_aac_enc_s *e);

/* Encodes one input frame of ivcs_aac_enc_frame_bytes() bytes (NULL:
 * a frame of silence, used to flush the delay) into out (cap >=
 * IVCS_AAC_ENC_MAX_FRAME(channels)). Returns the ADTS frame length (> 0)
 * or IVCS_ERR_INVALID_ARG / IVCS_ERR_STATE (the library failed). Engine
 * thread only (one thread at a time per encoder); allocates nothing. */
int ivcs_aac_enc_encode(ivcs_aac_enc_s *e, const uint8_t *in, uint8_t *out, size_t cap);

/* Input frames encoded so far (silence included). */
uint64_t ivcs_aac_enc_frames(const ivcs_aac_enc_s *e);

/* The delay in 90 kHz ticks (rounded) and in ms (rounded) at the rate. */
uint64_t ivcs_aac_enc_delay_90k(const ivcs_aac_enc_s *e);
uint32_t ivcs_aac_enc_delay_ms(const ivcs_aac_enc_s *e);

/* Frees the encoder and everything it holds. NULL is a no-op. */
void ivcs_aac_enc_free(ivcs_aac_enc_s *e);

#ifdef __cplusplus
}
#endif
#endif
