/*
 * fuzz_nalu.c - libFuzzer harness for engine/codec/nalu.c (and the start-code
 * scanner, startcode.c).
 *
 * Each input goes through every entry point for both codecs: the start-code
 * scanner (checked against a byte-by-byte reference), the NAL iterator,
 * frame_info on the whole input and on each access unit, and next_au with
 * eof 0 and 1. Beyond "no crash, no over-read" (ASan, exact-size buffers)
 * it aborts when an invariant of the contracts in nalu.h breaks.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/codec/nalu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ENSURE(c)                                                                                  \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

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

static void check_scan(const uint8_t *data, size_t size)
{
    /* every start code in order, as a parser walking the buffer sees them */
    size_t off = 0;
    while (off <= size) {
        size_t sc, want_sc;
        size_t got = ivcs_nalu_find_start(data + off, size - off, &sc);
        size_t want = ref_find(data + off, size - off, &want_sc);
        ENSURE(got == want && sc == want_sc);
        if (sc == 0) break;
        off += got + sc;
    }
}

static void check_codec(ivcs_vcodec_e codec, const uint8_t *data, size_t size)
{
    size_t pos = 0, prev = 0;
    ivcs_nalu_s nal;
    int r;
    while ((r = ivcs_nalu_next(codec, data, size, &pos, &nal)) == 1) {
        ENSURE(nal.data > data && nal.data + nal.len <= data + size && nal.len > 0);
        ENSURE(pos > prev && pos <= size);
        prev = pos;
    }
    ENSURE(r == 0 || r == IVCS_ERR_BAD_ANNEXB);

    ivcs_frame_info_s fi, fc;
    r = ivcs_nalu_frame_info(codec, data, size, &fi);
    if (r == 0) ENSURE(fi.nal_count > 0 && fi.width <= 65536 && fi.height <= 65536);
    /* frame_check without a context is frame_info; with one (learned from
     * the whole input, as a channel learns from its key frames) it judges
     * more slices, so it never accepts what frame_info refuses */
    ENSURE(ivcs_nalu_frame_check(codec, data, size, &fc, NULL) == r);
    static ivcs_h264_ctx_s ctx;
    memset(&ctx, 0, sizeof ctx);
    if (codec == IVCS_CODEC_H264) ivcs_nalu_h264_learn(&ctx, data, size);
    int rc = ivcs_nalu_frame_check(codec, data, size, &fc, &ctx);
    ENSURE(rc <= 0 && (rc < 0 || r == 0));

    /* Split the whole input; each AU found with eof must also be found
     * without eof unless the AU is the last one. */
    size_t off = 0;
    while (off < size) {
        int64_t n1 = ivcs_nalu_next_au(codec, data + off, size - off, 1);
        int64_t n0 = ivcs_nalu_next_au(codec, data + off, size - off, 0);
        ENSURE(n0 == IVCS_ERR_INCOMPLETE || n0 == n1);
        if (n1 <= 0) {
            ENSURE(n1 == IVCS_ERR_BAD_ANNEXB);
            break;
        }
        ENSURE((size_t)n1 <= size - off);
        if (off + (size_t)n1 < size) ENSURE(n0 == n1);
        int ra = ivcs_nalu_frame_info(codec, data + off, (size_t)n1, &fi);
        int rb = ivcs_nalu_frame_check(codec, data + off, (size_t)n1, &fc, &ctx);
        ENSURE(rb <= 0 && (rb < 0 || ra == 0));
        off += (size_t)n1;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_scan(data, size);
    check_codec(IVCS_CODEC_H264, data, size);
    check_codec(IVCS_CODEC_H265, data, size);
    return 0;
}
