/*
 * hash.h - thin wrappers on OpenSSL's EVP for what the S3 path needs:
 * SHA-256 (payload hashes, SigV4), HMAC-SHA256 (SigV4 keys and signature),
 * MD5 (Content-MD5), lowercase hex and base64.
 *
 * A digest object owns one OpenSSL context, made at init and reused, so the
 * hot path (begin/update/final, HMAC) allocates nothing. The algorithm
 * implementations are fetched from OpenSSL once per process. A digest object
 * may be used by one thread at a time; the one-shot functions are
 * thread-safe.
 */
#ifndef IVCS_NET_HASH_H
#define IVCS_NET_HASH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IVCS_SHA256_LEN 32
#define IVCS_MD5_LEN 16
#define IVCS_SHA256_HEX_LEN 64

typedef enum {
    IVCS_DIGEST_SHA256 = 0,
    IVCS_DIGEST_MD5 = 1,
} ivcs_digest_alg_e;

struct evp_md_ctx_st;

/* A reusable streaming digest. Fields are private. */
typedef struct ivcs_digest_s {
    struct evp_md_ctx_st *ctx;
    ivcs_digest_alg_e alg;
} ivcs_digest_s;

/* Makes d ready for begin/update/final with alg. Allocates the OpenSSL
 * context (the only allocation). Returns 0, IV_ERR_SYS_MALLOC_FAIL,
 * IVCS_ERR_UNSUPPORTED (OpenSSL has no such digest, e.g. MD5 in FIPS mode)
 * or IVCS_ERR_INVALID_ARG. On failure d needs no cleanup. */
int ivcs_digest_init(ivcs_digest_s *d, ivcs_digest_alg_e alg);

/* Frees what init made; safe on a zeroed or already cleaned-up d. */
void ivcs_digest_cleanup(ivcs_digest_s *d);

/* Digest length in bytes: 32 or 16. */
size_t ivcs_digest_size(const ivcs_digest_s *d);

/* Starts a new message (any earlier one is discarded). 0 or a negative code. */
int ivcs_digest_begin(ivcs_digest_s *d);

/* Adds n bytes (n may be 0). 0 or a negative code. */
int ivcs_digest_update(ivcs_digest_s *d, const void *p, size_t n);

/* Writes the digest (ivcs_digest_size bytes) to out and ends the message;
 * call begin before the next one. 0 or a negative code. */
int ivcs_digest_final(ivcs_digest_s *d, uint8_t *out);

/* HMAC-SHA256 (RFC 2104) of msg under key, using sha256 (a SHA-256 digest
 * object) as scratch so nothing is allocated. Keys longer than 64 bytes are
 * hashed first, as the RFC says. 0 or a negative code. */
int ivcs_hmac_sha256(ivcs_digest_s *sha256, const void *key, size_t key_len, const void *msg,
                     size_t msg_len, uint8_t out[IVCS_SHA256_LEN]);

/* A streaming SHA-256 or MD5 state in plain memory (OpenSSL's low-level
 * block functions: the same SHA-NI / ARMv8 / assembly code as EVP, no
 * context to allocate), for state that lives in caller-owned structs such
 * as an S3 op. Copyable; one thread at a time. */
typedef struct ivcs_hash_state_s {
    uint64_t opaque[16]; /* 128 bytes, 8-aligned */
    ivcs_digest_alg_e alg;
} ivcs_hash_state_s;
void ivcs_hash_begin(ivcs_hash_state_s *h, ivcs_digest_alg_e alg);
void ivcs_hash_update(ivcs_hash_state_s *h, const void *p, size_t n);
/* Writes 32 (SHA-256) or 16 (MD5) bytes; begin again for the next message. */
void ivcs_hash_final(ivcs_hash_state_s *h, uint8_t *out);

/* 1 if this CPU has SHA-256 instructions (x86 SHA-NI, ARMv8 SHA2), which
 * OpenSSL uses; without them SHA-256 costs about 3x MD5 per byte. The
 * environment variable IVCS_SHA256_HW=0 or 1 overrides (tests). */
int ivcs_sha256_hw(void);

/* One-shot SHA-256 / MD5 of p[0..n). Thread-safe; OpenSSL may allocate a
 * context internally, so keep these off hot paths. 0 or a negative code. */
int ivcs_sha256(const void *p, size_t n, uint8_t out[IVCS_SHA256_LEN]);
int ivcs_md5(const void *p, size_t n, uint8_t out[IVCS_MD5_LEN]);

/* Lowercase hex of in[0..n) into out, which must hold 2n+1 bytes (NUL
 * added). Returns 2n. */
size_t ivcs_hex_encode(const uint8_t *in, size_t n, char *out);

/* Standard base64 (RFC 4648, '+' '/', '=' padding) of in[0..n) into out
 * (cap bytes, NUL-terminated; 4*ceil(n/3)+1 are needed, 25 for an MD5).
 * Returns the length without the NUL, or IVCS_ERR_TOO_LONG. */
int ivcs_base64_encode(const uint8_t *in, size_t n, char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
