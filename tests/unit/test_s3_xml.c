/*
 * test_s3_xml.c - S3 error and ListObjectsV2 parsing (expat), the XML
 * writer and the lifecycle body.
 *
 * Documents are fed whole, one byte at a time and in random chunkings, each
 * chunk against a PROT_NONE guard page; every run must give the same
 * result. All expat memory goes through check_alloc, so a leak fails the
 * program. The radosgw documents are real captures (fuzz corpora; layouts
 * in fuzz/fuzz_s3_xml.c and fuzz/fuzz_http_parse.c); the 1000-key page is
 * taken through the HTTP parser into the XML parser as the client will.
 */
#include <expat.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "engine/net/http_parse.h"
#include "engine/net/s3_xml.h"
#include "guard.h"

/* ---------------------------------------------------------------- helpers */

static guard_buf gsmall = GUARD_INIT, gbig = GUARD_INIT;

/* A chunk against a guard page, after or before it (see test_http_parse.c). */
static const uint8_t *place(const void *d, size_t c, int before)
{
    size_t ps = guard_page_size();
    if (c > ps) return guard_place(&gbig, d, c, before ? GUARD_BEFORE : GUARD_AFTER);
    if (!gsmall.map) guard_place(&gsmall, "", 0, GUARD_AFTER);
    uint8_t *lo = gsmall.map + ps;
    uint8_t *dst = before ? lo : lo + gsmall.data_len - c;
    if (c) memcpy(dst, d, c);
    return dst;
}

static uint64_t rng_state;
static uint32_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 16);
}

/* Chunk size number `i` of a run: run 0 whole, run 1 bytes, others random. */
static size_t next_chunk(int run, size_t left)
{
    if (run == 0) return left;
    if (run == 1) return 1;
    size_t c = (rng() & 3) == 0 ? 1 + rng() % left : 1 + rng() % 23;
    return c > left ? left : c;
}

static char *load(const char *corpus, const char *name, size_t *len, int *mode)
{
    char path[4096];
    const char *src = getenv("IVCS_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/fuzz/corpus/%s/%s", src ? src : ".", corpus, name);
    size_t n = 0;
    uint8_t *raw = check_read_file(path, &n);
    if (!raw || n < 2 || n < 2u + (raw[1] & 15u)) {
        fprintf(stderr, "cannot load %s\n", path);
        free(raw);
        return NULL;
    }
    size_t skip = 2u + (raw[1] & 15u);
    if (mode) *mode = raw[0];
    *len = n - skip;
    memmove(raw, raw + skip, *len);
    raw[*len] = 0;
    return (char *)raw;
}

/* ---------------------------------------------------------------- list runs */

#define MAX_KEEP 1100

typedef struct {
    uint64_t hash;
    int n;
    int stop_at; /* return stop_rc from entry number stop_at (1-based); 0 never */
    int stop_rc;
    ivcs_s3_list_entry *keep; /* the first MAX_KEEP entries */
} entries;

static int on_entry(void *user, const ivcs_s3_list_entry *e)
{
    entries *s = user;
    s->n++;
    /* hash the meaningful bytes only (strings up to their NUL) */
    const void *parts[] = {
        &e->kind, e->key,           e->etag,    e->last_modified, &e->last_modified_ms,
        &e->size, e->storage_class, &e->key_len};
    size_t lens[] = {sizeof e->kind,
                     e->key_len,
                     strlen(e->etag),
                     strlen(e->last_modified),
                     sizeof e->last_modified_ms,
                     sizeof e->size,
                     strlen(e->storage_class),
                     sizeof e->key_len};
    for (size_t p = 0; p < sizeof parts / sizeof parts[0]; p++) {
        const uint8_t *q = parts[p];
        for (size_t i = 0; i < lens[p]; i++)
            s->hash = (s->hash ^ q[i]) * 0x100000001b3ull;
        s->hash = (s->hash ^ 0xff) * 0x100000001b3ull;
    }
    if (s->keep && s->n <= MAX_KEEP) s->keep[s->n - 1] = *e;
    if (s->stop_at && s->n == s->stop_at) return s->stop_rc;
    return 0;
}

typedef struct {
    int rc;
    entries ents;
    ivcs_s3_list_result res;
} list_run;

/* Parses a ListObjectsV2 document in run number `run`'s chunking. */
static void list_parse_run(const char *doc, size_t len, unsigned flags, int run, list_run *out,
                           int keep)
{
    memset(out, 0, sizeof *out);
    out->ents.hash = 0xcbf29ce484222325ull;
    if (keep) out->ents.keep = calloc(MAX_KEEP, sizeof(ivcs_s3_list_entry));
    rng_state = (uint64_t)run * 0x9E3779B97F4A7C15ull + 7;
    ivcs_s3_xml x;
    int r = ivcs_s3_xml_init_list(&x, &out->res, flags, on_entry, &out->ents, &check_alloc);
    size_t off = 0;
    int side = 0;
    while (!r && off < len) {
        size_t c = next_chunk(run, len - off);
        r = ivcs_s3_xml_feed(&x, place(doc + off, c, side ^= 1), c);
        off += c;
    }
    if (!r) r = ivcs_s3_xml_finish(&x);
    ivcs_s3_xml_cleanup(&x);
    out->rc = r;
}

/* Every chunking gives the same as the whole run; returns it (caller frees
 * keep). */
static int list_all_runs(const char *doc, size_t len, unsigned flags, list_run *whole)
{
    list_parse_run(doc, len, flags, 0, whole, 1);
    int ok = 1;
    static list_run r;
    for (int run = 1; run < 20 && ok; run++) {
        list_parse_run(doc, len, flags, run, &r, 0);
        if (r.rc != whole->rc || r.ents.hash != whole->ents.hash || r.ents.n != whole->ents.n ||
            memcmp(&r.res, &whole->res, sizeof r.res) != 0) {
            fprintf(stderr, "list run %d differs: rc %d/%d entries %d/%d\n", run, r.rc, whole->rc,
                    r.ents.n, whole->ents.n);
            ok = 0;
        }
    }
    return ok;
}

/* Parses an error document in every chunking; all equal. */
static int error_all_runs(const char *doc, size_t len, ivcs_s3_error *out, int *rc)
{
    static ivcs_s3_error e;
    int ok = 1;
    for (int run = 0; run < 20; run++) {
        rng_state = (uint64_t)run * 0x9E3779B97F4A7C15ull + 7;
        ivcs_s3_xml x;
        int r = ivcs_s3_xml_init_error(&x, run == 0 ? out : &e, &check_alloc);
        size_t off = 0;
        int side = 0;
        while (!r && off < len) {
            size_t c = next_chunk(run, len - off);
            r = ivcs_s3_xml_feed(&x, place(doc + off, c, side ^= 1), c);
            off += c;
        }
        if (!r) r = ivcs_s3_xml_finish(&x);
        ivcs_s3_xml_cleanup(&x);
        if (run == 0)
            *rc = r;
        else if (r != *rc || memcmp(&e, out, sizeof e) != 0) {
            fprintf(stderr, "error run %d differs: rc %d/%d\n", run, r, *rc);
            ok = 0;
        }
    }
    return ok;
}

static int md5_hex_of(const void *d, size_t n, char hex[33])
{
    unsigned char md[16];
    unsigned int mdlen = 0;
    if (!EVP_Digest(d, n, md, &mdlen, EVP_md5(), NULL) || mdlen != 16) return -1;
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return 0;
}

/* ---------------------------------------------------------------- errors */

TEST(radosgw_error_bodies_fill_the_fields)
{
    static const struct {
        const char *file, *code, *bucket, *request_id;
    } caps[] = {
        {"radosgw-err-nosuchkey", "NoSuchKey", "cap",
         "tx00000a0a07d730e98ce31-006b06fea7-1008-default"},
        {"radosgw-err-nosuchbucket", "NoSuchBucket", "nosuchbucket",
         "tx00000d42f38af7fab9b5d-006b06fea9-1008-default"},
        {"radosgw-err-signature", "SignatureDoesNotMatch", "",
         "tx00000137d8b73e0a7012c-006b06feaa-1008-default"},
    };
    for (size_t i = 0; i < sizeof caps / sizeof caps[0]; i++) {
        size_t n;
        char *doc = load("s3_xml", caps[i].file, &n, NULL);
        CHECK(doc != NULL);
        if (!doc) continue;
        static ivcs_s3_error e;
        int rc = -1;
        CHECK(error_all_runs(doc, n, &e, &rc));
        CHECK_EQ(rc, 0);
        CHECK(strcmp(e.code, caps[i].code) == 0);
        CHECK(strcmp(e.bucket, caps[i].bucket) == 0);
        CHECK(strcmp(e.request_id, caps[i].request_id) == 0);
        CHECK(strcmp(e.host_id, "1008-default-default") == 0);
        CHECK(strcmp(e.message, "") == 0);
        CHECK_EQ(e.truncated, 0);
        free(doc);
    }
}

TEST(error_fields_are_unescaped_and_whitespace_kept)
{
    const char *doc =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n"
        "  <Code>NoSuchKey</Code>\n"
        "  <Message> The key &amp; &lt;x&gt; &#x6F22;<![CDATA[<raw>]]> </Message>\n"
        "  <Key>a/b&amp;c.ts</Key><BucketName>ivcs</BucketName>\n"
        "  <Resource>/ivcs/a/b&amp;c.ts</Resource><RequestId>4442587FB7D0A2F9</RequestId>\n"
        "  <HostId>h</HostId><Unknown><Code>ignored</Code></Unknown>\n</Error>\n";
    static ivcs_s3_error e;
    int rc = -1;
    CHECK(error_all_runs(doc, strlen(doc), &e, &rc));
    CHECK_EQ(rc, 0);
    CHECK(strcmp(e.code, "NoSuchKey") == 0);
    CHECK(strcmp(e.message, " The key & <x> \xe6\xbc\xa2<raw> ") == 0);
    CHECK(strcmp(e.key, "a/b&c.ts") == 0);
    CHECK(strcmp(e.resource, "/ivcs/a/b&c.ts") == 0);
    CHECK(strcmp(e.request_id, "4442587FB7D0A2F9") == 0);
    CHECK(strcmp(e.bucket, "ivcs") == 0);
    CHECK(strcmp(e.host_id, "h") == 0);
}

TEST(long_error_values_are_cut_at_a_utf8_boundary)
{
    /* 400 x "ü" (2 bytes) after one ASCII byte: 801 bytes into message[512] */
    char doc[2048];
    size_t o = (size_t)snprintf(doc, sizeof doc, "<Error><Code>C</Code><Message>a");
    for (int i = 0; i < 400; i++)
        o += (size_t)snprintf(doc + o, sizeof doc - o, "\xc3\xbc");
    o += (size_t)snprintf(doc + o, sizeof doc - o, "</Message></Error>");
    static ivcs_s3_error e;
    int rc = -1;
    CHECK(error_all_runs(doc, o, &e, &rc));
    CHECK_EQ(rc, 0);
    CHECK_EQ(e.truncated, 1);
    /* 511 bytes fit: "a" + 255 x "ü" = 511 */
    CHECK_EQ(strlen(e.message), 511);
    char *cut = strstr(doc, "<Message>") + 9;
    CHECK(memcmp(e.message, cut, 511) == 0);
    /* one more leading byte: the half character must go */
    o = (size_t)snprintf(doc, sizeof doc, "<Error><Message>ab");
    for (int i = 0; i < 400; i++)
        o += (size_t)snprintf(doc + o, sizeof doc - o, "\xc3\xbc");
    o += (size_t)snprintf(doc + o, sizeof doc - o, "</Message></Error>");
    CHECK(error_all_runs(doc, o, &e, &rc));
    CHECK_EQ(rc, 0);
    CHECK_EQ(strlen(e.message), 510);
    CHECK_EQ(e.truncated, 1);
}

TEST(bad_error_documents_are_rejected)
{
    static const char *bad[] = {
        "",
        "<Error><Code>x</Code>",                 /* cut short */
        "<Error><Code>x</Cod></Error>",          /* mismatched tag */
        "<ListBucketResult></ListBucketResult>", /* wrong root */
        "<Error><Code>a<b/></Code></Error>",     /* element inside a value */
        "<?xml version=\"1.0\"?><!DOCTYPE Error><Error/>",
        ("<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY l2 \"&lol;&lol;\">]>"
         "<Error><Code>&l2;</Code></Error>"),
        "<Error><Code>&undefined;</Code></Error>",
        "<Error/><Error/>",
        "<Error><Code>\x01</Code></Error>",
        "<Error><Code>\xff</Code></Error>", /* not UTF-8 */
        "garbage",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        static ivcs_s3_error e;
        int rc = 0;
        CHECK(error_all_runs(bad[i], strlen(bad[i]), &e, &rc));
        if (rc != IVCS_ERR_XML) fprintf(stderr, "bad[%zu]: rc %d\n", i, rc);
        CHECK_EQ(rc, IVCS_ERR_XML);
    }
    /* the sticky error and the one-shot form */
    ivcs_s3_error e;
    CHECK_EQ(ivcs_s3_error_parse("<Error>", 7, &e, &check_alloc), IVCS_ERR_XML);
    CHECK_EQ(ivcs_s3_error_parse("<Error/>", 8, &e, &check_alloc), 0);
    ivcs_s3_xml x;
    CHECK_EQ(ivcs_s3_xml_init_error(&x, &e, &check_alloc), 0);
    CHECK_EQ(ivcs_s3_xml_feed(&x, "<Error>\n<a></b>", 15), IVCS_ERR_XML);
    CHECK_EQ(ivcs_s3_xml_error_line(&x), 2);
    CHECK_EQ(ivcs_s3_xml_feed(&x, "</Error>", 8), IVCS_ERR_XML);
    CHECK_EQ(ivcs_s3_xml_finish(&x), IVCS_ERR_XML);
    ivcs_s3_xml_cleanup(&x);
    ivcs_s3_xml_cleanup(&x);
}

/* ---------------------------------------------------------------- lists */

/* The 1000-key page as the client will see it: captured raw HTTP, through
 * the HTTP parser, BODY events fed straight to the XML parser. */
typedef struct {
    ivcs_s3_xml *x;
    int rc;
} pipe_ctx;

static int http_to_xml(void *user, const ivcs_http_event *ev)
{
    pipe_ctx *p = user;
    if (ev->type != IVCS_HTTP_EV_BODY) return 0;
    p->rc = ivcs_s3_xml_feed(p->x, ev->data, ev->len);
    return p->rc;
}

static int pipeline_run(const char *raw, size_t len, int run, list_run *out, int keep)
{
    memset(out, 0, sizeof *out);
    out->ents.hash = 0xcbf29ce484222325ull;
    if (keep) out->ents.keep = calloc(MAX_KEEP, sizeof(ivcs_s3_list_entry));
    rng_state = (uint64_t)run * 0x9E3779B97F4A7C15ull + 11;
    ivcs_s3_xml x;
    if (ivcs_s3_xml_init_list(&x, &out->res, 0, on_entry, &out->ents, &check_alloc) != 0) return -1;
    pipe_ctx pc = {&x, 0};
    ivcs_http_parser *hp = malloc(sizeof *hp);
    if (!hp || ivcs_http_parser_init(hp, 0, http_to_xml, &pc) != 0) abort();
    size_t off = 0;
    int side = 0;
    int64_t r = 0;
    while (off < len && !ivcs_http_parser_done(hp)) {
        size_t c = next_chunk(run, len - off);
        r = ivcs_http_parser_feed(hp, place(raw + off, c, side ^= 1), c);
        if (r < 0) break;
        off += (size_t)r;
    }
    int rc = r < 0 ? (int)r : ivcs_http_parser_done(hp) ? ivcs_s3_xml_finish(&x) : -2;
    if (hp->status != 200) rc = -3;
    free(hp);
    ivcs_s3_xml_cleanup(&x);
    out->rc = rc;
    return rc;
}

TEST(radosgw_1000_key_page_streams_through_http_and_xml)
{
    size_t n;
    char *raw = load("http_parse", "radosgw-list-1000", &n, NULL);
    CHECK(raw != NULL);
    if (!raw) return;
    static list_run whole, r;
    CHECK_EQ(pipeline_run(raw, n, 0, &whole, 1), 0);
    CHECK_EQ(whole.ents.n, 1000);
    CHECK_EQ(whole.res.objects, 1000);
    CHECK_EQ(whole.res.prefixes, 0);
    CHECK_EQ(whole.res.key_count, 1000);
    CHECK_EQ(whole.res.max_keys, 1000);
    CHECK_EQ(whole.res.is_truncated, 1);
    CHECK(strcmp(whole.res.name, "cap") == 0);
    CHECK(strcmp(whole.res.prefix, "") == 0);
    ivcs_s3_list_entry *k = whole.ents.keep;
    CHECK(k != NULL);
    if (k) {
        /* the capture's keys were "cam-0001/2024/05/01/HH/MMSS-III.ts" with
         * a body of 100 + (III * 37) % 900 bytes; S3 lists in key order */
        int good = 0;
        for (int i = 0; i < 1000; i++) {
            unsigned hh, mm, ss, idx;
            char tail[8];
            int f = sscanf(k[i].key, "cam-0001/2024/05/01/%2u/%2u%2u-%3u.%2s", &hh, &mm, &ss, &idx,
                           tail);
            int ok = f == 5 && !strcmp(tail, "ts") && k[i].key_len == strlen(k[i].key) &&
                     hh == idx / 120 && k[i].size == 100 + (idx * 37) % 900 &&
                     strlen(k[i].etag) == 32 && strspn(k[i].etag, "0123456789abcdef") == 32 &&
                     !strcmp(k[i].storage_class, "STANDARD") && k[i].kind == IVCS_S3_ENTRY_OBJECT &&
                     k[i].last_modified_ms ==
                         ivcs_s3_parse_time(k[i].last_modified, strlen(k[i].last_modified)) &&
                     k[i].last_modified_ms > 1700000000000ll &&
                     (i == 0 || strcmp(k[i - 1].key, k[i].key) < 0);
            good += ok;
            if (!ok)
                fprintf(stderr, "entry %d: %s size %llu etag %s\n", i, k[i].key,
                        (unsigned long long)k[i].size, k[i].etag);
        }
        CHECK_EQ(good, 1000);
        /* radosgw's continuation token is the last key of the page */
        CHECK(strcmp(whole.res.next_token, k[999].key) == 0);
    }
    for (int run = 1; run < 8; run++) {
        CHECK_EQ(pipeline_run(raw, n, run, &r, 0), 0);
        CHECK(r.ents.hash == whole.ents.hash);
        CHECK(memcmp(&r.res, &whole.res, sizeof r.res) == 0);
    }
    free(whole.ents.keep);
    free(raw);
}

TEST(radosgw_truncated_page_prefixes_and_empty_list)
{
    size_t n;
    static list_run w;
    char *doc = load("s3_xml", "radosgw-list-truncated", &n, NULL);
    CHECK(doc && list_all_runs(doc, n, 0, &w));
    CHECK_EQ(w.rc, 0);
    CHECK_EQ(w.ents.n, 3);
    CHECK_EQ(w.res.is_truncated, 1);
    CHECK_EQ(w.res.max_keys, 3);
    CHECK_EQ(w.res.key_count, 3);
    CHECK(strcmp(w.res.prefix, "cam-0001/2024/05/01/03/") == 0);
    CHECK(strcmp(w.res.next_token, "cam-0001/2024/05/01/03/0114-362.ts") == 0);
    CHECK(w.ents.keep && strcmp(w.ents.keep[0].key, "cam-0001/2024/05/01/03/0000-360.ts") == 0);
    CHECK(w.ents.keep && strcmp(w.ents.keep[0].etag, "4d7d951dedc38df80436b65a5bd55bdd") == 0);
    CHECK(w.ents.keep && w.ents.keep[0].size == 820);
    CHECK(w.ents.keep && strcmp(w.ents.keep[0].last_modified, "2026-11-25T15:28:31.380Z") == 0);
    free(w.ents.keep);
    free(doc);

    doc = load("s3_xml", "radosgw-list-prefixes", &n, NULL);
    CHECK(doc && list_all_runs(doc, n, 0, &w));
    CHECK_EQ(w.rc, 0);
    CHECK_EQ(w.ents.n, 2);
    CHECK_EQ(w.res.objects, 0);
    CHECK_EQ(w.res.prefixes, 2);
    CHECK_EQ(w.res.is_truncated, 0);
    CHECK(strcmp(w.res.delimiter, "/") == 0);
    CHECK(strcmp(w.res.prefix, "events/") == 0);
    CHECK(w.ents.keep && w.ents.keep[0].kind == IVCS_S3_ENTRY_PREFIX &&
          strcmp(w.ents.keep[0].key, "events/2024-05-01/") == 0);
    CHECK(w.ents.keep && strcmp(w.ents.keep[1].key, "events/2024-05-02/") == 0);
    free(w.ents.keep);
    free(doc);

    doc = load("s3_xml", "radosgw-list-empty", &n, NULL);
    CHECK(doc && list_all_runs(doc, n, 0, &w));
    CHECK_EQ(w.rc, 0);
    CHECK_EQ(w.ents.n, 0);
    CHECK_EQ(w.res.key_count, 0);
    CHECK(strcmp(w.res.next_token, "") == 0);
    free(w.ents.keep);
    free(doc);

    doc = load("s3_xml", "radosgw-list-owner", &n, NULL);
    CHECK(doc && list_all_runs(doc, n, 0, &w));
    CHECK_EQ(w.rc, 0);
    CHECK_EQ(w.ents.n, 2); /* <Owner> inside <Contents> is skipped */
    CHECK(w.ents.keep && w.ents.keep[1].size == 137);
    free(w.ents.keep);
    free(doc);
}

TEST(radosgw_odd_keys_escaped_and_url_encoded_read_the_same)
{
    static const char *want[] = {"odd/a&b<c>d\"e'f.ts", "odd/space key.ts",
                                 "odd/\xc3\xbcnic\xc3\xb6\144e-\xe6\xbc\xa2\xe5\xad\x97.ts"};
    char md5x10[33];
    CHECK_EQ(md5_hex_of("xxxxxxxxxx", 10, md5x10), 0);
    const char *files[] = {"radosgw-list-odd", "radosgw-list-odd-url"};
    for (int f = 0; f < 2; f++) {
        size_t n;
        static list_run w;
        char *doc = load("s3_xml", files[f], &n, NULL);
        CHECK(doc && list_all_runs(doc, n, f ? IVCS_S3_LIST_URL_DECODE : 0, &w));
        CHECK_EQ(w.rc, 0);
        CHECK_EQ(w.ents.n, 3);
        CHECK_EQ(w.res.url_encoded, f);
        for (int i = 0; i < 3 && w.ents.keep; i++) {
            CHECK(strcmp(w.ents.keep[i].key, want[i]) == 0);
            CHECK_EQ(w.ents.keep[i].key_len, strlen(want[i]));
            CHECK(strcmp(w.ents.keep[i].etag, md5x10) == 0); /* body was 10 x "x" */
            CHECK_EQ(w.ents.keep[i].size, 10);
        }
        free(w.ents.keep);
        free(doc);
    }
}

TEST(aws_style_url_encoding_and_extremes)
{
    size_t n;
    static list_run w;
    char *doc = load("s3_xml", "list-aws-url", &n, NULL);
    CHECK(doc && list_all_runs(doc, n, IVCS_S3_LIST_URL_DECODE, &w));
    CHECK_EQ(w.rc, 0);
    CHECK(strcmp(w.res.prefix, "a/") == 0);
    CHECK(strcmp(w.res.delimiter, "/") == 0);
    CHECK(w.ents.keep && strcmp(w.ents.keep[0].key, "a/space key+%.ts") == 0);
    CHECK(w.ents.keep && w.ents.keep[0].size == UINT64_MAX);
    CHECK(w.ents.keep && strcmp(w.ents.keep[0].etag, "9b2cf535f27731c974343645a3985328-3") == 0);
    CHECK(w.ents.keep && w.ents.keep[0].last_modified_ms == 1709251199999ll);
    free(w.ents.keep);
    /* without the flag the text is kept as sent */
    CHECK(list_all_runs(doc, n, 0, &w));
    CHECK(w.ents.keep && strcmp(w.ents.keep[0].key, "a%2Fspace+key%2B%25.ts") == 0);
    free(w.ents.keep);
    free(doc);
}

static char *list_doc(const char *contents)
{
    static char buf[8192];
    snprintf(buf, sizeof buf,
             "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name>"
             "%s<IsTruncated>false</IsTruncated></ListBucketResult>",
             contents);
    return buf;
}

TEST(bad_list_documents_are_rejected)
{
    static const struct {
        const char *contents;
        int rc;
    } bad[] = {
        {"<Contents><Size>1</Size></Contents>", IVCS_ERR_XML}, /* no key */
        {"<CommonPrefixes></CommonPrefixes>", IVCS_ERR_XML},   /* no prefix */
        {"<Contents><Key>k</Key><Size>-1</Size></Contents>", IVCS_ERR_XML},
        {"<Contents><Key>k</Key><Size>1x</Size></Contents>", IVCS_ERR_XML},
        {"<Contents><Key>k</Key><Size></Size></Contents>", IVCS_ERR_XML},
        {"<Contents><Key>k</Key><Size>18446744073709551616</Size></Contents>", IVCS_ERR_XML},
        {"<Contents><Key>k</Key><Size>000000000000000000000000001</Size></Contents>",
         IVCS_ERR_XML}, /* longer than any number field */
        {"<KeyCount>9223372036854775808</KeyCount>", IVCS_ERR_XML},
        {"<IsTruncated>yes</IsTruncated>", IVCS_ERR_XML},
        {"<Contents><Key>a<b/></Key></Contents>", IVCS_ERR_XML},
        {"<Delimiter>" /* 300 bytes */
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
         "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx</Delimiter>",
         IVCS_ERR_TOO_LONG},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        static list_run w;
        const char *doc = list_doc(bad[i].contents);
        CHECK(list_all_runs(doc, strlen(doc), 0, &w));
        if (w.rc != bad[i].rc) fprintf(stderr, "bad list %zu: rc %d\n", i, w.rc);
        CHECK_EQ(w.rc, bad[i].rc);
        free(w.ents.keep);
    }
    static list_run w;
    const char *url = list_doc("<Contents><Key>a%2</Key></Contents>");
    CHECK(list_all_runs(url, strlen(url), IVCS_S3_LIST_URL_DECODE, &w));
    CHECK_EQ(w.rc, IVCS_ERR_XML);
    free(w.ents.keep);
    url = list_doc("<Contents><Key>a%zz</Key></Contents>");
    CHECK(list_all_runs(url, strlen(url), IVCS_S3_LIST_URL_DECODE, &w));
    CHECK_EQ(w.rc, IVCS_ERR_XML);
    free(w.ents.keep);
    const char *err = "<Error><Code>NoSuchBucket</Code></Error>";
    CHECK(list_all_runs(err, strlen(err), 0, &w));
    CHECK_EQ(w.rc, IVCS_ERR_XML); /* wrong root */
    free(w.ents.keep);
    char deep[1024];
    size_t o = (size_t)snprintf(deep, sizeof deep, "<ListBucketResult>");
    for (int i = 0; i < 40; i++)
        o += (size_t)snprintf(deep + o, sizeof deep - o, "<a>");
    CHECK(list_all_runs(deep, o, 0, &w));
    CHECK_EQ(w.rc, IVCS_ERR_XML); /* nesting past 32 */
    free(w.ents.keep);
}

TEST(key_length_limit_is_exact)
{
    static char doc[8192], key[IVCS_S3_KEY_MAX + 2];
    static list_run w;
    memset(key, 'k', IVCS_S3_KEY_MAX);
    key[IVCS_S3_KEY_MAX] = 0;
    snprintf(doc, sizeof doc,
             "<ListBucketResult><Contents><Key>%s</Key></Contents></ListBucketResult>", key);
    CHECK(list_all_runs(doc, strlen(doc), 0, &w));
    CHECK_EQ(w.rc, 0);
    CHECK(w.ents.keep && w.ents.keep[0].key_len == IVCS_S3_KEY_MAX);
    CHECK(w.ents.keep && strcmp(w.ents.keep[0].key, key) == 0);
    free(w.ents.keep);
    key[IVCS_S3_KEY_MAX] = 'k';
    key[IVCS_S3_KEY_MAX + 1] = 0;
    snprintf(doc, sizeof doc,
             "<ListBucketResult><Contents><Key>%s</Key></Contents></ListBucketResult>", key);
    CHECK(list_all_runs(doc, strlen(doc), 0, &w));
    CHECK_EQ(w.rc, IVCS_ERR_TOO_LONG);
    free(w.ents.keep);
    /* an escaped key: the limit is on the decoded bytes */
    size_t o = (size_t)snprintf(doc, sizeof doc, "<ListBucketResult><Contents><Key>");
    for (int i = 0; i < IVCS_S3_KEY_MAX; i++)
        o += (size_t)snprintf(doc + o, sizeof doc - o, "&amp;");
    o += (size_t)snprintf(doc + o, sizeof doc - o, "</Key></Contents></ListBucketResult>");
    CHECK(list_all_runs(doc, o, 0, &w));
    CHECK_EQ(w.rc, 0);
    CHECK(w.ents.keep && w.ents.keep[0].key_len == IVCS_S3_KEY_MAX && w.ents.keep[0].key[0] == '&');
    free(w.ents.keep);
}

TEST(callback_can_stop_the_listing)
{
    size_t n;
    char *doc = load("s3_xml", "radosgw-list-truncated", &n, NULL);
    CHECK(doc != NULL);
    if (!doc) return;
    ivcs_s3_list_result res;
    entries e = {.stop_at = 2, .stop_rc = IVCS_ERR_WRITE};
    CHECK_EQ(ivcs_s3_list_parse(doc, n, 0, &res, on_entry, &e, &check_alloc), IVCS_ERR_WRITE);
    CHECK_EQ(e.n, 2);
    entries e2 = {.stop_at = 1, .stop_rc = 1};
    CHECK_EQ(ivcs_s3_list_parse(doc, n, 0, &res, on_entry, &e2, &check_alloc), IVCS_ERR_CANCELLED);
    CHECK_EQ(e2.n, 1);
    /* no callback: counts only */
    CHECK_EQ(ivcs_s3_list_parse(doc, n, 0, &res, NULL, NULL, &check_alloc), 0);
    CHECK_EQ(res.objects, 3);
    free(doc);
}

/* An allocator that fails after `budget` allocations. */
typedef struct {
    long budget;
    long allocs;
} budget_ctx;

static void *budget_alloc(void *ctx, size_t size, size_t align)
{
    budget_ctx *b = ctx;
    if (b->budget-- <= 0) return NULL;
    b->allocs++;
    return check_alloc.alloc(check_alloc.ctx, size, align);
}

static void budget_free(void *ctx, void *p, size_t size)
{
    (void)ctx;
    check_alloc.free(check_alloc.ctx, p, size);
}

TEST(expat_memory_comes_from_the_ivcs_allocator_and_failures_are_clean)
{
    size_t n;
    char *doc = load("s3_xml", "radosgw-list-odd", &n, NULL);
    CHECK(doc != NULL);
    if (!doc) return;
    long live0 = (long)check_alloc_live;
    long count0 = (long)check_alloc_count;
    ivcs_s3_list_result res;
    CHECK_EQ(ivcs_s3_list_parse(doc, n, 0, &res, NULL, NULL, &check_alloc), 0);
    CHECK(check_alloc_count > count0); /* expat allocated through us */
    CHECK_EQ(check_alloc_live, live0);
    /* fail the 1st, 2nd, ... allocation until the parse needs no more */
    int succeeded = 0;
    for (long budget = 0; budget < 200 && !succeeded; budget++) {
        budget_ctx b = {budget, 0};
        ivcs_allocator_s a = {budget_alloc, budget_free, &b};
        int rc = ivcs_s3_list_parse(doc, n, 0, &res, NULL, NULL, &a);
        CHECK(rc == 0 || rc == IV_ERR_SYS_MALLOC_FAIL);
        CHECK_EQ(check_alloc_live, live0);
        if (rc == 0) succeeded = 1;
    }
    CHECK(succeeded);
    free(doc);
}

TEST(time_parsing)
{
    CHECK_EQ(ivcs_s3_parse_time("1970-01-01T00:00:00Z", 20), 0);
    CHECK_EQ(ivcs_s3_parse_time("1970-01-01T00:00:00.5Z", 22), 500);
    CHECK_EQ(ivcs_s3_parse_time("2000-03-01T00:00:00.000000001Z", 30), 951868800000ll);
    /* cross-check a spread of dates against timegm */
    for (int64_t t = 0; t < 4102444800ll; t += 86400ll * 37 + 3671) {
        struct tm tm;
        time_t tt = (time_t)t;
        gmtime_r(&tt, &tm);
        char s[40];
        int k =
            snprintf(s, sizeof s, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(t % 1000));
        if (ivcs_s3_parse_time(s, (size_t)k) != t * 1000 + t % 1000) {
            CHECK_EQ(ivcs_s3_parse_time(s, (size_t)k), t * 1000 + t % 1000);
            break;
        }
    }
    static const char *bad[] = {"2024-02-30T00:00:00Z",  "2023-02-29T00:00:00Z",
                                "2024-13-01T00:00:00Z",  "2024-01-01T24:00:00Z",
                                "2024-01-01T00:00:00",   "2024-01-01 00:00:00Z",
                                "2024-01-01T00:00:00.Z", "2024-01-01T00:00:00.0000000001Z",
                                "2024-01-01T00:00:00Zx", "24-01-01T00:00:00Z",
                                "2024-0a-01T00:00:00Z",  ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ(ivcs_s3_parse_time(bad[i], strlen(bad[i])), -1);
    CHECK_EQ(ivcs_s3_parse_time("2024-02-29T00:00:00Z", 20), 1709164800000ll);
}

/* ---------------------------------------------------------------- writer */

TEST(lifecycle_body_is_exact)
{
    char buf[1024];
    ivcs_s3_lifecycle_rule r = {"ivcs-slices", "cam-0001/", 30, 1};
    int64_t n = ivcs_s3_lifecycle_xml(buf, sizeof buf, &r, 1);
    const char *want =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><LifecycleConfiguration "
        "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Rule><ID>ivcs-slices</ID><Filter>"
        "<Prefix>cam-0001/</Prefix></Filter><Status>Enabled</Status><Expiration><Days>30</Days>"
        "</Expiration></Rule></LifecycleConfiguration>";
    CHECK_EQ(n, (int64_t)strlen(want));
    CHECK(strcmp(buf, want) == 0);
    /* the exact size fits (with its NUL), one less does not */
    char *exact = malloc((size_t)n + 1);
    CHECK_EQ(ivcs_s3_lifecycle_xml(exact, (size_t)n + 1, &r, 1), n);
    for (size_t cap = 0; cap <= (size_t)n; cap++)
        if (ivcs_s3_lifecycle_xml(exact, cap, &r, 1) != IVCS_ERR_TOO_LONG) {
            CHECK_EQ(ivcs_s3_lifecycle_xml(exact, cap, &r, 1), IVCS_ERR_TOO_LONG);
            break;
        }
    free(exact);
    ivcs_s3_lifecycle_rule two[2] = {{"a", "", 1, 1}, {"b", "x/", 7, 0}};
    n = ivcs_s3_lifecycle_xml(buf, sizeof buf, two, 2);
    CHECK(n > 0 && strstr(buf, "<Rule><ID>b</ID><Filter><Prefix>x/</Prefix></Filter><Status>"
                               "Disabled</Status><Expiration><Days>7</Days></Expiration></Rule>"));
    CHECK(strstr(buf, "<Prefix></Prefix>") != NULL);
    ivcs_s3_lifecycle_rule bad[] = {{"", "p", 1, 1},  {NULL, "p", 1, 1},      {"a", NULL, 1, 1},
                                    {"a", "p", 0, 1}, {"a", "bad\x01", 1, 1}, {"a", "\xc3", 1, 1}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ(ivcs_s3_lifecycle_xml(buf, sizeof buf, &bad[i], 1), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_s3_lifecycle_xml(buf, sizeof buf, &r, 0), IVCS_ERR_INVALID_ARG);
}

/* Collects the text of every <ID> and <Prefix> with plain expat. */
typedef struct {
    char text[4][2048];
    size_t len[4];
    int n;
    int collecting;
} collect;

static void XMLCALL c_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    (void)atts;
    collect *c = ud;
    c->collecting = (!strcmp(name, "ID") || !strcmp(name, "Prefix")) && c->n < 4;
}

static void XMLCALL c_end(void *ud, const XML_Char *name)
{
    (void)name;
    collect *c = ud;
    if (c->collecting) c->n++;
    c->collecting = 0;
}

static void XMLCALL c_text(void *ud, const XML_Char *s, int len)
{
    collect *c = ud;
    if (!c->collecting) return;
    memcpy(c->text[c->n] + c->len[c->n], s, (size_t)len);
    c->len[c->n] += (size_t)len;
}

TEST(escaped_text_reads_back_exactly)
{
    const char *id = "a&b<c>d\"e'f]]>g\r\nh\ti \xc3\xbc\xe6\xbc\xa2\xf0\x9f\x98\x80 \xc2\x85";
    const char *prefix = "<![CDATA[x]]>&amp;\r";
    char buf[2048];
    ivcs_s3_lifecycle_rule r = {id, prefix, 3650, 1};
    int64_t n = ivcs_s3_lifecycle_xml(buf, sizeof buf, &r, 1);
    CHECK(n > 0);
    CHECK(strchr(buf, '\r') == NULL); /* CR travels as &#13; */
    XML_Parser p = XML_ParserCreate(NULL);
    collect c;
    memset(&c, 0, sizeof c);
    XML_SetUserData(p, &c);
    XML_SetElementHandler(p, c_start, c_end);
    XML_SetCharacterDataHandler(p, c_text);
    CHECK_EQ(XML_Parse(p, buf, (int)n, 1), XML_STATUS_OK);
    XML_ParserFree(p);
    CHECK_EQ(c.n, 2);
    CHECK(c.len[0] == strlen(id) && memcmp(c.text[0], id, c.len[0]) == 0);
    CHECK(c.len[1] == strlen(prefix) && memcmp(c.text[1], prefix, c.len[1]) == 0);
}

TEST(writer_rejects_bad_text_names_and_nesting)
{
    char buf[256];
    static const char *bad_text[] = {
        "\x00",
        "\x01",
        "\x1f",
        "\x7f",
        "\xc0\xaf", /* overlong */
        "\xe0\x80\xaf",
        "\xed\xa0\x80",
        /* surrogate */ "\xef\xbf\xbe", /* U+FFFE */
        "\xef\xbf\xbf",
        "\xf4\x90\x80\x80",
        /* > U+10FFFF */ "\xc3", /* cut */
        "\x80",
        "\xf8\x88\x80\x80\x80",
    };
    static const size_t bad_len[] = {1, 1, 1, 1, 2, 3, 3, 3, 3, 4, 1, 1, 5};
    for (size_t i = 0; i < sizeof bad_text / sizeof bad_text[0]; i++) {
        ivcs_xml_writer w;
        ivcs_xml_writer_init(&w, buf, sizeof buf);
        ivcs_xml_elem(&w, "K", bad_text[i], bad_len[i]);
        CHECK_EQ(ivcs_xml_writer_finish(&w), IVCS_ERR_INVALID_ARG);
    }
    ivcs_xml_writer w;
    ivcs_xml_writer_init(&w, buf, sizeof buf);
    ivcs_xml_elem(&w, "K", "\xf4\x8f\xbf\xbd\t\n", 6); /* U+10FFFD, TAB, LF are fine */
    CHECK_EQ(ivcs_xml_writer_finish(&w), 13);
    CHECK(strcmp(buf, "<K>\xf4\x8f\xbf\xbd\t\n</K>") == 0);
    ivcs_xml_writer_init(&w, buf, sizeof buf);
    ivcs_xml_text(&w, NULL, 1);
    CHECK_EQ(ivcs_xml_writer_finish(&w), IVCS_ERR_INVALID_ARG);
    ivcs_xml_writer_init(&w, buf, sizeof buf);
    ivcs_xml_open(&w, "1bad", NULL);
    CHECK_EQ(ivcs_xml_writer_finish(&w), IVCS_ERR_INVALID_ARG);
    ivcs_xml_writer_init(&w, buf, sizeof buf);
    ivcs_xml_open(&w, "a b", NULL);
    CHECK_EQ(ivcs_xml_writer_finish(&w), IVCS_ERR_INVALID_ARG);
    ivcs_xml_writer_init(&w, buf, sizeof buf);
    ivcs_xml_close(&w);
    CHECK_EQ(ivcs_xml_writer_finish(&w), IVCS_ERR_INVALID_ARG);
    ivcs_xml_writer_init(&w, buf, sizeof buf);
    ivcs_xml_open(&w, "a", NULL);
    CHECK_EQ(ivcs_xml_writer_finish(&w), IVCS_ERR_INVALID_ARG); /* left open */
    ivcs_xml_writer_init(&w, buf, sizeof buf);
    for (int i = 0; i <= IVCS_XML_DEPTH_MAX; i++)
        ivcs_xml_open(&w, "a", NULL);
    CHECK_EQ(ivcs_xml_writer_finish(&w), IVCS_ERR_INVALID_ARG);
    ivcs_xml_writer_init(&w, buf, 4);
    ivcs_xml_elem_u64(&w, "D", UINT64_MAX);
    CHECK_EQ(ivcs_xml_writer_finish(&w), IVCS_ERR_TOO_LONG);
    CHECK(strlen(buf) < 4); /* never past cap, always terminated */
    ivcs_xml_writer_init(&w, buf, sizeof buf);
    ivcs_xml_elem_u64(&w, "D", UINT64_MAX);
    CHECK_EQ(ivcs_xml_writer_finish(&w), 27);
    CHECK(strcmp(buf, "<D>18446744073709551615</D>") == 0);
}

TEST(invalid_arguments)
{
    ivcs_s3_xml x;
    ivcs_s3_error e;
    ivcs_s3_list_result l;
    CHECK_EQ(ivcs_s3_xml_init_error(NULL, &e, NULL), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_s3_xml_init_error(&x, NULL, NULL), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_s3_xml_init_list(&x, &l, 0x10, NULL, NULL, NULL), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_s3_xml_init_list(&x, &l, 0, NULL, NULL, &check_alloc), 0);
    CHECK_EQ(ivcs_s3_xml_feed(&x, NULL, 1), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_s3_xml_feed(&x, NULL, 0), 0);
    ivcs_s3_xml_cleanup(&x);
    memset(&x, 0, sizeof x);
    ivcs_s3_xml_cleanup(&x); /* zeroed: harmless */
    CHECK_EQ(ivcs_s3_xml_feed(&x, "<", 1), IVCS_ERR_STATE);
}

int main(void)
{
    RUN(radosgw_error_bodies_fill_the_fields);
    RUN(error_fields_are_unescaped_and_whitespace_kept);
    RUN(long_error_values_are_cut_at_a_utf8_boundary);
    RUN(bad_error_documents_are_rejected);
    RUN(radosgw_1000_key_page_streams_through_http_and_xml);
    RUN(radosgw_truncated_page_prefixes_and_empty_list);
    RUN(radosgw_odd_keys_escaped_and_url_encoded_read_the_same);
    RUN(aws_style_url_encoding_and_extremes);
    RUN(bad_list_documents_are_rejected);
    RUN(key_length_limit_is_exact);
    RUN(callback_can_stop_the_listing);
    RUN(expat_memory_comes_from_the_ivcs_allocator_and_failures_are_clean);
    RUN(time_parsing);
    RUN(lifecycle_body_is_exact);
    RUN(escaped_text_reads_back_exactly);
    RUN(writer_rejects_bad_text_names_and_nesting);
    RUN(invalid_arguments);
    guard_release(&gsmall);
    guard_release(&gbig);
    return check_done();
}
