/* uri.c - SigV4 percent-encoding (see uri.h). */
#include "engine/net/uri.h"

#include "ivcs_err.h"

static const char hex_upper[] = "0123456789ABCDEF";

static int kept(unsigned char c, int keep_slash)
{
    return ivcs_uri_unreserved(c) || (keep_slash && c == '/');
}

size_t ivcs_uri_encoded_len(const char *in, size_t len, int keep_slash)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) n += kept((unsigned char)in[i], keep_slash) ? 1 : 3;
    return n;
}

int ivcs_uri_encode(const char *in, size_t len, int keep_slash, char *out, size_t cap)
{
    if ((!in && len) || !out) return IVCS_ERR_INVALID_ARG;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (kept(c, keep_slash)) {
            if (o + 1 >= cap) goto too_long;
            out[o++] = (char)c;
        } else {
            if (o + 3 >= cap) goto too_long;
            out[o++] = '%';
            out[o++] = hex_upper[c >> 4];
            out[o++] = hex_upper[c & 15];
        }
    }
    if (o >= cap || o > (size_t)0x7fffffff) goto too_long;
    out[o] = '\0';
    return (int)o;
too_long:
    if (cap) out[0] = '\0';
    return IVCS_ERR_TOO_LONG;
}

/* The i-th byte of the encoded form of s, walked one byte at a time. */
typedef struct {
    const unsigned char *s;
    size_t n, i;
    int sub; /* 0: at s[i]; 1, 2: at the first/second hex digit of s[i]'s %XX */
} enc_iter;

static int enc_next(enc_iter *it)
{
    if (it->i >= it->n) return -1;
    unsigned char c = it->s[it->i];
    if (ivcs_uri_unreserved(c)) {
        it->i++;
        return c;
    }
    switch (it->sub) {
    case 0:
        it->sub = 1;
        return '%';
    case 1:
        it->sub = 2;
        return (unsigned char)hex_upper[c >> 4];
    default:
        it->sub = 0;
        it->i++;
        return (unsigned char)hex_upper[c & 15];
    }
}

int ivcs_uri_encoded_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    enc_iter x = {(const unsigned char *)a, alen, 0, 0};
    enc_iter y = {(const unsigned char *)b, blen, 0, 0};
    for (;;) {
        int ca = enc_next(&x), cb = enc_next(&y);
        if (ca != cb) return ca < cb ? -1 : 1; /* -1 (end) sorts first: a prefix is smaller */
        if (ca < 0) return 0;
    }
}
