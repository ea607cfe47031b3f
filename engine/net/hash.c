/* hash.c - SHA-256, HMAC-SHA256, MD5, hex and base64 on OpenSSL EVP (see hash.h). */
#include "engine/net/hash.h"

/* The low-level SHA256_* / MD5_* functions are deprecated in OpenSSL 3 in
 * favour of EVP, but they run the same block code and need no context
 * allocation (ivcs_hash_state_s). */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#elif defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_SHA2
#define HWCAP_SHA2 (1 << 6)
#endif
#endif

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/md5.h>
#include <openssl/sha.h>

#include "iv_err.h"
#include "ivcs_err.h"

/* Fetched once and kept for the process: an explicit fetch avoids the
 * implicit (locked) provider look-up OpenSSL 3 does on every init with
 * EVP_sha256(). */
static EVP_MD *md_sha256;
static EVP_MD *md_md5;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void fetch_mds(void)
{
    md_sha256 = EVP_MD_fetch(NULL, "SHA2-256", NULL);
    md_md5 = EVP_MD_fetch(NULL, "MD5", NULL);
}

static const EVP_MD *md_for(ivcs_digest_alg_e alg)
{
    pthread_once(&md_once, fetch_mds);
    switch (alg) {
    case IVCS_DIGEST_SHA256:
        return md_sha256;
    case IVCS_DIGEST_MD5:
        return md_md5;
    }
    return NULL;
}

int ivcs_digest_init(ivcs_digest_s *d, ivcs_digest_alg_e alg)
{
    if (!d || (alg != IVCS_DIGEST_SHA256 && alg != IVCS_DIGEST_MD5)) return IVCS_ERR_INVALID_ARG;
    d->ctx = NULL;
    d->alg = alg;
    if (!md_for(alg)) return IVCS_ERR_UNSUPPORTED;
    d->ctx = EVP_MD_CTX_new();
    if (!d->ctx) return IV_ERR_SYS_MALLOC_FAIL;
    return 0;
}

void ivcs_digest_cleanup(ivcs_digest_s *d)
{
    if (!d) return;
    EVP_MD_CTX_free(d->ctx); /* also wipes the state */
    d->ctx = NULL;
}

size_t ivcs_digest_size(const ivcs_digest_s *d)
{
    return d && d->alg == IVCS_DIGEST_MD5 ? IVCS_MD5_LEN : IVCS_SHA256_LEN;
}

int ivcs_digest_begin(ivcs_digest_s *d)
{
    if (!d || !d->ctx) return IVCS_ERR_INVALID_ARG;
    return EVP_DigestInit_ex(d->ctx, md_for(d->alg), NULL) == 1 ? 0 : IVCS_ERR_UNSUPPORTED;
}

int ivcs_digest_update(ivcs_digest_s *d, const void *p, size_t n)
{
    if (!d || !d->ctx || (!p && n)) return IVCS_ERR_INVALID_ARG;
    if (n == 0) return 0;
    return EVP_DigestUpdate(d->ctx, p, n) == 1 ? 0 : IVCS_ERR_STATE;
}

int ivcs_digest_final(ivcs_digest_s *d, uint8_t *out)
{
    if (!d || !d->ctx || !out) return IVCS_ERR_INVALID_ARG;
    unsigned int len = 0;
    return EVP_DigestFinal_ex(d->ctx, out, &len) == 1 ? 0 : IVCS_ERR_STATE;
}

#define HMAC_BLOCK 64

int ivcs_hmac_sha256(ivcs_digest_s *sha, const void *key, size_t key_len, const void *msg,
                     size_t msg_len, uint8_t out[IVCS_SHA256_LEN])
{
    if (!sha || sha->alg != IVCS_DIGEST_SHA256 || (!key && key_len) || (!msg && msg_len) || !out)
        return IVCS_ERR_INVALID_ARG;
    uint8_t k[HMAC_BLOCK] = {0};
    uint8_t pad[HMAC_BLOCK];
    uint8_t inner[IVCS_SHA256_LEN];
    int rc;
    if (key_len > HMAC_BLOCK) {
        if ((rc = ivcs_digest_begin(sha)) || (rc = ivcs_digest_update(sha, key, key_len)) ||
            (rc = ivcs_digest_final(sha, k)))
            goto out;
    } else if (key_len) {
        memcpy(k, key, key_len);
    }
    for (int i = 0; i < HMAC_BLOCK; i++) pad[i] = k[i] ^ 0x36;
    if ((rc = ivcs_digest_begin(sha)) || (rc = ivcs_digest_update(sha, pad, HMAC_BLOCK)) ||
        (rc = ivcs_digest_update(sha, msg, msg_len)) || (rc = ivcs_digest_final(sha, inner)))
        goto out;
    for (int i = 0; i < HMAC_BLOCK; i++) pad[i] = k[i] ^ 0x5c;
    if ((rc = ivcs_digest_begin(sha)) || (rc = ivcs_digest_update(sha, pad, HMAC_BLOCK)) ||
        (rc = ivcs_digest_update(sha, inner, sizeof inner)) || (rc = ivcs_digest_final(sha, out)))
        goto out;
out:
    /* The padded key is as secret as the key (the SigV4 secret or a
     * derived signing key): do not leave it on the stack. */
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(pad, sizeof pad);
    OPENSSL_cleanse(inner, sizeof inner);
    return rc;
}

_Static_assert(sizeof(SHA256_CTX) <= sizeof(((ivcs_hash_state_s *)0)->opaque), "SHA256_CTX fits");
_Static_assert(sizeof(MD5_CTX) <= sizeof(((ivcs_hash_state_s *)0)->opaque), "MD5_CTX fits");

void ivcs_hash_begin(ivcs_hash_state_s *h, ivcs_digest_alg_e alg)
{
    h->alg = alg;
    if (alg == IVCS_DIGEST_MD5) MD5_Init((MD5_CTX *)(void *)h->opaque);
    else SHA256_Init((SHA256_CTX *)(void *)h->opaque);
}

void ivcs_hash_update(ivcs_hash_state_s *h, const void *p, size_t n)
{
    if (!n) return;
    if (h->alg == IVCS_DIGEST_MD5) MD5_Update((MD5_CTX *)(void *)h->opaque, p, n);
    else SHA256_Update((SHA256_CTX *)(void *)h->opaque, p, n);
}

void ivcs_hash_final(ivcs_hash_state_s *h, uint8_t *out)
{
    if (h->alg == IVCS_DIGEST_MD5) MD5_Final(out, (MD5_CTX *)(void *)h->opaque);
    else SHA256_Final(out, (SHA256_CTX *)(void *)h->opaque);
}

int ivcs_sha256_hw(void)
{
    const char *e = getenv("IVCS_SHA256_HW");
    if (e && (e[0] == '0' || e[0] == '1') && !e[1]) return e[0] == '1';
#if defined(__x86_64__) || defined(__i386__)
    unsigned a, b, c, d;
    return __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29)) != 0;
#elif defined(__aarch64__) && defined(__linux__)
    return (getauxval(AT_HWCAP) & HWCAP_SHA2) != 0;
#else
    return 0;
#endif
}

static int one_shot(ivcs_digest_alg_e alg, const void *p, size_t n, uint8_t *out)
{
    if ((!p && n) || !out) return IVCS_ERR_INVALID_ARG;
    const EVP_MD *md = md_for(alg);
    if (!md) return IVCS_ERR_UNSUPPORTED;
    unsigned int len = 0;
    return EVP_Digest(p ? p : "", n, out, &len, md, NULL) == 1 ? 0 : IV_ERR_SYS_MALLOC_FAIL;
}

int ivcs_sha256(const void *p, size_t n, uint8_t out[IVCS_SHA256_LEN])
{
    return one_shot(IVCS_DIGEST_SHA256, p, n, out);
}

int ivcs_md5(const void *p, size_t n, uint8_t out[IVCS_MD5_LEN])
{
    return one_shot(IVCS_DIGEST_MD5, p, n, out);
}

size_t ivcs_hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[in[i] >> 4];
        out[2 * i + 1] = hex[in[i] & 15];
    }
    out[2 * n] = '\0';
    return 2 * n;
}

int ivcs_base64_encode(const uint8_t *in, size_t n, char *out, size_t cap)
{
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if ((!in && n) || !out) return IVCS_ERR_INVALID_ARG;
    if (n > ((size_t)0x7fffffff / 4) * 3 - 3) return IVCS_ERR_TOO_LONG;
    size_t need = (n + 2) / 3 * 4;
    if (need + 1 > cap) {
        if (cap) out[0] = '\0';
        return IVCS_ERR_TOO_LONG;
    }
    size_t o = 0, i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = b64[(v >> 6) & 63];
        out[o++] = b64[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = '=';
        out[o++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        out[o++] = b64[v >> 18];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = b64[(v >> 6) & 63];
        out[o++] = '=';
    }
    out[o] = '\0';
    return (int)o;
}
