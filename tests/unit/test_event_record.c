/* test_event_record.c - the event record JSON, and the _ext event time rules. */
#include <unistd.h>

#include "check.h"
#include "engine/layout/event_record.h"
#include "engine/layout/event_time.h"
#include "guard.h"

static const ivcs_event_record_s base = {
    3,    0, "motion", 1767225600000LL, IVCS_EVENT_TIME_NONE, 1767225595000LL, IVCS_EVENT_TIME_NONE,
    NULL,
};

static char out[IVCS_EVENT_RECORD_JSON_MAX];

/* The "info" value as written, without the surrounding quotes. */
static const char *info_json(const char *info)
{
    static char s[IVCS_EVENT_RECORD_JSON_MAX];
    ivcs_event_record_s r = base;
    r.info = info;
    int n = ivcs_event_record_write(&r, out, sizeof out);
    if (n < 0) return "<error>";
    const char *a = strstr(out, "\"info\":\"");
    const char *b = strstr(out, ",\"channel\":");
    if (!a || !b) return "<no info>";
    a += 8;
    snprintf(s, sizeof s, "%.*s", (int)(b - 1 - a), a);
    return s;
}

static int parse_str(const char *json, ivcs_event_record_s *r, char *sb, size_t sc)
{
    static guard_buf g = GUARD_INIT;
    size_t n = strlen(json);
    const char *at = (const char *)guard_place(&g, json, n, GUARD_AFTER);
    return ivcs_event_record_parse(at, n, r, sb, sc);
}

static int rec_eq(const ivcs_event_record_s *a, const ivcs_event_record_s *b)
{
    const char *ai = a->info ? a->info : "", *bi = b->info ? b->info : "";
    return a->event_id == b->event_id && a->channel == b->channel && !strcmp(ai, bi) &&
           a->event_start_ms == b->event_start_ms && a->event_stop_ms == b->event_stop_ms &&
           a->stream_start_ms == b->stream_start_ms && a->stream_stop_ms == b->stream_stop_ms &&
           (a->picture == NULL) == (b->picture == NULL) &&
           (!a->picture || !strcmp(a->picture, b->picture));
}

/* ---------------------------------------------------------------- writer */

TEST(open_and_closed_records_are_exact)
{
    int n = ivcs_event_record_write(&base, out, sizeof out);
    const char *want = "{\"event_id\":3,\"info\":\"motion\",\"channel\":0,"
                       "\"event_start_ms\":1767225600000,\"event_stop_ms\":null,"
                       "\"stream_start_ms\":1767225595000,\"stream_stop_ms\":null,"
                       "\"picture\":null,\"status\":\"open\"}";
    CHECK(!strcmp(out, want));
    CHECK_EQ(n, (int)strlen(want));
    CHECK_EQ(ivcs_event_record_size(&base), n);
    CHECK(!ivcs_event_record_closed(&base));

    ivcs_event_record_s r = base;
    r.channel = 4000000000u;
    r.event_id = 16;
    r.info = NULL;
    r.event_stop_ms = 1767225610000LL;
    r.stream_stop_ms = 1767225615000LL;
    r.picture = "cam/ch0/evt/2026-01-01/1767225600000_16.jpg";
    n = ivcs_event_record_write(&r, out, sizeof out);
    want = "{\"event_id\":16,\"info\":\"\",\"channel\":4000000000,"
           "\"event_start_ms\":1767225600000,\"event_stop_ms\":1767225610000,"
           "\"stream_start_ms\":1767225595000,\"stream_stop_ms\":1767225615000,"
           "\"picture\":\"cam/ch0/evt/2026-01-01/1767225600000_16.jpg\",\"status\":\"closed\"}";
    CHECK(!strcmp(out, want));
    CHECK_EQ(n, (int)strlen(want));
    CHECK_EQ(ivcs_event_record_size(&r), n);

    /* closed with the stream still running: stream_stop may stay null */
    r.stream_stop_ms = IVCS_EVENT_TIME_NONE;
    CHECK(ivcs_event_record_write(&r, out, sizeof out) > 0);
    CHECK(strstr(out, "\"stream_stop_ms\":null,") != NULL);
    CHECK(strstr(out, "\"status\":\"closed\"") != NULL);
}

TEST(strings_are_escaped)
{
    CHECK(!strcmp(info_json("a\"b\\c/d"), "a\\\"b\\\\c/d"));
    CHECK(!strcmp(info_json("\b\f\n\r\t"), "\\b\\f\\n\\r\\t"));
    CHECK(!strcmp(info_json("\x01\x1f\x7f"), "\\u0001\\u001f\\u007f"));
    CHECK(!strcmp(info_json("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
                  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80")); /* valid UTF-8 kept */
    CHECK(!strcmp(info_json("\xe2\x80\xa8|\xe2\x80\xa9"), "\\u2028|\\u2029"));
    CHECK(!strcmp(info_json("\xef\xbf\xbf\xf4\x8f\xbf\xbf"), "\xef\xbf\xbf\xf4\x8f\xbf\xbf"));
    /* invalid UTF-8: one U+FFFD per bad byte */
    CHECK(!strcmp(info_json("\xff"), "\\ufffd"));
    CHECK(!strcmp(info_json("a\x80z"), "a\\ufffdz"));
    CHECK(!strcmp(info_json("\xc0\xaf"), "\\ufffd\\ufffd"));            /* overlong '/' */
    CHECK(!strcmp(info_json("\xe0\x80\xaf"), "\\ufffd\\ufffd\\ufffd")); /* overlong */
    CHECK(!strcmp(info_json("\xed\xa0\x80"), "\\ufffd\\ufffd\\ufffd")); /* surrogate */
    CHECK(!strcmp(info_json("\xf4\x90\x80\x80"), "\\ufffd\\ufffd\\ufffd\\ufffd")); /* >10FFFF */
    CHECK(!strcmp(info_json("\xe2\x82"), "\\ufffd\\ufffd"));                       /* truncated */
    CHECK(!strcmp(info_json("\xe2\x82x"), "\\ufffd\\ufffdx"));
    CHECK(!strcmp(info_json("\xf8\x88\x80\x80\x80"), "\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd"));

    ivcs_event_record_s r = base;
    r.picture = "k\"ey\n";
    CHECK(ivcs_event_record_write(&r, out, sizeof out) > 0);
    CHECK(strstr(out, "\"picture\":\"k\\\"ey\\n\",") != NULL);
}

/* Python's json module (strict) must read what we write and find the same
 * text: an oracle written by someone else. Skipped if python3 is missing. */
TEST(python_json_reads_the_records)
{
    if (access("/usr/bin/python3", X_OK) != 0) {
        fprintf(stderr, "  (skipped: no /usr/bin/python3)\n");
        return;
    }
    const char *infos[] = {"plain", "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f",
                           "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe2\x80\xa8\xe2\x80\xa9",
                           "bad \xff \xc0\xaf \xed\xa0\x80 \xe2\x82", ""};
    /* expected UTF-8 of the decoded text, as hex */
    const char *want[] = {
        "706c61696e",
        "7122625c732f080c0a0d09011f7f",
        "636166c3a920e282ac20f09f988020e280a8e280a9",
        "62616420efbfbd20efbfbdefbfbd20efbfbdefbfbdefbfbd20efbfbdefbfbd",
        "",
    };
    for (size_t i = 0; i < sizeof infos / sizeof infos[0]; i++) {
        ivcs_event_record_s r = base;
        r.info = infos[i];
        r.picture = infos[i];
        int n = ivcs_event_record_write(&r, out, sizeof out);
        CHECK(n > 0);
        char tmpl[] = "/tmp/ivcs_evt_XXXXXX";
        int fd = mkstemp(tmpl);
        CHECK(fd >= 0);
        if (fd < 0) return;
        CHECK_EQ(write(fd, out, (size_t)n), n);
        close(fd);
        char cmd[512];
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1],"
                 "encoding=\"utf-8\",errors=\"strict\")); "
                 "assert d[\"info\"]==d[\"picture\"] and d[\"status\"]==\"open\" and "
                 "d[\"event_stop_ms\"] is None and d[\"event_id\"]==3; "
                 "print(d[\"info\"].encode(\"utf-8\").hex())' %s",
                 tmpl);
        FILE *p = popen(cmd, "r");
        char line[512] = "";
        if (p) {
            if (!fgets(line, sizeof line, p)) line[0] = 0;
            CHECK_EQ(pclose(p), 0);
        }
        unlink(tmpl);
        line[strcspn(line, "\n")] = 0;
        if (strcmp(line, want[i])) {
            fprintf(stderr, "info %zu: python read %s, want %s\n", i, line, want[i]);
            CHECK(0);
        }
    }
}

TEST(inconsistent_records_are_refused)
{
    ivcs_event_record_s r;
#define BAD(stmt)                                                                                  \
    do {                                                                                           \
        r = base;                                                                                  \
        stmt;                                                                                      \
        memset(out, 0x5a, 16);                                                                     \
        CHECK_EQ(ivcs_event_record_write(&r, out, sizeof out), IVCS_ERR_INVALID_ARG);              \
        CHECK_EQ(out[0], 0);                                                                       \
        CHECK_EQ(ivcs_event_record_size(&r), IVCS_ERR_INVALID_ARG);                                \
    } while (0)
    BAD(r.event_id = 0);
    BAD(r.event_id = 17);
    BAD(r.event_id = -3);
    BAD(r.event_start_ms = -1);
    BAD(r.stream_start_ms = IVCS_EVENT_TIME_NONE);
    BAD(r.event_start_ms = IVCS_EVENT_RECORD_MS_MAX + 1);
    BAD(r.event_stop_ms = r.event_start_ms - 1);
    BAD(r.stream_stop_ms = r.stream_start_ms - 1);
    BAD(r.event_stop_ms = -2);
    BAD(r.stream_stop_ms = IVCS_EVENT_RECORD_MS_MAX + 1);
#undef BAD
    CHECK_EQ(ivcs_event_record_write(NULL, out, sizeof out), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_event_record_write(&base, NULL, 100), IVCS_ERR_INVALID_ARG);
    r = base;
    r.event_stop_ms = r.event_start_ms; /* zero-length event is fine */
    CHECK(ivcs_event_record_write(&r, out, sizeof out) > 0);
}

TEST(long_strings_and_short_buffers)
{
    static char info[IVCS_EVENT_INFO_MAX + 2], pic[IVCS_EVENT_PICTURE_MAX + 2];
    /* worst case: every byte a 6-byte escape, both strings at their max */
    memset(info, 0x01, IVCS_EVENT_INFO_MAX);
    info[IVCS_EVENT_INFO_MAX] = 0;
    memset(pic, 0x1f, IVCS_EVENT_PICTURE_MAX);
    pic[IVCS_EVENT_PICTURE_MAX] = 0;
    ivcs_event_record_s r = base;
    r.info = info;
    r.picture = pic;
    r.event_id = 16;
    r.channel = UINT32_MAX;
    r.event_start_ms = r.stream_start_ms = IVCS_EVENT_RECORD_MS_MAX - 1;
    r.event_stop_ms = r.stream_stop_ms = IVCS_EVENT_RECORD_MS_MAX;
    int n = ivcs_event_record_write(&r, out, sizeof out);
    CHECK(n > 6 * 2048 && n < (int)sizeof out);
    info[IVCS_EVENT_INFO_MAX] = 'x';
    info[IVCS_EVENT_INFO_MAX + 1] = 0;
    CHECK_EQ(ivcs_event_record_write(&r, out, sizeof out), IVCS_ERR_TOO_LONG);
    info[IVCS_EVENT_INFO_MAX] = 0;
    pic[IVCS_EVENT_PICTURE_MAX] = 'x';
    pic[IVCS_EVENT_PICTURE_MAX + 1] = 0;
    CHECK_EQ(ivcs_event_record_write(&r, out, sizeof out), IVCS_ERR_TOO_LONG);

    /* the limit is on the decoded text: an invalid byte reads back as
     * U+FFFD, 3 bytes, so 341 of them fit in 1024 and 342 do not */
    memset(info, 0xff, 341);
    info[341] = 'a';
    info[342] = 0;
    r.picture = NULL;
    n = ivcs_event_record_write(&r, out, sizeof out);
    CHECK(n > 0);
    ivcs_event_record_s back;
    static char sb[IVCS_EVENT_RECORD_STRBUF];
    CHECK_EQ(ivcs_event_record_parse(out, (size_t)n, &back, sb, sizeof sb), 0);
    CHECK_EQ(strlen(back.info), IVCS_EVENT_INFO_MAX);
    info[341] = (char)0xff;
    CHECK_EQ(ivcs_event_record_write(&r, out, sizeof out), IVCS_ERR_TOO_LONG);
    r.info = "\xe2\x82\xac"; /* multi-byte UTF-8 counts its bytes */
    CHECK(ivcs_event_record_write(&r, out, sizeof out) > 0);

    /* every capacity: TOO_LONG below len + 1, nothing written at or past cap */
    r = base;
    r.info = "x\"\xe2\x82\xac\n";
    r.picture = "p";
    r.event_stop_ms = r.event_start_ms + 5;
    int len = ivcs_event_record_write(&r, out, sizeof out);
    CHECK(len > 0);
    static char full[IVCS_EVENT_RECORD_JSON_MAX];
    memcpy(full, out, (size_t)len + 1);
    for (size_t cap = 0; cap <= (size_t)len + 1; cap++) {
        static char area[1024];
        memset(area, 0x5a, sizeof area);
        int rc = ivcs_event_record_write(&r, area, cap);
        if (cap <= (size_t)len) {
            CHECK_EQ(rc, IVCS_ERR_TOO_LONG);
            if (cap) CHECK_EQ(area[0], 0);
        } else {
            CHECK_EQ(rc, len);
            CHECK(!strcmp(area, full));
        }
        for (size_t i = cap; i < sizeof area; i++)
            if (area[i] != 0x5a) {
                fprintf(stderr, "cap %zu: wrote byte %zu\n", cap, i);
                CHECK(0);
                break;
            }
        char *h = malloc(cap ? cap : 1); /* exact size: ASan sees overruns */
        rc = ivcs_event_record_write(&r, h, cap);
        CHECK(cap > (size_t)len ? rc == len : rc == IVCS_ERR_TOO_LONG);
        free(h);
    }
}

/* ---------------------------------------------------------------- parser */

TEST(write_then_parse_round_trips)
{
    const char *infos[] = {"", "motion", "q\"b\\s/\b\f\n\r\t\x01\x1f\x7f",
                           "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe2\x80\xa8"};
    const char *pics[] = {NULL, "cam/ch0/evt/2026-01-01/1767225600000_3.jpg", "", "\"\\"};
    for (size_t i = 0; i < 4; i++) {
        for (size_t j = 0; j < 4; j++) {
            for (int closed = 0; closed < 2; closed++) {
                ivcs_event_record_s r = base;
                r.info = infos[i];
                r.picture = pics[j];
                r.channel = (uint32_t)(i * 7 + j);
                r.event_id = (int32_t)(1 + i * 4 + j);
                if (closed) {
                    r.event_stop_ms = r.event_start_ms + 1234;
                    r.stream_stop_ms = r.event_stop_ms + 5000;
                }
                int n = ivcs_event_record_write(&r, out, sizeof out);
                CHECK(n > 0);
                ivcs_event_record_s back;
                static char sb[IVCS_EVENT_RECORD_STRBUF];
                CHECK_EQ(parse_str(out, &back, sb, sizeof sb), 0);
                CHECK(rec_eq(&back, &r));
                CHECK_EQ(ivcs_event_record_closed(&back), closed);
                /* strings live in strbuf */
                CHECK(back.info >= sb && back.info < sb + sizeof sb);
            }
        }
    }
    /* \uXXXX escapes (surrogate pair too) decode to UTF-8 */
    ivcs_event_record_s back;
    char sb[64];
    CHECK_EQ(parse_str("{\"event_id\":1,\"info\":\"\\u00e9\\ud83d\\ude00\\u2028\",\"channel\":0,"
                       "\"event_start_ms\":5,\"event_stop_ms\":null,\"stream_start_ms\":0,"
                       "\"stream_stop_ms\":null,\"picture\":null,\"status\":\"open\"}",
                       &back, sb, sizeof sb),
             0);
    CHECK(!strcmp(back.info, "\xc3\xa9\xf0\x9f\x98\x80\xe2\x80\xa8"));
    CHECK(back.picture == NULL);
}

TEST(parser_is_strict)
{
    static const char *ok = "{\"event_id\":1,\"info\":\"i\",\"channel\":0,\"event_start_ms\":5,"
                            "\"event_stop_ms\":null,\"stream_start_ms\":0,\"stream_stop_ms\":null,"
                            "\"picture\":null,\"status\":\"open\"}";
    ivcs_event_record_s r;
    char sb[IVCS_EVENT_RECORD_STRBUF];
    CHECK_EQ(parse_str(ok, &r, sb, sizeof sb), 0);
    CHECK_EQ(parse_str(" \n{\"event_id\":1,\"info\":\"i\",\"channel\":0,\"event_start_ms\":5,"
                       "\"event_stop_ms\":null,\"stream_start_ms\":0,\"stream_stop_ms\":null,"
                       "\"picture\":null,\"status\":\"open\"} \n",
                       &r, sb, sizeof sb),
             0);
    const char *bad[] = {
        "",
        "[]",
        "{}",
        /* missing key */
        "{\"event_id\":1,\"info\":\"i\",\"channel\":0,\"event_start_ms\":5,"
        "\"event_stop_ms\":null,\"stream_start_ms\":0,\"stream_stop_ms\":null,\"status\":\"open\"}",
        /* extra key */
        "{\"event_id\":1,\"info\":\"i\",\"channel\":0,\"event_start_ms\":5,\"x\":1,"
        "\"event_stop_ms\":null,\"stream_start_ms\":0,\"stream_stop_ms\":null,"
        "\"picture\":null,\"status\":\"open\"}",
        /* duplicate key */
        "{\"event_id\":1,\"event_id\":1,\"info\":\"i\",\"channel\":0,\"event_start_ms\":5,"
        "\"event_stop_ms\":null,\"stream_start_ms\":0,\"stream_stop_ms\":null,"
        "\"picture\":null,\"status\":\"open\"}",
        /* status disagrees with event_stop */
        "{\"event_id\":1,\"info\":\"i\",\"channel\":0,\"event_start_ms\":5,"
        "\"event_stop_ms\":null,\"stream_start_ms\":0,\"stream_stop_ms\":null,"
        "\"picture\":null,\"status\":\"closed\"}",
        "{\"event_id\":1,\"info\":\"i\",\"channel\":0,\"event_start_ms\":5,"
        "\"event_stop_ms\":6,\"stream_start_ms\":0,\"stream_stop_ms\":null,"
        "\"picture\":null,\"status\":\"open\"}",
        "{\"event_id\":1,\"info\":\"i\",\"channel\":0,\"event_start_ms\":5,"
        "\"event_stop_ms\":null,\"stream_start_ms\":0,\"stream_stop_ms\":null,"
        "\"picture\":null,\"status\":\"OPEN\"}",
        /* stop before start */
        "{\"event_id\":1,\"info\":\"i\",\"channel\":0,\"event_start_ms\":5,"
        "\"event_stop_ms\":4,\"stream_start_ms\":0,\"stream_stop_ms\":null,"
        "\"picture\":null,\"status\":\"closed\"}",
        /* types and ranges */
        "{\"event_id\":17,\"info\":\"i\",\"channel\":0,\"event_start_ms\":5,"
        "\"event_stop_ms\":null,\"stream_start_ms\":0,\"stream_stop_ms\":null,"
        "\"picture\":null,\"status\":\"open\"}",
        "{\"event_id\":\"1\",\"info\":\"i\",\"channel\":0,\"event_start_ms\":5,"
        "\"event_stop_ms\":null,\"stream_start_ms\":0,\"stream_stop_ms\":null,"
        "\"picture\":null,\"status\":\"open\"}",
        "{\"event_id\":1,\"info\":null,\"channel\":0,\"event_start_ms\":5,"
        "\"event_stop_ms\":null,\"stream_start_ms\":0,\"stream_stop_ms\":null,"
        "\"picture\":null,\"status\":\"open\"}",
        "{\"event_id\":1,\"info\":\"i\",\"channel\":-1,\"event_start_ms\":5,"
        "\"event_stop_ms\":null,\"stream_start_ms\":0,\"stream_stop_ms\":null,"
        "\"picture\":null,\"status\":\"open\"}",
        "{\"event_id\":1,\"info\":\"i\",\"channel\":4294967296,\"event_start_ms\":5,"
        "\"event_stop_ms\":null,\"stream_start_ms\":0,\"stream_stop_ms\":null,"
        "\"picture\":null,\"status\":\"open\"}",
        "{\"event_id\":1,\"info\":\"i\",\"channel\":0,\"event_start_ms\":5.5,"
        "\"event_stop_ms\":null,\"stream_start_ms\":0,\"stream_stop_ms\":null,"
        "\"picture\":null,\"status\":\"open\"}",
        "{\"event_id\":1,\"info\":\"i\",\"channel\":0,\"event_start_ms\":null,"
        "\"event_stop_ms\":null,\"stream_start_ms\":0,\"stream_stop_ms\":null,"
        "\"picture\":null,\"status\":\"open\"}",
        "{\"event_id\":1,\"info\":\"i\",\"channel\":0,\"event_start_ms\":5,"
        "\"event_stop_ms\":null,\"stream_start_ms\":0,\"stream_stop_ms\":null,"
        "\"picture\":7,\"status\":\"open\"}",
        "{\"event_id\":1,\"info\":\"i\",\"channel\":0,\"event_start_ms\":5,"
        "\"event_stop_ms\":null,\"stream_start_ms\":0,\"stream_stop_ms\":null,"
        "\"picture\":null,\"status\":\"open\"}x",
        "{\"event_id\":1,\"info\":\"i\\u0000j\",\"channel\":0,\"event_start_ms\":5,"
        "\"event_stop_ms\":null,\"stream_start_ms\":0,\"stream_stop_ms\":null,"
        "\"picture\":null,\"status\":\"open\"}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&r, 0x77, sizeof r);
        int rc = parse_str(bad[i], &r, sb, sizeof sb);
        if (rc != IVCS_ERR_INVALID_ARG) {
            fprintf(stderr, "bad %zu: rc %d\n", i, rc);
            CHECK(0);
        }
        CHECK_EQ(r.event_id, 0); /* zeroed */
        CHECK(r.info == NULL);
    }
    /* text cJSON would take but a strict reader must not */
    const char *bad_info[] = {
        "\"\\u00?f\"",                       /* not four hex digits: cJSON decodes a NUL */
        "\"\\u12\"",                         /* short escape */
        "\"a\\u0000b\"",                     /* NUL */
        "\"\xff\"",                          /* invalid UTF-8 */
        "\"\xc0\xaf\"",                      /* overlong */
        "\"\xed\xa0\x80\"",                  /* surrogate as UTF-8 */
        "\"\xe2\x82\"",                      /* truncated */
        "\"a\tb\"",                          /* raw control byte */
        "\"a\nb\"",           "\"\\ud800\"", /* lone surrogate escape */
        "\"\\udc00\\ud800\"",
    };
    for (size_t i = 0; i < sizeof bad_info / sizeof bad_info[0]; i++) {
        char doc[512];
        snprintf(doc, sizeof doc,
                 "{\"event_id\":1,\"info\":%s,\"channel\":0,\"event_start_ms\":5,"
                 "\"event_stop_ms\":null,\"stream_start_ms\":0,\"stream_stop_ms\":null,"
                 "\"picture\":null,\"status\":\"open\"}",
                 bad_info[i]);
        int rc = parse_str(doc, &r, sb, sizeof sb);
        if (rc != IVCS_ERR_INVALID_ARG) {
            fprintf(stderr, "bad info %zu: rc %d\n", i, rc);
            CHECK(0);
        }
    }
    /* and the good spellings of the same */
    const char *good_info[] = {"\"\\u00e9\\u00E9\"", "\"\xc3\xa9\"", "\"\\t\\n\\u0001\"",
                               "\"\\ud83d\\ude00\"", "\"\\\\u0000\""};
    for (size_t i = 0; i < sizeof good_info / sizeof good_info[0]; i++) {
        char doc[512];
        snprintf(doc, sizeof doc,
                 "{\"event_id\":1,\"info\":%s,\"channel\":0,\"event_start_ms\":5,"
                 "\"event_stop_ms\":null,\"stream_start_ms\":0,\"stream_stop_ms\":null,"
                 "\"picture\":null,\"status\":\"open\"}",
                 good_info[i]);
        int rc = parse_str(doc, &r, sb, sizeof sb);
        if (rc != 0) {
            fprintf(stderr, "good info %zu: rc %d\n", i, rc);
            CHECK(0);
        }
    }
    CHECK(!strcmp(r.info, "\\u0000")); /* an escaped backslash, then text */

    /* strbuf too small, by one byte */
    char tiny[2];
    CHECK_EQ(parse_str(ok, &r, tiny, 1), IVCS_ERR_TOO_LONG);
    CHECK_EQ(parse_str(ok, &r, tiny, 2), 0);
    CHECK(!strcmp(r.info, "i"));
    CHECK_EQ(parse_str(ok, &r, NULL, 0), IVCS_ERR_TOO_LONG);
    CHECK_EQ(ivcs_event_record_parse(ok, strlen(ok), NULL, sb, sizeof sb), IVCS_ERR_INVALID_ARG);
}

/* ---------------------------------------------------------------- event_time */

#define NOW_MS 1767225600500LL /* 2026-01-01T00:00:00.500Z */

TEST(event_id_range)
{
    CHECK_EQ(ivcs_event_id_check(0), IVCS_ERR_EVENT_ID_RANGE);
    CHECK_EQ(ivcs_event_id_check(1), 0);
    CHECK_EQ(ivcs_event_id_check(16), 0);
    CHECK_EQ(ivcs_event_id_check(17), IVCS_ERR_EVENT_ID_RANGE);
    CHECK_EQ(ivcs_event_id_check(-1), IVCS_ERR_EVENT_ID_RANGE);
    CHECK_EQ(ivcs_event_id_check(INT32_MIN), IVCS_ERR_EVENT_ID_RANGE);
}

TEST(relative_times_count_back_from_now)
{
    int64_t ev = 1, st = 1;
    CHECK_EQ(ivcs_event_time_start(0, 0, NOW_MS, &ev, &st), 0);
    CHECK_EQ(ev, NOW_MS);
    CHECK_EQ(st, NOW_MS);
    CHECK_EQ(ivcs_event_time_start(2, 10, NOW_MS, &ev, &st), 0);
    CHECK_EQ(ev, NOW_MS - 2000);
    CHECK_EQ(st, NOW_MS - 10000);
    CHECK_EQ(ivcs_event_time_start(299, 299, NOW_MS, &ev, &st), 0); /* 299 is still relative */
    CHECK_EQ(ev, NOW_MS - 299000);
    /* before 1970 */
    CHECK_EQ(ivcs_event_time_start(0, 10, 5000, &ev, &st), IVCS_ERR_INVALID_ARG);
}

TEST(absolute_times_are_utc_seconds)
{
    int64_t ev = 1, st = 1;
    CHECK_EQ(ivcs_event_time_start(1767225600u, 1767225590u, NOW_MS, &ev, &st), 0);
    CHECK_EQ(ev, 1767225600000LL);
    CHECK_EQ(st, 1767225590000LL);
    /* 300 is the first absolute value: 1970-01-01T00:05:00Z, long past */
    CHECK_EQ(ivcs_event_time_start(300, 300, NOW_MS, &ev, &st), 0);
    CHECK_EQ(ev, 300000);
    /* up to the tolerance in the future: clamped to now */
    CHECK_EQ(ivcs_event_time_start(1767225602u, 1767225601u, NOW_MS, &ev, &st), 0);
    CHECK_EQ(ev, NOW_MS);
    CHECK_EQ(st, NOW_MS);
    /* beyond it: refused, outputs untouched */
    ev = st = 77;
    CHECK_EQ(ivcs_event_time_start(1767225603u, 1767225590u, NOW_MS, &ev, &st),
             IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_event_time_start(1767225600u, UINT32_MAX, NOW_MS, &ev, &st),
             IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ev, 77);
    CHECK_EQ(st, 77);
    /* the 2038 boundary is nothing special for uint32 seconds */
    int64_t later = 4000000000LL * 1000;
    CHECK_EQ(ivcs_event_time_stop(4000000000u, 4000000000u, later, &ev, &st), 0);
    CHECK_EQ(ev, later);
}

TEST(mixed_relative_and_absolute_is_refused)
{
    int64_t ev = 77, st = 77;
    CHECK_EQ(ivcs_event_time_start(5, 1767225590u, NOW_MS, &ev, &st), IVCS_ERR_EVENT_TIME_MIX);
    CHECK_EQ(ivcs_event_time_start(1767225600u, 0, NOW_MS, &ev, &st), IVCS_ERR_EVENT_TIME_MIX);
    CHECK_EQ(ivcs_event_time_stop(299, 300, NOW_MS, &ev, &st), IVCS_ERR_EVENT_TIME_MIX);
    CHECK_EQ(ivcs_event_time_resolve(300, 299, NOW_MS, &ev, &st), IVCS_ERR_EVENT_TIME_MIX);
    CHECK_EQ(ev, 77);
    CHECK_EQ(st, 77);
}

TEST(stream_window_must_cover_the_event)
{
    int64_t ev = 77, st = 77;
    /* start: stream after event is refused (relative: smaller = later) */
    CHECK_EQ(ivcs_event_time_start(10, 5, NOW_MS, &ev, &st), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_event_time_start(1767225590u, 1767225595u, NOW_MS, &ev, &st),
             IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ev, 77);
    /* stop: stream stopping before the event is refused */
    CHECK_EQ(ivcs_event_time_stop(0, 3, NOW_MS, &ev, &st), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_event_time_stop(3, 0, NOW_MS, &ev, &st), 0);
    CHECK_EQ(ev, NOW_MS - 3000);
    CHECK_EQ(st, NOW_MS);
    CHECK_EQ(ivcs_event_time_stop(5, 5, NOW_MS, &ev, &st), 0);
    /* resolve alone does not order */
    CHECK_EQ(ivcs_event_time_resolve(10, 5, NOW_MS, &ev, &st), 0);
    CHECK_EQ(ivcs_event_time_resolve(0, 0, -1, &ev, &st), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_event_time_resolve(0, 0, NOW_MS, NULL, &st), IVCS_ERR_INVALID_ARG);
}

int main(void)
{
    RUN(open_and_closed_records_are_exact);
    RUN(strings_are_escaped);
    RUN(python_json_reads_the_records);
    RUN(inconsistent_records_are_refused);
    RUN(long_strings_and_short_buffers);
    RUN(write_then_parse_round_trips);
    RUN(parser_is_strict);
    RUN(event_id_range);
    RUN(relative_times_count_back_from_now);
    RUN(absolute_times_are_utc_seconds);
    RUN(mixed_relative_and_absolute_is_refused);
    RUN(stream_window_must_cover_the_event);
    return check_done();
}
