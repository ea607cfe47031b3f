/*
 * fuzz_s3_xml.c - the S3 XML parsers must give the same result however the
 * document is cut; the writer's output must parse back to what was written.
 *
 * Input layout (the corpus files follow it; test_s3_xml.c reads them too):
 *   byte 0     mode: bits 0-1: 0 the <Error> parser, 1 the ListObjectsV2
 *              parser, 2 the same with IVCS_S3_LIST_URL_DECODE, 3 the
 *              writer (the rest is the text of a <Key> and of a lifecycle
 *              rule). Bit 2 set: also parse with an allocator that fails
 *              after byte 0 >> 3 allocations (must fail cleanly, no leak).
 *   byte 1     k = byte & 15: how many chunk-size bytes follow
 *   k bytes    chunk sizes, used in turn: v < 0xF0 -> v + 1 bytes, else
 *              (v - 0xEF) * 4096; k == 0 feeds one byte at a time
 *   the rest   the document
 */
#include <expat.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/net/s3_xml.h"

/* ---------------------------------------------------------------- allocator */

typedef struct {
    long budget; /* allocations left; -1 unlimited */
    long live;
} fuzz_alloc_ctx;

static void *fa_alloc(void *ctx, size_t size, size_t align)
{
    fuzz_alloc_ctx *c = ctx;
    if (c->budget == 0) return NULL;
    if (c->budget > 0) c->budget--;
    void *p = NULL;
    if (align < sizeof(void *)) align = sizeof(void *);
    if (posix_memalign(&p, align, size ? size : 1) != 0) return NULL;
    c->live++;
    return p;
}

static void fa_free(void *ctx, void *ptr, size_t size)
{
    (void)size;
    fuzz_alloc_ctx *c = ctx;
    if (!ptr) return;
    c->live--;
    free(ptr);
}

/* ---------------------------------------------------------------- runs */

typedef struct {
    uint64_t hash;
    uint64_t entries;
} run_log;

static void mix(run_log *l, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++) {
        l->hash ^= b[i];
        l->hash *= 0x100000001b3ull;
    }
}

static int on_entry(void *user, const ivcs_s3_list_entry *e)
{
    run_log *l = user;
    l->entries++;
    if (e->key_len > IVCS_S3_KEY_MAX || e->key[e->key_len] != 0) abort();
    if (e->kind != IVCS_S3_ENTRY_OBJECT && e->kind != IVCS_S3_ENTRY_PREFIX) abort();
    mix(l, &e->kind, sizeof e->kind);
    mix(l, &e->key_len, sizeof e->key_len);
    mix(l, e->key, e->key_len);
    mix(l, e->etag, strlen(e->etag) + 1);
    mix(l, e->last_modified, strlen(e->last_modified) + 1);
    mix(l, &e->last_modified_ms, sizeof e->last_modified_ms);
    mix(l, &e->size, sizeof e->size);
    mix(l, e->storage_class, strlen(e->storage_class) + 1);
    if (e->last_modified_ms != ivcs_s3_parse_time(e->last_modified, strlen(e->last_modified)))
        abort();
    return 0;
}

typedef struct {
    int rc;
    run_log log;
    ivcs_s3_error err;
    ivcs_s3_list_result list;
} run_result;

static size_t chunk_size(const uint8_t *sizes, size_t k, size_t idx)
{
    if (k == 0) return 1;
    uint8_t v = sizes[idx % k];
    return v < 0xF0 ? (size_t)v + 1 : (size_t)(v - 0xEF) * 4096;
}

static int run(int mode, const uint8_t *d, size_t n, const uint8_t *sizes, size_t k, int whole,
               const ivcs_allocator_s *alloc, run_result *res)
{
    memset(res, 0, sizeof *res);
    res->log.hash = 0xcbf29ce484222325ull;
    ivcs_s3_xml x;
    int r = mode == 0
                ? ivcs_s3_xml_init_error(&x, &res->err, alloc)
                : ivcs_s3_xml_init_list(&x, &res->list, mode == 2 ? IVCS_S3_LIST_URL_DECODE : 0,
                                        on_entry, &res->log, alloc);
    size_t off = 0, idx = 0;
    while (!r && off < n) {
        size_t c = whole ? n - off : chunk_size(sizes, k, idx++);
        if (c > n - off) c = n - off;
        uint8_t *buf = malloc(c); /* exactly sized: ASan sees over-reads */
        if (!buf) abort();
        memcpy(buf, d + off, c);
        r = ivcs_s3_xml_feed(&x, buf, c);
        free(buf);
        off += c;
    }
    if (!r) r = ivcs_s3_xml_finish(&x);
    if (r && ivcs_s3_xml_feed(&x, "<", 1) != r) abort(); /* sticky */
    ivcs_s3_xml_cleanup(&x);
    ivcs_s3_xml_cleanup(&x);
    res->rc = r;
    return r;
}

static void check_strings(const run_result *r)
{
    /* every field NUL-terminated inside its array */
    if (!memchr(r->err.code, 0, sizeof r->err.code) ||
        !memchr(r->err.message, 0, sizeof r->err.message) ||
        !memchr(r->list.next_token, 0, sizeof r->list.next_token) ||
        !memchr(r->list.prefix, 0, sizeof r->list.prefix))
        abort();
}

static void parsers(int mode, const uint8_t *d, size_t n, const uint8_t *sizes, size_t k)
{
    static run_result a, b; /* large: keep them off the stack */
    run(mode, d, n, sizes, k, 1, NULL, &a);
    run(mode, d, n, sizes, k, 0, NULL, &b);
    check_strings(&a);
    /* after an error the output fields hold whatever text had been seen, which
     * depends on where expat was cut; entries are only reported at their end
     * tag, so those must match always */
    if (a.rc != b.rc || a.log.hash != b.log.hash || a.log.entries != b.log.entries ||
        (a.rc == 0 && (memcmp(&a.err, &b.err, sizeof a.err) != 0 ||
                       memcmp(&a.list, &b.list, sizeof a.list) != 0))) {
        fprintf(stderr, "chunking changed the result: rc %d/%d entries %llu/%llu\n", a.rc, b.rc,
                (unsigned long long)a.log.entries, (unsigned long long)b.log.entries);
        abort();
    }
    if (!a.rc && mode != 0 && a.list.objects + a.list.prefixes != a.log.entries) abort();
}

static void failing_alloc(int mode, long budget, const uint8_t *d, size_t n, const uint8_t *sizes,
                          size_t k)
{
    static run_result r;
    fuzz_alloc_ctx ctx = {budget, 0};
    ivcs_allocator_s a = {fa_alloc, fa_free, &ctx};
    int rc = run(mode, d, n, sizes, k, 0, &a, &r);
    if (ctx.live != 0) abort();                                   /* expat's blocks all came back */
    if (rc == IV_ERR_SYS_MALLOC_FAIL && ctx.budget != 0) abort(); /* only when it failed */
}

/* ---------------------------------------------------------------- writer */

static int key_seen;
static const uint8_t *key_want;
static size_t key_want_len;

static int on_key(void *user, const ivcs_s3_list_entry *e)
{
    (void)user;
    key_seen++;
    if (e->key_len != key_want_len || memcmp(e->key, key_want, key_want_len) != 0) abort();
    if (e->size != 42) abort();
    return 0;
}

static void writer(const uint8_t *d, size_t n)
{
    size_t cap = n * 12 + 512; /* room for the key, and for id + prefix of the rule */
    char *buf = malloc(cap);
    if (!buf) abort();
    ivcs_xml_writer w;
    ivcs_xml_writer_init(&w, buf, cap);
    ivcs_xml_decl(&w);
    ivcs_xml_open(&w, "ListBucketResult", "http://s3.amazonaws.com/doc/2006-03-01/");
    ivcs_xml_open(&w, "Contents", NULL);
    ivcs_xml_elem(&w, "Key", (const char *)d, n);
    ivcs_xml_elem_u64(&w, "Size", 42);
    ivcs_xml_close(&w);
    ivcs_xml_close(&w);
    int64_t len = ivcs_xml_writer_finish(&w);
    if (len < 0) {
        if (len != IVCS_ERR_INVALID_ARG) abort(); /* cap was ample */
    } else {
        if ((size_t)len >= cap || buf[len] != 0) abort();
        static ivcs_s3_list_result res;
        key_seen = 0;
        key_want = d;
        key_want_len = n;
        int r = ivcs_s3_list_parse(buf, (size_t)len, 0, &res, on_key, NULL, NULL);
        if (n <= IVCS_S3_KEY_MAX) {
            if (r != 0 || key_seen != 1) abort(); /* what was written reads back */
        } else if (r != IVCS_ERR_TOO_LONG) {
            abort();
        }
    }

    /* the same text as a lifecycle rule: well-formed whenever accepted */
    char id[256];
    size_t idn = n < 255 ? n : 255;
    memcpy(id, d, idn);
    id[idn] = 0;
    char *prefix = malloc(n + 1);
    if (!prefix) abort();
    memcpy(prefix, d, n);
    prefix[n] = 0;
    ivcs_s3_lifecycle_rule rule = {id, prefix, 30, 1};
    int64_t l2 = ivcs_s3_lifecycle_xml(buf, cap, &rule, 1);
    if (l2 >= 0) {
        XML_Parser p = XML_ParserCreate(NULL);
        if (!p) abort();
        if (XML_Parse(p, buf, (int)l2, 1) != XML_STATUS_OK) abort();
        XML_ParserFree(p);
    } else if (l2 != IVCS_ERR_INVALID_ARG) {
        abort();
    }
    free(prefix);
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    int mode = data[0] & 3;
    int fail = (data[0] >> 2) & 1;
    long budget = data[0] >> 3;
    size_t k = data[1] & 15u;
    if (size < 2 + k) return 0;
    const uint8_t *sizes = data + 2;
    const uint8_t *d = data + 2 + k;
    size_t n = size - 2 - k;
    if (mode == 3) {
        writer(d, n);
        return 0;
    }
    parsers(mode, d, n, sizes, k);
    if (fail) failing_alloc(mode, budget, d, n, sizes, k);
    return 0;
}
