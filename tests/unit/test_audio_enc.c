/*
 * test_audio_enc.c - G.711 expansion and the G.711/PCM -> AAC encoder
 * (engine/codec/g711.c, aac_enc.c), checked with ffmpeg/ffprobe:
 *  - all 256 A-law and mu-law codes expand exactly as ffmpeg's pcm_alaw /
 *    pcm_mulaw decoders do;
 *  - the test clips (ffmpeg-made G.711 and PCM) encode to ADTS streams our
 *    own parser accepts frame by frame, that ffprobe counts frame for frame
 *    and ffmpeg decodes silently, and whose decoded audio is the input
 *    delayed by IVCS_AAC_ENC_DELAY samples (correlation > 0.9);
 *  - every byte the encoder holds comes from the allocator given, is
 *    counted by ivcs_aac_enc_bytes and given back; a failing allocator at
 *    each of its allocations gives IV_ERR_SYS_MALLOC_FAIL and no leak;
 *  - bad parameters are refused.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "engine/codec/aac_enc.h"
#include "engine/codec/adts.h"
#include "engine/codec/g711.h"
#include "engine/core/counting_alloc.h"
#include "iv_err.h"

static char tmpdir[] = "/tmp/ivcs-audio-enc-XXXXXX";

static const char *tmp(const char *name)
{
    static char path[2][512];
    static int k;
    k ^= 1;
    snprintf(path[k], sizeof path[k], "%s/%s", tmpdir, name);
    return path[k];
}

static int write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(p, 1, n, f);
    return fclose(f) == 0 && w == n ? 0 : -1;
}

static int run(const char *cmd)
{
    int rc = system(cmd);
    if (rc != 0) fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
    return rc;
}

TEST(g711_all_codes_match_ffmpeg)
{
    uint8_t codes[256];
    for (int i = 0; i < 256; i++) codes[i] = (uint8_t)i;
    CHECK_EQ(write_file(tmp("codes"), codes, sizeof codes), 0);
    static const struct {
        const char *fmt;
        void (*expand)(const uint8_t *, int16_t *, size_t);
    } laws[] = {{"alaw", ivcs_g711_alaw_expand}, {"mulaw", ivcs_g711_ulaw_expand}};
    for (unsigned l = 0; l < 2; l++) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -v error -y -f %s -ar 8000 -ac 1 -i %s -f s16le %s",
                 laws[l].fmt, tmp("codes"), tmp("ref.s16le"));
        CHECK_EQ(run(cmd), 0);
        size_t n = 0;
        uint8_t *ref = check_read_file(tmp("ref.s16le"), &n);
        CHECK(ref != NULL);
        CHECK_EQ(n, 512);
        int16_t mine[256];
        laws[l].expand(codes, mine, 256);
        int diff = 0;
        for (int i = 0; ref && n == 512 && i < 256; i++) {
            int16_t r = (int16_t)(ref[2 * i] | ref[2 * i + 1] << 8);
            diff += r != mine[i];
        }
        CHECK_EQ(diff, 0);
        free(ref);
    }
}

/* Decoded (ffmpeg) vs input, both as doubles, input delayed by `delay`. */
static double correlation(const int16_t *in, size_t n_in, const int16_t *out, size_t n_out,
                          size_t delay)
{
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i + delay < n_out && i < n_in; i++) {
        double x = in[i], y = out[i + delay];
        sxy += x * y;
        sxx += x * x;
        syy += y * y;
    }
    return sxx > 0 && syy > 0 ? sxy / sqrt(sxx * syy) : 0;
}

/* Encodes a whole clip frame by frame (+ 2 silent frames to flush the
 * delay) through a counting allocator, then checks it with our parser,
 * ffprobe and a decode. */
static void encode_clip(const char *clip, iv_cm_aenc_type_e type, uint32_t rate, unsigned ch,
                        const char *ref_s16le)
{
    size_t len = 0;
    uint8_t *in = check_read_file(check_media(clip), &len);
    CHECK(in != NULL);
    if (!in) return;
    ivcs_counting_alloc_s ca;
    CHECK_EQ(ivcs_counting_alloc_init(&ca, &check_alloc), 0);
    ivcs_aac_enc_s *e = NULL;
    CHECK_EQ(ivcs_aac_enc_new(&ca.allocator, type, rate, ch, &e), 0);
    if (!e) {
        free(in);
        return;
    }
    ivcs_counting_stats_s st;
    ivcs_counting_alloc_stats(&ca, &st);
    CHECK_EQ((long long)ivcs_aac_enc_bytes(e), st.live_bytes);
    fprintf(stderr, "  %s: encoder holds %zu B in %lld blocks\n", clip, ivcs_aac_enc_bytes(e),
            (long long)st.live_blocks);

    uint32_t fb = ivcs_aac_enc_frame_bytes(type, ch);
    size_t frames = len / fb;
    size_t cap = IVCS_AAC_ENC_MAX_FRAME(ch);
    uint8_t *aac = malloc((frames + 2) * cap), *out = malloc(cap);
    size_t alen = 0;
    int bad = 0;
    /* encoding allocates nothing */
    CHECK_EQ(ivcs_counting_alloc_set_mode(&ca, IVCS_COUNTING_FORBID), 0);
    for (size_t i = 0; i < frames + 2; i++) {
        int n = ivcs_aac_enc_encode(e, i < frames ? in + i * fb : NULL, out, cap);
        ivcs_adts_hdr_s h;
        if (n <= 0 || ivcs_adts_parse(out, (size_t)n, &h) != n || h.sample_rate != rate ||
            h.channel_config != ch || h.profile != 1 || h.samples != 1024) {
            bad++;
            continue;
        }
        memcpy(aac + alen, out, (size_t)n);
        alen += (size_t)n;
    }
    CHECK_EQ(ivcs_counting_alloc_set_mode(&ca, IVCS_COUNTING_ALLOW), 0);
    CHECK_EQ(bad, 0);
    CHECK_EQ(ivcs_aac_enc_frames(e), frames + 2);
    CHECK_EQ(ivcs_aac_enc_encode(e, in, out, cap - 1), IVCS_ERR_INVALID_ARG);
    ivcs_aac_enc_free(e);
    ivcs_counting_alloc_stats(&ca, &st);
    CHECK_EQ(st.live_bytes, 0);
    CHECK_EQ(st.violations, 0);
    CHECK_EQ(write_file(tmp("out.aac"), aac, alen), 0);

    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "ffprobe -v error -count_frames -select_streams a -show_entries "
             "stream=codec_name,sample_rate,channels,nb_read_frames -of csv=p=0 %s > %s",
             tmp("out.aac"), tmp("probe.txt"));
    CHECK_EQ(run(cmd), 0);
    size_t plen = 0;
    char *probe = (char *)check_read_file(tmp("probe.txt"), &plen);
    char want[128];
    snprintf(want, sizeof want, "aac,%u,%u,%zu", rate, ch, frames + 2);
    CHECK(probe && !strncmp(probe, want, strlen(want)));
    if (probe && strncmp(probe, want, strlen(want)))
        fprintf(stderr, "  ffprobe: %s  wanted: %s\n", probe, want);
    free(probe);
    snprintf(cmd, sizeof cmd, "ffmpeg -nostdin -v error -y -i %s -f s16le %s", tmp("out.aac"),
             tmp("dec.s16le"));
    CHECK_EQ(run(cmd), 0); /* -v error: any decode complaint fails it */

    /* the decoded audio is the input (as ffmpeg itself decodes it, for
     * G.711), IVCS_AAC_ENC_DELAY samples later; per channel 0 */
    size_t dlen = 0, rlen = 0;
    uint8_t *dec = check_read_file(tmp("dec.s16le"), &dlen);
    uint8_t *ref = ref_s16le ? check_read_file(check_media(ref_s16le), &rlen) : in;
    if (!ref_s16le) rlen = len;
    CHECK(dec && ref);
    if (dec && ref) {
        size_t ni = rlen / 2 / ch, no = dlen / 2 / ch;
        int16_t *x = malloc(ni * sizeof *x), *y = malloc(no * sizeof *y);
        for (size_t i = 0; i < ni; i++) memcpy(&x[i], ref + 2 * i * ch, 2);
        for (size_t i = 0; i < no; i++) memcpy(&y[i], dec + 2 * i * ch, 2);
        CHECK_EQ(no, (frames + 2) * 1024);
        double at = correlation(x, ni, y, no, IVCS_AAC_ENC_DELAY);
        double off = correlation(x, ni, y, no, IVCS_AAC_ENC_DELAY + 9);
        fprintf(stderr, "  %s: correlation %.4f at the delay, %.4f 9 samples off\n", clip, at,
                off);
        CHECK(at > 0.9);
        CHECK(at > off);
        free(x);
        free(y);
    }
    free(dec);
    if (ref != in) free(ref);
    free(aac);
    free(out);
    free(in);
}

TEST(encode_g711a_8k) { encode_clip("clip_alaw.alaw", IV_CM_AENC_TYPE_G711A, 8000, 1, "clip_alaw.ref.s16le"); }
TEST(encode_g711u_8k) { encode_clip("clip_ulaw.ulaw", IV_CM_AENC_TYPE_G711U, 8000, 1, "clip_ulaw.ref.s16le"); }
TEST(encode_pcm_16k) { encode_clip("clip_pcm16k.s16le", IV_CM_AENC_TYPE_PCM, 16000, 1, NULL); }
TEST(encode_pcm_48k_stereo)
{
    encode_clip("clip_pcm48k_stereo.s16le", IV_CM_AENC_TYPE_PCM, 48000, 2, NULL);
}

TEST(allocation_failures_leak_nothing)
{
    ivcs_counting_alloc_s ca;
    CHECK_EQ(ivcs_counting_alloc_init(&ca, &check_alloc), 0);
    ivcs_aac_enc_s *e = NULL;
    int n_ok = -1;
    for (int64_t k = 0; k < 64 && n_ok < 0; k++) {
        ivcs_counting_alloc_fail_after(&ca, k);
        int rc = ivcs_aac_enc_new(&ca.allocator, IV_CM_AENC_TYPE_G711A, 8000, 1, &e);
        ivcs_counting_alloc_fail_after(&ca, -1);
        ivcs_counting_stats_s st;
        if (rc == 0) {
            n_ok = (int)k;
            ivcs_aac_enc_free(e);
        } else {
            CHECK_EQ(rc, IV_ERR_SYS_MALLOC_FAIL);
            CHECK(e == NULL);
        }
        ivcs_counting_alloc_stats(&ca, &st);
        CHECK_EQ(st.live_bytes, 0);
    }
    fprintf(stderr, "  succeeds from %d allocations on\n", n_ok);
    CHECK(n_ok > 1);
}

TEST(bad_parameters)
{
    ivcs_aac_enc_s *e = (ivcs_aac_enc_s *)1;
    CHECK_EQ(ivcs_aac_enc_new(&check_alloc, IV_CM_AENC_TYPE_AAC, 8000, 1, &e),
             IVCS_ERR_INVALID_ARG);
    CHECK(e == NULL);
    CHECK_EQ(ivcs_aac_enc_new(&check_alloc, IV_CM_AENC_TYPE_G726, 8000, 1, &e),
             IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_aac_enc_new(&check_alloc, IV_CM_AENC_TYPE_PCM, 7000, 1, &e),
             IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_aac_enc_new(&check_alloc, IV_CM_AENC_TYPE_PCM, 96000, 1, &e),
             IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_aac_enc_new(&check_alloc, IV_CM_AENC_TYPE_PCM, 8000, 3, &e),
             IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_aac_enc_new(NULL, IV_CM_AENC_TYPE_PCM, 8000, 1, &e), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_aac_enc_frame_bytes(IV_CM_AENC_TYPE_G711U, 2), 2048);
    CHECK_EQ(ivcs_aac_enc_frame_bytes(IV_CM_AENC_TYPE_PCM, 2), 4096);
    CHECK_EQ(ivcs_aac_enc_frame_bytes(IV_CM_AENC_TYPE_AAC, 1), 0);
    CHECK_EQ(ivcs_aac_enc_encode(NULL, NULL, NULL, 0), IVCS_ERR_INVALID_ARG);
    ivcs_aac_enc_free(NULL);
}

int main(void)
{
    if (!mkdtemp(tmpdir)) return 1;
    RUN(g711_all_codes_match_ffmpeg);
    RUN(encode_g711a_8k);
    RUN(encode_g711u_8k);
    RUN(encode_pcm_16k);
    RUN(encode_pcm_48k_stereo);
    RUN(allocation_failures_leak_nothing);
    RUN(bad_parameters);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
    (void)!system(cmd);
    return check_done();
}
