/*
 * fuzz_mux.c - the TS muxer fed arbitrary frames.
 *
 * Input layout: byte 0 picks the codecs (bit 0: H.265, bit 1: with audio),
 * byte 1 the read size (188..1692, odd sizes included); then records of
 *   control (bits 0-1 stream, 0/1 valid, 2/3 invalid; bit 2 key;
 *            bit 3 length x 64), length (2 bytes LE), PTS step (2 bytes LE),
 * each followed by `length` bytes of frame data (fewer if the input ends).
 * The frames point into the input, so an over-read hits ASan.
 *
 * Checked: the predicted size equals the bytes produced, both are a multiple
 * of 188 with 0x47 every 188 bytes, PIDs are the four of the layout,
 * continuity counters run on across two consecutive slices, a retry gives
 * the same bytes, and the size pass and the writer fail alike.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/mux/ts_mux.h"

#define MAX_FRAMES 512

#define ENSURE(c)                                                                                  \
    do {                                                                                           \
        if (!(c)) abort();                                                                         \
    } while (0)

typedef struct {
    int cc[4]; /* PAT, PMT, video, audio; -1 unseen */
} cc_state;

static int pid_slot(int pid)
{
    switch (pid) {
    case 0:
        return 0;
    case IVCS_TS_PID_PMT:
        return 1;
    case IVCS_TS_PID_VIDEO:
        return 2;
    case IVCS_TS_PID_AUDIO:
        return 3;
    default:
        return -1;
    }
}

static void check_packets(const uint8_t *p, size_t n, cc_state *st, int audio)
{
    ENSURE(n % IVCS_TS_PACKET == 0);
    for (size_t i = 0; i < n; i += IVCS_TS_PACKET) {
        ENSURE(p[i] == 0x47);
        int pid = (p[i + 1] & 0x1F) << 8 | p[i + 2];
        int slot = pid_slot(pid);
        ENSURE(slot >= 0);
        ENSURE(audio || slot != 3);
        int afc = (p[i + 3] >> 4) & 3, cc = p[i + 3] & 15;
        ENSURE(afc == 1 || afc == 3);
        if (afc == 3) ENSURE(p[i + 4] <= 183);
        if (st->cc[slot] >= 0) ENSURE(cc == ((st->cc[slot] + 1) & 15));
        st->cc[slot] = cc;
    }
}

static int64_t produce(ivcs_ts_mux_s *m, const ivcs_ts_src_s *src, size_t cap, uint8_t *out,
                       size_t out_cap, int commit)
{
    ivcs_ts_slice_s s;
    ENSURE(ivcs_ts_slice_begin(m, &s, src) == 0);
    uint8_t *buf = malloc(cap);
    ENSURE(buf);
    int64_t got, total = 0;
    while ((got = ivcs_ts_slice_read(&s, buf, cap)) > 0) {
        ENSURE(got % IVCS_TS_PACKET == 0 && (size_t)got <= cap);
        ENSURE((size_t)total + (size_t)got <= out_cap);
        memcpy(out + total, buf, (size_t)got);
        total += got;
    }
    free(buf);
    if (got < 0) {
        ENSURE(ivcs_ts_slice_end(m, &s) == IVCS_ERR_STATE);
        return got;
    }
    if (commit) ENSURE(ivcs_ts_slice_end(m, &s) == 0);
    return total;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    ivcs_vcodec_e vc = (data[0] & 1) ? IVCS_CODEC_H265 : IVCS_CODEC_H264;
    int audio = (data[0] >> 1) & 1;
    size_t cap = IVCS_TS_PACKET * (1 + (data[1] & 7)) + (data[1] >> 3) * 5;
    static ivcs_ts_frame_s fr[MAX_FRAMES];
    size_t n = 0, pos = 2;
    uint64_t pts = (uint64_t)data[0] << 25; /* high bits exercise the 33-bit wrap */
    while (pos + 5 <= size && n < MAX_FRAMES) {
        uint8_t c = data[pos];
        size_t len = (size_t)(data[pos + 1] | data[pos + 2] << 8);
        if (c & 8) len *= 64;
        pts += (uint64_t)(data[pos + 3] | data[pos + 4] << 8);
        pos += 5;
        if (len > size - pos) len = size - pos;
        fr[n++] = (ivcs_ts_frame_s){len ? data + pos : NULL, (uint32_t)len, (uint8_t)(c & 3),
                                    (uint8_t)((c >> 2) & 1), pts * 97};
        pos += len;
    }

    ivcs_ts_mux_s m;
    ENSURE(ivcs_ts_mux_init(&m, vc, audio ? IVCS_ACODEC_AAC : IVCS_ACODEC_NONE) == 0);
    ivcs_ts_array_src_s arr;
    ivcs_ts_src_s src;
    ivcs_ts_array_src_init(&src, &arr, fr, n);
    int64_t predicted = ivcs_ts_slice_size(&m, &src);

    /* Output bound: per frame a PES header, an AUD, a PCR adaptation field
     * and a partly empty last packet; 188/184 of the payload. */
    size_t out_cap = (size / 184 + 2 * n + 4) * IVCS_TS_PACKET + 2 * IVCS_TS_PACKET;
    uint8_t *out = malloc(out_cap);
    uint8_t *again = malloc(out_cap);
    ENSURE(out && again);
    cc_state st = {{-1, -1, -1, -1}};

    int64_t got = produce(&m, &src, cap, out, out_cap, 0);
    if (predicted < 0) {
        /* The size pass and the writer see the same frames in the same way. */
        ENSURE(got == predicted);
    } else {
        ENSURE(got == predicted);
        ENSURE(predicted >= 2 * IVCS_TS_PACKET);
        check_packets(out, (size_t)got, &st, audio);
        /* A retry from the same counters gives the same bytes. */
        int64_t got2 = produce(&m, &src, IVCS_TS_PACKET, again, out_cap, 1);
        ENSURE(got2 == got && memcmp(out, again, (size_t)got) == 0);
        /* The next slice continues the counters. */
        int64_t got3 = produce(&m, &src, cap, again, out_cap, 1);
        ENSURE(got3 == got);
        check_packets(again, (size_t)got3, &st, audio);
    }
    free(out);
    free(again);
    return 0;
}
