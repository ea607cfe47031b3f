/*
 * fuzz_spool.c - the spool's recovery parser (engine/spool/spool.h): what a
 * power cut, a flipped bit or a hostile file can leave in an entry file.
 *
 * Input layout (the corpus files in fuzz/corpus/spool/ follow it):
 *   byte 0     mode, byte % 3:
 *              0 the rest is a whole entry file: ivcs_spool_parse must not
 *                crash; an accepted entry must re-encode to the same header,
 *                its lengths must add up to the file, and its CRC must match
 *              1 the rest is a body: it is wrapped into a valid entry (key,
 *                meta), which must parse; then every single-bit flip of the
 *                first 160 bytes and every truncation must be refused
 *              2 the rest is a file name: ivcs_spool_parse_name must accept
 *                only e<16 lowercase hex>.ivs/.tmp and round-trip it
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/net/hash.h"
#include "engine/spool/spool.h"

static void whole_mode(const uint8_t *d, size_t n)
{
    ivcs_spool_hdr_s h;
    const uint8_t *k, *m, *b;
    int rc = ivcs_spool_parse(d, n, 1, &h, &k, &m, &b);
    if (rc != 0) {
        if (rc != IVCS_ERR_INVALID_ARG || k || m || b) abort();
        return;
    }
    if ((uint64_t)IVCS_SPOOL_HDR_LEN + h.key_len + h.meta_len + h.body_len != n) abort();
    uint8_t again[IVCS_SPOOL_HDR_LEN];
    ivcs_spool_hdr_encode(&h, again);
    if (memcmp(again, d, IVCS_SPOOL_HDR_LEN) != 0) abort();
    if (k != d + IVCS_SPOOL_HDR_LEN || m != k + h.key_len || b != m + h.meta_len) abort();
    if (ivcs_crc32c(0, k, n - IVCS_SPOOL_HDR_LEN) != h.data_crc) abort();
}

static void body_mode(const uint8_t *d, size_t n)
{
    if (n > 4096) n = 4096;
    static const char key[] = "dev/ch0/2026-12-04/1764806400000-0-1.ts";
    static const char meta[] = "meta";
    size_t kl = sizeof key - 1, ml = sizeof meta - 1;
    size_t total = IVCS_SPOOL_HDR_LEN + kl + ml + n;
    uint8_t *f = malloc(total);
    if (!f) return;
    ivcs_spool_hdr_s h;
    memset(&h, 0, sizeof h);
    h.kind = IVCS_SPOOL_SLICE;
    h.seq = n;
    h.created_ms = 1764806400000LL;
    h.key_len = (uint32_t)kl;
    h.meta_len = (uint32_t)ml;
    h.body_len = n;
    h.frames = 7;
    if (ivcs_md5(d, n, h.md5) != 0) abort();
    memcpy(f + IVCS_SPOOL_HDR_LEN, key, kl);
    memcpy(f + IVCS_SPOOL_HDR_LEN + kl, meta, ml);
    if (n) memcpy(f + IVCS_SPOOL_HDR_LEN + kl + ml, d, n);
    h.data_crc = ivcs_crc32c(0, f + IVCS_SPOOL_HDR_LEN, total - IVCS_SPOOL_HDR_LEN);
    ivcs_spool_hdr_encode(&h, f);
    ivcs_spool_hdr_s g;
    const uint8_t *k, *m, *b;
    if (ivcs_spool_parse(f, total, 1, &g, &k, &m, &b) != 0) abort();
    if (g.frames != 7 || g.body_len != n || (n && memcmp(b, d, n) != 0)) abort();
    /* a torn file (any shorter length) is never accepted */
    for (size_t cut = 0; cut < total; cut += 1 + cut / 8)
        if (ivcs_spool_parse(f, cut, 0, &g, &k, &m, &b) == 0) abort();
    /* nor is one bit flipped in the header, the key, the meta or the body's start */
    size_t lim = total < 160 ? total : 160;
    for (size_t i = 0; i < lim; i++)
        for (int bit = 0; bit < 8; bit++) {
            f[i] ^= (uint8_t)(1u << bit);
            if (ivcs_spool_parse(f, total, 0, &g, &k, &m, &b) == 0) abort();
            f[i] ^= (uint8_t)(1u << bit);
        }
    free(f);
}

static void name_mode(const uint8_t *d, size_t n)
{
    char name[64];
    if (n >= sizeof name) n = sizeof name - 1;
    memcpy(name, d, n);
    name[n] = 0;
    uint64_t seq;
    int tmp;
    if (ivcs_spool_parse_name(name, &seq, &tmp) != 0) return;
    char back[IVCS_SPOOL_NAME_LEN + 1];
    ivcs_spool_entry_name(seq, tmp, back);
    if (strcmp(back, name) != 0) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    switch (data[0] % 3) {
    case 0:
        whole_mode(data + 1, size - 1);
        break;
    case 1:
        body_mode(data + 1, size - 1);
        break;
    default:
        name_mode(data + 1, size - 1);
        break;
    }
    return 0;
}
