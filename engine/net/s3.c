/* s3.c - S3 requests: build, sign, send, interpret. */
#include "engine/net/s3.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "engine/core/alloc.h"
#include "engine/net/hash.h"
#include "engine/net/http_parse.h"
#include "engine/net/retry.h"
#include "engine/net/s3_xml.h"
#include "engine/net/sigv4.h"

#define EBUF_MAX (8u << 20) /* a ListObjectsV2 page of 1000 long keys fits */

struct ivcs_s3 {
    const ivcs_allocator_s *alloc;
    ivcs_config_s cfg;
    ivcs_loop *loop;
    int own_loop;
    ivcs_http_client *http;
    ivcs_sigv4_s sig;
    char host[300]; /* Host header (with the bucket for virtual-hosted style) */
    uint32_t upload_ms, reply_ms;
    uint64_t rng;
    int64_t skew_s; /* signing clock - time(NULL): ivcs_s3_clock_skew */
};

/* A Date more than this far from ours is not believed (a hostile or broken
 * server): 50 years, which also keeps the skew in 32 bits. */
#define SKEW_MAX_S (50LL * 366 * 86400)

int64_t ivcs_s3_clock_skew(const ivcs_s3 *s)
{
    return s ? s->skew_s : 0;
}

static int64_t sign_time(const ivcs_s3 *s)
{
    return (int64_t)time(NULL) + s->skew_s;
}

int ivcs_s3_new(ivcs_s3 **out, const ivcs_allocator_s *alloc, const ivcs_config_s *cfg,
                ivcs_loop *loop)
{
    if (!out || !cfg) return IVCS_ERR_INVALID_ARG;
    alloc = ivcs_allocator_or_default(alloc);
    ivcs_s3 *s = ivcs_alloc(alloc, sizeof *s, _Alignof(ivcs_s3));
    if (!s) return IV_ERR_SYS_MALLOC_FAIL;
    memset(s, 0, sizeof *s);
    s->alloc = alloc;
    s->cfg = *cfg;
    s->upload_ms = IVCS_S3_DEFAULT_TRANSFER_MS;
    s->reply_ms = IVCS_S3_DEFAULT_REPLY_MS;
    s->rng = (uint64_t)time(NULL) ^ ((uint64_t)(uintptr_t)s << 16) ^ 0x5deece66dull;
    int rc = 0;
    if (!cfg->bucket[0] || !cfg->access_key[0] || !cfg->secret_key[0]) rc = IVCS_ERR_CONFIG;
    if (rc == 0 && !loop) {
        rc = ivcs_loop_new_backend(&s->loop, alloc, 64, cfg->io_backend);
        s->own_loop = rc == 0;
    } else {
        s->loop = loop;
    }
    if (rc == 0)
        rc = ivcs_http_client_new(&s->http, alloc, s->loop, cfg->endpoint, cfg->ca_file,
                                  cfg->verify_tls);
    if (rc == 0) {
        ivcs_sigv4_config_s sc = {.access_key = cfg->access_key,
                                  .secret_key = cfg->secret_key,
                                  .session_token = cfg->session_token,
                                  .region = cfg->region[0] ? cfg->region : "us-east-1",
                                  .service = "s3"};
        if (ivcs_sigv4_init(&s->sig, &sc) < 0) rc = IVCS_ERR_CONFIG;
    }
    if (rc == 0) {
        const char *hp = ivcs_http_client_host(s->http);
        if (cfg->virtual_host) snprintf(s->host, sizeof s->host, "%s.%s", cfg->bucket, hp);
        else snprintf(s->host, sizeof s->host, "%s", hp);
    }
    if (rc < 0) {
        ivcs_http_client_destroy(s->http);
        if (s->own_loop) ivcs_loop_destroy(s->loop);
        memset(&s->cfg, 0, sizeof s->cfg);
        ivcs_free(alloc, s, sizeof *s);
        return rc;
    }
    *out = s;
    return 0;
}

void ivcs_s3_destroy(ivcs_s3 *s)
{
    if (!s) return;
    ivcs_http_client_destroy(s->http);
    if (s->own_loop) ivcs_loop_destroy(s->loop);
    ivcs_sigv4_cleanup(&s->sig);
    /* The config holds the secret key. */
    memset(&s->cfg, 0, sizeof s->cfg);
    ivcs_free(s->alloc, s, sizeof *s);
}

ivcs_loop *ivcs_s3_loop(ivcs_s3 *s)
{
    return s->loop;
}

ivcs_http_client *ivcs_s3_http(ivcs_s3 *s)
{
    return s->http;
}

void ivcs_s3_set_timeouts(ivcs_s3 *s, uint32_t upload_ms, uint32_t reply_ms)
{
    s->upload_ms = upload_ms;
    s->reply_ms = reply_ms;
}

void ivcs_s3_op_init(ivcs_s3_op *op, ivcs_s3_kind_e kind, const char *key)
{
    memset(op, 0, offsetof(ivcs_s3_op, head));
    op->kind = kind;
    op->key = key;
    op->range_first = -1;
    op->range_last = -1;
}

void ivcs_s3_op_cleanup(ivcs_s3_op *op)
{
    ivcs_sigv4_chunk_wipe(&op->ac.ch);
    if (op->ebuf && op->s3) ivcs_free(op->s3->alloc, op->ebuf, op->ebuf_cap);
    op->ebuf = NULL;
    op->ebuf_len = op->ebuf_cap = 0;
}

int ivcs_s3_content_md5(const void *p, size_t n, char *out, size_t cap)
{
    uint8_t md[IVCS_MD5_LEN];
    int rc = ivcs_md5(p, n, md);
    if (rc < 0) return rc;
    rc = ivcs_base64_encode(md, sizeof md, out, cap);
    return rc < 0 ? rc : 0;
}

/* ---------------------------------------------------------------- response */

static void copy_str(char *dst, size_t cap, const char *src, size_t len)
{
    if (len >= cap) len = cap - 1;
    memcpy(dst, src, len);
    dst[len] = 0;
}

static int on_header(void *arg, int status, const char *name, size_t nl, const char *value,
                     size_t vl)
{
    ivcs_s3_op *op = arg;
    ivcs_s3_result *r = &op->res;
    (void)status;
    if (ivcs_http_name_is(name, nl, "etag")) {
        copy_str(r->etag, sizeof r->etag, value, vl);
    } else if (ivcs_http_name_is(name, nl, "content-length")) {
        r->content_length = strtoll(value, NULL, 10);
    } else if (ivcs_http_name_is(name, nl, "content-type")) {
        copy_str(r->content_type, sizeof r->content_type, value, vl);
    } else if (ivcs_http_name_is(name, nl, "last-modified")) {
        copy_str(r->last_modified, sizeof r->last_modified, value, vl);
    } else if (ivcs_http_name_is(name, nl, "content-range")) {
        copy_str(r->content_range, sizeof r->content_range, value, vl);
    } else if (ivcs_http_name_is(name, nl, "date")) {
        int64_t t;
        r->date = ivcs_http_date_parse(value, vl, &t) == 0 ? t : 0;
    } else if (ivcs_http_name_is(name, nl, "x-amz-request-id")) {
        copy_str(r->request_id, sizeof r->request_id, value, vl);
    } else if (nl > 11 && !strncasecmp(name, "x-amz-meta-", 11) && r->n_meta < IVCS_S3_META_MAX) {
        ivcs_s3_meta *m = &r->meta[r->n_meta++];
        copy_str(m->name, sizeof m->name, name + 11, nl - 11);
        for (char *c = m->name; *c; c++)
            if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
        copy_str(m->value, sizeof m->value, value, vl);
    }
    return 0;
}

static int collect(ivcs_s3_op *op, const uint8_t *data, size_t len)
{
    if (op->ebuf_len + len > op->ebuf_cap) {
        size_t cap = op->ebuf_cap ? op->ebuf_cap : 16384;
        while (cap < op->ebuf_len + len) cap *= 2;
        if (cap > EBUF_MAX) return IVCS_ERR_TOO_LONG;
        uint8_t *n = ivcs_alloc(op->s3->alloc, cap, 16);
        if (!n) return IV_ERR_SYS_MALLOC_FAIL;
        if (op->ebuf_len) memcpy(n, op->ebuf, op->ebuf_len);
        ivcs_free(op->s3->alloc, op->ebuf, op->ebuf_cap);
        op->ebuf = n;
        op->ebuf_cap = cap;
    }
    memcpy(op->ebuf + op->ebuf_len, data, len);
    op->ebuf_len += len;
    return 0;
}

static int resume_fail(ivcs_s3_op *op, const char *why)
{
    snprintf(op->res.code, sizeof op->res.code, "ResumeFailed");
    snprintf(op->res.message, sizeof op->res.message, "%s", why);
    return IVCS_ERR_S3;
}

/* The first body bytes of a resumed attempt: only the 206 of exactly the
 * rest of the same object may continue what on_data already has. */
static int resume_check(ivcs_s3_op *op, int status)
{
    op->body_checked = 1;
    ivcs_s3_result *r = &op->res;
    if (!op->resume_at) {
        snprintf(op->resume_etag, sizeof op->resume_etag, "%s", r->etag);
        return 0;
    }
    if (status != 206) return resume_fail(op, "the server ignored the Range of a resumed download");
    if (strcmp(r->etag, op->resume_etag))
        return resume_fail(op, "the object changed during the download (another ETag)");
    unsigned long long a;
    if (sscanf(r->content_range, "bytes %llu-", &a) != 1 || a != op->resume_at)
        return resume_fail(op, "a resumed download got another byte range");
    return 0;
}

static int on_body(void *arg, int status, const uint8_t *data, size_t len)
{
    ivcs_s3_op *op = arg;
    if (status >= 200 && status < 300 &&
        (op->kind == IVCS_S3_GET || op->kind == IVCS_S3_GET_LIFECYCLE ||
         op->kind == IVCS_S3_GET_CORS)) {
        if (op->resume && !op->body_checked) {
            int rc = resume_check(op, status);
            if (rc < 0) return rc;
        }
        int rc = op->on_data ? op->on_data(op->arg, data, len) : 0;
        if (rc == 0) op->delivered += len;
        return rc;
    }
    return collect(op, data, len);
}

/* Names for statuses whose responses have no XML (HEAD, or odd servers). */
static const char *status_code_name(int status)
{
    switch (status) {
    case 301: return "PermanentRedirect";
    case 304: return "NotModified";
    case 400: return "BadRequest";
    case 403: return "Forbidden";
    case 404: return "NotFound";
    case 405: return "MethodNotAllowed";
    case 409: return "Conflict";
    case 412: return "PreconditionFailed";
    case 416: return "InvalidRange";
    case 500: return "InternalError";
    case 501: return "NotImplemented";
    case 503: return "ServiceUnavailable";
    default: return "HttpError";
    }
}

/* ---------------------------------------------------------------- XML
 * S3 error documents and ListObjectsV2 pages, read with s3_xml.h (expat). */

static int bad_paging(ivcs_s3_op *op, const char *why)
{
    snprintf(op->res.code, sizeof op->res.code, "InvalidPagination");
    snprintf(op->res.message, sizeof op->res.message, "%s", why);
    return IVCS_ERR_S3;
}

void ivcs_s3_pager_init(ivcs_s3_pager *pg, unsigned max_pages)
{
    memset(pg, 0, sizeof *pg);
    pg->max_pages = max_pages ? max_pages : IVCS_S3_LIST_PAGES_MAX;
}

void ivcs_s3_pager_apply(ivcs_s3_pager *pg, ivcs_s3_op *op)
{
    op->continuation = pg->token[0] ? pg->token : NULL;
    op->pager = pg;
    pg->page_max[0] = 0;
}

int ivcs_s3_pager_next(ivcs_s3_pager *pg, ivcs_s3_op *op)
{
    pg->pages++;
    if (pg->page_max[0]) memcpy(pg->after, pg->page_max, sizeof pg->after);
    if (!op->res.is_truncated) return 0;
    if (!op->res.next_token[0])
        return bad_paging(op, "a truncated listing page without a continuation token");
    if (!strcmp(op->res.next_token, pg->token))
        return bad_paging(op, "the server repeated the continuation token");
    if (pg->pages >= pg->max_pages) {
        char m[96];
        snprintf(m, sizeof m, "more than %u listing pages", pg->max_pages);
        return bad_paging(op, m);
    }
    memcpy(pg->token, op->res.next_token, sizeof pg->token);
    return 1;
}

static int list_entry(void *user, const ivcs_s3_list_entry *le)
{
    ivcs_s3_op *op = user;
    op->res.key_count++;
    ivcs_s3_pager *pg = op->pager;
    if (pg) {
        /* Every key of a page sorts after every key of the pages before. */
        int c = pg->pages ? strcmp(le->key, pg->after) : 1;
        /* A CommonPrefix may be cut by a page end and named again. */
        if (c == 0 && le->kind == IVCS_S3_ENTRY_PREFIX) return 0;
        if (c <= 0) return bad_paging(op, "a listing page repeated keys of an earlier page");
        if (strcmp(le->key, pg->page_max) > 0)
            snprintf(pg->page_max, sizeof pg->page_max, "%s", le->key);
    }
    if (!op->on_entry) return 0;
    ivcs_s3_entry e = {.key = le->key, .size = le->size, .etag = le->etag,
                       .last_modified = le->last_modified,
                       .is_prefix = le->kind == IVCS_S3_ENTRY_PREFIX};
    int rc = op->on_entry(op->arg, &e);
    return rc > 0 ? IVCS_ERR_CANCELLED : rc;
}

static int s3_list_parse(ivcs_s3_op *op)
{
    ivcs_s3_xml x;
    ivcs_s3_list_result lr;
    int rc = ivcs_s3_xml_init_list(&x, &lr, 0, list_entry, op, op->s3->alloc);
    if (rc < 0) return rc;
    rc = ivcs_s3_xml_feed(&x, op->ebuf, op->ebuf_len);
    if (rc == 0) rc = ivcs_s3_xml_finish(&x);
    ivcs_s3_xml_cleanup(&x);
    if (rc < 0) return rc;
    op->res.is_truncated = lr.is_truncated;
    snprintf(op->res.next_token, sizeof op->res.next_token, "%s", lr.next_token);
    return 0;
}

/* Best effort: the HTTP status still tells what happened if the body is
 * not a well-formed error document. */
static void s3_error_parse(ivcs_s3_op *op)
{
    ivcs_s3_xml x;
    ivcs_s3_error e;
    if (ivcs_s3_xml_init_error(&x, &e, op->s3->alloc) < 0) return;
    int rc = ivcs_s3_xml_feed(&x, op->ebuf, op->ebuf_len);
    if (rc == 0) rc = ivcs_s3_xml_finish(&x);
    ivcs_s3_xml_cleanup(&x);
    if (rc < 0) return;
    ivcs_s3_result *r = &op->res;
    snprintf(r->code, sizeof r->code, "%s", e.code);
    snprintf(r->message, sizeof r->message, "%.255s", e.message);
    if (!r->request_id[0]) snprintf(r->request_id, sizeof r->request_id, "%s", e.request_id);
}

/* MD5_ETAG: a single-part PUT's ETag is the MD5 of what the server stored. */
static int etag_check(ivcs_s3_op *op)
{
    ivcs_s3_result *r = &op->res;
    if (op->md5_off != op->body_len) return IVCS_ERR_STATE;
    uint8_t d[IVCS_MD5_LEN];
    char hex[2 * IVCS_MD5_LEN + 1];
    ivcs_hash_final(&op->md5s, d);
    ivcs_hex_encode(d, sizeof d, hex);
    const char *e = r->etag;
    size_t n = strlen(e);
    if (n >= 2 && e[0] == '"' && e[n - 1] == '"') {
        e++;
        n -= 2;
    }
    if (n == 2 * IVCS_MD5_LEN && !strncasecmp(e, hex, n)) return 0;
    snprintf(r->code, sizeof r->code, "ETagMismatch");
    snprintf(r->message, sizeof r->message, "ETag %.80s is not the MD5 %s of the body sent", r->etag,
             hex);
    return IVCS_ERR_INTEGRITY;
}

static int finish_result(ivcs_s3_op *op, int err)
{
    ivcs_s3_result *r = &op->res;
    r->status = op->http.status;
    if (err) {
        snprintf(r->detail, sizeof r->detail, "%s", op->http.error);
        return err;
    }
    int st = r->status;
    if (st >= 200 && st < 300) {
        if (op->kind == IVCS_S3_LIST) return s3_list_parse(op);
        if (op->kind == IVCS_S3_PUT && op->integrity == IVCS_INTEGRITY_MD5_ETAG)
            return etag_check(op);
        return 0;
    }
    if ((st == 304 || st == 412) && op->if_none_match) return 0;
    if (op->ebuf_len) s3_error_parse(op);
    if (!r->code[0]) snprintf(r->code, sizeof r->code, "%s", status_code_name(st));
    if (st == 403 && !strcmp(r->code, "RequestTimeTooSkewed") && r->date > 0) {
        /* sign by the server's clock from now on (what the AWS SDKs do) */
        int64_t skew = r->date - (int64_t)time(NULL);
        if (skew > -SKEW_MAX_S && skew < SKEW_MAX_S && skew != op->s3->skew_s) {
            op->s3->skew_s = skew;
            r->skew_corrected = 1;
        }
    }
    return st == 404 ? IVCS_ERR_NOT_FOUND : IVCS_ERR_S3;
}

static void on_http_done(void *arg, int err, int status)
{
    ivcs_s3_op *op = arg;
    (void)status;
    op->result = finish_result(op, err);
    op->done = 1;
    if (op->on_done) op->on_done(op, op->result);
}

/* ---------------------------------------------------------------- request */

static int append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#include <stdarg.h>
static int append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap - *len) return IVCS_ERR_TOO_LONG;
    *len += (size_t)n;
    return 0;
}

/* "/bucket/key" (path style) or "/key" (virtual-hosted), unencoded. */
static int object_path(ivcs_s3 *s, const char *key, char *out, size_t cap)
{
    int n = s->cfg.virtual_host ? snprintf(out, cap, "/%s", key ? key : "")
                                : snprintf(out, cap, "/%s%s%s", s->cfg.bucket, key ? "/" : "",
                                           key ? key : "");
    return (n < 0 || (size_t)n >= cap) ? IVCS_ERR_TOO_LONG : 0;
}

/* MD5_ETAG: the caller's body, hashed as it goes out (and debug_flip). */
static int64_t etag_body(void *arg, uint64_t offset, uint8_t *buf, size_t cap)
{
    ivcs_s3_op *op = arg;
    if (offset == 0) {
        ivcs_hash_begin(&op->md5s, IVCS_DIGEST_MD5);
        op->md5_off = 0;
    } else if (offset != op->md5_off) {
        return IVCS_ERR_STATE;
    }
    int64_t r;
    if (op->body) {
        uint64_t left = op->body_len - offset;
        r = (int64_t)(left < cap ? left : cap);
        memcpy(buf, op->body + offset, (size_t)r);
    } else {
        r = op->body_fn(op->body_arg, offset, buf, cap);
    }
    if (r > 0) {
        ivcs_hash_update(&op->md5s, buf, (size_t)r);
        op->md5_off += (uint64_t)r;
        uint64_t f = op->res.attempts <= 1 ? op->debug_flip : 0;
        if (f > offset && f <= offset + (uint64_t)r) buf[f - 1 - offset] ^= 0x20;
    }
    return r;
}

int ivcs_s3_start(ivcs_s3 *s, ivcs_s3_op *op)
{
    if (!s || !op) return IVCS_ERR_INVALID_ARG;
    int needs_key = op->kind == IVCS_S3_PUT || op->kind == IVCS_S3_GET ||
                    op->kind == IVCS_S3_HEAD || op->kind == IVCS_S3_DELETE;
    if (needs_key && (!op->key || !op->key[0])) return IVCS_ERR_INVALID_ARG;
    if (op->body_len && !op->body && !op->body_fn) return IVCS_ERR_INVALID_ARG;
    op->s3 = s;
    op->ebuf_len = 0;
    op->done = 0;
    op->result = 0;
    op->body_checked = 0;
    unsigned attempts = op->res.attempts;
    memset(&op->res, 0, sizeof op->res);
    op->res.attempts = attempts;
    op->res.content_length = -1;

    const char *method = "GET";
    int has_body = 0;
    switch (op->kind) {
    case IVCS_S3_PUT: method = "PUT"; has_body = 1; break;
    case IVCS_S3_GET: case IVCS_S3_LIST: method = "GET"; break;
    case IVCS_S3_HEAD: method = "HEAD"; break;
    case IVCS_S3_DELETE: method = "DELETE"; break;
    case IVCS_S3_CREATE_BUCKET: method = "PUT"; has_body = op->body_len > 0; break;
    case IVCS_S3_PUT_LIFECYCLE: method = "PUT"; has_body = 1; break;
    case IVCS_S3_GET_LIFECYCLE: method = "GET"; break;
    case IVCS_S3_DELETE_LIFECYCLE: method = "DELETE"; break;
    case IVCS_S3_PUT_CORS: method = "PUT"; has_body = 1; break;
    case IVCS_S3_GET_CORS: method = "GET"; break;
    case IVCS_S3_DELETE_CORS: method = "DELETE"; break;
    default: return IVCS_ERR_INVALID_ARG;
    }
    if (!has_body && op->body_len) return IVCS_ERR_INVALID_ARG;
    int integ = op->kind == IVCS_S3_PUT ? op->integrity : IVCS_INTEGRITY_AUTO;
    if (integ < IVCS_INTEGRITY_AUTO || integ > IVCS_INTEGRITY_MAX) return IVCS_ERR_INVALID_ARG;
    int chunked = integ == IVCS_INTEGRITY_SHA256_CHUNKED || integ == IVCS_INTEGRITY_CRC32C_TRAILER;
    int one_pass = chunked || integ == IVCS_INTEGRITY_MD5_ETAG;
    ivcs_awschunk_kind_e ak =
        integ == IVCS_INTEGRITY_SHA256_CHUNKED ? IVCS_AWSCHUNK_SIGNED : IVCS_AWSCHUNK_TRAILER_CRC32C;
    uint32_t chunk = op->chunk_size ? op->chunk_size : IVCS_S3_CHUNK;
    if (chunked && ivcs_awschunk_frame_max(ak, chunk) > IVCS_HTTP_STAGE_SIZE)
        return IVCS_ERR_INVALID_ARG;

    /* Query parameters. */
    ivcs_sigv4_pair_s q[8];
    size_t nq = 0;
    char maxkeys[16];
    if (op->kind == IVCS_S3_LIST) {
        q[nq++] = (ivcs_sigv4_pair_s){"list-type", "2"};
        if (op->prefix) q[nq++] = (ivcs_sigv4_pair_s){"prefix", op->prefix};
        if (op->delimiter) q[nq++] = (ivcs_sigv4_pair_s){"delimiter", op->delimiter};
        if (op->continuation) q[nq++] = (ivcs_sigv4_pair_s){"continuation-token", op->continuation};
        if (op->start_after) q[nq++] = (ivcs_sigv4_pair_s){"start-after", op->start_after};
        if (op->max_keys) {
            snprintf(maxkeys, sizeof maxkeys, "%u", op->max_keys);
            q[nq++] = (ivcs_sigv4_pair_s){"max-keys", maxkeys};
        }
    } else if (op->kind == IVCS_S3_PUT_LIFECYCLE || op->kind == IVCS_S3_GET_LIFECYCLE ||
               op->kind == IVCS_S3_DELETE_LIFECYCLE) {
        q[nq++] = (ivcs_sigv4_pair_s){"lifecycle", ""};
    } else if (op->kind == IVCS_S3_PUT_CORS || op->kind == IVCS_S3_GET_CORS ||
               op->kind == IVCS_S3_DELETE_CORS) {
        q[nq++] = (ivcs_sigv4_pair_s){"cors", ""};
    }

    /* Signed headers. */
    ivcs_sigv4_pair_s h[11 + IVCS_S3_META_MAX];
    char declen[24];
    size_t nh = 0;
    char metanames[IVCS_S3_META_MAX][80];
    char range[64];
    h[nh++] = (ivcs_sigv4_pair_s){"Host", s->host};
    const char *md5 = NULL;
    if (has_body) {
        md5 = one_pass ? NULL : op->content_md5;
        if (!md5 && op->body && !one_pass) {
            int rc = ivcs_s3_content_md5(op->body, (size_t)op->body_len, op->md5_b64,
                                         sizeof op->md5_b64);
            if (rc < 0) return rc;
            md5 = op->md5_b64;
        }
        if (op->debug_bad_md5) md5 = op->debug_bad_md5;
        if (md5 && md5[0]) h[nh++] = (ivcs_sigv4_pair_s){"Content-MD5", md5};
        if (op->content_type) h[nh++] = (ivcs_sigv4_pair_s){"Content-Type", op->content_type};
        if (chunked) {
            h[nh++] = (ivcs_sigv4_pair_s){"Content-Encoding", "aws-chunked"};
            snprintf(declen, sizeof declen, "%llu", (unsigned long long)op->body_len);
            h[nh++] = (ivcs_sigv4_pair_s){"x-amz-decoded-content-length", declen};
            if (ak == IVCS_AWSCHUNK_TRAILER_CRC32C)
                h[nh++] = (ivcs_sigv4_pair_s){"x-amz-trailer", "x-amz-checksum-crc32c"};
        }
    }
    if (op->if_none_match && (op->kind == IVCS_S3_PUT || op->kind == IVCS_S3_GET ||
                              op->kind == IVCS_S3_HEAD))
        h[nh++] = (ivcs_sigv4_pair_s){"If-None-Match", op->if_none_match};
    if (op->if_match && (op->kind == IVCS_S3_GET || op->kind == IVCS_S3_HEAD))
        h[nh++] = (ivcs_sigv4_pair_s){"If-Match", op->if_match};
    if (op->kind == IVCS_S3_GET && op->range_first >= 0) {
        if (op->range_last >= 0)
            snprintf(range, sizeof range, "bytes=%lld-%lld", (long long)op->range_first,
                     (long long)op->range_last);
        else
            snprintf(range, sizeof range, "bytes=%lld-", (long long)op->range_first);
        h[nh++] = (ivcs_sigv4_pair_s){"Range", range};
    }
    if (op->kind == IVCS_S3_PUT) {
        if (op->n_meta < 0 || op->n_meta > IVCS_S3_META_MAX) return IVCS_ERR_INVALID_ARG;
        for (int i = 0; i < op->n_meta; i++) {
            snprintf(metanames[i], sizeof metanames[i], "x-amz-meta-%s", op->meta[i].name);
            h[nh++] = (ivcs_sigv4_pair_s){metanames[i], op->meta[i].value};
        }
    }

    /* Payload hash: small buffers signed, everything else UNSIGNED-PAYLOAD
     * (integrity from Content-MD5). */
    char sha_hex[IVCS_SHA256_HEX_LEN + 1];
    const char *payload = IVCS_SIGV4_EMPTY_SHA256;
    if (has_body) {
        if (chunked) {
            payload = ak == IVCS_AWSCHUNK_SIGNED ? IVCS_STREAMING_SIGNED : IVCS_STREAMING_TRAILER;
        } else if (op->body && op->body_len <= IVCS_S3_SIGN_MAX) {
            uint8_t sha[IVCS_SHA256_LEN];
            int rc = ivcs_sha256(op->body, (size_t)op->body_len, sha);
            if (rc < 0) return rc;
            ivcs_hex_encode(sha, sizeof sha, sha_hex);
            payload = sha_hex;
        } else if (op->body || op->body_fn) {
            payload = IVCS_SIGV4_UNSIGNED_PAYLOAD;
        }
    }

    char path[1200], epath[3600], equery[2400];
    int rc = object_path(s, op->key, path, sizeof path);
    if (rc < 0) return rc;
    ivcs_sigv4_request_s sr = {.method = method, .path = path, .query = nq ? q : NULL,
                               .n_query = nq, .headers = h, .n_headers = nh,
                               .payload_hash = payload, .time = sign_time(s)};
    char date[IVCS_SIGV4_DATE_LEN + 1], auth[512];
    uint64_t wire_len = op->body_len;
    if (chunked) {
        memset(&op->ac, 0, sizeof op->ac);
        op->ac.kind = ak;
        op->ac.data_len = op->body_len;
        op->ac.chunk = chunk;
        op->ac.data = op->body;
        op->ac.inner = op->body_fn;
        op->ac.inner_arg = op->body_arg;
        op->ac.sig = &s->sig;
        op->ac.flip = op->res.attempts <= 1 ? op->debug_flip : 0;
        wire_len = ivcs_awschunk_len(ak, op->body_len, chunk);
    }
    if (chunked && ak == IVCS_AWSCHUNK_SIGNED)
        rc = ivcs_sigv4_sign_stream(&s->sig, &sr, date, auth, sizeof auth, &op->ac.ch);
    else
        rc = ivcs_sigv4_sign(&s->sig, &sr, date, auth, sizeof auth);
    if (rc < 0) return rc;
    rc = ivcs_sigv4_encode_path(path, epath, sizeof epath);
    if (rc < 0) return rc;
    equery[0] = 0;
    if (nq) {
        rc = ivcs_sigv4_canonical_query(q, nq, equery, sizeof equery);
        if (rc < 0) return rc;
    }

    size_t len = 0;
    char *b = op->head;
    size_t cap = sizeof op->head;
    rc = append(b, cap, &len, "%s %s%s%s HTTP/1.1\r\n", method, epath, nq ? "?" : "", equery);
    for (size_t i = 0; rc == 0 && i < nh; i++)
        rc = append(b, cap, &len, "%s: %s\r\n", h[i].name, h[i].value);
    if (rc == 0)
        rc = append(b, cap, &len, "x-amz-date: %s\r\nx-amz-content-sha256: %s\r\n", date, payload);
    const char *tok = ivcs_sigv4_session_token(&s->sig);
    if (rc == 0 && tok) rc = append(b, cap, &len, "x-amz-security-token: %s\r\n", tok);
    if (rc == 0) rc = append(b, cap, &len, "Authorization: %s\r\n", auth);
    if (rc == 0 && (has_body || !strcmp(method, "PUT")))
        rc = append(b, cap, &len, "Content-Length: %llu\r\n", (unsigned long long)wire_len);
    if (rc == 0) rc = append(b, cap, &len, "User-Agent: ivcs/%s\r\n\r\n", ivcs_version());
    if (rc < 0) return rc;

    ivcs_http_request *hr = &op->http;
    memset(hr, 0, sizeof *hr);
    hr->head = b;
    hr->head_len = len;
    hr->body = has_body ? op->body : NULL;
    hr->body_fn = has_body ? op->body_fn : NULL;
    hr->body_arg = op->body_arg;
    hr->body_len = has_body ? op->body_len : 0;
    if (has_body && chunked) {
        hr->body = NULL;
        hr->body_fn = ivcs_awschunk_body;
        hr->body_arg = &op->ac;
        hr->body_len = wire_len;
    } else if (has_body && (integ == IVCS_INTEGRITY_MD5_ETAG || op->debug_flip)) {
        hr->body = NULL;
        hr->body_fn = etag_body;
        hr->body_arg = op;
        ivcs_hash_begin(&op->md5s, IVCS_DIGEST_MD5);
        op->md5_off = 0;
    }
    hr->is_head = op->kind == IVCS_S3_HEAD;
    hr->upload_ms = op->upload_ms ? op->upload_ms : s->upload_ms;
    hr->reply_ms = op->reply_ms ? op->reply_ms : s->reply_ms;
    hr->on_header = on_header;
    hr->on_body = on_body;
    hr->on_done = on_http_done;
    hr->arg = op;
    rc = ivcs_http_request_start(s->http, hr);
    if (rc < 0) {
        snprintf(op->res.detail, sizeof op->res.detail, "%s", hr->error);
        return rc;
    }
    return 0;
}

static void on_timer(ivcs_loop_op *t, int res)
{
    (void)res;
    *(int *)t->arg = 1;
}

int ivcs_s3_run(ivcs_s3 *s, ivcs_s3_op *op)
{
    if (!s || !op) return IVCS_ERR_INVALID_ARG;
    unsigned max = op->max_attempts ? op->max_attempts : 1;
    void (*user_done)(ivcs_s3_op *, int) = op->on_done;
    op->on_done = NULL;
    op->res.attempts = 0;
    op->delivered = 0;
    op->resume_at = 0;
    op->resume_etag[0] = 0;
    op->want_first = op->range_first;
    op->want_last = op->range_last;
    const char *want_if_match = op->if_match;
    int rc = 0, skew_retried = 0;
    for (unsigned attempt = 0; attempt < max; attempt++) {
        op->res.attempts = attempt + 1;
        if (op->resume && op->delivered) {
            /* Only the rest, and only of the object the bytes came from. */
            if (!op->resume_etag[0]) {
                rc = resume_fail(op, "cannot resume a download without an ETag");
                break;
            }
            uint64_t first = (op->want_first > 0 ? (uint64_t)op->want_first : 0) + op->delivered;
            op->range_first = (int64_t)first;
            op->range_last = op->want_last;
            op->resume_at = first;
            op->if_match = op->resume_etag;
        }
        rc = ivcs_s3_start(s, op);
        if (rc == 0) {
            while (!op->done) {
                int r = ivcs_loop_run_once(s->loop, -1);
                if (r < 0) {
                    rc = r;
                    break;
                }
            }
            if (op->done) rc = op->result;
        }
        if (rc != 0 && op->res.skew_corrected && !skew_retried) {
            /* signed by a wrong clock: once more at once, by the server's */
            skew_retried = 1;
            max++;
            op->res.skew_corrected = 0;
            continue;
        }
        if (rc == 0 || attempt + 1 >= max || !ivcs_retry_should(rc, op->res.status)) break;
        /* A server that went away leaves dead idle connections behind. */
        ivcs_http_client_drop_idle(s->http);
        uint32_t wait = ivcs_retry_backoff_ms(attempt, &s->rng);
        if (op->backoff_max_ms && wait > op->backoff_max_ms) wait = op->backoff_max_ms;
        int fired = 0;
        ivcs_loop_op t = {.cb = on_timer, .arg = &fired};
        if (wait && ivcs_loop_timer(s->loop, &t, wait) == 0)
            while (!fired) ivcs_loop_run_once(s->loop, -1);
    }
    op->on_done = user_done;
    op->range_first = op->want_first;
    op->range_last = op->want_last;
    op->if_match = want_if_match;
    return rc;
}

int ivcs_s3_presign_get(ivcs_s3 *s, const char *key, uint32_t expires, char *url, size_t cap)
{
    if (!s || !key || !key[0] || !url) return IVCS_ERR_INVALID_ARG;
    char path[1200];
    int rc = object_path(s, key, path, sizeof path);
    if (rc < 0) return rc;
    ivcs_sigv4_pair_s h[1] = {{"Host", s->host}};
    ivcs_sigv4_request_s sr = {.method = "GET", .path = path, .headers = h, .n_headers = 1,
                               .payload_hash = IVCS_SIGV4_UNSIGNED_PAYLOAD,
                               .time = sign_time(s)};
    const char *scheme = strncasecmp(s->cfg.endpoint, "https://", 8) ? "http" : "https";
    rc = ivcs_sigv4_presign(&s->sig, &sr, scheme, expires, url, cap);
    return rc < 0 ? rc : 0;
}

/* ---------------------------------------------------------------- probe */

#define PROBE_LEN 70000u /* two chunks */

static int probe_put(ivcs_s3 *s, const char *key, const uint8_t *body, int mode, uint64_t flip,
                     uint32_t ms, ivcs_s3_result *res)
{
    ivcs_s3_op op;
    ivcs_s3_op_init(&op, IVCS_S3_PUT, key);
    op.body = body;
    op.body_len = PROBE_LEN;
    op.integrity = mode;
    op.debug_flip = flip;
    op.upload_ms = op.reply_ms = ms;
    op.max_attempts = 1;
    int rc = ivcs_s3_run(s, &op);
    *res = op.res;
    ivcs_s3_op_cleanup(&op);
    return rc;
}

int ivcs_s3_probe_integrity(const ivcs_allocator_s *alloc, const ivcs_config_s *cfg,
                            const char *key, uint32_t timeout_ms, char *note, size_t cap,
                            int *answered)
{
    char tmp[8];
    if (answered) *answered = 1;
    if (!note || !cap) {
        note = tmp;
        cap = sizeof tmp;
    }
    note[0] = 0;
    alloc = ivcs_allocator_or_default(alloc);
    ivcs_s3 *s = NULL;
    uint8_t *body = ivcs_alloc(alloc, PROBE_LEN, 16);
    int rc = body ? ivcs_s3_new(&s, alloc, cfg, NULL) : IV_ERR_SYS_MALLOC_FAIL;
    if (rc < 0) {
        snprintf(note, cap, "probe not run (%s): md5", ivcs_strerror(rc));
        ivcs_free(alloc, body, PROBE_LEN);
        return IVCS_INTEGRITY_MD5;
    }
    uint64_t x = 0x9e3779b97f4a7c15ull ^ (uint64_t)time(NULL);
    for (size_t i = 0; i < PROBE_LEN; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        body[i] = (uint8_t)x;
    }
    static const int order[] = {IVCS_INTEGRITY_CRC32C_TRAILER, IVCS_INTEGRITY_SHA256_CHUNKED};
    int chosen = -1, stored = 0;
    size_t n = 0;
    ivcs_s3_result r;
    int sha_hw = ivcs_sha256_hw();
    for (size_t i = 0; i < sizeof order / sizeof order[0] && chosen < 0; i++) {
        int m = order[i];
        const char *name = ivcs_integrity_name(m);
        if (m == IVCS_INTEGRITY_SHA256_CHUNKED && !sha_hw) {
            /* software SHA-256 costs more than the MD5 pass it would save */
            (void)append(note, cap, &n, "%s skipped: no SHA-256 instructions on this CPU; ", name);
            continue;
        }
        rc = probe_put(s, key, body, m, 0, timeout_ms, &r);
        if (rc == 0) stored = 1;
        if (rc < 0 && !r.status) { /* no answer at all: nothing to learn */
            if (answered) *answered = 0;
            n = 0;
            (void)append(note, cap, &n, "probe failed (%s%s%s): md5", ivcs_strerror(rc),
                         r.detail[0] ? ": " : "", r.detail);
            goto out;
        }
        if (rc < 0) {
            (void)append(note, cap, &n, "%s refused (HTTP %d %s); ", name, r.status, r.code);
            continue;
        }
        rc = probe_put(s, key, body, m, PROBE_LEN / 3, timeout_ms, &r);
        if (rc < 0 && r.status >= 400 && r.status < 500) {
            chosen = m;
            (void)append(note, cap, &n, "%s: a corrupted body is refused (HTTP %d %s)", name,
                         r.status, r.code);
        } else {
            (void)append(note, cap, &n, "%s not checked (corrupted body: %s); ", name,
                         rc == 0 ? "stored" : r.code);
        }
    }
    if (chosen < 0) {
        rc = probe_put(s, key, body, IVCS_INTEGRITY_MD5_ETAG, 0, timeout_ms, &r);
        if (rc == 0) stored = 1;
        chosen = rc == 0 ? IVCS_INTEGRITY_MD5_ETAG : IVCS_INTEGRITY_MD5;
        if (rc == 0) (void)append(note, cap, &n, "md5-etag: the ETag is the MD5");
        else (void)append(note, cap, &n, "md5 (plain PUT: %s)", r.code);
    }
out:
    if (stored) {
        ivcs_s3_op op;
        ivcs_s3_op_init(&op, IVCS_S3_DELETE, key);
        op.upload_ms = op.reply_ms = timeout_ms;
        (void)!ivcs_s3_run(s, &op);
        ivcs_s3_op_cleanup(&op);
    }
    ivcs_s3_destroy(s);
    ivcs_free(alloc, body, PROBE_LEN);
    /* the server's codes are in it: printable ASCII without quotes only */
    for (char *c = note; *c; c++)
        if (*c < 0x20 || *c > 0x7e || *c == '"' || *c == '\\') *c = '?';
    return chosen < 0 ? IVCS_INTEGRITY_MD5 : chosen;
}
