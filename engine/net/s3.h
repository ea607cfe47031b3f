/*
 * s3.h - S3 operations over the HTTP client (http_client.h), signed with
 * SigV4 (sigv4.h), path-style addressing (endpoint/bucket/key) unless the
 * config asks for virtual-hosted style.
 *
 * Asynchronous use (the engine): fill an ivcs_s3_op, ivcs_s3_start() it, run
 * the loop; op->on_done runs once with the result. One attempt: retries are
 * the caller's (retry.h). Synchronous use (CLI, tests): ivcs_s3_run() starts
 * the op, runs the loop until it is done, and retries as retry.h says up to
 * op->max_attempts times with backoff.
 *
 * Results: 0 for a 2xx (and for 304/412 of a conditional request, with
 * op->res.status telling which); IVCS_ERR_NOT_FOUND for 404;
 * IVCS_ERR_S3 for any other HTTP error, with the S3 error code and message
 * in op->res.code/message (e.g. "SignatureDoesNotMatch"); transport codes
 * (IVCS_ERR_CONNECT, IVCS_ERR_TLS_VERIFY with the reason in
 * op->res.detail, IVCS_ERR_TIMEOUT, ...) otherwise. Secrets never appear in
 * any result string.
 *
 * Request bodies: a buffer, or a producer (http_client.h ivcs_http_body_fn)
 * with body_len. Payload signing: buffers up to IVCS_S3_SIGN_MAX bytes are
 * signed with their SHA-256; larger ones and producers are sent as
 * UNSIGNED-PAYLOAD with Content-MD5 (computed here for buffers, given by the
 * caller for producers), so the server still rejects any corruption in
 * flight; or, as op->integrity asks, in one pass: signed aws-chunked
 * chunks, a CRC32C trailer, or an MD5 checked against the ETag.
 *
 * Threads: the loop's thread only.
 */
#ifndef IVCS_NET_S3_H
#define IVCS_NET_S3_H

#include <stddef.h>
#include <stdint.h>

#include "engine/net/awschunk.h"
#include "engine/net/hash.h"
#include "engine/net/http_client.h"
#include "engine/net/loop.h"
#include "engine/net/s3_xml.h"
#include "ivcs_config.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IVCS_S3_SIGN_MAX (256 * 1024)
#define IVCS_S3_HEAD_MAX 8192   /* request head (line + headers) */
#define IVCS_S3_META_MAX 8      /* x-amz-meta-* pairs per request/response */
/* aws-chunked data bytes per chunk: 348 TS packets, so a signed chunk with
 * its framing (89 bytes) fits one IVCS_HTTP_STAGE_SIZE producer call */
#define IVCS_S3_CHUNK (348 * 188)

typedef struct ivcs_s3 ivcs_s3;

typedef enum {
    IVCS_S3_PUT = 1,
    IVCS_S3_GET,
    IVCS_S3_HEAD,
    IVCS_S3_DELETE,
    IVCS_S3_LIST,           /* ListObjectsV2 */
    IVCS_S3_CREATE_BUCKET,
    IVCS_S3_PUT_LIFECYCLE,  /* body: the LifecycleConfiguration XML */
    IVCS_S3_GET_LIFECYCLE,  /* the configuration XML to on_data; a bucket without
                               one: IVCS_ERR_NOT_FOUND, res.code
                               "NoSuchLifecycleConfiguration" (a missing bucket:
                               "NoSuchBucket") */
    IVCS_S3_DELETE_LIFECYCLE,
    IVCS_S3_PUT_CORS,       /* body: the CORSConfiguration XML */
    IVCS_S3_GET_CORS,       /* the configuration XML to on_data; none: IVCS_ERR_NOT_FOUND,
                               res.code "NoSuchCORSConfiguration" */
    IVCS_S3_DELETE_CORS,
} ivcs_s3_kind_e;

typedef struct ivcs_s3_meta {
    char name[64];   /* without the "x-amz-meta-" prefix, lowercase */
    char value[256];
} ivcs_s3_meta;

/* One ListObjectsV2 record: an object (is_prefix 0) or a CommonPrefix. */
typedef struct ivcs_s3_entry {
    const char *key;
    uint64_t size;
    const char *etag;
    const char *last_modified;
    int is_prefix;
} ivcs_s3_entry;

typedef struct ivcs_s3_result {
    int status;                /* HTTP status, 0 if none */
    char code[64];             /* S3 error code, "" if none */
    char message[256];         /* S3 error message */
    char detail[256];          /* transport detail (TLS verify reason, errno text) */
    char request_id[128];
    char etag[80];             /* as sent by the server, quotes included */
    int64_t content_length;    /* of the response (HEAD: of the object); -1 if absent */
    char content_type[128];
    char last_modified[64];
    char content_range[96];
    ivcs_s3_meta meta[IVCS_S3_META_MAX];
    int n_meta;
    /* LIST */
    int is_truncated;
    char next_token[IVCS_S3_TOKEN_MAX + 1]; /* NextContinuationToken */
    uint32_t key_count;
    unsigned attempts;         /* tries ivcs_s3_run made */
    int64_t date;              /* the server's Date header, Unix s; 0 if absent or malformed */
    int skew_corrected;        /* a RequestTimeTooSkewed answer reset the signing clock */
} ivcs_s3_result;

typedef struct ivcs_s3_op ivcs_s3_op;

/* Paging through a ListObjectsV2 that a hostile or broken server cannot
 * keep going forever: a truncated page without a token, a token equal to
 * the one just sent, a key that does not sort after every key of the
 * earlier pages (S3 lists in UTF-8 binary order, so a server replaying
 * pages is caught at once), or more than max_pages pages end the listing
 * with IVCS_ERR_S3, res.code "InvalidPagination" and the reason in
 * res.message.
 *
 *     ivcs_s3_pager pg;
 *     ivcs_s3_pager_init(&pg, 0);
 *     do { op init...; ivcs_s3_pager_apply(&pg, &op); rc = ivcs_s3_run(s3, &op);
 *          if (rc == 0) rc = ivcs_s3_pager_next(&pg, &op); ... } while (rc == 1);
 */
#define IVCS_S3_LIST_PAGES_MAX 10000u /* 10 M keys at the default 1000 a page */
typedef struct ivcs_s3_pager {
    char token[IVCS_S3_TOKEN_MAX + 1]; /* for the next page, "" for the first */
    char after[IVCS_S3_KEY_MAX + 1];   /* greatest key/prefix of the earlier pages */
    char page_max[IVCS_S3_KEY_MAX + 1];
    unsigned pages, max_pages;
} ivcs_s3_pager;

/* max_pages 0: IVCS_S3_LIST_PAGES_MAX. */
void ivcs_s3_pager_init(ivcs_s3_pager *pg, unsigned max_pages);
/* Sets op's continuation token and checks its keys (op->pager). */
void ivcs_s3_pager_apply(ivcs_s3_pager *pg, ivcs_s3_op *op);
/* After a successful page: 1 (another page to fetch), 0 (the listing is
 * complete) or IVCS_ERR_S3 (see above; op->res says why). */
int ivcs_s3_pager_next(ivcs_s3_pager *pg, ivcs_s3_op *op);

struct ivcs_s3_op {
    /* in */
    ivcs_s3_kind_e kind;
    const char *key;              /* object key (the config prefix is NOT added) */
    const uint8_t *body;          /* PUT / lifecycle body, or NULL */
    ivcs_http_body_fn body_fn;    /* or a producer */
    void *body_arg;
    uint64_t body_len;
    const char *content_md5;      /* base64; NULL: computed (buffers only); "": none */
    const char *content_type;     /* NULL: none */
    const ivcs_s3_meta *meta;     /* PUT metadata */
    int n_meta;
    const char *if_none_match;    /* PUT: "*"; GET: an ETag; NULL: none */
    const char *if_match;         /* GET/HEAD: an ETag; NULL: none */
    int64_t range_first, range_last; /* GET bytes=first-last; first < 0: whole;
                                        last < 0: to the end */
    const char *prefix, *delimiter, *continuation, *start_after; /* LIST */
    uint32_t max_keys;            /* LIST: 0 = server default (1000) */
    uint32_t upload_ms, reply_ms; /* 0: the client's defaults */
    unsigned max_attempts;        /* ivcs_s3_run: 0 = 1 (no retry) */
    uint32_t backoff_max_ms;      /* ivcs_s3_run: cap on one wait, 0 = 16 s */
    /* GET / GET_LIFECYCLE body sink; NULL: the body is discarded. Non-zero
     * return fails. Without resume, each attempt of ivcs_s3_run hands the
     * body from its first byte again (res.attempts tells which attempt). */
    int (*on_data)(void *arg, const uint8_t *data, size_t len);
    /* LIST records; a non-zero return fails the op with that code */
    int (*on_entry)(void *arg, const ivcs_s3_entry *e);
    void (*on_done)(ivcs_s3_op *op, int result); /* async only */
    /* GET with ivcs_s3_run: on_data gets every byte exactly once. A retry
     * after bytes were handed asks only for the rest (Range from the next
     * byte, If-Match the ETag of the first answer) and fails the op rather
     * than hand a byte twice: no ETag to match, or an answer that is not
     * the 206 of exactly that rest of the same object, gives IVCS_ERR_S3
     * with res.code "ResumeFailed" (412: "PreconditionFailed", the object
     * changed). */
    int resume;
    void *arg;
    ivcs_s3_pager *pager;         /* LIST: set by ivcs_s3_pager_apply */
    /* debug/test: sent as the Content-MD5 value instead of the real one */
    const char *debug_bad_md5;
    /* PUT integrity (ivcs_integrity_e, docs/TRANSPORT.md "Integrity"):
     * AUTO (0) and MD5: Content-MD5 as above. SHA256_CHUNKED: streaming
     * SigV4, an aws-chunked body whose every chunk is signed (awschunk.h).
     * CRC32C_TRAILER: aws-chunked, unsigned, x-amz-checksum-crc32c trailer.
     * MD5_ETAG: MD5 of the body computed while it is sent, compared with the
     * ETag of the 2xx: IVCS_ERR_INTEGRITY (retried) if they differ. The
     * last three send no Content-MD5 and read the body once. */
    int integrity;
    uint32_t chunk_size;          /* aws-chunked data per chunk; 0: IVCS_S3_CHUNK */
    /* debug/test: 1 + the offset of a body byte flipped on the way out, after
     * every checksum was taken (corruption in flight), first attempt only */
    uint64_t debug_flip;
    /* out */
    ivcs_s3_result res;
    /* private */
    ivcs_s3 *s3;
    ivcs_http_request http;
    char md5_b64[32];
    ivcs_awschunk_s ac;           /* aws-chunked encoder */
    ivcs_hash_state_s md5s;       /* MD5_ETAG: MD5 of the bytes produced */
    uint64_t md5_off;
    uint8_t *ebuf;   /* collected response body (errors, listings) */
    size_t ebuf_len, ebuf_cap;
    int collect;
    int done, result;
    uint64_t delivered;          /* resume: bytes handed to on_data so far */
    uint64_t resume_at;          /* resume: this attempt's first byte, 0: none */
    int64_t want_first, want_last; /* resume: the range asked for at first */
    int body_checked;            /* resume: this attempt's answer was checked */
    char resume_etag[80];
    char head[IVCS_S3_HEAD_MAX];
};

/* A new client's timeouts until ivcs_s3_set_timeouts (whole transfer, reply). */
#define IVCS_S3_DEFAULT_TRANSFER_MS 120000u
#define IVCS_S3_DEFAULT_REPLY_MS 30000u

/* Creates a client from cfg (copied). loop NULL: the client makes and owns
 * one (for ivcs_s3_run). IVCS_ERR_CONFIG / IVCS_ERR_TLS (CA file). */
IVCS_MUST_CHECK int ivcs_s3_new(ivcs_s3 **out, const ivcs_allocator_s *alloc,
                                const ivcs_config_s *cfg, ivcs_loop *loop);
void ivcs_s3_destroy(ivcs_s3 *s3);

ivcs_loop *ivcs_s3_loop(ivcs_s3 *s3);
ivcs_http_client *ivcs_s3_http(ivcs_s3 *s3);

/* Default timeouts of ops that leave theirs 0 (ms): upload, reply. */
void ivcs_s3_set_timeouts(ivcs_s3 *s3, uint32_t upload_ms, uint32_t reply_ms);

/* Starts op (one attempt); on_done runs from the loop. 0 or a negative code
 * (then on_done never runs). */
IVCS_MUST_CHECK int ivcs_s3_start(ivcs_s3 *s3, ivcs_s3_op *op);

/* Runs op to completion on the client's loop with retries; returns the
 * result (see above). */
IVCS_MUST_CHECK int ivcs_s3_run(ivcs_s3 *s3, ivcs_s3_op *op);

/* A zeroed op of the given kind (ranges off). */
void ivcs_s3_op_init(ivcs_s3_op *op, ivcs_s3_kind_e kind, const char *key);

/* Releases what a finished op holds (its collected body buffer). */
void ivcs_s3_op_cleanup(ivcs_s3_op *op);

/* A presigned GET URL for key valid expires seconds from now. */
IVCS_MUST_CHECK /* Seconds the signing clock is ahead of this host's clock: 0 until a
 * server answered 403 RequestTimeTooSkewed with a valid Date header (a
 * device whose clock is wrong, e.g. no RTC and no NTP yet); then every
 * request and presigned URL is signed at time(NULL) + this. Recording times
 * and object keys are not touched (they stay the device's clock). */
int64_t ivcs_s3_clock_skew(const ivcs_s3 *s);

int ivcs_s3_presign_get(ivcs_s3 *s3, const char *key, uint32_t expires,
                                        char *url, size_t cap);

/* Picks the cheapest integrity mode the server really checks (config
 * "integrity": "auto"), with a client of its own (its own loop, cfg copied):
 * PUTs of a 70,000-byte probe object to key, each mode first as it should
 * be and then with one byte flipped after the checksum (the server must
 * refuse that one): crc32c-trailer, then sha256-chunked (only on a CPU with
 * SHA-256 instructions: ivcs_sha256_hw); else md5-etag if
 * the ETag of a plain PUT is the body's MD5; else md5. The probe object is
 * deleted after. Every request is bounded by timeout_ms and made once. A
 * probe that cannot reach the server gives md5 (and *answered, if not NULL,
 * is 0: no answer at all to its first request; else 1). note (cap bytes)
 * gets one line saying what was seen. Returns the ivcs_integrity_e chosen. */
int ivcs_s3_probe_integrity(const ivcs_allocator_s *alloc, const ivcs_config_s *cfg,
                            const char *key, uint32_t timeout_ms, char *note, size_t cap,
                            int *answered);

/* Content-MD5 value (base64 of the MD5) of p[0..n) into out (>= 25 bytes). */
IVCS_MUST_CHECK int ivcs_s3_content_md5(const void *p, size_t n, char *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
