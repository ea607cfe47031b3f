/*
 * test_http_parse.c - the resumable HTTP/1.1 response parser.
 *
 * Every case is parsed whole, one byte at a time and in 24 random
 * chunkings, each chunk copied against a PROT_NONE guard page (alternately
 * after and before it), and every run must give exactly the expected event
 * log, body, result and stop offset. Captured radosgw responses (in the
 * http_parse fuzz corpus, see fuzz/fuzz_http_parse.c for their layout) are
 * checked the same way.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "engine/net/http_parse.h"
#include "guard.h"

/* ---------------------------------------------------------------- recorder */

typedef struct {
    char *p;
    size_t len, cap;
} dstr;

static void dstr_add(dstr *s, const void *d, size_t n)
{
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap < s->len + n + 1)
            cap *= 2;
        char *np = realloc(s->p, cap);
        if (!np) abort();
        s->p = np;
        s->cap = cap;
    }
    if (n) memcpy(s->p + s->len, d, n);
    s->len += n;
    s->p[s->len] = 0;
}

static void dstr_printf(dstr *s, const char *fmt, ...)
{
    char tmp[9000];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    dstr_add(s, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void dstr_free(dstr *s)
{
    free(s->p);
    memset(s, 0, sizeof *s);
}

/* Log lines: "S <code> <reason>", "H <name>: <value>", "D" (headers done),
 * "B" (a run of body events), "T <name>: <value>", "E" (done); 1xx events
 * are prefixed with "1". Body bytes are collected separately. */
typedef struct {
    dstr log;
    dstr body;
    int in_body;
    int fail_on; /* return fail_code from the event of this type (0: never) */
    int fail_code;
    int body_events;
} recorder;

static int record(void *user, const ivcs_http_event *ev)
{
    recorder *r = user;
    if (ev->type == IVCS_HTTP_EV_BODY) {
        if (ev->len == 0) dstr_add(&r->log, "EMPTY-BODY\n", 11);
        if (!r->in_body) dstr_add(&r->log, "B\n", 2);
        r->in_body = 1;
        r->body_events++;
        dstr_add(&r->body, ev->data, ev->len);
    } else {
        r->in_body = 0;
        const char *pre = ev->informational ? "1" : "";
        switch (ev->type) {
        case IVCS_HTTP_EV_STATUS:
            dstr_printf(&r->log, "%sS %d %.*s\n", pre, ev->status, (int)ev->value_len, ev->value);
            break;
        case IVCS_HTTP_EV_HEADER:
        case IVCS_HTTP_EV_TRAILER:
            dstr_printf(&r->log, "%s%c %.*s: %.*s\n", pre,
                        ev->type == IVCS_HTTP_EV_HEADER ? 'H' : 'T', (int)ev->name_len, ev->name,
                        (int)ev->value_len, ev->value);
            break;
        case IVCS_HTTP_EV_HEADERS_DONE: dstr_printf(&r->log, "%sD\n", pre); break;
        case IVCS_HTTP_EV_DONE: dstr_printf(&r->log, "E\n"); break;
        default: dstr_printf(&r->log, "?%d\n", ev->type); break;
        }
    }
    if (r->fail_on && (int)ev->type == r->fail_on) return r->fail_code;
    return 0;
}

/* ---------------------------------------------------------------- runner */

typedef struct {
    recorder rec;
    int64_t rc;        /* first error, else 0 */
    uint64_t consumed; /* bytes taken from the input (up to the error) */
    uint64_t err_off;  /* nread at the error */
    int done, keep_alive, body_mode, status;
    int64_t content_length;
} result;

static uint64_t rng_state;
static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

enum { WHOLE = 0, BYTES = 1, RANDOM = 2 };

static guard_buf gsmall = GUARD_INIT, gbig = GUARD_INIT;

/* Copies a chunk against a guard page: after it (over-reads fault) or
 * before it (under-reads fault). Chunks up to a page share one mapping and
 * skip guard_place's fill, so byte-by-byte runs over a MiB stay fast. */
static const uint8_t *place(const void *d, size_t c, int before)
{
    size_t ps = guard_page_size();
    if (c > ps) return guard_place(&gbig, d, c, before ? GUARD_BEFORE : GUARD_AFTER);
    if (!gsmall.map) guard_place(&gsmall, "", 0, GUARD_AFTER);
    uint8_t *lo = gsmall.map + ps;
    uint8_t *dst = before ? lo : lo + gsmall.data_len - c;
    memcpy(dst, d, c);
    return dst;
}

/* Feeds in[0..len) to a fresh parser in the given chunking. Stops at the
 * first error or at DONE (the rest stays unconsumed); then calls eof if
 * asked. */
static void run(const char *in, size_t len, unsigned flags, int eof, int mode, uint64_t seed,
                int fail_on, int fail_code, result *res)
{
    memset(res, 0, sizeof *res);
    res->rec.fail_on = fail_on;
    res->rec.fail_code = fail_code;
    ivcs_http_parser *p = malloc(sizeof *p);
    if (!p || ivcs_http_parser_init(p, flags, record, &res->rec) != 0) abort();
    rng_state = seed * 0x9E3779B97F4A7C15ull + 1;
    size_t off = 0;
    int side = 0;
    while (off < len) {
        size_t c = len - off;
        if (mode == BYTES) c = 1;
        if (mode == RANDOM) {
            uint32_t r = rng();
            c = (r & 3) == 0 ? 1 + rng() % (len - off) : 1 + rng() % 17;
            if (c > len - off) c = len - off;
        }
        const uint8_t *g = place(in + off, c, side);
        side ^= 1;
        int64_t r = ivcs_http_parser_feed(p, g, c);
        if (r < 0) {
            res->rc = r;
            break;
        }
        off += (size_t)r;
        if ((size_t)r < c) {
            if (!ivcs_http_parser_done(p)) res->rc = -99999; /* stopped early, not done */
            break;
        }
        if (ivcs_http_parser_done(p)) break;
    }
    res->consumed = off;
    if (!res->rc && eof) res->rc = ivcs_http_parser_eof(p);
    if (res->rc) res->err_off = p->nread;
    res->done = ivcs_http_parser_done(p);
    res->keep_alive = p->keep_alive;
    res->body_mode = p->body_mode;
    res->status = p->status;
    res->content_length = p->content_length;
    free(p);
}

static void result_free(result *r)
{
    dstr_free(&r->rec.log);
    dstr_free(&r->rec.body);
}

/* What a case must give. log NULL: not checked (but still equal across
 * chunkings). consumed: -1 = the whole input. */
typedef struct {
    int64_t rc;
    const char *log;
    const char *body; /* NULL: not checked */
    size_t body_len;
    int64_t consumed;
    int done;
    int keep_alive;
    int body_mode;
} expect;

/* A case that must succeed: the fields of expect after rc. */
#define OK_CASE(log, body, body_len, consumed, done, keep_alive, mode)                             \
    {                                                                                              \
        0, log, body, body_len, consumed, done, keep_alive, mode                                   \
    }

static const char *mode_name(int mode)
{
    return mode == WHOLE ? "whole" : mode == BYTES ? "bytes" : "random";
}

/* Runs every chunking of one case; returns 1 if all matched `e` and each
 * other. The first (whole) result is kept in *first if non-NULL. */
static int check_case_ex(const char *name, const char *in, size_t len, unsigned flags, int eof,
                         int fail_on, int fail_code, const expect *e, result *first)
{
    result ref;
    int ok = 1;
    run(in, len, flags, eof, WHOLE, 0, fail_on, fail_code, &ref);
    for (int i = 0; i < 26; i++) {
        int mode = i == 0 ? WHOLE : i == 1 ? BYTES : RANDOM;
        result r;
        if (i == 0) {
            r = ref;
        } else {
            run(in, len, flags, eof, mode, (uint64_t)i, fail_on, fail_code, &r);
        }
        const char *why = NULL;
        uint64_t want_consumed = e->consumed < 0 ? len : (uint64_t)e->consumed;
        if (r.rc != e->rc)
            why = "rc";
        else if (e->log && strcmp(r.rec.log.p ? r.rec.log.p : "", e->log) != 0)
            why = "log";
        else if (e->body && (r.rec.body.len != e->body_len ||
                             memcmp(r.rec.body.p ? r.rec.body.p : "", e->body, e->body_len)))
            why = "body";
        else if (!e->rc && r.consumed != want_consumed)
            why = "consumed";
        else if (!e->rc && (r.done != e->done || r.keep_alive != e->keep_alive ||
                            r.body_mode != e->body_mode))
            why = "done/keep_alive/body_mode";
        else if (strcmp(r.rec.log.p ? r.rec.log.p : "", ref.rec.log.p ? ref.rec.log.p : ""))
            why = "log differs from whole";
        else if (r.rec.body.len != ref.rec.body.len ||
                 (r.rec.body.len && memcmp(r.rec.body.p, ref.rec.body.p, r.rec.body.len)))
            why = "body differs from whole";
        else if (r.err_off != ref.err_off)
            why = "error offset differs from whole";
        else if (r.content_length != ref.content_length)
            why = "content_length differs";
        if (why) {
            fprintf(stderr,
                    "case %s, %s chunking (seed %d): %s mismatch\n  rc %lld (want %lld) consumed "
                    "%llu (want %llu) done %d keep_alive %d body_mode %d err_off %llu\n"
                    "--- log:\n%s--- want:\n%s",
                    name, mode_name(mode), i, why, (long long)r.rc, (long long)e->rc,
                    (unsigned long long)r.consumed, (unsigned long long)want_consumed, r.done,
                    r.keep_alive, r.body_mode, (unsigned long long)r.err_off,
                    r.rec.log.p ? r.rec.log.p : "", e->log ? e->log : "(any)\n");
            ok = 0;
        }
        if (i != 0) result_free(&r);
        if (!ok) break;
    }
    if (first)
        *first = ref;
    else
        result_free(&ref);
    return ok;
}

static int check_case(const char *name, const char *in, unsigned flags, int eof, const expect *e)
{
    return check_case_ex(name, in, strlen(in), flags, eof, 0, 0, e, NULL);
}

/* A malformed input: must fail with rc in every chunking, at the same
 * offset. */
static int check_bad(const char *name, const char *in, int64_t rc)
{
    expect e = {.rc = rc};
    return check_case(name, in, 0, 0, &e);
}

/* ---------------------------------------------------------------- tests */

TEST(content_length_body_is_delivered_and_keep_alive_is_default)
{
    const char *in = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nETag: \"abc\"\r\n\r\nhello";
    expect e = OK_CASE("S 200 OK\nH Content-Length: 5\nH ETag: \"abc\"\nD\nB\nE\n", "hello", 5, -1,
                       1, 1, IVCS_HTTP_BODY_LENGTH);
    CHECK(check_case("cl", in, 0, 0, &e));
    result r;
    CHECK(check_case_ex("cl", in, strlen(in), 0, 0, 0, 0, &e, &r));
    CHECK_EQ(r.content_length, 5);
    CHECK_EQ(r.status, 200);
    result_free(&r);
}

TEST(content_length_zero_completes_at_the_empty_line)
{
    const char *in = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    expect e =
        OK_CASE("S 200 OK\nH Content-Length: 0\nD\nE\n", "", 0, -1, 1, 1, IVCS_HTTP_BODY_NONE);
    CHECK(check_case("cl0", in, 0, 0, &e));
}

TEST(header_whitespace_is_trimmed_and_empty_values_allowed)
{
    const char *in = "HTTP/1.1 200 OK\r\nA:   x y \t\r\nB:\r\nC: \r\nContent-Length:0\r\n\r\n";
    expect e = OK_CASE("S 200 OK\nH A: x y\nH B: \nH C: \nH Content-Length: 0\nD\nE\n", "", 0, -1,
                       1, 1, IVCS_HTTP_BODY_NONE);
    CHECK(check_case("ows", in, 0, 0, &e));
}

TEST(reason_phrase_may_be_empty_or_absent_and_holds_obs_text)
{
    expect e1 =
        OK_CASE("S 200 \nH Content-Length: 0\nD\nE\n", "", 0, -1, 1, 1, IVCS_HTTP_BODY_NONE);
    CHECK(check_case("noreason", "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n", 0, 0, &e1));
    CHECK(check_case("emptyreason", "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n", 0, 0, &e1));
    expect e2 = OK_CASE("S 404 Nicht \xc3\xbc gefunden\t!\nH Content-Length: 0\nD\nE\n", "", 0, -1,
                        1, 1, IVCS_HTTP_BODY_NONE);
    CHECK(check_case("obs", "HTTP/1.1 404 Nicht \xc3\xbc gefunden\t!\r\nContent-Length: 0\r\n\r\n",
                     0, 0, &e2));
}

TEST(chunked_body_is_dechunked_with_extensions_and_trailers)
{
    const char *in = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\nhello\r\n"
                     "1;ext\r\n \r\n"
                     "00006 ; a=b;c = \"q\\\"s;x\" ;d\r\nworld!\r\n"
                     "A\r\n0123456789\r\n"
                     "0;last=1\r\nX-Checksum: abc\r\nX-Other:  z \r\n\r\n";
    expect e =
        OK_CASE("S 200 OK\nH Transfer-Encoding: chunked\nD\nB\nT X-Checksum: abc\nT X-Other: "
                "z\nE\n",
                "hello world!0123456789", 22, -1, 1, 1, IVCS_HTTP_BODY_CHUNKED);
    CHECK(check_case("chunked", in, 0, 0, &e));
}

TEST(chunked_without_trailers_and_mixed_case_coding)
{
    const char *in = "HTTP/1.1 200 OK\r\ntransfer-encoding:  ChUnKeD \r\n\r\n"
                     "3\r\nabc\r\n0\r\n\r\n";
    expect e = OK_CASE("S 200 OK\nH transfer-encoding: ChUnKeD\nD\nB\nE\n", "abc", 3, -1, 1, 1,
                       IVCS_HTTP_BODY_CHUNKED);
    CHECK(check_case("chunked2", in, 0, 0, &e));
}

TEST(chunked_empty_body)
{
    const char *in = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    expect e = OK_CASE("S 200 OK\nH Transfer-Encoding: chunked\nD\nE\n", "", 0, -1, 1, 1,
                       IVCS_HTTP_BODY_CHUNKED);
    CHECK(check_case("chunked0", in, 0, 0, &e));
}

TEST(continue_100_is_reported_then_the_final_response)
{
    const char *in = "HTTP/1.1 100 Continue\r\n\r\n"
                     "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                     "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok";
    expect e =
        OK_CASE("1S 100 Continue\n1D\n1S 103 Early Hints\n1H Link: </a>\n1D\nS 201 Created\nH "
                "Content-Length: 2\nD\nB\nE\n",
                "ok", 2, -1, 1, 1, IVCS_HTTP_BODY_LENGTH);
    CHECK(check_case("1xx", in, 0, 0, &e));
}

TEST(interim_response_framing_headers_do_not_leak_into_the_final_one)
{
    /* a Content-Length on a 1xx must not frame the final response */
    const char *in = "HTTP/1.1 100 Continue\r\nContent-Length: 99\r\n\r\n"
                     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n";
    expect e = OK_CASE(NULL, "x", 1, -1, 1, 1, IVCS_HTTP_BODY_CHUNKED);
    CHECK(check_case("1xx-cl", in, 0, 0, &e));
}

TEST(head_response_has_no_body_but_reports_content_length)
{
    const char *in = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n";
    expect e =
        OK_CASE("S 200 OK\nH Content-Length: 1234\nD\nE\n", "", 0, -1, 1, 1, IVCS_HTTP_BODY_NONE);
    result r;
    CHECK(check_case_ex("head", in, strlen(in), IVCS_HTTP_REQ_HEAD, 0, 0, 0, &e, &r));
    CHECK_EQ(r.content_length, 1234);
    result_free(&r);
    /* bytes after the header block belong to the next response */
    const char *in2 = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nHTTP/1.1 200 OK\r\n";
    expect e2 = OK_CASE("S 200 OK\nH Transfer-Encoding: chunked\nD\nE\n", "", 0, 47, 1, 1,
                        IVCS_HTTP_BODY_NONE);
    CHECK(check_case("head2", in2, IVCS_HTTP_REQ_HEAD, 0, &e2));
}

TEST(status_204_and_304_have_no_body)
{
    const char *in204 = "HTTP/1.1 204 No Content\r\nx-amz-request-id: tx1\r\n\r\nXYZ";
    expect e = OK_CASE("S 204 No Content\nH x-amz-request-id: tx1\nD\nE\n", "", 0,
                       (int64_t)strlen(in204) - 3, 1, 1, IVCS_HTTP_BODY_NONE);
    CHECK(check_case("204", in204, 0, 0, &e));
    const char *in304 = "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\nETag: \"e\"\r\n\r\n";
    expect e2 = OK_CASE("S 304 Not Modified\nH Content-Length: 100\nH ETag: \"e\"\nD\nE\n", "", 0,
                        -1, 1, 1, IVCS_HTTP_BODY_NONE);
    CHECK(check_case("304", in304, 0, 0, &e2));
}

TEST(http10_defaults_to_close_and_honours_keep_alive)
{
    expect e = OK_CASE(NULL, "abc", 3, -1, 1, 0, IVCS_HTTP_BODY_LENGTH);
    CHECK(check_case("10", "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc", 0, 0, &e));
    expect e2 = OK_CASE(NULL, "abc", 3, -1, 1, 1, IVCS_HTTP_BODY_LENGTH);
    CHECK(check_case("10ka",
                     "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 3\r\n\r\nabc", 0,
                     0, &e2));
}

TEST(connection_close_disables_reuse)
{
    expect e = OK_CASE(NULL, "abc", 3, -1, 1, 0, IVCS_HTTP_BODY_LENGTH);
    CHECK(check_case("close",
                     "HTTP/1.1 200 OK\r\nConnection: foo, CLOSE\r\nContent-Length: 3\r\n\r\nabc", 0,
                     0, &e));
    CHECK(check_case("close2",
                     "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nConnection:close\r\n"
                     "Content-Length: 3\r\n\r\nabc",
                     0, 0, &e));
    /* "closed" is another token, not close */
    expect e2 = OK_CASE(NULL, "abc", 3, -1, 1, 1, IVCS_HTTP_BODY_LENGTH);
    CHECK(check_case("closed",
                     "HTTP/1.1 200 OK\r\nConnection: closed\r\nContent-Length: 3\r\n\r\nabc", 0, 0,
                     &e2));
}

TEST(body_without_length_runs_until_close)
{
    const char *in = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of this\r\n0\r\n";
    expect e = OK_CASE("S 200 OK\nH Content-Type: text/plain\nD\nB\nE\n", "all of this\r\n0\r\n",
                       16, -1, 1, 0, IVCS_HTTP_BODY_CLOSE);
    CHECK(check_case("close-body", in, 0, 1, &e));
    /* without the EOF it is not complete */
    expect e2 = OK_CASE("S 200 OK\nH Content-Type: text/plain\nD\nB\n", "all of this\r\n0\r\n", 16,
                        -1, 0, 0, IVCS_HTTP_BODY_CLOSE);
    CHECK(check_case("close-body-open", in, 0, 0, &e2));
}

TEST(eof_before_the_end_is_closed_and_nread_tells_stale_connections)
{
    expect e = {.rc = IVCS_ERR_CLOSED, .log = "S 200 OK\nH Content-Length: 10\nD\nB\n"};
    CHECK(check_case("trunc", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 0, 1, &e));
    expect e2 = {.rc = IVCS_ERR_CLOSED, .log = "S 200 OK\n"};
    CHECK(check_case("trunc-hdr", "HTTP/1.1 200 OK\r\nContent-Le", 0, 1, &e2));
    expect e3 = {.rc = IVCS_ERR_CLOSED, .log = "S 200 OK\nH Transfer-Encoding: chunked\nD\nB\n"};
    CHECK(check_case("trunc-chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
                     0, 1, &e3));

    ivcs_http_parser p;
    recorder rec = {0};
    CHECK_EQ(ivcs_http_parser_init(&p, 0, record, &rec), 0);
    CHECK_EQ(ivcs_http_parser_eof(&p), IVCS_ERR_CLOSED);
    CHECK_EQ(p.nread, 0);
    CHECK_EQ(ivcs_http_parser_eof(&p), IVCS_ERR_CLOSED); /* sticky */
    ivcs_http_parser_reset(&p, 0);
    CHECK_EQ(ivcs_http_parser_feed(&p, "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", 39), 39);
    CHECK_EQ(ivcs_http_parser_eof(&p), 0); /* complete already */
    dstr_free(&rec.log);
    dstr_free(&rec.body);
}

TEST(parser_stops_at_message_end_and_reset_parses_the_next)
{
    const char *two = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab"
                      "HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nz";
    size_t first = strlen("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nab");
    recorder rec = {0};
    ivcs_http_parser p;
    CHECK_EQ(ivcs_http_parser_init(&p, 0, record, &rec), 0);
    CHECK_EQ(ivcs_http_parser_feed(&p, two, strlen(two)), (int64_t)first);
    CHECK(ivcs_http_parser_done(&p));
    CHECK_EQ(p.nread, first);
    CHECK_EQ(ivcs_http_parser_feed(&p, two + first, 1), IVCS_ERR_STATE);
    CHECK_EQ(ivcs_http_parser_feed(&p, NULL, 0), 0);
    ivcs_http_parser_reset(&p, 0);
    CHECK_EQ(ivcs_http_parser_feed(&p, two + first, strlen(two) - first),
             (int64_t)(strlen(two) - first));
    CHECK(ivcs_http_parser_done(&p));
    CHECK_EQ(p.status, 404);
    CHECK(strcmp(rec.log.p, "S 200 OK\nH Content-Length: 2\nD\nB\nE\nS 404 Not Found\nH "
                            "Content-Length: 1\nD\nB\nE\n") == 0);
    CHECK(rec.body.len == 3 && memcmp(rec.body.p, "abz", 3) == 0);
    dstr_free(&rec.log);
    dstr_free(&rec.body);
}

TEST(identical_content_length_repeats_are_accepted)
{
    expect e = OK_CASE(NULL, "abcde", 5, -1, 1, 1, IVCS_HTTP_BODY_LENGTH);
    CHECK(
        check_case("cl-list", "HTTP/1.1 200 OK\r\nContent-Length: 5 , 5,5\r\n\r\nabcde", 0, 0, &e));
    CHECK(check_case("cl-twice",
                     "HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 005\r\n\r\nabcde", 0,
                     0, &e));
}

TEST(large_content_length_body_streams_without_copy)
{
    size_t n = 1 << 20;
    char *in = malloc(n + 100);
    int h = snprintf(in, 100, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", n);
    for (size_t i = 0; i < n; i++)
        in[h + i] = (char)(i * 7 + (i >> 9));
    expect e = OK_CASE(NULL, in + h, n, -1, 1, 1, IVCS_HTTP_BODY_LENGTH);
    CHECK(check_case_ex("1MiB", in, (size_t)h + n, 0, 0, 0, 0, &e, NULL));
    free(in);
}

TEST(max_content_length_is_accepted_one_more_overflows)
{
    /* INT64_MAX is a valid length (framing only; no body follows here) */
    expect e = OK_CASE("S 200 OK\nH Content-Length: 9223372036854775807\nD\nE\n", "", 0, -1, 1, 1,
                       IVCS_HTTP_BODY_NONE);
    CHECK(check_case("clmax", "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n\r\n",
                     IVCS_HTTP_REQ_HEAD, 0, &e));
    CHECK(check_bad("cl-ovf", "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n",
                    IVCS_ERR_HTTP_PARSE));
    CHECK(check_bad("cl-ovf2", "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                    IVCS_ERR_HTTP_PARSE));
}

TEST(malformed_status_lines_are_rejected)
{
    static const char *bad[] = {
        "HTTP/1.1 2000 OK\r\n\r\n",    "HTTP/1.1  200 OK\r\n\r\n", "HTTP/1.2 200 OK\r\n\r\n",
        "HTTP/2.0 200 OK\r\n\r\n",     "HTTP/1.1 099 OK\r\n\r\n",  "HTTP/1.1 600 OK\r\n\r\n",
        "http/1.1 200 OK\r\n\r\n",     "HTTP/1.1 20x OK\r\n\r\n",  "HTTP/1.1 200OK\r\n\r\n",
        "HTTP/1.1 200 O\x01K\r\n\r\n", "HTTP/1.1\r\n\r\n",         "\r\nHTTP/1.1 200 OK\r\n\r\n",
        " HTTP/1.1 200 OK\r\n\r\n",    "ICY 200 OK\r\n\r\n",       "HTTP/1.1 200 OK\n\r\n",
        "HTTP/1.1 200 O\rK\r\n\r\n",   "HTTP/1.1 200\tOK\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "status-%zu", i);
        CHECK(check_bad(name, bad[i], IVCS_ERR_HTTP_PARSE));
    }
    /* a NUL inside the status line */
    static const char nul[] = "HTTP/1.1 200 O\0K\r\nContent-Length: 0\r\n\r\n";
    expect e = {.rc = IVCS_ERR_HTTP_PARSE, .log = ""};
    CHECK(check_case_ex("status-nul", nul, sizeof nul - 1, 0, 0, 0, 0, &e, NULL));
}

TEST(malformed_header_fields_are_rejected)
{
    static const char *bad[] = {
        /* obs-fold */
        "HTTP/1.1 200 OK\r\nA: b\r\n c\r\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\r\n\tc\r\nContent-Length: 0\r\n\r\n",
        /* whitespace before the first field / before the colon */
        "HTTP/1.1 200 OK\r\n A: b\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n",
        /* no colon, empty name, bad name chars */
        "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n",
        "HTTP/1.1 200 OK\r\n: v\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA(b): v\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA\x80: v\r\n\r\n",
        /* control bytes and bare CR / LF */
        "HTTP/1.1 200 OK\r\nA: b\x01\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\x7f\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\nContent-Length: 0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "field-%zu", i);
        CHECK(check_bad(name, bad[i], IVCS_ERR_HTTP_PARSE));
    }
    static const char nul_v[] = "HTTP/1.1 200 OK\r\nA: b\0c\r\nContent-Length: 0\r\n\r\n";
    static const char nul_n[] = "HTTP/1.1 200 OK\r\nA\0: bc\r\nContent-Length: 0\r\n\r\n";
    expect e = {.rc = IVCS_ERR_HTTP_PARSE, .log = "S 200 OK\n"};
    CHECK(check_case_ex("nul-value", nul_v, sizeof nul_v - 1, 0, 0, 0, 0, &e, NULL));
    CHECK(check_case_ex("nul-name", nul_n, sizeof nul_n - 1, 0, 0, 0, 0, &e, NULL));
}

TEST(bad_framing_headers_are_rejected)
{
    static const struct {
        const char *in;
        int rc;
    } bad[] = {
        {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", IVCS_ERR_HTTP_PARSE},
        {"HTTP/1.1 200 OK\r\nContent-Length: +1\r\n\r\n", IVCS_ERR_HTTP_PARSE},
        {"HTTP/1.1 200 OK\r\nContent-Length: 0x10\r\n\r\n", IVCS_ERR_HTTP_PARSE},
        {"HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n", IVCS_ERR_HTTP_PARSE},
        {"HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n", IVCS_ERR_HTTP_PARSE},
        {"HTTP/1.1 200 OK\r\nContent-Length: 5,\r\n\r\n", IVCS_ERR_HTTP_PARSE},
        {"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n", IVCS_ERR_HTTP_PARSE},
        {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", IVCS_ERR_HTTP_PARSE},
        /* Content-Length with Transfer-Encoding, either order */
        {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
         IVCS_ERR_HTTP_PARSE},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
         IVCS_ERR_HTTP_PARSE},
        /* chunked twice, not last, with parameters, empty coding list */
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", IVCS_ERR_HTTP_PARSE},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
         IVCS_ERR_HTTP_PARSE},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", IVCS_ERR_HTTP_PARSE},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked;q=1\r\n\r\n", IVCS_ERR_HTTP_PARSE},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\n\r\n", IVCS_ERR_HTTP_PARSE},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: ,chunked\r\n\r\n", IVCS_ERR_HTTP_PARSE},
        /* Transfer-Encoding in HTTP/1.0 */
        {"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", IVCS_ERR_HTTP_PARSE},
        /* codings we never ask for; protocol switch */
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", IVCS_ERR_UNSUPPORTED},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip;level=1 , chunked\r\n\r\n",
         IVCS_ERR_UNSUPPORTED},
        {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
         IVCS_ERR_UNSUPPORTED},
        {"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n", IVCS_ERR_UNSUPPORTED},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "framing-%zu", i);
        CHECK(check_bad(name, bad[i].in, bad[i].rc));
    }
}

TEST(bad_chunks_are_rejected)
{
    static const char *bad[] = {
        "xyz\r\n",                  /* not hex */
        "\r\n",                     /* empty size */
        " 5\r\nhello\r\n0\r\n\r\n", /* leading space */
        "-5\r\n",                   /* sign */
        "10000000000000000\r\n",    /* 2^64 */
        "8000000000000000\r\n",     /* 2^63 */
        "5\r\nhelloX\r\n",          /* missing CRLF after data */
        "5\r\nhello\rX",            /* CR without LF */
        "5\r\nhello\n\r\n",         /* LF without CR */
        "5\nhello\r\n",             /* bare LF after size */
        "5;\r\nhello\r\n",          /* empty extension name */
        "5;a=\r\nhello\r\n",        /* empty extension value */
        "5;a=\"x\r\nhello\r\n",     /* unterminated quoted string */
        "5;a=b c\r\nhello\r\n",     /* junk after extension */
        "5 x\r\nhello\r\n",         /* junk after size */
        "5;a\x01\r\nhello\r\n",     /* control byte */
        "0\r\n x: y\r\n\r\n",       /* obs-fold in trailer */
        "0\r\nbad trailer\r\n\r\n", /* trailer without colon */
        "0\r\n\n",                  /* bare LF ending trailers */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char in[256], name[32];
        snprintf(in, sizeof in, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%s", bad[i]);
        snprintf(name, sizeof name, "chunk-%zu", i);
        CHECK(check_bad(name, in, IVCS_ERR_HTTP_PARSE));
    }
    /* the largest accepted chunk size: data simply has not arrived */
    expect e = OK_CASE("S 200 OK\nH Transfer-Encoding: chunked\nD\n", "", 0, -1, 0, 1,
                       IVCS_HTTP_BODY_CHUNKED);
    CHECK(check_case("chunk-max",
                     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n7fffffffffffffff\r\n", 0,
                     0, &e));
}

/* A header block of exactly `total` bytes: the status line, one big field
 * and Content-Length: 0, CRLFs included. */
static char *block_of(const char *status_line, size_t total)
{
    char head[64];
    snprintf(head, sizeof head, "%s\r\nX-Big: ", status_line);
    const char *tail = "\r\nContent-Length: 0\r\n\r\n";
    size_t fill = total - strlen(head) - strlen(tail);
    char *s = malloc(total + 1);
    if (!s) abort();
    memcpy(s, head, strlen(head));
    memset(s + strlen(head), 'v', fill);
    memcpy(s + strlen(head) + fill, tail, strlen(tail) + 1);
    return s;
}

TEST(header_block_limit_is_exact)
{
    char *ok = block_of("HTTP/1.1 200 OK", IVCS_HTTP_HEADER_MAX);
    expect e = OK_CASE(NULL, "", 0, -1, 1, 1, IVCS_HTTP_BODY_NONE);
    CHECK(check_case("block-max", ok, 0, 0, &e));
    char *big = block_of("HTTP/1.1 200 OK", IVCS_HTTP_HEADER_MAX + 1);
    expect e2 = {.rc = IVCS_ERR_TOO_LONG, .log = "S 200 OK\nH X-Big: "};
    /* the big field is reported; the block overflows in its last line */
    result r;
    e2.log = NULL;
    CHECK(check_case_ex("block-over", big, strlen(big), 0, 0, 0, 0, &e2, &r));
    CHECK_EQ(r.err_off, IVCS_HTTP_HEADER_MAX); /* the first byte over the limit */
    result_free(&r);
    free(ok);
    free(big);
    /* a line that never ends */
    char *endless = malloc(20000);
    memcpy(endless, "HTTP/1.1 200 OK\r\nX: ", 20);
    memset(endless + 20, 'a', 20000 - 20);
    expect e3 = {.rc = IVCS_ERR_TOO_LONG, .log = "S 200 OK\n"};
    CHECK(check_case_ex("endless", endless, 20000, 0, 0, 0, 0, &e3, NULL));
    free(endless);
}

TEST(the_limit_applies_per_block_so_1xx_blocks_do_not_add_up)
{
    char *b1 = block_of("HTTP/1.1 100 Continue", IVCS_HTTP_HEADER_MAX);
    char *b2 = block_of("HTTP/1.1 200 OK", IVCS_HTTP_HEADER_MAX);
    size_t n1 = strlen(b1), n2 = strlen(b2);
    char *in = malloc(n1 + n2);
    if (!in) abort();
    memcpy(in, b1, n1);
    memcpy(in + n1, b2, n2);
    expect e = OK_CASE(NULL, "", 0, -1, 1, 1, IVCS_HTTP_BODY_NONE);
    CHECK(check_case_ex("1xx-blocks", in, n1 + n2, 0, 0, 0, 0, &e, NULL));
    free(b1);
    free(b2);
    free(in);
}

TEST(trailer_and_chunk_line_limits)
{
    size_t n = IVCS_HTTP_HEADER_MAX + 100;
    char *in = malloc(n + 200);
    int h = snprintf(in, 200, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;e=");
    memset(in + h, 'x', n);
    expect e = {.rc = IVCS_ERR_TOO_LONG, .log = "S 200 OK\nH Transfer-Encoding: chunked\nD\n"};
    CHECK(check_case_ex("chunkline", in, (size_t)h + n, 0, 0, 0, 0, &e, NULL));
    h = snprintf(in, 200, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: ");
    memset(in + h, 'x', n);
    CHECK(check_case_ex("trailer", in, (size_t)h + n, 0, 0, 0, 0, &e, NULL));
    free(in);
}

TEST(callback_error_stops_the_parser_and_is_sticky)
{
    const char *in = "HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nContent-Length: 3\r\n\r\nabc";
    expect e = {.rc = IVCS_ERR_WRITE, .log = "S 200 OK\nH A: 1\n"};
    CHECK(check_case_ex("cb-err", in, strlen(in), 0, 0, IVCS_HTTP_EV_HEADER, IVCS_ERR_WRITE, &e,
                        NULL));
    /* a positive return also stops it (body events are not used here: how
     * the body is split into events follows the chunking) */
    expect e2 = {.rc = IVCS_ERR_CANCELLED,
                 .log = "S 200 OK\nH A: 1\nH B: 2\nH Content-Length: 3\nD\n"};
    CHECK(check_case_ex("cb-pos", in, strlen(in), 0, 0, IVCS_HTTP_EV_HEADERS_DONE, 7, &e2, NULL));
    ivcs_http_parser p;
    recorder rec = {.fail_on = IVCS_HTTP_EV_STATUS, .fail_code = IVCS_ERR_S3};
    CHECK_EQ(ivcs_http_parser_init(&p, 0, record, &rec), 0);
    CHECK_EQ(ivcs_http_parser_feed(&p, in, strlen(in)), IVCS_ERR_S3);
    CHECK_EQ(ivcs_http_parser_feed(&p, in, strlen(in)), IVCS_ERR_S3);
    CHECK_EQ(ivcs_http_parser_eof(&p), IVCS_ERR_S3);
    ivcs_http_parser_reset(&p, 0); /* reusable afterwards */
    rec.fail_on = 0;
    CHECK_EQ(ivcs_http_parser_feed(&p, in, strlen(in)), (int64_t)strlen(in));
    CHECK(ivcs_http_parser_done(&p));
    dstr_free(&rec.log);
    dstr_free(&rec.body);
}

TEST(invalid_arguments)
{
    ivcs_http_parser p;
    CHECK_EQ(ivcs_http_parser_init(NULL, 0, record, NULL), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_http_parser_init(&p, 0, NULL, NULL), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_http_parser_init(&p, 0x80, record, NULL), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_http_parser_init(&p, 0, record, NULL), 0);
    CHECK_EQ(ivcs_http_parser_feed(&p, NULL, 3), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_http_parser_feed(&p, NULL, 0), 0);
    CHECK(ivcs_http_name_is("ETag", 4, "etag"));
    CHECK(!ivcs_http_name_is("ETags", 5, "etag"));
    CHECK(!ivcs_http_name_is("ETa", 3, "etag"));
}

/* ---------------------------------------------------------------- captures */

/* A corpus file: its flags and the bytes the server sent (see the layout in
 * fuzz/fuzz_http_parse.c). */
static char *load_capture(const char *name, size_t *len, unsigned *flags)
{
    char path[4096];
    const char *src = getenv("IVCS_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/fuzz/corpus/http_parse/%s", src ? src : ".", name);
    size_t n = 0;
    uint8_t *raw = check_read_file(path, &n);
    if (!raw || n < 2 || n < 2u + (raw[1] & 15u)) {
        fprintf(stderr, "cannot load capture %s\n", path);
        free(raw);
        return NULL;
    }
    size_t skip = 2u + (raw[1] & 15u);
    *flags = raw[0] & 1u;
    *len = n - skip;
    memmove(raw, raw + skip, *len);
    return (char *)raw;
}

static size_t count(const char *hay, size_t n, const char *needle)
{
    size_t c = 0, m = strlen(needle);
    for (const char *p = hay; (p = memmem(p, n - (size_t)(p - hay), needle, m)) != NULL; p += m)
        c++;
    return c;
}

TEST(radosgw_list_1000_chunked)
{
    size_t n;
    unsigned flags;
    char *in = load_capture("radosgw-list-1000", &n, &flags);
    CHECK(in != NULL);
    if (!in) return;
    expect e = OK_CASE(NULL, NULL, 0, -1, 1, 1, IVCS_HTTP_BODY_CHUNKED);
    result r;
    CHECK(check_case_ex("list-1000", in, n, flags, 0, 0, 0, &e, &r));
    /* the single chunk radosgw sends, de-chunked */
    CHECK_EQ(r.rec.body.len, 0x3c9fc);
    CHECK_EQ(count(r.rec.body.p, r.rec.body.len, "<Contents>"), 1000);
    CHECK(r.rec.body.len > 40 && memcmp(r.rec.body.p, "<?xml", 5) == 0);
    CHECK(memcmp(r.rec.body.p + r.rec.body.len - 19, "</ListBucketResult>", 19) == 0);
    CHECK(strstr(r.rec.log.p, "H Transfer-Encoding: chunked\n") != NULL);
    CHECK(strstr(r.rec.log.p, "H Content-Type: application/xml\n") != NULL);
    result_free(&r);
    free(in);
}

TEST(radosgw_error_responses)
{
    static const struct {
        const char *file;
        int status;
        size_t len;
        const char *code;
    } caps[] = {
        {"radosgw-err-nosuchkey", 404, 229, "<Code>NoSuchKey</Code>"},
        {"radosgw-err-nosuchbucket", 404, 241, "<Code>NoSuchBucket</Code>"},
        {"radosgw-err-signature", 403, 213, "<Code>SignatureDoesNotMatch</Code>"},
    };
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        size_t n;
        unsigned flags;
        char *in = load_capture(caps[i].file, &n, &flags);
        CHECK(in != NULL);
        if (!in) continue;
        expect e = OK_CASE(NULL, NULL, 0, -1, 1, 1, IVCS_HTTP_BODY_LENGTH);
        result r;
        CHECK(check_case_ex(caps[i].file, in, n, flags, 0, 0, 0, &e, &r));
        CHECK_EQ(r.status, caps[i].status);
        CHECK_EQ(r.content_length, (int64_t)caps[i].len);
        CHECK_EQ(r.rec.body.len, caps[i].len);
        CHECK(count(r.rec.body.p, r.rec.body.len, caps[i].code) == 1);
        result_free(&r);
        free(in);
    }
}

TEST(radosgw_head_get_range_304_continue_close)
{
    static const struct {
        const char *file;
        int status;
        size_t body;
        int keep_alive;
        int mode;
        const char *in_log;
    } caps[] = {
        {"radosgw-head-object", 200, 0, 1, IVCS_HTTP_BODY_NONE, "H Content-Length: 100\n"},
        {"radosgw-get-object", 200, 100, 1, IVCS_HTTP_BODY_LENGTH, "H ETag: \""},
        {"radosgw-get-range", 206, 10, 1, IVCS_HTTP_BODY_LENGTH,
         "H Content-Range: bytes 0-9/100\n"},
        {"radosgw-get-304", 304, 0, 1, IVCS_HTTP_BODY_NONE, "S 304 Not Modified\n"},
        {"radosgw-put-100-continue", 200, 0, 1, IVCS_HTTP_BODY_NONE,
         "1S 100 CONTINUE\n1D\nS 200 OK\n"},
        {"radosgw-get-close", 200, 100, 0, IVCS_HTTP_BODY_LENGTH, "H Connection: close\n"},
    };
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        size_t n;
        unsigned flags;
        char *in = load_capture(caps[i].file, &n, &flags);
        CHECK(in != NULL);
        if (!in) continue;
        expect e = OK_CASE(NULL, NULL, 0, -1, 1, caps[i].keep_alive, caps[i].mode);
        result r;
        CHECK(check_case_ex(caps[i].file, in, n, flags, 0, 0, 0, &e, &r));
        CHECK_EQ(r.status, caps[i].status);
        CHECK_EQ(r.rec.body.len, caps[i].body);
        CHECK(strstr(r.rec.log.p, caps[i].in_log) != NULL);
        result_free(&r);
        free(in);
    }
}

TEST(radosgw_keep_alive_two_responses_on_one_connection)
{
    size_t n;
    unsigned flags;
    char *in = load_capture("radosgw-keepalive-delete-get", &n, &flags);
    CHECK(in != NULL);
    if (!in) return;
    const char *end204 = strstr(in, "\r\n\r\n");
    size_t first = (size_t)(end204 - in) + 4;
    expect e = OK_CASE(NULL, "", 0, (int64_t)first, 1, 1, IVCS_HTTP_BODY_NONE);
    CHECK(check_case_ex("delete", in, n, flags, 0, 0, 0, &e, NULL));
    expect e2 = OK_CASE(NULL, NULL, 0, -1, 1, 1, IVCS_HTTP_BODY_LENGTH);
    result r;
    CHECK(check_case_ex("then-get", in + first, n - first, flags, 0, 0, 0, &e2, &r));
    CHECK_EQ(r.rec.body.len, 100);
    result_free(&r);
    free(in);
}

/* HTTP-date (IMF-fixdate) for the clock-skew correction: known values,
 * and every malformed form refused. */
TEST(http_date_imf_fixdate)
{
    int64_t t = -1;
#define D(str) ivcs_http_date_parse(str, strlen(str), &t)
    CHECK_EQ(D("Sun, 06 Nov 1994 08:49:37 GMT"), 0); /* RFC 9110's example */
    CHECK_EQ(t, 784111777);
    CHECK_EQ(D("Thu, 01 Jan 1970 00:00:00 GMT"), 0);
    CHECK_EQ(t, 0);
    CHECK_EQ(D("Tue, 29 Feb 2000 12:00:00 GMT"), 0);
    CHECK_EQ(t, 951825600);
    CHECK_EQ(D("Fri, 31 Dec 9999 23:59:59 GMT"), 0);
    CHECK_EQ(t, 253402300799);
    CHECK_EQ(D("Sat, 05 Dec 2026 02:00:60 GMT"), 0); /* a leap second */
    t = 42;
    static const char *const bad[] = {
        "Mon, 06 Nov 1994 08:49:37 GMT",  /* wrong weekday */
        "Mon, 29 Feb 2100 00:00:00 GMT",  /* 2100 is not a leap year */
        "Wed, 31 Dec 1969 23:59:59 GMT",  /* before 1970 */
        "Sun, 06 Nov 1994 24:00:00 GMT",  /* hour */
        "Sun, 06 Nov 1994 08:60:37 GMT",  /* minute */
        "Sun, 00 Nov 1994 08:49:37 GMT",  /* day 0 */
        "Sun, 31 Nov 1994 08:49:37 GMT",  /* November 31 */
        "Sun, 06 Nov 1994 08:49:37 UTC",  /* zone */
        "Sun, 06 Nov 1994 08:49:37 GMT ", /* length */
        "Sunday, 06-Nov-94 08:49:37 GMT", /* RFC 850 */
        "Sun Nov  6 08:49:37 1994",       /* asctime */
        "Sun, 06 Xyz 1994 08:49:37 GMT",  /* month */
        "Sun, 0x Nov 1994 08:49:37 GMT",  /* digits */
        "",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ(D(bad[i]), IVCS_ERR_HTTP_PARSE);
        CHECK_EQ(t, 42);
    }
    CHECK_EQ(ivcs_http_date_parse(NULL, 29, &t), IVCS_ERR_HTTP_PARSE);
#undef D
}

int main(void)
{
    RUN(content_length_body_is_delivered_and_keep_alive_is_default);
    RUN(content_length_zero_completes_at_the_empty_line);
    RUN(header_whitespace_is_trimmed_and_empty_values_allowed);
    RUN(reason_phrase_may_be_empty_or_absent_and_holds_obs_text);
    RUN(chunked_body_is_dechunked_with_extensions_and_trailers);
    RUN(chunked_without_trailers_and_mixed_case_coding);
    RUN(chunked_empty_body);
    RUN(continue_100_is_reported_then_the_final_response);
    RUN(interim_response_framing_headers_do_not_leak_into_the_final_one);
    RUN(head_response_has_no_body_but_reports_content_length);
    RUN(status_204_and_304_have_no_body);
    RUN(http10_defaults_to_close_and_honours_keep_alive);
    RUN(connection_close_disables_reuse);
    RUN(body_without_length_runs_until_close);
    RUN(eof_before_the_end_is_closed_and_nread_tells_stale_connections);
    RUN(parser_stops_at_message_end_and_reset_parses_the_next);
    RUN(identical_content_length_repeats_are_accepted);
    RUN(large_content_length_body_streams_without_copy);
    RUN(max_content_length_is_accepted_one_more_overflows);
    RUN(malformed_status_lines_are_rejected);
    RUN(malformed_header_fields_are_rejected);
    RUN(bad_framing_headers_are_rejected);
    RUN(bad_chunks_are_rejected);
    RUN(header_block_limit_is_exact);
    RUN(the_limit_applies_per_block_so_1xx_blocks_do_not_add_up);
    RUN(trailer_and_chunk_line_limits);
    RUN(callback_error_stops_the_parser_and_is_sticky);
    RUN(invalid_arguments);
    RUN(radosgw_list_1000_chunked);
    RUN(radosgw_error_responses);
    RUN(radosgw_head_get_range_304_continue_close);
    RUN(radosgw_keep_alive_two_responses_on_one_connection);
    RUN(http_date_imf_fixdate);
    guard_release(&gsmall);
    guard_release(&gbig);
    return check_done();
}
