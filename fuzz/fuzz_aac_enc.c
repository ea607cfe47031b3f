/*
 * fuzz_aac_enc.c - libFuzzer harness for engine/codec/aac_enc.c (and the
 * G.711 expanders it calls): any bytes are valid G.711 or PCM, so this
 * feeds arbitrary audio through libvo-aacenc, third-party code that sees
 * whatever a firmware pushes.
 *
 * Byte 0 picks the format (PCM / G.711A / G.711U), the channel count and
 * one of the nine rates; the rest is cut into input frames (the last one
 * zero-padded; at most 6 frames, then 2 silent ones as the engine's flush).
 * Aborts when an output frame is not one valid ADTS frame of that rate and
 * channel count, longer than IVCS_AAC_ENC_MAX_FRAME, or when the encoder
 * keeps or leaks a byte of its allocator.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/codec/aac_enc.h"
#include "engine/codec/adts.h"
#include "engine/core/alloc.h"
#include "engine/core/counting_alloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ENSURE(c)                                                                                  \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

static const uint32_t rates[9] = {8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000};
static const iv_cm_aenc_type_e types[3] = {IV_CM_AENC_TYPE_PCM, IV_CM_AENC_TYPE_G711A,
                                           IV_CM_AENC_TYPE_G711U};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    iv_cm_aenc_type_e type = types[data[0] % 3];
    unsigned ch = (data[0] / 3) % 2 + 1;
    uint32_t rate = rates[(data[0] / 6) % 9];
    data++;
    size--;
    ivcs_counting_alloc_s ca;
    ENSURE(ivcs_counting_alloc_init(&ca, ivcs_allocator_libc()) == 0);
    ivcs_aac_enc_s *e = NULL;
    ENSURE(ivcs_aac_enc_new(&ca.allocator, type, rate, ch, &e) == 0);
    uint32_t fb = ivcs_aac_enc_frame_bytes(type, ch);
    static uint8_t in[4096];
    static uint8_t out[IVCS_AAC_ENC_MAX_FRAME(2)];
    size_t frames = (size + fb - 1) / fb;
    if (frames > 6) frames = 6;
    for (size_t i = 0; i < frames + 2; i++) {
        const uint8_t *p = NULL;
        if (i < frames) {
            size_t off = i * fb, n = size - off < fb ? size - off : fb;
            memset(in, 0, fb);
            memcpy(in, data + off, n);
            p = in;
        }
        int n = ivcs_aac_enc_encode(e, p, out, sizeof out);
        ENSURE(n > 0 && (size_t)n <= IVCS_AAC_ENC_MAX_FRAME(ch));
        ivcs_adts_hdr_s h;
        ENSURE(ivcs_adts_parse(out, (size_t)n, &h) == n);
        ENSURE(h.sample_rate == rate && h.channel_config == ch && h.samples == 1024);
    }
    ENSURE(ivcs_aac_enc_frames(e) == frames + 2);
    ivcs_aac_enc_free(e);
    ivcs_counting_stats_s st;
    ivcs_counting_alloc_stats(&ca, &st);
    ENSURE(st.live_bytes == 0 && st.live_blocks == 0);
    return 0;
}
