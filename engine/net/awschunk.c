/* awschunk.c - aws-chunked bodies: signed chunks or a CRC32C trailer (awschunk.h). */
#include "engine/net/awschunk.h"

#include <stdio.h>
#include <string.h>

#include "engine/core/crc32c.h"
#include "ivcs_err.h"

#define SIG_EXT ";chunk-signature="
#define SIG_EXT_LEN (sizeof SIG_EXT - 1)
#define TRAILER_NAME "x-amz-checksum-crc32c"

static size_t hex_len(uint64_t n)
{
    size_t l = 1;
    while (n >>= 4) l++;
    return l;
}

/* Header bytes in front of n data bytes (n > 0), "\r\n" included. */
static size_t head_len(ivcs_awschunk_kind_e kind, uint64_t n)
{
    return hex_len(n) + (kind == IVCS_AWSCHUNK_SIGNED ? SIG_EXT_LEN + IVCS_SHA256_HEX_LEN : 0) + 2;
}

static size_t end_len(ivcs_awschunk_kind_e kind)
{
    if (kind == IVCS_AWSCHUNK_SIGNED) return 1 + SIG_EXT_LEN + IVCS_SHA256_HEX_LEN + 4;
    return 3 + sizeof TRAILER_NAME /* ':' */ + 8 + 4; /* "0\r\n" name:b64(4)\r\n \r\n */
}

uint64_t ivcs_awschunk_len(ivcs_awschunk_kind_e kind, uint64_t data_len, uint32_t chunk)
{
    if (!chunk) return 0;
    uint64_t full = data_len / chunk, last = data_len % chunk;
    uint64_t n = full * (head_len(kind, chunk) + chunk + 2);
    if (last) n += head_len(kind, last) + last + 2;
    return n + end_len(kind);
}

size_t ivcs_awschunk_frame_max(ivcs_awschunk_kind_e kind, uint32_t chunk)
{
    size_t f = head_len(kind, chunk) + chunk + 2, e = end_len(kind);
    return f > e ? f : e;
}

static int put_hex(char *out, uint64_t n)
{
    static const char hx[] = "0123456789abcdef";
    size_t l = hex_len(n);
    for (size_t i = l; i-- > 0; n >>= 4) out[i] = hx[n & 15];
    return (int)l;
}

static int64_t finish(ivcs_awschunk_s *a, uint8_t *buf, size_t cap)
{
    size_t need = end_len(a->kind);
    if (cap < need) return IVCS_ERR_TOO_LONG;
    char *o = (char *)buf;
    size_t n = 0;
    if (a->kind == IVCS_AWSCHUNK_SIGNED) {
        uint8_t empty[IVCS_SHA256_LEN];
        char sig[IVCS_SHA256_HEX_LEN + 1];
        ivcs_hash_begin(&a->hs, IVCS_DIGEST_SHA256);
        ivcs_hash_final(&a->hs, empty);
        if (ivcs_sigv4_chunk_sign(a->sig, &a->ch, empty, sig)) return IVCS_ERR_STATE;
        o[n++] = '0';
        memcpy(o + n, SIG_EXT, SIG_EXT_LEN);
        n += SIG_EXT_LEN;
        memcpy(o + n, sig, IVCS_SHA256_HEX_LEN);
        n += IVCS_SHA256_HEX_LEN;
        memcpy(o + n, "\r\n\r\n", 4);
        n += 4;
    } else {
        uint8_t be[4] = {(uint8_t)(a->crc >> 24), (uint8_t)(a->crc >> 16), (uint8_t)(a->crc >> 8),
                         (uint8_t)a->crc};
        char b64[12];
        if (ivcs_base64_encode(be, 4, b64, sizeof b64) != 8) return IVCS_ERR_STATE;
        memcpy(o, "0\r\n" TRAILER_NAME ":", 3 + sizeof TRAILER_NAME);
        n = 3 + sizeof TRAILER_NAME;
        memcpy(o + n, b64, 8);
        n += 8;
        memcpy(o + n, "\r\n\r\n", 4);
        n += 4;
    }
    a->finished = 1;
    return (int64_t)n;
}

int64_t ivcs_awschunk_body(void *arg, uint64_t offset, uint8_t *buf, size_t cap)
{
    ivcs_awschunk_s *a = arg;
    if (!a || !buf || !a->chunk || (!a->data && !a->inner && a->data_len)) return IVCS_ERR_INVALID_ARG;
    if (a->kind == IVCS_AWSCHUNK_SIGNED && !a->sig) return IVCS_ERR_INVALID_ARG;
    if (offset == 0) {
        a->data_off = a->enc_off = 0;
        a->crc = 0;
        a->finished = 0;
        if (a->kind == IVCS_AWSCHUNK_SIGNED) ivcs_sigv4_chunk_rewind(&a->ch);
    } else if (offset != a->enc_off) {
        return IVCS_ERR_STATE;
    }
    if (a->finished) return IVCS_ERR_STATE; /* asked for more than the length said */
    int64_t out;
    if (a->data_off >= a->data_len) {
        out = finish(a, buf, cap);
    } else {
        uint64_t left = a->data_len - a->data_off;
        size_t n = left < a->chunk ? (size_t)left : a->chunk;
        size_t hl = head_len(a->kind, n);
        if (cap < hl + n + 2) return IVCS_ERR_TOO_LONG;
        uint8_t *d = buf + hl;
        if (a->data) {
            memcpy(d, a->data + a->data_off, n);
        } else {
            size_t got = 0;
            while (got < n) { /* each call makes progress or fails: bounded by n */
                int64_t r = a->inner(a->inner_arg, a->data_off + got, d + got, n - got);
                if (r <= 0 || (uint64_t)r > n - got) return r < 0 ? r : IVCS_ERR_STATE;
                got += (size_t)r;
            }
        }
        char *o = (char *)buf;
        size_t h = (size_t)put_hex(o, n);
        if (a->kind == IVCS_AWSCHUNK_SIGNED) {
            uint8_t sha[IVCS_SHA256_LEN];
            char sig[IVCS_SHA256_HEX_LEN + 1];
            ivcs_hash_begin(&a->hs, IVCS_DIGEST_SHA256);
            ivcs_hash_update(&a->hs, d, n);
            ivcs_hash_final(&a->hs, sha);
            if (ivcs_sigv4_chunk_sign(a->sig, &a->ch, sha, sig)) return IVCS_ERR_STATE;
            memcpy(o + h, SIG_EXT, SIG_EXT_LEN);
            h += SIG_EXT_LEN;
            memcpy(o + h, sig, IVCS_SHA256_HEX_LEN);
            h += IVCS_SHA256_HEX_LEN;
        } else {
            a->crc = ivcs_crc32c(a->crc, d, n);
        }
        if (a->flip > a->data_off && a->flip <= a->data_off + n) d[a->flip - 1 - a->data_off] ^= 0x20;
        o[h++] = '\r';
        o[h++] = '\n';
        d[n] = '\r';
        d[n + 1] = '\n';
        a->data_off += n;
        out = (int64_t)(hl + n + 2);
    }
    if (out > 0) a->enc_off += (uint64_t)out;
    return out;
}
