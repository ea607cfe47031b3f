/*
 * fuzz_http_parse.c - the HTTP response parser must give the same events,
 * the same error and stop at the same byte however the stream is cut.
 *
 * Input layout (the corpus files follow it; test_http_parse.c reads them too):
 *   byte 0     flags: bit 0 the request was HEAD, bit 1 the peer closes the
 *              connection after the last byte (ivcs_http_parser_eof)
 *   byte 1     k = byte & 15: how many chunk-size bytes follow
 *   k bytes    chunk sizes, used in turn: v < 0xF0 -> v + 1 bytes,
 *              else (v - 0xEF) * 4096 bytes (TLS-record sized); k == 0
 *              feeds one byte at a time
 *   the rest   the bytes the server sent: one or more responses (after a
 *              DONE the parser is reset and parses the next one)
 *
 * The stream is parsed once in one piece and once in the chunks above; the
 * harness aborts if the two runs differ in any event (body bytes are
 * compared as one stream, since their split follows the chunking), in the
 * final status or in the number of bytes consumed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/net/http_parse.h"

typedef struct {
    uint64_t hash;   /* FNV-1a over the serialised events */
    uint64_t events; /* events other than BODY */
    uint64_t body;   /* body bytes */
    int in_body;
    int messages;
} run_log;

static void mix(run_log *l, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        l->hash ^= b[i];
        l->hash *= 0x100000001b3ull;
    }
}

static void mix_int(run_log *l, int64_t v)
{
    mix(l, &v, sizeof v);
}

static int on_event(void *user, const ivcs_http_event *ev)
{
    run_log *l = user;
    if (ev->type == IVCS_HTTP_EV_BODY) {
        if (ev->len == 0 || !ev->data) abort(); /* BODY is never empty */
        if (!l->in_body) mix_int(l, -1);
        l->in_body = 1;
        mix(l, ev->data, ev->len);
        l->body += ev->len;
        return 0;
    }
    l->in_body = 0;
    l->events++;
    mix_int(l, ev->type);
    mix_int(l, ev->status);
    mix_int(l, ev->informational);
    mix_int(l, ev->version_minor);
    if (ev->status < 100 || ev->status > 599) abort();
    if (ev->type == IVCS_HTTP_EV_HEADER || ev->type == IVCS_HTTP_EV_TRAILER) {
        if (ev->name_len == 0) abort();
        mix_int(l, (int64_t)ev->name_len);
        mix(l, ev->name, ev->name_len);
    }
    if (ev->type == IVCS_HTTP_EV_HEADER || ev->type == IVCS_HTTP_EV_TRAILER ||
        ev->type == IVCS_HTTP_EV_STATUS) {
        mix_int(l, (int64_t)ev->value_len);
        if (ev->value_len) mix(l, ev->value, ev->value_len);
    }
    if (ev->type == IVCS_HTTP_EV_DONE) l->messages++;
    return 0;
}

typedef struct {
    run_log log;
    int64_t rc;        /* first error, or 0 */
    uint64_t consumed; /* bytes consumed in total */
    uint64_t err_off;  /* stream offset where the error was found */
    int done, keep_alive, body_mode;
    int64_t content_length;
} run_result;

static size_t chunk_size(const uint8_t *sizes, size_t k, size_t idx)
{
    if (k == 0) return 1;
    uint8_t v = sizes[idx % k];
    return v < 0xF0 ? (size_t)v + 1 : (size_t)(v - 0xEF) * 4096;
}

static void run(const uint8_t *d, size_t n, unsigned flags, int eof, const uint8_t *sizes, size_t k,
                int whole, run_result *res)
{
    memset(res, 0, sizeof *res);
    res->log.hash = 0xcbf29ce484222325ull;
    ivcs_http_parser p;
    if (ivcs_http_parser_init(&p, flags, on_event, &res->log) != 0) abort();
    size_t off = 0, idx = 0, msg_start = 0;
    while (off < n) {
        size_t c = whole ? n - off : chunk_size(sizes, k, idx++);
        if (c > n - off) c = n - off;
        /* an exactly sized copy: ASan sees any read past the chunk */
        uint8_t *buf = malloc(c);
        if (!buf) abort();
        memcpy(buf, d + off, c);
        size_t used = 0;
        while (used < c) {
            int64_t r = ivcs_http_parser_feed(&p, buf + used, c - used);
            if (r < 0) {
                res->rc = r;
                break;
            }
            if ((uint64_t)r > c - used) abort();
            used += (size_t)r;
            if (ivcs_http_parser_done(&p)) {
                if (p.body_mode == IVCS_HTTP_BODY_LENGTH &&
                    p.body_bytes != (uint64_t)p.content_length)
                    abort();
                /* the next response on the same connection */
                mix_int(&res->log, (int64_t)(off + used));
                mix_int(&res->log, p.keep_alive);
                if (p.nread != off + used - msg_start) abort();
                msg_start = off + used;
                ivcs_http_parser_reset(&p, flags);
            } else if (used < c) {
                abort(); /* stopped early without being done */
            }
        }
        free(buf);
        if (res->rc) break;
        off += c;
    }
    res->consumed = off;
    if (!res->rc && eof) res->rc = ivcs_http_parser_eof(&p);
    if (res->rc) res->err_off = msg_start + p.nread;
    res->done = ivcs_http_parser_done(&p);
    res->keep_alive = p.keep_alive;
    res->body_mode = p.body_mode;
    res->content_length = p.content_length;
    /* errors are sticky */
    if (res->rc && ivcs_http_parser_feed(&p, "x", 1) != res->rc) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The Date header's parser (clock-skew correction) on the raw input:
     * a date it accepts is in 1970..9999 and prints back the same. */
    int64_t t = -1;
    if (ivcs_http_date_parse((const char *)data, size, &t) == 0) {
        if (t < 0 || t > 253402300799LL) abort();
        time_t tt = (time_t)t;
        struct tm tm;
        char back[40];
        if (!gmtime_r(&tt, &tm) || strftime(back, sizeof back, "%a, %d %b %Y %H:%M:%S GMT", &tm) != 29)
            abort();
        /* a leap second (:60) is accepted and lands on the next minute */
        if (memcmp(back, data, 29) != 0 && !(data[23] == '6' && data[24] == '0')) abort();
    }
    if (size < 2) return 0;
    unsigned flags = data[0] & 1u;
    int eof = (data[0] >> 1) & 1;
    size_t k = data[1] & 15u;
    if (size < 2 + k) return 0;
    const uint8_t *sizes = data + 2;
    const uint8_t *d = data + 2 + k;
    size_t n = size - 2 - k;

    run_result a, b;
    run(d, n, flags, eof, sizes, k, 1, &a);
    run(d, n, flags, eof, sizes, k, 0, &b);
    /* consumed differs legitimately when an error stops the runs (it counts
     * whole chunks); the offset of the error itself must not */
    if (a.rc != b.rc || a.err_off != b.err_off || a.log.hash != b.log.hash ||
        a.log.events != b.log.events || a.log.body != b.log.body ||
        a.log.messages != b.log.messages || a.done != b.done || a.keep_alive != b.keep_alive ||
        a.body_mode != b.body_mode || a.content_length != b.content_length ||
        (!a.rc && a.consumed != b.consumed)) {
        fprintf(stderr,
                "chunking changed the result: rc %lld/%lld at %llu/%llu events %llu/%llu body "
                "%llu/%llu "
                "hash %llx/%llx\n",
                (long long)a.rc, (long long)b.rc, (unsigned long long)a.err_off,
                (unsigned long long)b.err_off, (unsigned long long)a.log.events,
                (unsigned long long)b.log.events, (unsigned long long)a.log.body,
                (unsigned long long)b.log.body, (unsigned long long)a.log.hash,
                (unsigned long long)b.log.hash);
        abort();
    }
    return 0;
}
