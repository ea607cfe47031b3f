/* sigv4.c - AWS Signature Version 4 (see sigv4.h for the contract). */
#include "engine/net/sigv4.h"

#include <string.h>

#include <openssl/crypto.h>

#include "engine/net/uri.h"
#include "ivcs_err.h"

#define ALGORITHM "AWS4-HMAC-SHA256"
#define TERMINATOR "aws4_request"
#define MAX_SEGMENTS 256   /* path segments kept by the generic normaliser */
#define SIGNED_MAX 2048    /* X-Amz-SignedHeaders value of a presigned URL */
#define N_AUTH_PARAMS 6    /* query parameters a presigned URL adds (besides the signature) */
#define MAX_METHOD 32
#define LAST_TIME 253402300799LL /* 9999-12-31T23:59:59Z */

/* ------------------------------------------------------------------ sink */

/* Where a canonical request (or any output) goes: into the SHA-256 through a
 * small buffer (so there is no limit on its size and no allocation), or as
 * text into a caller buffer (overflow is remembered, the length still
 * counted). */
typedef struct {
    ivcs_digest_s *d;
    char *out;
    size_t cap;
    size_t len;
    int err;
    size_t n;
    char buf[1024];
} sink;

static void sink_hash(sink *k, ivcs_digest_s *d)
{
    k->d = d;
    k->out = NULL;
    k->cap = 0;
    k->len = 0;
    k->err = ivcs_digest_begin(d) < 0 ? IVCS_ERR_STATE : 0;
    k->n = 0;
}

static void sink_text(sink *k, char *out, size_t cap)
{
    k->d = NULL;
    k->out = out;
    k->cap = cap;
    k->len = 0;
    k->err = out ? 0 : IVCS_ERR_INVALID_ARG;
    k->n = 0;
}

static void sink_flush(sink *k)
{
    if (k->d && k->n) {
        if (ivcs_digest_update(k->d, k->buf, k->n) < 0) k->err = IVCS_ERR_STATE;
        k->n = 0;
    }
}

static void put(sink *k, const char *p, size_t n)
{
    if (k->d) {
        if (k->n + n > sizeof k->buf) {
            sink_flush(k);
            if (n > sizeof k->buf) {
                if (ivcs_digest_update(k->d, p, n) < 0) k->err = IVCS_ERR_STATE;
                k->len += n;
                return;
            }
        }
        memcpy(k->buf + k->n, p, n);
        k->n += n;
    } else if (!k->err) {
        if (k->len + n < k->cap)
            memcpy(k->out + k->len, p, n);
        else
            k->err = IVCS_ERR_TOO_LONG;
    }
    k->len += n;
}

static void put_s(sink *k, const char *s)
{
    put(k, s, strlen(s));
}

static void put_c(sink *k, char c)
{
    put(k, &c, 1);
}

/* Ends a text sink: NUL-terminates and returns the length or the error. */
static int sink_end_text(sink *k)
{
    if (!k->err && k->len > 0x7fffffff) k->err = IVCS_ERR_TOO_LONG;
    if (k->err) {
        if (k->out && k->cap) k->out[0] = '\0';
        return k->err;
    }
    k->out[k->len] = '\0';
    return (int)k->len;
}

/* Percent-encodes s[0..n) into k; twice = encode the '%' of each escape
 * again ("%2520"), as the generic (non-S3) canonical URI wants. */
static void put_enc(sink *k, const char *s, size_t n, int keep_slash, int twice)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t i = 0;
    while (i < n) {
        size_t run = i;
        while (run < n && (ivcs_uri_unreserved((unsigned char)s[run]) || (keep_slash && s[run] == '/')))
            run++;
        if (run > i) put(k, s + i, run - i);
        if (run >= n) break;
        unsigned char c = (unsigned char)s[run];
        char e[5] = {'%', '2', '5', 0, 0};
        if (twice) {
            e[3] = hex[c >> 4];
            e[4] = hex[c & 15];
            put(k, e, 5);
        } else {
            e[1] = hex[c >> 4];
            e[2] = hex[c & 15];
            put(k, e, 3);
        }
        i = run + 1;
    }
}

/* ------------------------------------------------------------ validation */

static int is_tchar(unsigned char c)
{
    /* RFC 9110 token: a header name or method. */
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int valid_token(const char *s, size_t max)
{
    if (!s || !*s) return 0;
    size_t n = 0;
    for (; s[n]; n++)
        if (!is_tchar((unsigned char)s[n]) || n >= max) return 0;
    return 1;
}

static int valid_header_value(const char *v, size_t *len)
{
    size_t n = 0;
    for (; v[n]; n++) {
        unsigned char c = (unsigned char)v[n];
        /* CR/LF would inject a header. Tab is refused too: botocore folds it
         * like a space, the AWS spec only speaks of spaces, and radosgw
         * rejects a signature over "a<TAB>b" either way. */
        if (c < 0x20 || c == 0x7f) return 0;
    }
    *len = n;
    return 1;
}

static int valid_name(const char *s)
{
    /* region and service: they go into the scope and a path-like string. */
    if (!s || !*s) return 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return 0;
    }
    return 1;
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static int eq_nocase(const char *a, size_t an, const char *b)
{
    size_t bn = strlen(b);
    if (an != bn) return 0;
    for (size_t i = 0; i < an; i++)
        if (lower((unsigned char)a[i]) != lower((unsigned char)b[i])) return 0;
    return 1;
}

typedef enum { PAYLOAD_BAD, PAYLOAD_HEX, PAYLOAD_LITERAL } payload_kind;

static payload_kind classify_payload(const char *p)
{
    /* The literals S3 knows; anything else would only fail at the server. */
    static const char *const literals[] = {
        "UNSIGNED-PAYLOAD",
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD",
        "STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER",
    };
    if (!p) return PAYLOAD_BAD;
    size_t n = 0;
    for (; p[n] && n <= IVCS_SHA256_HEX_LEN; n++)
        if (!((p[n] >= '0' && p[n] <= '9') || (p[n] >= 'a' && p[n] <= 'f'))) break;
    if (n == IVCS_SHA256_HEX_LEN && !p[n]) return PAYLOAD_HEX;
    for (size_t i = 0; i < sizeof literals / sizeof literals[0]; i++)
        if (strcmp(p, literals[i]) == 0) return PAYLOAD_LITERAL;
    return PAYLOAD_BAD;
}

/* Copies src into dst[cap]; IVCS_ERR_TOO_LONG if it does not fit. */
static int copy_str(char *dst, size_t cap, const char *src, size_t *len_out)
{
    size_t n = strlen(src);
    if (n >= cap) return IVCS_ERR_TOO_LONG;
    memcpy(dst, src, n + 1);
    if (len_out) *len_out = n;
    return 0;
}

static int check_credentials(const char *ak, const char *sk, const char *tok)
{
    if (!ak || !*ak || !sk || !*sk) return IVCS_ERR_INVALID_ARG;
    for (const char *p = ak; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c <= 0x20 || c >= 0x7f || c == ',' || c == '/') return IVCS_ERR_INVALID_ARG;
    }
    if (strlen(ak) > IVCS_SIGV4_KEY_MAX || strlen(sk) > IVCS_SIGV4_KEY_MAX)
        return IVCS_ERR_TOO_LONG;
    if (tok) {
        for (const char *p = tok; *p; p++) {
            unsigned char c = (unsigned char)*p;
            if (c <= 0x20 || c >= 0x7f) return IVCS_ERR_INVALID_ARG;
        }
        if (strlen(tok) > IVCS_SIGV4_TOKEN_MAX) return IVCS_ERR_TOO_LONG;
    }
    return 0;
}

/* ------------------------------------------------------------------ time */

int ivcs_sigv4_format_date(int64_t t, char out[IVCS_SIGV4_DATE_LEN + 1])
{
    if (!out || t < 0 || t > LAST_TIME) return IVCS_ERR_INVALID_ARG;
    int64_t days = t / 86400, sod = t % 86400;
    /* civil_from_days (H. Hinnant): proleptic Gregorian, no libc time zone. */
    int64_t z = days + 719468;
    int64_t era = z / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2) y++;
    int64_t v[6] = {y, m, d, sod / 3600, sod / 60 % 60, sod % 60};
    int w[6] = {4, 2, 2, 2, 2, 2};
    char *o = out;
    for (int i = 0; i < 6; i++) {
        for (int j = w[i] - 1; j >= 0; j--) {
            o[j] = (char)('0' + v[i] % 10);
            v[i] /= 10;
        }
        o += w[i];
        if (i == 2) *o++ = 'T';
    }
    *o++ = 'Z';
    *o = '\0';
    return IVCS_SIGV4_DATE_LEN;
}

/* -------------------------------------------------------------- requests */

typedef struct {
    const char *name;
    size_t nlen;
    const char *value;
    size_t vlen;
} hdr;

typedef enum { MODE_HEADER, MODE_PRESIGN } sign_mode;

/* A request checked and put in canonical order. */
typedef struct {
    const ivcs_sigv4_request_s *req;
    hdr h[IVCS_SIGV4_MAX_HEADERS + 3];
    size_t nh;
    const ivcs_sigv4_pair_s *q;
    size_t nq;
    uint16_t qi[IVCS_SIGV4_MAX_PARAMS + N_AUTH_PARAMS];
    const char *host;
    size_t host_len;
    const char *region;
    const char *payload;
    char date[IVCS_SIGV4_DATE_LEN + 1];
    char scope[8 + 1 + IVCS_SIGV4_NAME_MAX + 1 + IVCS_SIGV4_NAME_MAX + 1 + sizeof TERMINATOR];
} prep;

static int hdr_cmp(const hdr *a, const hdr *b)
{
    size_t n = a->nlen < b->nlen ? a->nlen : b->nlen;
    for (size_t i = 0; i < n; i++) {
        int x = lower((unsigned char)a->name[i]), y = lower((unsigned char)b->name[i]);
        if (x != y) return x - y;
    }
    return a->nlen < b->nlen ? -1 : a->nlen > b->nlen;
}

static const char *qvalue(const ivcs_sigv4_pair_s *p)
{
    return p->value ? p->value : "";
}

static int param_cmp(const ivcs_sigv4_pair_s *a, const ivcs_sigv4_pair_s *b)
{
    int c = ivcs_uri_encoded_cmp(a->name, strlen(a->name), b->name, strlen(b->name));
    if (c) return c;
    const char *av = qvalue(a), *bv = qvalue(b);
    return ivcs_uri_encoded_cmp(av, strlen(av), bv, strlen(bv));
}

/* Sorts the indexes of q (insertion sort: n is small and it is stable). */
static void sort_params(const ivcs_sigv4_pair_s *q, size_t n, uint16_t *idx)
{
    for (size_t i = 0; i < n; i++) {
        uint16_t v = (uint16_t)i;
        size_t j = i;
        while (j > 0 && param_cmp(&q[idx[j - 1]], &q[v]) > 0) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = v;
    }
}

static int check_params(const ivcs_sigv4_pair_s *q, size_t n)
{
    if (n && !q) return IVCS_ERR_INVALID_ARG;
    if (n > IVCS_SIGV4_MAX_PARAMS) return IVCS_ERR_TOO_LONG;
    for (size_t i = 0; i < n; i++)
        if (!q[i].name) return IVCS_ERR_INVALID_ARG;
    return 0;
}

static void put_query(sink *k, const ivcs_sigv4_pair_s *q, const uint16_t *idx, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const ivcs_sigv4_pair_s *p = &q[idx[i]];
        const char *v = qvalue(p);
        if (i) put_c(k, '&');
        put_enc(k, p->name, strlen(p->name), 0, 0);
        put_c(k, '=');
        put_enc(k, v, strlen(v), 0, 0);
    }
}

static void put_path_generic(sink *k, const char *path)
{
    /* RFC 3986 remove_dot_segments plus dropping empty segments, as every
     * AWS service but S3 normalises; done on the unencoded path, which is
     * the same since '.' and '/' are never encoded in a path. */
    struct {
        const char *s;
        size_t n;
    } seg[MAX_SEGMENTS];
    size_t ns = 0;
    const char *p = path;
    while (*p) {
        if (*p == '/') {
            p++;
            continue;
        }
        const char *start = p;
        while (*p && *p != '/') p++;
        size_t n = (size_t)(p - start);
        if (n == 1 && start[0] == '.') continue;
        if (n == 2 && start[0] == '.' && start[1] == '.') {
            if (ns) ns--;
            continue;
        }
        if (ns == MAX_SEGMENTS) {
            k->err = IVCS_ERR_TOO_LONG;
            return;
        }
        seg[ns].s = start;
        seg[ns].n = n;
        ns++;
    }
    put_c(k, '/');
    for (size_t i = 0; i < ns; i++) {
        if (i) put_c(k, '/');
        put_enc(k, seg[i].s, seg[i].n, 1, 1);
    }
    size_t len = strlen(path);
    if (ns && path[len - 1] == '/') put_c(k, '/');
}

/* Header value with leading/trailing spaces dropped and inner runs of
 * spaces made one (the spec's Trimall; tabs were refused earlier). */
static void put_trimmed(sink *k, const char *v, size_t n)
{
    size_t i = 0;
    int started = 0;
    while (i < n) {
        size_t ws = i;
        while (ws < n && v[ws] == ' ') ws++;
        if (ws >= n) break;
        if (started && ws > i) put_c(k, ' ');
        size_t end = ws;
        while (end < n && v[end] != ' ') end++;
        put(k, v + ws, end - ws);
        started = 1;
        i = end;
    }
}

static void put_lower(sink *k, const char *s, size_t n)
{
    char b[64];
    while (n) {
        size_t m = n < sizeof b ? n : sizeof b;
        for (size_t i = 0; i < m; i++) b[i] = (char)lower((unsigned char)s[i]);
        put(k, b, m);
        s += m;
        n -= m;
    }
}

static void put_signed_headers(sink *k, const prep *p)
{
    for (size_t i = 0; i < p->nh; i++) {
        if (i && hdr_cmp(&p->h[i - 1], &p->h[i]) == 0) continue;
        if (i) put_c(k, ';');
        put_lower(k, p->h[i].name, p->h[i].nlen);
    }
}

static void put_canonical_headers(sink *k, const prep *p)
{
    for (size_t i = 0; i < p->nh; i++) {
        int same = i && hdr_cmp(&p->h[i - 1], &p->h[i]) == 0;
        if (same) {
            put_c(k, ',');
        } else {
            if (i) put_c(k, '\n');
            put_lower(k, p->h[i].name, p->h[i].nlen);
            put_c(k, ':');
        }
        put_trimmed(k, p->h[i].value, p->h[i].vlen);
    }
    put_c(k, '\n');
}

static void add_hdr(prep *p, const char *name, const char *value)
{
    hdr *h = &p->h[p->nh++];
    h->name = name;
    h->nlen = strlen(name);
    h->value = value;
    h->vlen = strlen(value);
}

/* Checks req, formats its date and scope, and orders its headers; the query
 * is left to the caller (presigning adds parameters). */
static int prepare(ivcs_sigv4_s *s, const ivcs_sigv4_request_s *req, sign_mode mode, prep *p)
{
    if (!s || !s->sha.ctx || !req) return IVCS_ERR_INVALID_ARG;
    p->req = req;
    p->nh = 0;
    p->host = NULL;
    p->host_len = 0;
    if (!valid_token(req->method, MAX_METHOD)) return IVCS_ERR_INVALID_ARG;
    if (!req->path || req->path[0] != '/') return IVCS_ERR_INVALID_ARG;
    if (req->n_headers && !req->headers) return IVCS_ERR_INVALID_ARG;
    if (req->n_headers > IVCS_SIGV4_MAX_HEADERS) return IVCS_ERR_TOO_LONG;
    int rc = check_params(req->query, req->n_query);
    if (rc) return rc;
    if (ivcs_sigv4_format_date(req->time, p->date) < 0) return IVCS_ERR_INVALID_ARG;

    p->region = req->region ? req->region : s->region;
    if (!valid_name(p->region)) return IVCS_ERR_INVALID_ARG;
    if (strlen(p->region) > IVCS_SIGV4_NAME_MAX) return IVCS_ERR_TOO_LONG;

    payload_kind pk = PAYLOAD_LITERAL;
    p->payload = IVCS_SIGV4_UNSIGNED_PAYLOAD;
    if (mode == MODE_HEADER) {
        pk = classify_payload(req->payload_hash);
        if (pk == PAYLOAD_BAD) return IVCS_ERR_INVALID_ARG;
        p->payload = req->payload_hash;
    }
    /* The headers the signer adds itself; the caller may not pass them. */
    int add_sha = mode == MODE_HEADER && (s->rules == IVCS_SIGV4_S3 || pk == PAYLOAD_LITERAL);
    for (size_t i = 0; i < req->n_headers; i++) {
        const ivcs_sigv4_pair_s *in = &req->headers[i];
        size_t vlen;
        if (!valid_token(in->name, 256) || !in->value || !valid_header_value(in->value, &vlen))
            return IVCS_ERR_INVALID_ARG;
        hdr *h = &p->h[p->nh++];
        h->name = in->name;
        h->nlen = strlen(in->name);
        h->value = in->value;
        h->vlen = vlen;
        if (eq_nocase(h->name, h->nlen, "authorization") ||
            eq_nocase(h->name, h->nlen, "x-amz-date") ||
            eq_nocase(h->name, h->nlen, "x-amz-security-token") ||
            (add_sha && eq_nocase(h->name, h->nlen, "x-amz-content-sha256")))
            return IVCS_ERR_INVALID_ARG;
        if (eq_nocase(h->name, h->nlen, "host")) {
            if (p->host) return IVCS_ERR_INVALID_ARG;
            p->host = h->value;
            p->host_len = h->vlen;
        }
    }
    if (!p->host) return IVCS_ERR_INVALID_ARG;
    if (mode == MODE_HEADER) {
        add_hdr(p, "x-amz-date", p->date);
        if (add_sha) add_hdr(p, "x-amz-content-sha256", p->payload);
        if (s->token_len) add_hdr(p, "x-amz-security-token", s->token);
    }
    /* Stable insertion sort by lowercase name keeps repeated headers in the
     * order given, which is the order their values are joined in. */
    for (size_t i = 1; i < p->nh; i++) {
        hdr v = p->h[i];
        size_t j = i;
        while (j > 0 && hdr_cmp(&p->h[j - 1], &v) > 0) {
            p->h[j] = p->h[j - 1];
            j--;
        }
        p->h[j] = v;
    }
    /* date/region/service/aws4_request: all parts were length-checked. */
    char *o = p->scope;
    memcpy(o, p->date, 8);
    o += 8;
    *o++ = '/';
    size_t n = strlen(p->region);
    memcpy(o, p->region, n);
    o += n;
    *o++ = '/';
    n = strlen(s->service);
    memcpy(o, s->service, n);
    o += n;
    memcpy(o, "/" TERMINATOR, sizeof TERMINATOR + 1);
    return 0;
}

static void put_canonical_request(sink *k, ivcs_sigv4_s *s, const prep *p)
{
    put_s(k, p->req->method);
    put_c(k, '\n');
    if (s->rules == IVCS_SIGV4_GENERIC)
        put_path_generic(k, p->req->path);
    else
        put_enc(k, p->req->path, strlen(p->req->path), 1, 0);
    put_c(k, '\n');
    put_query(k, p->q, p->qi, p->nq);
    put_c(k, '\n');
    put_canonical_headers(k, p);
    put_c(k, '\n');
    put_signed_headers(k, p);
    put_c(k, '\n');
    put_s(k, p->payload);
}

/* The signing key for (date, region), derived on a cache miss. */
static int signing_key(ivcs_sigv4_s *s, const prep *p, const uint8_t **key)
{
    s->uses++;
    ivcs_sigv4_key_s *slot = &s->cache[0];
    for (size_t i = 0; i < IVCS_SIGV4_KEY_CACHE; i++) {
        ivcs_sigv4_key_s *c = &s->cache[i];
        if (c->date[0] && memcmp(c->date, p->date, 8) == 0 && strcmp(c->region, p->region) == 0) {
            c->last_use = s->uses;
            *key = c->key;
            return 0;
        }
        if (c->last_use < slot->last_use) slot = c; /* empty slots have last_use 0 */
    }
    uint8_t k[IVCS_SHA256_LEN];
    int rc;
    if ((rc = ivcs_hmac_sha256(&s->sha, s->secret, s->secret_len, p->date, 8, k)) ||
        (rc = ivcs_hmac_sha256(&s->sha, k, sizeof k, p->region, strlen(p->region), k)) ||
        (rc = ivcs_hmac_sha256(&s->sha, k, sizeof k, s->service, strlen(s->service), k)) ||
        (rc = ivcs_hmac_sha256(&s->sha, k, sizeof k, TERMINATOR, strlen(TERMINATOR), slot->key))) {
        OPENSSL_cleanse(k, sizeof k);
        slot->date[0] = '\0';
        slot->last_use = 0;
        return IVCS_ERR_STATE;
    }
    OPENSSL_cleanse(k, sizeof k);
    memcpy(slot->date, p->date, 8);
    slot->date[8] = '\0';
    strcpy(slot->region, p->region); /* length checked in prepare */
    slot->last_use = s->uses;
    s->derivations++;
    *key = slot->key;
    return 0;
}

/* Hashes the canonical request of p and signs it: sig gets 64 hex + NUL. */
static int compute_signature(ivcs_sigv4_s *s, const prep *p, char sig[IVCS_SHA256_HEX_LEN + 1])
{
    sink k;
    sink_hash(&k, &s->sha);
    put_canonical_request(&k, s, p);
    sink_flush(&k);
    if (k.err) return k.err;
    uint8_t digest[IVCS_SHA256_LEN];
    if (ivcs_digest_final(&s->sha, digest) < 0) return IVCS_ERR_STATE;

    char sts[sizeof ALGORITHM + IVCS_SIGV4_DATE_LEN + sizeof p->scope + IVCS_SHA256_HEX_LEN + 4];
    size_t n = 0;
    memcpy(sts, ALGORITHM "\n", sizeof ALGORITHM);
    n += sizeof ALGORITHM;
    memcpy(sts + n, p->date, IVCS_SIGV4_DATE_LEN);
    n += IVCS_SIGV4_DATE_LEN;
    sts[n++] = '\n';
    size_t sl = strlen(p->scope);
    memcpy(sts + n, p->scope, sl);
    n += sl;
    sts[n++] = '\n';
    n += ivcs_hex_encode(digest, sizeof digest, sts + n);

    const uint8_t *key;
    int rc = signing_key(s, p, &key);
    if (rc) return rc;
    uint8_t mac[IVCS_SHA256_LEN];
    if (ivcs_hmac_sha256(&s->sha, key, IVCS_SHA256_LEN, sts, n, mac) < 0) return IVCS_ERR_STATE;
    ivcs_hex_encode(mac, sizeof mac, sig);
    return 0;
}

/* ------------------------------------------------------------ public API */

int ivcs_sigv4_set_credentials(ivcs_sigv4_s *s, const char *access_key, const char *secret_key,
                               const char *session_token)
{
    if (!s) return IVCS_ERR_INVALID_ARG;
    int rc = check_credentials(access_key, secret_key, session_token);
    if (rc) return rc;
    copy_str(s->access_key, sizeof s->access_key, access_key, NULL);
    memcpy(s->secret, "AWS4", 4);
    copy_str(s->secret + 4, sizeof s->secret - 4, secret_key, &s->secret_len);
    s->secret_len += 4;
    s->token_len = 0;
    s->token[0] = '\0';
    if (session_token) copy_str(s->token, sizeof s->token, session_token, &s->token_len);
    OPENSSL_cleanse(s->cache, sizeof s->cache);
    memset(s->cache, 0, sizeof s->cache);
    return 0;
}

int ivcs_sigv4_init(ivcs_sigv4_s *s, const ivcs_sigv4_config_s *cfg)
{
    if (!s || !cfg) return IVCS_ERR_INVALID_ARG;
    memset(s, 0, sizeof *s);
    const char *service = cfg->service ? cfg->service : "s3";
    if (!valid_name(cfg->region) || !valid_name(service)) return IVCS_ERR_INVALID_ARG;
    if (cfg->rules != IVCS_SIGV4_S3 && cfg->rules != IVCS_SIGV4_GENERIC)
        return IVCS_ERR_INVALID_ARG;
    if (copy_str(s->region, sizeof s->region, cfg->region, NULL) ||
        copy_str(s->service, sizeof s->service, service, NULL))
        return IVCS_ERR_TOO_LONG;
    s->rules = cfg->rules;
    int rc = ivcs_sigv4_set_credentials(s, cfg->access_key, cfg->secret_key, cfg->session_token);
    if (!rc) rc = ivcs_digest_init(&s->sha, IVCS_DIGEST_SHA256);
    if (rc) OPENSSL_cleanse(s, sizeof *s);
    return rc;
}

void ivcs_sigv4_cleanup(ivcs_sigv4_s *s)
{
    if (!s) return;
    ivcs_digest_cleanup(&s->sha);
    OPENSSL_cleanse(s, sizeof *s);
}

static int sign_header(ivcs_sigv4_s *s, const ivcs_sigv4_request_s *req,
                       char amz_date[IVCS_SIGV4_DATE_LEN + 1], char *auth, size_t auth_cap,
                       ivcs_sigv4_chunk_s *ch);

int ivcs_sigv4_sign(ivcs_sigv4_s *s, const ivcs_sigv4_request_s *req,
                    char amz_date[IVCS_SIGV4_DATE_LEN + 1], char *auth, size_t auth_cap)
{
    return sign_header(s, req, amz_date, auth, auth_cap, NULL);
}

int ivcs_sigv4_sign_stream(ivcs_sigv4_s *s, const ivcs_sigv4_request_s *req,
                           char amz_date[IVCS_SIGV4_DATE_LEN + 1], char *auth, size_t auth_cap,
                           ivcs_sigv4_chunk_s *ch)
{
    if (!ch) return IVCS_ERR_INVALID_ARG;
    return sign_header(s, req, amz_date, auth, auth_cap, ch);
}

#define CHUNK_ALGORITHM "AWS4-HMAC-SHA256-PAYLOAD"

int ivcs_sigv4_chunk_sign(ivcs_sigv4_s *s, ivcs_sigv4_chunk_s *ch,
                          const uint8_t data_sha[IVCS_SHA256_LEN],
                          char sig[IVCS_SHA256_HEX_LEN + 1])
{
    if (!s || !ch || !data_sha || !sig) return IVCS_ERR_INVALID_ARG;
    char sts[sizeof CHUNK_ALGORITHM + IVCS_SIGV4_DATE_LEN + sizeof ch->scope +
             3 * IVCS_SHA256_HEX_LEN + 8];
    size_t n = 0, sl = strnlen(ch->scope, sizeof ch->scope - 1);
    memcpy(sts, CHUNK_ALGORITHM "\n", sizeof CHUNK_ALGORITHM);
    n += sizeof CHUNK_ALGORITHM;
    memcpy(sts + n, ch->date, IVCS_SIGV4_DATE_LEN);
    n += IVCS_SIGV4_DATE_LEN;
    sts[n++] = '\n';
    memcpy(sts + n, ch->scope, sl);
    n += sl;
    sts[n++] = '\n';
    memcpy(sts + n, ch->prev, IVCS_SHA256_HEX_LEN);
    n += IVCS_SHA256_HEX_LEN;
    sts[n++] = '\n';
    memcpy(sts + n, IVCS_SIGV4_EMPTY_SHA256, IVCS_SHA256_HEX_LEN);
    n += IVCS_SHA256_HEX_LEN;
    sts[n++] = '\n';
    n += ivcs_hex_encode(data_sha, IVCS_SHA256_LEN, sts + n);
    uint8_t mac[IVCS_SHA256_LEN];
    if (ivcs_hmac_sha256(&s->sha, ch->key, sizeof ch->key, sts, n, mac) < 0) return IVCS_ERR_STATE;
    ivcs_hex_encode(mac, sizeof mac, sig);
    memcpy(ch->prev, sig, IVCS_SHA256_HEX_LEN + 1);
    return 0;
}

void ivcs_sigv4_chunk_rewind(ivcs_sigv4_chunk_s *ch)
{
    memcpy(ch->prev, ch->seed, sizeof ch->prev);
}

void ivcs_sigv4_chunk_wipe(ivcs_sigv4_chunk_s *ch)
{
    if (ch) OPENSSL_cleanse(ch, sizeof *ch);
}

static int sign_header(ivcs_sigv4_s *s, const ivcs_sigv4_request_s *req,
                       char amz_date[IVCS_SIGV4_DATE_LEN + 1], char *auth, size_t auth_cap,
                       ivcs_sigv4_chunk_s *ch)
{
    if (!amz_date || !auth) return IVCS_ERR_INVALID_ARG;
    if (auth_cap) auth[0] = '\0';
    prep p;
    int rc = prepare(s, req, MODE_HEADER, &p);
    if (rc) return rc;
    p.q = req->query;
    p.nq = req->n_query;
    sort_params(p.q, p.nq, p.qi);

    char sig[IVCS_SHA256_HEX_LEN + 1];
    rc = compute_signature(s, &p, sig);
    if (rc) return rc;
    sink k;
    sink_text(&k, auth, auth_cap);
    put_s(&k, ALGORITHM " Credential=");
    put_s(&k, s->access_key);
    put_c(&k, '/');
    put_s(&k, p.scope);
    put_s(&k, ", SignedHeaders=");
    put_signed_headers(&k, &p);
    put_s(&k, ", Signature=");
    put(&k, sig, IVCS_SHA256_HEX_LEN);
    rc = sink_end_text(&k);
    if (rc >= 0) memcpy(amz_date, p.date, IVCS_SIGV4_DATE_LEN + 1);
    if (rc >= 0 && ch) {
        const uint8_t *key;
        int r = signing_key(s, &p, &key); /* cached by compute_signature */
        if (r) return r;
        memcpy(ch->key, key, sizeof ch->key);
        memcpy(ch->date, p.date, sizeof ch->date);
        _Static_assert(sizeof ch->scope >= sizeof p.scope, "scope fits");
        memcpy(ch->scope, p.scope, sizeof p.scope);
        memcpy(ch->seed, sig, sizeof ch->seed);
        memcpy(ch->prev, sig, sizeof ch->prev);
    }
    return rc;
}

static int is_auth_param(const char *name)
{
    static const char *const names[] = {"X-Amz-Algorithm", "X-Amz-Credential",
                                        "X-Amz-Date",      "X-Amz-Expires",
                                        "X-Amz-SignedHeaders", "X-Amz-Security-Token",
                                        "X-Amz-Signature"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (eq_nocase(name, strlen(name), names[i])) return 1;
    return 0;
}

int ivcs_sigv4_presign(ivcs_sigv4_s *s, const ivcs_sigv4_request_s *req, const char *scheme,
                       uint32_t expires, char *url, size_t url_cap)
{
    if (!url) return IVCS_ERR_INVALID_ARG;
    if (url_cap) url[0] = '\0';
    if (!scheme || !*scheme || expires < 1 || expires > IVCS_SIGV4_MAX_EXPIRES)
        return IVCS_ERR_INVALID_ARG;
    for (const char *c = scheme; *c; c++)
        if (!(*c >= 'a' && *c <= 'z')) return IVCS_ERR_INVALID_ARG;
    prep p;
    int rc = prepare(s, req, MODE_PRESIGN, &p);
    if (rc) return rc;

    /* The request's parameters plus the authentication ones, all signed. */
    ivcs_sigv4_pair_s q[IVCS_SIGV4_MAX_PARAMS + N_AUTH_PARAMS];
    for (size_t i = 0; i < req->n_query; i++) {
        if (is_auth_param(req->query[i].name)) return IVCS_ERR_INVALID_ARG;
        q[i] = req->query[i];
    }
    size_t nq = req->n_query;
    char credential[IVCS_SIGV4_KEY_MAX + 1 + sizeof p.scope];
    char expires_s[12];
    char signed_hdrs[SIGNED_MAX];
    size_t al = strlen(s->access_key);
    memcpy(credential, s->access_key, al);
    credential[al] = '/';
    memcpy(credential + al + 1, p.scope, strlen(p.scope) + 1);
    size_t e = sizeof expires_s - 1;
    expires_s[e] = '\0';
    do {
        expires_s[--e] = (char)('0' + expires % 10);
        expires /= 10;
    } while (expires);
    sink k;
    sink_text(&k, signed_hdrs, sizeof signed_hdrs);
    put_signed_headers(&k, &p);
    if ((rc = sink_end_text(&k)) < 0) return rc;
    q[nq++] = (ivcs_sigv4_pair_s){"X-Amz-Algorithm", ALGORITHM};
    q[nq++] = (ivcs_sigv4_pair_s){"X-Amz-Credential", credential};
    q[nq++] = (ivcs_sigv4_pair_s){"X-Amz-Date", p.date};
    q[nq++] = (ivcs_sigv4_pair_s){"X-Amz-Expires", expires_s + e};
    q[nq++] = (ivcs_sigv4_pair_s){"X-Amz-SignedHeaders", signed_hdrs};
    if (s->token_len) q[nq++] = (ivcs_sigv4_pair_s){"X-Amz-Security-Token", s->token};
    p.q = q;
    p.nq = nq;
    sort_params(p.q, p.nq, p.qi);

    char sig[IVCS_SHA256_HEX_LEN + 1];
    rc = compute_signature(s, &p, sig);
    if (rc) return rc;
    sink_text(&k, url, url_cap);
    put_s(&k, scheme);
    put_s(&k, "://");
    put_trimmed(&k, p.host, p.host_len);
    put_enc(&k, req->path, strlen(req->path), 1, 0);
    put_c(&k, '?');
    put_query(&k, p.q, p.qi, p.nq);
    put_s(&k, "&X-Amz-Signature=");
    put(&k, sig, IVCS_SHA256_HEX_LEN);
    return sink_end_text(&k);
}

int ivcs_sigv4_canonical_query(const ivcs_sigv4_pair_s *params, size_t n, char *out, size_t cap)
{
    if (!out) return IVCS_ERR_INVALID_ARG;
    if (cap) out[0] = '\0';
    int rc = check_params(params, n);
    if (rc) return rc;
    uint16_t idx[IVCS_SIGV4_MAX_PARAMS];
    sort_params(params, n, idx);
    sink k;
    sink_text(&k, out, cap);
    put_query(&k, params, idx, n);
    return sink_end_text(&k);
}

int ivcs_sigv4_encode_path(const char *path, char *out, size_t cap)
{
    if (!out) return IVCS_ERR_INVALID_ARG;
    if (cap) out[0] = '\0';
    if (!path || path[0] != '/') return IVCS_ERR_INVALID_ARG;
    return ivcs_uri_encode(path, strlen(path), 1, out, cap);
}

int ivcs_sigv4_canonical_request(ivcs_sigv4_s *s, const ivcs_sigv4_request_s *req, char *out,
                                 size_t cap)
{
    if (!out) return IVCS_ERR_INVALID_ARG;
    if (cap) out[0] = '\0';
    prep p;
    int rc = prepare(s, req, MODE_HEADER, &p);
    if (rc) return rc;
    p.q = req->query;
    p.nq = req->n_query;
    sort_params(p.q, p.nq, p.qi);
    sink k;
    sink_text(&k, out, cap);
    put_canonical_request(&k, s, &p);
    return sink_end_text(&k);
}

const char *ivcs_sigv4_session_token(const ivcs_sigv4_s *s)
{
    return s && s->token_len ? s->token : NULL;
}

uint64_t ivcs_sigv4_key_derivations(const ivcs_sigv4_s *s)
{
    return s ? s->derivations : 0;
}
