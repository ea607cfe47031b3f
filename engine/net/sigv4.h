/*
 * sigv4.h - AWS Signature Version 4 for S3 (and, optionally, other services).
 *
 * Usage (header signing, what the HTTP/S3 client does per request):
 *
 *   ivcs_sigv4_s sig;
 *   ivcs_sigv4_config_s cfg = {.access_key = ak, .secret_key = sk,
 *                              .session_token = tok_or_NULL,
 *                              .region = "us-east-1", .service = "s3"};
 *   if (ivcs_sigv4_init(&sig, &cfg) < 0) ...;          // once
 *
 *   ivcs_sigv4_pair_s q[] = {{"partNumber", "3"}, {"uploadId", id}};
 *   ivcs_sigv4_pair_s h[] = {{"Host", "bucket.s3.amazonaws.com"},
 *                            {"Content-MD5", md5_b64}};
 *   ivcs_sigv4_request_s r = {.method = "PUT", .path = "/rec/cam 1/ü.ts",
 *                             .query = q, .n_query = 2, .headers = h, .n_headers = 2,
 *                             .payload_hash = IVCS_SIGV4_UNSIGNED_PAYLOAD,
 *                             .time = time(NULL)};
 *   char date[IVCS_SIGV4_DATE_LEN + 1], auth[512], path[2048], query[2048];
 *   ivcs_sigv4_sign(&sig, &r, date, auth, sizeof auth);
 *   ivcs_sigv4_encode_path(r.path, path, sizeof path);
 *   ivcs_sigv4_canonical_query(q, 2, query, sizeof query);
 *
 * and then sends exactly:
 *
 *   PUT <path>[?<query>] HTTP/1.1             (query only if n_query > 0)
 *   <every header of r.headers, same names and values>
 *   x-amz-date: <date>
 *   x-amz-content-sha256: <r.payload_hash>     (S3 rules: always; generic
 *                                               rules: only for a literal
 *                                               such as UNSIGNED-PAYLOAD)
 *   x-amz-security-token: <token>              (only if the signer has one,
 *                                               see ivcs_sigv4_session_token)
 *   Authorization: <auth>
 *   (plus unsigned headers such as Content-Length or User-Agent if wanted)
 *
 * The signer adds x-amz-date, x-amz-content-sha256 and x-amz-security-token
 * to the signed headers itself; passing any of them (or Authorization) in
 * r.headers is refused with IVCS_ERR_INVALID_ARG, so nothing can be signed
 * twice or with a different value than the one sent.
 *
 * Canonicalisation follows the AWS spec ("Create a canonical request"):
 * - path: S3 rules (IVCS_SIGV4_S3): no normalisation ("//" and ".." are
 *   part of an S3 key), each byte outside A-Za-z0-9-._~ and '/' encoded
 *   once as %XX. Generic rules (IVCS_SIGV4_GENERIC, every service but S3):
 *   dot segments and empty segments removed, then encoded twice.
 * - query: names and values encoded (nothing kept but A-Za-z0-9-._~),
 *   sorted by encoded name then encoded value, "name=value" joined by '&';
 *   a parameter without value is "name=" (S3's "?uploads" is {"uploads", ""}).
 * - headers: names lowercased, values trimmed with inner runs of spaces
 *   collapsed to one, sorted by name, repeated names combined into one line
 *   with the values comma-joined in the order given. Send such a header as
 *   ONE line with the comma-joined values (same signature): radosgw rejects
 *   repeated header lines (seen: 403 SignatureDoesNotMatch).
 * All of this is checked byte for byte against botocore on generated
 * requests (tests/sigv4/test_sigv4_oracle.py) and end to end against
 * radosgw (tests/sigv4/test_cloud_sigv4.py). Where botocore differs:
 * - botocore never signs User-Agent, Expect and X-Amzn-Trace-Id; this signer
 *   signs every header it is given: do not pass headers that a proxy may
 *   rewrite (send them unsigned).
 * - botocore, when given a Date header, rewrites it and drops x-amz-date;
 *   this signer always signs x-amz-date and signs a Date header as given
 *   (as AWS's own S3 PUT example does).
 * - header values: control bytes, tab included, are refused
 *   (IVCS_ERR_INVALID_ARG): CR/LF would inject a header, and tabs are folded
 *   by botocore, kept by the spec's "sequential spaces" rule and rejected
 *   by radosgw, so no signature over one is safe. Only spaces are trimmed.
 *   Bytes >= 0x80 pass through (botocore also folds Unicode spaces such as
 *   U+00A0; ivcs does not).
 * - the Authorization value separates its parts with ", " like botocore
 *   (AWS's examples use ","; servers accept both).
 *
 * Ownership and threads: the caller owns the ivcs_sigv4_s (any storage,
 * about 5 KiB; do not copy an initialised one: it owns an OpenSSL context).
 * Strings of the config are copied at init; request strings are borrowed for
 * the call only. Header names are RFC 9110 tokens of at most 255 bytes. A signer caches derived signing keys, so it may be used by
 * one thread at a time; use one signer per engine thread (init is cheap).
 * Nothing here logs, and secrets are wiped by ivcs_sigv4_cleanup.
 */
#ifndef IVCS_NET_SIGV4_H
#define IVCS_NET_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#include "engine/net/hash.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IVCS_SIGV4_DATE_LEN 16 /* "YYYYMMDDTHHMMSSZ" */
#define IVCS_SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
/* SHA-256 of the empty body, for GET, HEAD, DELETE. */
#define IVCS_SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

#define IVCS_SIGV4_KEY_MAX 128     /* access key id, secret access key */
#define IVCS_SIGV4_TOKEN_MAX 4096  /* session token */
#define IVCS_SIGV4_NAME_MAX 63     /* region, service */
#define IVCS_SIGV4_MAX_HEADERS 64  /* headers per request (caller's) */
#define IVCS_SIGV4_MAX_PARAMS 128  /* query parameters per request */
#define IVCS_SIGV4_KEY_CACHE 4     /* (date, region) signing keys kept */
#define IVCS_SIGV4_MAX_EXPIRES 604800 /* presigned URL lifetime limit of S3 (7 days) */

typedef enum {
    IVCS_SIGV4_S3 = 0,      /* S3: paths as given, encoded once; x-amz-content-sha256 signed */
    IVCS_SIGV4_GENERIC = 1, /* other services: normalised, double-encoded paths;
                               x-amz-content-sha256 signed only for a literal
                               payload hash such as UNSIGNED-PAYLOAD */
} ivcs_sigv4_rules_e;

/* A query parameter or a header. Query names/values are NOT encoded. A NULL
 * query value means "" ("name="); header names and values must not be NULL. */
typedef struct ivcs_sigv4_pair_s {
    const char *name;
    const char *value;
} ivcs_sigv4_pair_s;

typedef struct ivcs_sigv4_config_s {
    const char *access_key;    /* required, 1..128 printable ASCII, no ' ' ',' '/' */
    const char *secret_key;    /* required, 1..128 bytes */
    const char *session_token; /* NULL or "" for none; printable ASCII, no spaces */
    const char *region;        /* required, e.g. "us-east-1"; [A-Za-z0-9._-], <= 63 */
    const char *service;       /* NULL means "s3"; same character rules */
    ivcs_sigv4_rules_e rules;  /* 0 = S3 */
} ivcs_sigv4_config_s;

typedef struct ivcs_sigv4_request_s {
    const char *method;  /* "GET", "PUT", ... (sent and signed as given) */
    const char *path;    /* NOT encoded, starts with '/', e.g. "/bucket/a b/ü.ts" */
    const ivcs_sigv4_pair_s *query; /* NULL if n_query == 0 */
    size_t n_query;
    const ivcs_sigv4_pair_s *headers; /* must include Host exactly once */
    size_t n_headers;
    const char *payload_hash; /* 64 lowercase hex digits (SHA-256 of the body), or
                                 one of S3's literals: IVCS_SIGV4_UNSIGNED_PAYLOAD,
                                 "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                                 "STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]",
                                 "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD[-TRAILER]";
                                 ignored by ivcs_sigv4_presign */
    int64_t time;        /* Unix seconds (UTC) of the request, 1970..9999 */
    const char *region;  /* NULL: the signer's region; else this one (a bucket
                            elsewhere); cached like the signer's own */
} ivcs_sigv4_request_s;

/* Private: the state of one signer. Treat as opaque. */
typedef struct ivcs_sigv4_key_s {
    char date[9]; /* "YYYYMMDD", "" = unused slot */
    char region[IVCS_SIGV4_NAME_MAX + 1];
    uint8_t key[IVCS_SHA256_LEN];
    uint64_t last_use;
} ivcs_sigv4_key_s;

typedef struct ivcs_sigv4_s {
    char access_key[IVCS_SIGV4_KEY_MAX + 1];
    char secret[4 + IVCS_SIGV4_KEY_MAX + 1]; /* "AWS4" + secret key */
    size_t secret_len;
    char token[IVCS_SIGV4_TOKEN_MAX + 1];
    size_t token_len;
    char region[IVCS_SIGV4_NAME_MAX + 1];
    char service[IVCS_SIGV4_NAME_MAX + 1];
    ivcs_sigv4_rules_e rules;
    ivcs_sigv4_key_s cache[IVCS_SIGV4_KEY_CACHE];
    uint64_t uses;
    uint64_t derivations;
    ivcs_digest_s sha; /* canonical-request hash and HMAC scratch */
} ivcs_sigv4_s;

/* Initialises s from cfg (strings copied). Returns 0, IVCS_ERR_INVALID_ARG
 * (missing or malformed field), IVCS_ERR_TOO_LONG (a field over its limit)
 * or IV_ERR_SYS_MALLOC_FAIL (the OpenSSL context). On failure s needs no
 * cleanup. */
int ivcs_sigv4_init(ivcs_sigv4_s *s, const ivcs_sigv4_config_s *cfg);

/* Wipes the secrets and derived keys and frees the OpenSSL context. Safe to
 * call twice or on a zeroed s. */
void ivcs_sigv4_cleanup(ivcs_sigv4_s *s);

/* Replaces the credentials (rotated STS credentials) and drops the cached
 * keys; region, service and rules stay. token NULL or "" for none. Returns 0
 * or IVCS_ERR_INVALID_ARG / IVCS_ERR_TOO_LONG, in which case s is unchanged. */
int ivcs_sigv4_set_credentials(ivcs_sigv4_s *s, const char *access_key, const char *secret_key,
                               const char *session_token);

/* Signs req for the Authorization header. Writes the x-amz-date value
 * ("YYYYMMDDTHHMMSSZ", NUL-terminated) to amz_date and the Authorization
 * header value (NUL-terminated) to auth[0..auth_cap). Returns the length of
 * the Authorization value, or IVCS_ERR_TOO_LONG (auth too small, or more
 * than IVCS_SIGV4_MAX_HEADERS / _MAX_PARAMS), IVCS_ERR_INVALID_ARG (a
 * malformed request: see the file comment) or IVCS_ERR_STATE (OpenSSL
 * failed). Does no allocation and one HMAC chain per new (date, region). */
int ivcs_sigv4_sign(ivcs_sigv4_s *s, const ivcs_sigv4_request_s *req,
                    char amz_date[IVCS_SIGV4_DATE_LEN + 1], char *auth, size_t auth_cap);

/* Streaming SigV4 (STREAMING-AWS4-HMAC-SHA256-PAYLOAD, the AWS "chunked
 * upload"): what signing each aws-chunked chunk needs, filled by
 * ivcs_sigv4_sign_stream from the request's own (seed) signature. Holds the
 * derived signing key: wipe it with ivcs_sigv4_chunk_wipe when done. */
typedef struct ivcs_sigv4_chunk_s {
    uint8_t key[IVCS_SHA256_LEN];
    char date[IVCS_SIGV4_DATE_LEN + 1];
    char scope[8 + 1 + IVCS_SIGV4_NAME_MAX + 1 + IVCS_SIGV4_NAME_MAX + 1 + 16];
    char seed[IVCS_SHA256_HEX_LEN + 1]; /* the Authorization signature */
    char prev[IVCS_SHA256_HEX_LEN + 1]; /* the last chunk's signature (seed at first) */
} ivcs_sigv4_chunk_s;

/* ivcs_sigv4_sign, and ch ready to sign the body's chunks (prev = seed).
 * req->payload_hash should be "STREAMING-AWS4-HMAC-SHA256-PAYLOAD". */
int ivcs_sigv4_sign_stream(ivcs_sigv4_s *s, const ivcs_sigv4_request_s *req,
                           char amz_date[IVCS_SIGV4_DATE_LEN + 1], char *auth, size_t auth_cap,
                           ivcs_sigv4_chunk_s *ch);

/* The signature of the next chunk whose data has SHA-256 data_sha (the
 * empty last chunk: the SHA-256 of ""), chained from ch->prev:
 *   HMAC(key, "AWS4-HMAC-SHA256-PAYLOAD\n" date "\n" scope "\n" prev "\n"
 *             hex(SHA256("")) "\n" hex(data_sha))
 * Writes 64 hex digits + NUL to sig and makes it ch->prev. Uses s's digest
 * as scratch (no allocation). 0 or IVCS_ERR_STATE. */
int ivcs_sigv4_chunk_sign(ivcs_sigv4_s *s, ivcs_sigv4_chunk_s *ch,
                          const uint8_t data_sha[IVCS_SHA256_LEN],
                          char sig[IVCS_SHA256_HEX_LEN + 1]);

/* Restarts the chain at the seed (the body is sent again from byte 0). */
void ivcs_sigv4_chunk_rewind(ivcs_sigv4_chunk_s *ch);

/* Wipes the key. */
void ivcs_sigv4_chunk_wipe(ivcs_sigv4_chunk_s *ch);

/* Presigns req (query-string authentication, S3's presigned URL) valid for
 * expires seconds (1..IVCS_SIGV4_MAX_EXPIRES) from req->time, and writes
 *   <scheme>://<host><encoded path>?<canonical query>&X-Amz-Signature=<hex>
 * to url[0..url_cap), NUL-terminated. scheme is "https" or "http"; host is
 * the value of the Host header of req (trimmed), which is the only signed
 * header unless req has more (whoever uses the URL must send those too). The
 * canonical query holds req's parameters and X-Amz-Algorithm,
 * X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders and, with
 * a session token, X-Amz-Security-Token; the payload is UNSIGNED-PAYLOAD.
 * req's own parameters (e.g. response-content-type) must not use those
 * names nor X-Amz-Signature (any case). Returns the URL length or a
 * negative code as ivcs_sigv4_sign. */
int ivcs_sigv4_presign(ivcs_sigv4_s *s, const ivcs_sigv4_request_s *req, const char *scheme,
                       uint32_t expires, char *url, size_t url_cap);

/* The canonical query string of params (encoded, sorted, '&'-joined; "" for
 * none), which is also what the request line must carry after '?' so the
 * server sees what was signed. Returns its length or IVCS_ERR_TOO_LONG /
 * IVCS_ERR_INVALID_ARG. Thread-safe. */
int ivcs_sigv4_canonical_query(const ivcs_sigv4_pair_s *params, size_t n, char *out, size_t cap);

/* The path as the request line must carry it: every byte outside
 * A-Za-z0-9-._~ and '/' percent-encoded once, nothing normalised (for S3
 * rules this is also the canonical URI). Returns its length or
 * IVCS_ERR_TOO_LONG / IVCS_ERR_INVALID_ARG. Thread-safe. */
int ivcs_sigv4_encode_path(const char *path, char *out, size_t cap);

/* The canonical request that ivcs_sigv4_sign hashes for req, as text (for
 * tests and for comparing with the <CanonicalRequest> of an S3
 * SignatureDoesNotMatch error). It contains the session token if there is
 * one: do not log it. Returns its length or a negative code. */
int ivcs_sigv4_canonical_request(ivcs_sigv4_s *s, const ivcs_sigv4_request_s *req, char *out,
                                 size_t cap);

/* The session token to send as x-amz-security-token, or NULL if none. The
 * string belongs to s. */
const char *ivcs_sigv4_session_token(const ivcs_sigv4_s *s);

/* How many times s derived a signing key (the 4-HMAC chain) so far: lets
 * tests and stats see that the cache works. */
uint64_t ivcs_sigv4_key_derivations(const ivcs_sigv4_s *s);

/* Formats Unix time t as "YYYYMMDDTHHMMSSZ" into out (17 bytes). Returns 16
 * or IVCS_ERR_INVALID_ARG if t is outside 1970..9999. */
int ivcs_sigv4_format_date(int64_t t, char out[IVCS_SIGV4_DATE_LEN + 1]);

#ifdef __cplusplus
}
#endif
#endif
