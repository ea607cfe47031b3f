/* spool_format.c - the spool's on-disk entry format (spool.h): header
 * encode/decode and the recovery parser (CRC32C: engine/core/crc32c.h).
 * Pure functions. */
#include <stdio.h>
#include <string.h>

#include "engine/core/crc32c.h"
#include "engine/net/hash.h"
#include "engine/spool/spool.h"

/* ---------------------------------------------------------------- header */

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

void ivcs_spool_hdr_encode(const ivcs_spool_hdr_s *h, uint8_t out[IVCS_SPOOL_HDR_LEN])
{
    memcpy(out, IVCS_SPOOL_MAGIC, 8);
    put32(out + 8, IVCS_SPOOL_HDR_LEN);
    out[12] = (uint8_t)IVCS_SPOOL_VERSION;
    out[13] = 0;
    out[14] = (uint8_t)h->kind;
    out[15] = 0;
    put64(out + 16, h->seq);
    put64(out + 24, (uint64_t)h->created_ms);
    put32(out + 32, h->key_len);
    put32(out + 36, h->meta_len);
    put64(out + 40, h->body_len);
    memcpy(out + 48, h->md5, 16);
    put32(out + 64, h->data_crc);
    put32(out + 68, h->frames);
    put32(out + 72, h->channel);
    put32(out + 76, ivcs_crc32c(0, out, 76));
}

int ivcs_spool_hdr_decode(const uint8_t *in, size_t n, ivcs_spool_hdr_s *h)
{
    memset(h, 0, sizeof *h);
    if (n < IVCS_SPOOL_HDR_LEN || memcmp(in, IVCS_SPOOL_MAGIC, 8) != 0 ||
        get32(in + 8) != IVCS_SPOOL_HDR_LEN || in[12] != IVCS_SPOOL_VERSION || in[13] ||
        in[15] || get32(in + 76) != ivcs_crc32c(0, in, 76))
        return IVCS_ERR_INVALID_ARG;
    ivcs_spool_hdr_s t;
    t.kind = in[14];
    t.seq = get64(in + 16);
    t.created_ms = (int64_t)get64(in + 24);
    t.key_len = get32(in + 32);
    t.meta_len = get32(in + 36);
    t.body_len = get64(in + 40);
    memcpy(t.md5, in + 48, 16);
    t.data_crc = get32(in + 64);
    t.frames = get32(in + 68);
    t.channel = get32(in + 72);
    if (t.kind < IVCS_SPOOL_SLICE || t.kind > IVCS_SPOOL_BALANCE) return IVCS_ERR_INVALID_ARG;
    int cache = t.kind >= IVCS_SPOOL_PLAN;
    if (t.key_len > IVCS_SPOOL_KEY_MAX || (!cache && t.key_len == 0) ||
        t.meta_len > IVCS_SPOOL_META_MAX ||
        t.body_len > (cache ? IVCS_SPOOL_CACHE_MAX : IVCS_SPOOL_BODY_MAX))
        return IVCS_ERR_INVALID_ARG;
    *h = t;
    return 0;
}

int ivcs_spool_parse(const uint8_t *buf, size_t n, int check_md5, ivcs_spool_hdr_s *h,
                     const uint8_t **key, const uint8_t **meta, const uint8_t **body)
{
    if (key) *key = NULL;
    if (meta) *meta = NULL;
    if (body) *body = NULL;
    if (ivcs_spool_hdr_decode(buf, n, h) != 0) return IVCS_ERR_INVALID_ARG;
    uint64_t total = (uint64_t)IVCS_SPOOL_HDR_LEN + h->key_len + h->meta_len + h->body_len;
    if (total != n) return IVCS_ERR_INVALID_ARG; /* torn, or padded */
    const uint8_t *data = buf + IVCS_SPOOL_HDR_LEN;
    if (ivcs_crc32c(0, data, n - IVCS_SPOOL_HDR_LEN) != h->data_crc) return IVCS_ERR_INVALID_ARG;
    const uint8_t *b = data + h->key_len + h->meta_len;
    if (check_md5) {
        uint8_t md[IVCS_MD5_LEN];
        if (ivcs_md5(b, (size_t)h->body_len, md) != 0 || memcmp(md, h->md5, 16) != 0)
            return IVCS_ERR_INVALID_ARG;
    }
    if (key) *key = data;
    if (meta) *meta = data + h->key_len;
    if (body) *body = b;
    return 0;
}

/* ---------------------------------------------------------------- names */

void ivcs_spool_entry_name(uint64_t seq, int tmp, char out[IVCS_SPOOL_NAME_LEN + 1])
{
    snprintf(out, IVCS_SPOOL_NAME_LEN + 1, "e%016llx.%s", (unsigned long long)seq,
             tmp ? "tmp" : "ivs");
}

int ivcs_spool_parse_name(const char *name, uint64_t *seq, int *tmp)
{
    if (strlen(name) != IVCS_SPOOL_NAME_LEN || name[0] != 'e' || name[17] != '.') return -1;
    uint64_t v = 0;
    for (int i = 1; i < 17; i++) {
        char c = name[i];
        unsigned d;
        if (c >= '0' && c <= '9')
            d = (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (unsigned)(c - 'a' + 10);
        else
            return -1;
        v = v << 4 | d;
    }
    if (!strcmp(name + 18, "ivs"))
        *tmp = 0;
    else if (!strcmp(name + 18, "tmp"))
        *tmp = 1;
    else
        return -1;
    *seq = v;
    return 0;
}
