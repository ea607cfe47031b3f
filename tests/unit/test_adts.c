/*
 * test_adts.c - AAC ADTS headers (engine/codec/adts.c).
 *
 * Hand-made headers for every field and every error; the AAC clip of
 * scripts/make-media ($IVCS_MEDIA_DIR/clip_aac.aac) checked against what
 * ffprobe reports; a CRC-protected copy of that clip (the clip's own
 * clip_aac_crc.aac when make-media provides one, else rewritten here and
 * checked with ffprobe too). Inputs are placed against guard pages.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "engine/codec/adts.h"
#include "guard.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

typedef struct {
    unsigned id;      /* 0 MPEG-4, 1 MPEG-2 */
    unsigned layer;   /* must be 0 */
    unsigned crc;     /* 1: protection_absent = 0 */
    unsigned profile; /* 0..3 */
    unsigned sr;      /* sampling_frequency_index */
    unsigned ch;      /* channel_configuration */
    unsigned len;     /* aac_frame_length */
    unsigned blocks;  /* number_of_raw_data_blocks_in_frame + 1 */
} hdr_p;

/* Writes a whole frame (header, payload of 0x5A) of p->len bytes, or just
 * the header when p->len is shorter. Returns the bytes written. */
static size_t make_frame(uint8_t *b, const hdr_p *p)
{
    b[0] = 0xFF;
    b[1] = (uint8_t)(0xF0 | p->id << 3 | p->layer << 1 | (p->crc ? 0 : 1));
    b[2] = (uint8_t)(p->profile << 6 | p->sr << 2 | (p->ch >> 2 & 1));
    b[3] = (uint8_t)((p->ch & 3) << 6 | (p->len >> 11 & 3));
    b[4] = (uint8_t)(p->len >> 3);
    b[5] = (uint8_t)((p->len & 7) << 5 | 0x1F); /* buffer fullness 0x7FF: VBR */
    b[6] = (uint8_t)(0xFC | (p->blocks - 1));
    size_t hl = p->crc ? 9 : 7;
    if (p->crc) {
        b[7] = 0xAB;
        b[8] = 0xCD;
    }
    size_t n = p->len > hl ? p->len : hl;
    for (size_t i = hl; i < n; i++)
        b[i] = 0x5A;
    return n;
}

static const hdr_p lc48 = {0, 0, 0, 1, 3, 2, 300, 1};

/* ------------------------------------------------------------- ffprobe */

static int ffprobe_audio(const char *path, unsigned *rate, unsigned *ch, unsigned *packets,
                         char *profile, size_t cap)
{
    char cmd[8192], out[1024];
    snprintf(cmd, sizeof cmd,
             "ffprobe -v error -count_packets -select_streams a:0 -show_entries "
             "stream=nb_read_packets,sample_rate,channels,profile -of default=nw=1 '%s'",
             path);
    FILE *f = popen(cmd, "r");
    if (!f) return -1;
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = 0;
    if (pclose(f) != 0) return -1;
    int got = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        got += sscanf(line, "sample_rate=%u", rate) == 1;
        got += sscanf(line, "channels=%u", ch) == 1;
        got += sscanf(line, "nb_read_packets=%u", packets) == 1;
        if (strncmp(line, "profile=", 8) == 0) {
            snprintf(profile, cap, "%s", line + 8);
            got++;
        }
    }
    return got == 4 ? 0 : -1;
}

/* ---------------------------------------------------------------- parse */

TEST(parse_reads_every_field)
{
    uint8_t b[2048];
    for (unsigned profile = 0; profile < 4; profile++) {
        for (unsigned ch = 1; ch <= 7; ch++) {
            for (unsigned blocks = 1; blocks <= 4; blocks++) {
                hdr_p p = {profile & 1, 0, 0, profile, 3, ch, 100 + 37 * ch + blocks, blocks};
                size_t n = make_frame(b, &p);
                ivcs_adts_hdr_s h;
                memset(&h, 0xEE, sizeof h);
                CHECK_EQ(ivcs_adts_parse(b, n, &h), (int)p.len);
                CHECK_EQ(h.profile, profile);
                CHECK_EQ(h.sr_index, 3);
                CHECK_EQ(h.sample_rate, 48000);
                CHECK_EQ(h.channel_config, ch);
                CHECK_EQ(h.has_crc, 0);
                CHECK_EQ(h.header_len, 7);
                CHECK_EQ(h.frame_len, p.len);
                CHECK_EQ(h.raw_blocks, blocks);
                CHECK_EQ(h.samples, 1024 * blocks);
            }
        }
    }
    /* the largest frame the 13-bit field allows */
    static uint8_t big[8191];
    hdr_p p = lc48;
    p.len = 8191;
    make_frame(big, &p);
    CHECK_EQ(ivcs_adts_parse(big, sizeof big, NULL), 8191);
}

TEST(parse_maps_every_sampling_index_and_rejects_reserved_ones)
{
    static const unsigned rates[13] = {96000, 88200, 64000, 48000, 44100, 32000, 24000,
                                       22050, 16000, 12000, 11025, 8000,  7350};
    uint8_t b[512];
    for (unsigned sr = 0; sr < 16; sr++) {
        hdr_p p = lc48;
        p.sr = sr;
        size_t n = make_frame(b, &p);
        ivcs_adts_hdr_s h;
        int r = ivcs_adts_parse(b, n, &h);
        if (sr < 13) {
            CHECK_EQ(r, 300);
            CHECK_EQ(h.sample_rate, rates[sr]);
        } else {
            CHECK_EQ(r, IVCS_ERR_BAD_ADTS);
        }
    }
}

TEST(parse_handles_the_crc_variant)
{
    uint8_t b[512];
    hdr_p p = lc48;
    p.crc = 1;
    size_t n = make_frame(b, &p);
    ivcs_adts_hdr_s h;
    CHECK_EQ(ivcs_adts_parse(b, n, &h), 300);
    CHECK_EQ(h.has_crc, 1);
    CHECK_EQ(h.header_len, 9);
    /* the smallest frames: the header alone */
    p.len = 9;
    n = make_frame(b, &p);
    CHECK_EQ(ivcs_adts_parse(b, n, &h), 9);
    p.len = 8;
    n = make_frame(b, &p);
    CHECK_EQ(ivcs_adts_parse(b, 9, &h), IVCS_ERR_BAD_ADTS);
    p.crc = 0;
    p.len = 7;
    n = make_frame(b, &p);
    CHECK_EQ(ivcs_adts_parse(b, n, &h), 7);
    /* CRC + 4 raw data blocks: 3 block positions follow the header */
    p.crc = 1;
    p.blocks = 4;
    p.len = 14;
    make_frame(b, &p);
    CHECK_EQ(ivcs_adts_parse(b, 14, &h), IVCS_ERR_BAD_ADTS);
    p.len = 15;
    make_frame(b, &p);
    CHECK_EQ(ivcs_adts_parse(b, 15, &h), 15);
}

TEST(parse_rejects_malformed_headers)
{
    uint8_t b[512];
    ivcs_adts_hdr_s h;
    size_t n;
    /* no sync word: first byte, then the low nibble of the second */
    n = make_frame(b, &lc48);
    b[0] = 0xFE;
    CHECK_EQ(ivcs_adts_parse(b, n, &h), IVCS_ERR_BAD_ADTS);
    n = make_frame(b, &lc48);
    b[1] &= 0x7F;
    CHECK_EQ(ivcs_adts_parse(b, n, &h), IVCS_ERR_BAD_ADTS);
    /* layer 1..3 */
    for (unsigned layer = 1; layer < 4; layer++) {
        hdr_p p = lc48;
        p.layer = layer;
        n = make_frame(b, &p);
        CHECK_EQ(ivcs_adts_parse(b, n, &h), IVCS_ERR_BAD_ADTS);
    }
    /* channel configuration 0 (in-band PCE) */
    hdr_p p = lc48;
    p.ch = 0;
    n = make_frame(b, &p);
    CHECK_EQ(ivcs_adts_parse(b, n, &h), IVCS_ERR_BAD_ADTS);
    /* frame shorter than its header */
    for (unsigned len = 0; len < 7; len++) {
        p = lc48;
        p.len = len;
        make_frame(b, &p);
        CHECK_EQ(ivcs_adts_parse(b, 7, &h), IVCS_ERR_BAD_ADTS);
    }
    /* an MPEG-2 header is fine */
    p = lc48;
    p.id = 1;
    n = make_frame(b, &p);
    CHECK_EQ(ivcs_adts_parse(b, n, &h), 300);
    CHECK_EQ(ivcs_adts_parse(NULL, 7, &h), IVCS_ERR_INVALID_ARG);
}

TEST(parse_asks_for_more_only_when_more_can_help)
{
    uint8_t b[512];
    ivcs_adts_hdr_s h;
    size_t n = make_frame(b, &lc48);
    for (size_t cut = 0; cut < n; cut++)
        CHECK_EQ(ivcs_adts_parse(b, cut, &h), IVCS_ERR_INCOMPLETE);
    CHECK_EQ(ivcs_adts_parse(NULL, 0, &h), IVCS_ERR_INCOMPLETE);
    /* a lost sync shows in the first byte already */
    static const uint8_t junk[] = {0x47, 0xFF};
    CHECK_EQ(ivcs_adts_parse(junk, 1, &h), IVCS_ERR_BAD_ADTS);
    static const uint8_t junk2[] = {0xFF, 0x47};
    CHECK_EQ(ivcs_adts_parse(junk2, 2, &h), IVCS_ERR_BAD_ADTS);
}

/* ------------------------------------------------------------- validate */

TEST(validate_counts_several_frames_with_and_without_crc)
{
    static uint8_t b[4096];
    size_t n = 0;
    for (unsigned i = 0; i < 8; i++) {
        hdr_p p = lc48;
        p.crc = i & 1;
        p.len = 100 + 13 * i;
        n += make_frame(b + n, &p);
    }
    ivcs_adts_hdr_s first;
    CHECK_EQ(ivcs_adts_validate(b, n, &first), 8);
    CHECK_EQ(first.frame_len, 100);
    CHECK_EQ(first.has_crc, 0);
    CHECK_EQ(first.channel_config, 2);
    CHECK_EQ(ivcs_adts_validate(b, n, NULL), 8);
    CHECK_EQ(ivcs_adts_validate(b, 100, &first), 1);
}

TEST(validate_rejects_mixed_streams_garbage_and_truncation)
{
    static uint8_t b[4096];
    ivcs_adts_hdr_s first;
    static const hdr_p other[] = {
        {0, 0, 0, 2, 3, 2, 200, 1}, /* profile */
        {0, 0, 0, 1, 4, 2, 200, 1}, /* rate */
        {0, 0, 0, 1, 3, 1, 200, 1}, /* channels */
    };
    for (size_t i = 0; i < COUNT(other); i++) {
        size_t n = make_frame(b, &lc48);
        n += make_frame(b + n, &other[i]);
        CHECK_EQ(ivcs_adts_validate(b, n, &first), IVCS_ERR_BAD_ADTS);
    }
    size_t n = make_frame(b, &lc48);
    n += make_frame(b + n, &lc48);
    memcpy(b + n, "junk", 4);
    CHECK_EQ(ivcs_adts_validate(b, n + 4, &first), IVCS_ERR_BAD_ADTS);
    CHECK_EQ(ivcs_adts_validate(b, n - 1, &first), IVCS_ERR_INCOMPLETE);
    b[n] = 0xFF; /* a lone byte that could start a header */
    CHECK_EQ(ivcs_adts_validate(b, n + 1, &first), IVCS_ERR_INCOMPLETE);
    CHECK_EQ(ivcs_adts_validate(b, 0, &first), IVCS_ERR_EMPTY_FRAME);
    CHECK_EQ(ivcs_adts_validate(NULL, 10, &first), IVCS_ERR_EMPTY_FRAME);
}

TEST(no_read_past_the_buffer_at_any_cut)
{
    static uint8_t b[2048];
    size_t n = 0, ends[5];
    for (unsigned i = 0; i < 5; i++) {
        hdr_p p = lc48;
        p.crc = i == 2;
        p.len = 20 + i;
        n += make_frame(b + n, &p);
        ends[i] = n;
    }
    guard_buf ga = GUARD_INIT, gb = GUARD_INIT;
    for (size_t cut = 0; cut <= n; cut++) {
        const uint8_t *pa = guard_place(&ga, b, cut, GUARD_AFTER);
        const uint8_t *pb = guard_place(&gb, b, cut, GUARD_BEFORE);
        ivcs_adts_hdr_s h;
        int ra = ivcs_adts_validate(pa, cut, &h);
        CHECK_EQ(ivcs_adts_validate(pb, cut, &h), ra);
        int whole = 0;
        for (int i = 0; i < 5; i++)
            whole |= cut == ends[i];
        if (cut == 0)
            CHECK_EQ(ra, IVCS_ERR_EMPTY_FRAME);
        else if (whole)
            CHECK(ra > 0);
        else
            CHECK_EQ(ra, IVCS_ERR_INCOMPLETE);
        (void)ivcs_adts_parse(pa, cut, &h);
    }
    CHECK_EQ(n, 20 + 21 + 22 + 23 + 24);
    guard_release(&ga);
    guard_release(&gb);
}

/* ----------------------------------------------------------- real media */

/* Checks an ADTS file against ffprobe: frame count, rate, channels, LC. */
static void check_real(const char *path, const uint8_t *buf, size_t len, int want_crc)
{
    unsigned rate = 0, ch = 0, packets = 0;
    char profile[64] = "";
    CHECK_EQ(ffprobe_audio(path, &rate, &ch, &packets, profile, sizeof profile), 0);
    CHECK(packets > 0);
    ivcs_adts_hdr_s first;
    int n = ivcs_adts_validate(buf, len, &first);
    fprintf(stderr, "  %s: %d frames (ffprobe %u), %u Hz (%u), %u ch (%u), profile %u (%s)\n", path,
            n, packets, first.sample_rate, rate, first.channel_config, ch, first.profile, profile);
    CHECK_EQ(n, (int)packets);
    CHECK_EQ(first.sample_rate, rate);
    CHECK_EQ(first.channel_config, ch);
    CHECK_EQ(first.has_crc, want_crc);
    CHECK_EQ(first.profile, strcmp(profile, "LC") == 0 ? 1 : 99);

    /* frame by frame, each against a guard page */
    guard_buf g = GUARD_INIT;
    size_t off = 0;
    unsigned frames = 0;
    while (off < len) {
        ivcs_adts_hdr_s h;
        int r = ivcs_adts_parse(buf + off, len - off, &h);
        CHECK(r > 0);
        if (r <= 0) break;
        const uint8_t *p = guard_place(&g, buf + off, (size_t)r, GUARD_AFTER);
        CHECK_EQ(ivcs_adts_validate(p, (size_t)r, NULL), 1);
        CHECK_EQ(ivcs_adts_parse(p, (size_t)r - 1, NULL), IVCS_ERR_INCOMPLETE);
        off += (size_t)r;
        frames++;
    }
    CHECK_EQ(frames, packets);
    guard_release(&g);
}

TEST(real_aac_clip_matches_ffprobe)
{
    size_t len = 0;
    uint8_t *buf = check_read_file(check_media("clip_aac.aac"), &len);
    CHECK(buf != NULL);
    if (!buf) return;
    check_real(check_media("clip_aac.aac"), buf, len, 0);
    free(buf);
}

TEST(real_mono_16k_aac_clip_matches_ffprobe)
{
    size_t len = 0;
    uint8_t *buf = check_read_file(check_media("clip_aac_mono16k.aac"), &len);
    CHECK(buf != NULL);
    if (!buf) return;
    check_real(check_media("clip_aac_mono16k.aac"), buf, len, 0);
    free(buf);
}

TEST(real_aac_clip_with_crc_matches_ffprobe)
{
    size_t len = 0;
    uint8_t *buf = check_read_file(check_media("clip_aac_crc.aac"), &len);
    if (buf) {
        check_real(check_media("clip_aac_crc.aac"), buf, len, 1);
        free(buf);
        return;
    }
    /* Not made by make-media: protect the plain clip's frames (2 CRC bytes
     * each, protection_absent 0), write it out and ask ffprobe. */
    uint8_t *src = check_read_file(check_media("clip_aac.aac"), &len);
    CHECK(src != NULL);
    if (!src) return;
    uint8_t *out = malloc(len * 2 + 64);
    size_t off = 0, n = 0;
    while (off < len) {
        ivcs_adts_hdr_s h;
        int r = ivcs_adts_parse(src + off, len - off, &h);
        CHECK(r > 0 && !h.has_crc);
        if (r <= 0) break;
        unsigned fl = (unsigned)r + 2;
        memcpy(out + n, src + off, 7);
        out[n + 1] &= 0xFE;
        out[n + 3] = (uint8_t)((out[n + 3] & 0xFC) | fl >> 11);
        out[n + 4] = (uint8_t)(fl >> 3);
        out[n + 5] = (uint8_t)((out[n + 5] & 0x1F) | (fl & 7) << 5);
        out[n + 7] = 0x12;
        out[n + 8] = 0x34;
        memcpy(out + n + 9, src + off + 7, (size_t)r - 7);
        n += fl;
        off += (size_t)r;
    }
    const char *dir = getenv("IVCS_BUILD_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/test_adts_crc_XXXXXX", dir ? dir : "/tmp");
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) {
        CHECK_EQ(write(fd, out, n), (long long)n);
        close(fd);
        check_real(path, out, n, 1);
        unlink(path);
    }
    free(out);
    free(src);
}

int main(void)
{
    RUN(parse_reads_every_field);
    RUN(parse_maps_every_sampling_index_and_rejects_reserved_ones);
    RUN(parse_handles_the_crc_variant);
    RUN(parse_rejects_malformed_headers);
    RUN(parse_asks_for_more_only_when_more_can_help);
    RUN(validate_counts_several_frames_with_and_without_crc);
    RUN(validate_rejects_mixed_streams_garbage_and_truncation);
    RUN(no_read_past_the_buffer_at_any_cut);
    RUN(real_aac_clip_matches_ffprobe);
    RUN(real_mono_16k_aac_clip_matches_ffprobe);
    RUN(real_aac_clip_with_crc_matches_ffprobe);
    return check_done();
}
