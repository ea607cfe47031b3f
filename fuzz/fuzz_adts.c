/*
 * fuzz_adts.c - libFuzzer harness for engine/codec/adts.c.
 *
 * Parses the input as a run of ADTS frames and validates it as one buffer;
 * aborts when the two disagree or a result breaks the contract of adts.h.
 */
#include <stdint.h>
#include <stdlib.h>

#include "engine/codec/adts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ENSURE(c)                                                                                  \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ivcs_adts_hdr_s first = {0}, h;
    size_t off = 0;
    int frames = 0, err = 0, mismatch = 0;
    while (off < size) {
        int r = ivcs_adts_parse(data + off, size - off, &h);
        if (r < 0) {
            ENSURE(r == IVCS_ERR_BAD_ADTS || r == IVCS_ERR_INCOMPLETE);
            err = r;
            break;
        }
        ENSURE(r >= h.header_len && (size_t)r <= size - off && r == h.frame_len);
        ENSURE(h.sr_index <= 12 && h.channel_config >= 1 && h.channel_config <= 7);
        ENSURE(h.samples == 1024u * h.raw_blocks && h.sample_rate >= 7350);
        if (frames == 0)
            first = h;
        else if (h.profile != first.profile || h.sr_index != first.sr_index ||
                 h.channel_config != first.channel_config)
            mismatch = 1;
        if (mismatch) break;
        frames++;
        off += (size_t)r;
    }
    ivcs_adts_hdr_s vf;
    int v = ivcs_adts_validate(data, size, &vf);
    if (size == 0)
        ENSURE(v == IVCS_ERR_EMPTY_FRAME);
    else if (mismatch)
        ENSURE(v == IVCS_ERR_BAD_ADTS);
    else if (err)
        ENSURE(v == err);
    else
        ENSURE(v == frames && vf.frame_len == first.frame_len);
    return 0;
}
