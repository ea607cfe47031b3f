/* test_config.c - ivcs_config_defaults/validate/parse/load. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "ivcs.h"

#define SECRET "SeCrEt/Key+Value0123456789abcdef"
#define ACCESS "AKIDEXAMPLE0001"
#define TOKEN "TokenSECRETxyz=="

typedef struct {
    const char *key;
    const char *value; /* raw JSON */
} kv;

/* The base file: every key, all valid. */
static const kv base_keys[] = {
    {"endpoint", "\"https://127.0.0.1:7443\""},
    {"region", "\"us-east-1\""},
    {"bucket", "\"ivcs\""},
    {"prefix", "\"\""},
    {"device_id", "\"cam-0001\""},
    {"access_key", "\"" ACCESS "\""},
    {"secret_key", "\"" SECRET "\""},
    {"session_token", "\"" TOKEN "\""},
    {"ca_file", "\"/tmp/ca.pem\""},
    {"verify_tls", "true"},
    {"virtual_host", "false"},
    {"plan_poll_s", "60"},
    {"slice_ms", "4000"},
};
#define NBASE (sizeof base_keys / sizeof base_keys[0])

static char json_buf[16384];

/* The base JSON with key set to the raw JSON value (added if not a base key;
 * removed if value is NULL). */
static const char *json_with(const char *key, const char *value)
{
    size_t o = 0;
    int found = 0;
    o += (size_t)snprintf(json_buf + o, sizeof json_buf - o, "{");
    const char *sep = "";
    for (size_t i = 0; i < NBASE; i++) {
        const char *v = base_keys[i].value;
        if (key && !strcmp(key, base_keys[i].key)) {
            found = 1;
            if (!value) continue;
            v = value;
        }
        o += (size_t)snprintf(json_buf + o, sizeof json_buf - o, "%s\n  \"%s\": %s", sep,
                              base_keys[i].key, v);
        sep = ",";
    }
    if (key && !found && value)
        o += (size_t)snprintf(json_buf + o, sizeof json_buf - o, "%s\n  \"%s\": %s", sep, key,
                              value);
    snprintf(json_buf + o, sizeof json_buf - o, "\n}\n");
    return json_buf;
}

static int parse_str(ivcs_config_s *cfg, const char *json, char *err, size_t err_len)
{
    return ivcs_config_parse(cfg, json, strlen(json), err, err_len);
}

/* Every message must be free of the secrets that were in the input. */
static int err_has_secret(const char *err)
{
    return strstr(err, "SeCrEt") || strstr(err, ACCESS) || strstr(err, "SECRETxyz") ||
           strstr(err, "PaSsWoRd");
}

/* Parses json expecting IVCS_ERR_CONFIG with `name` in the message. */
static int expect_config_error(const char *json, const char *name)
{
    ivcs_config_s cfg;
    memset(&cfg, 0x5a, sizeof cfg);
    ivcs_config_s before = cfg;
    char err[256] = "untouched";
    int rc = parse_str(&cfg, json, err, sizeof err);
    int ok = 1;
    if (rc != IVCS_ERR_CONFIG) {
        fprintf(stderr, "  expected IVCS_ERR_CONFIG naming '%s', got %d (%s)\n", name, rc, err);
        ok = 0;
    }
    if (name && !strstr(err, name)) {
        fprintf(stderr, "  message does not name '%s': %s\n", name, err);
        ok = 0;
    }
    if (err_has_secret(err)) {
        fprintf(stderr, "  message leaks a secret: %s\n", err);
        ok = 0;
    }
    if (memcmp(&cfg, &before, sizeof cfg) != 0) {
        fprintf(stderr, "  *cfg was changed by a failed parse\n");
        ok = 0;
    }
    return ok;
}

static int expect_ok(const char *json, ivcs_config_s *out)
{
    char err[256] = "untouched";
    int rc = parse_str(out, json, err, sizeof err);
    if (rc != 0) fprintf(stderr, "  expected success, got %d: %s\n", rc, err);
    if (rc == 0 && err[0] != '\0') fprintf(stderr, "  err not cleared on success: %s\n", err);
    return rc == 0 && err[0] == '\0';
}

TEST(defaults_are_documented_values)
{
    ivcs_config_s cfg;
    memset(&cfg, 0x77, sizeof cfg);
    ivcs_config_defaults(&cfg);
    CHECK(!strcmp(cfg.region, "us-east-1"));
    CHECK_EQ(cfg.verify_tls, 1);
    CHECK_EQ(cfg.virtual_host, 0);
    CHECK_EQ(cfg.plan_poll_s, 60);
    CHECK_EQ(cfg.slice_ms, 4000);
    CHECK_EQ(cfg.endpoint[0], 0);
    CHECK_EQ(cfg.bucket[0], 0);
    CHECK_EQ(cfg.prefix[0], 0);
    CHECK_EQ(cfg.session_token[0], 0);
    CHECK_EQ(cfg.ca_file[0], 0);
    CHECK_EQ(cfg.secret_key[0], 0);
    ivcs_config_defaults(NULL); /* must not crash */
}

TEST(defaults_alone_do_not_validate)
{
    ivcs_config_s cfg;
    ivcs_config_defaults(&cfg);
    char err[256];
    CHECK_EQ(ivcs_config_validate(&cfg, err, sizeof err), IVCS_ERR_CONFIG);
    CHECK(strstr(err, "endpoint") != NULL);
}

TEST(parse_full_example_sets_every_field)
{
    ivcs_config_s cfg;
    const char *json = "{ \"endpoint\": \"https://127.0.0.1:7443\", \"region\": \"eu-west-2\", "
                       "\"bucket\": \"ivcs-rec.01\",\n \"prefix\": \"site/a/\", \"device_id\": "
                       "\"cam_0001-X\", \"access_key\": \"" ACCESS "\", \"secret_key\": \"" SECRET
                       "\",\n \"session_token\": null, \"ca_file\": \"/path/ca.pem\", "
                       "\"verify_tls\": false, \"virtual_host\": false, \"plan_poll_s\": 3600, "
                       "\"slice_ms\": 2000 }";
    CHECK(expect_ok(json, &cfg));
    CHECK(!strcmp(cfg.endpoint, "https://127.0.0.1:7443"));
    CHECK(!strcmp(cfg.region, "eu-west-2"));
    CHECK(!strcmp(cfg.bucket, "ivcs-rec.01"));
    CHECK(!strcmp(cfg.prefix, "site/a/"));
    CHECK(!strcmp(cfg.device_id, "cam_0001-X"));
    CHECK(!strcmp(cfg.access_key, ACCESS));
    CHECK(!strcmp(cfg.secret_key, SECRET));
    CHECK_EQ(cfg.session_token[0], 0);
    CHECK(!strcmp(cfg.ca_file, "/path/ca.pem"));
    CHECK_EQ(cfg.verify_tls, 0);
    CHECK_EQ(cfg.virtual_host, 0);
    CHECK_EQ(cfg.plan_poll_s, 3600);
    CHECK_EQ(cfg.slice_ms, 2000);
}

TEST(parse_minimal_keeps_defaults)
{
    ivcs_config_s cfg;
    const char *json = "{\"endpoint\":\"http://localhost:7480\",\"bucket\":\"b01\","
                       "\"device_id\":\"d\",\"access_key\":\"a\",\"secret_key\":\"s\"}";
    CHECK(expect_ok(json, &cfg));
    CHECK(!strcmp(cfg.region, "us-east-1"));
    CHECK_EQ(cfg.verify_tls, 1);
    CHECK_EQ(cfg.plan_poll_s, 60);
    CHECK_EQ(cfg.slice_ms, 4000);
    CHECK_EQ(cfg.session_token[0], 0);
    CHECK_EQ(cfg.ca_file[0], 0);
    CHECK_EQ(cfg.prefix[0], 0);
}

TEST(parse_starts_from_defaults_not_from_cfg)
{
    ivcs_config_s cfg;
    memset(&cfg, 0, sizeof cfg);
    snprintf(cfg.region, sizeof cfg.region, "old-region");
    cfg.slice_ms = 9999;
    const char *json = "{\"endpoint\":\"http://localhost\",\"bucket\":\"b01\","
                       "\"device_id\":\"d\",\"access_key\":\"a\",\"secret_key\":\"s\"}";
    CHECK(expect_ok(json, &cfg));
    CHECK(!strcmp(cfg.region, "us-east-1"));
    CHECK_EQ(cfg.slice_ms, 4000);
}

TEST(session_token_string_or_null)
{
    ivcs_config_s cfg;
    CHECK(expect_ok(json_with(NULL, NULL), &cfg));
    CHECK(!strcmp(cfg.session_token, TOKEN));
    CHECK(expect_ok(json_with("session_token", "null"), &cfg));
    CHECK_EQ(cfg.session_token[0], 0);
    CHECK(expect_ok(json_with("session_token", "\"\""), &cfg));
    CHECK_EQ(cfg.session_token[0], 0);
    CHECK(expect_ok(json_with("ca_file", "null"), &cfg));
    CHECK_EQ(cfg.ca_file[0], 0);
}

TEST(unknown_keys_are_errors_naming_the_key)
{
    CHECK(expect_config_error(json_with("endpont", "\"https://x.example\""), "endpont"));
    CHECK(expect_config_error(json_with("Secret_Key", "\"" SECRET "\""), "Secret_Key"));
    CHECK(expect_config_error(json_with("", "1"), "unknown key"));
    /* A non-printable key is shown safely. */
    char err[256];
    ivcs_config_s cfg;
    const char *json = "{\"a\\u0001b\": 1}";
    CHECK_EQ(parse_str(&cfg, json, err, sizeof err), IVCS_ERR_CONFIG);
    CHECK(strstr(err, "a?b") != NULL);
}

TEST(wrong_types_are_errors_naming_the_key)
{
    static const char *bad_for_string[] = {"1", "true", "[]", "{}", "null", "[\"" SECRET "\"]"};
    static const char *bad_for_bool[] = {"1", "0", "\"true\"", "null", "[]"};
    static const char *bad_for_number[] = {"\"60\"", "true", "null", "[60]", "{}"};
    static const char *strings[] = {"endpoint", "region", "bucket", "prefix",
                                    "device_id", "access_key", "secret_key"};
    for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++)
        for (size_t j = 0; j < sizeof bad_for_string / sizeof bad_for_string[0]; j++)
            CHECK(expect_config_error(json_with(strings[i], bad_for_string[j]), strings[i]));
    static const char *nullable[] = {"session_token", "ca_file"};
    for (size_t i = 0; i < 2; i++)
        for (size_t j = 0; j < 4; j++) /* all but null */
            CHECK(expect_config_error(json_with(nullable[i], bad_for_string[j]), nullable[i]));
    static const char *bools[] = {"verify_tls", "virtual_host"};
    for (size_t i = 0; i < 2; i++)
        for (size_t j = 0; j < sizeof bad_for_bool / sizeof bad_for_bool[0]; j++)
            CHECK(expect_config_error(json_with(bools[i], bad_for_bool[j]), bools[i]));
    static const char *numbers[] = {"plan_poll_s", "slice_ms"};
    for (size_t i = 0; i < 2; i++)
        for (size_t j = 0; j < sizeof bad_for_number / sizeof bad_for_number[0]; j++)
            CHECK(expect_config_error(json_with(numbers[i], bad_for_number[j]), numbers[i]));
}

TEST(numbers_must_be_whole_and_in_range)
{
    ivcs_config_s cfg;
    CHECK(expect_ok(json_with("plan_poll_s", "1"), &cfg));
    CHECK_EQ(cfg.plan_poll_s, 1);
    CHECK(expect_ok(json_with("plan_poll_s", "86400"), &cfg));
    CHECK_EQ(cfg.plan_poll_s, 86400);
    CHECK(expect_ok(json_with("plan_poll_s", "3.6e3"), &cfg));
    CHECK_EQ(cfg.plan_poll_s, 3600);
    CHECK(expect_config_error(json_with("plan_poll_s", "0"), "plan_poll_s"));
    CHECK(expect_config_error(json_with("plan_poll_s", "86401"), "plan_poll_s"));
    CHECK(expect_config_error(json_with("plan_poll_s", "-1"), "plan_poll_s"));
    CHECK(expect_config_error(json_with("plan_poll_s", "1.5"), "plan_poll_s"));
    CHECK(expect_config_error(json_with("plan_poll_s", "1e20"), "plan_poll_s"));
    CHECK(expect_config_error(json_with("plan_poll_s", "4294967296"), "plan_poll_s"));
    CHECK(expect_ok(json_with("slice_ms", "1000"), &cfg));
    CHECK_EQ(cfg.slice_ms, 1000);
    CHECK(expect_ok(json_with("slice_ms", "60000"), &cfg));
    CHECK_EQ(cfg.slice_ms, 60000);
    CHECK(expect_config_error(json_with("slice_ms", "999"), "slice_ms"));
    CHECK(expect_config_error(json_with("slice_ms", "60001"), "slice_ms"));
    CHECK(expect_config_error(json_with("slice_ms", "-4000"), "slice_ms"));
}

TEST(endpoints_accepted)
{
    static const char *good[] = {
        "http://127.0.0.1:7480",        "https://127.0.0.1:7443",  "https://[::1]:7443",
        "https://[::1]",                "http://[2001:db8::1]/",   "https://s3.amazonaws.com",
        "https://s3.eu-west-1.amazonaws.com:443/", "HTTPS://Example.COM", "http://localhost",
        "http://a-b.c-d.example:1",     "http://host:65535",       "http://[::ffff:127.0.0.1]:80",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char v[300];
        snprintf(v, sizeof v, "\"%s\"", good[i]);
        ivcs_config_s cfg;
        int ok = expect_ok(json_with("endpoint", v), &cfg);
        if (!ok) fprintf(stderr, "  endpoint rejected: %s\n", good[i]);
        CHECK(ok);
        if (ok) CHECK(!strcmp(cfg.endpoint, good[i]));
    }
}

TEST(endpoints_rejected_naming_endpoint)
{
    static const char *bad[] = {
        "",
        "127.0.0.1:7443",
        "ftp://host",
        "https//host",
        "https://",
        "https://:80",
        "https://host:",
        "https://host:0",
        "https://host:65536",
        "https://host:123456",
        "https://host:80x",
        "https://host/path",
        "https://host/bucket/",
        "https://host?x=1",
        "https://user:PaSsWoRd@host",
        "https://host#frag",
        "https://[::1",
        "https://[]",
        "https://[zz::1]:80",
        "https://[::1]x",
        "https://::1",
        "https://-bad.example",
        "https://bad-.example",
        "https://a..b",
        "https://.a",
        "https://a.",
        "https://999.1.1.1",
        "https://1.2.3",
        "https://ho st",
        "https://h\\u00e9st",
        "https://under_score.example",
        "https://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char v[300];
        snprintf(v, sizeof v, "\"%s\"", bad[i]);
        int ok = expect_config_error(json_with("endpoint", v), "endpoint");
        if (!ok) fprintf(stderr, "  endpoint accepted or misreported: %s\n", bad[i]);
        CHECK(ok);
    }
}

/* issue 9: one message per fault, the right one (user info was reported as
 * a bad port, an upper-case scheme passed here and failed in the transport) */
TEST(endpoint_messages_name_the_fault)
{
    static const struct {
        const char *ep, *says;
    } cases[] = {
        {"https://user:PaSsWoRd@host:443", "user info"},
        {"https://user@host", "user info"},
        {"HTTPS://user:pw@[::1]:7443/", "user info"},
        {"https://host:0", "port must be 1..65535"},
        {"https://host/x", "no path"},
        {"HtTpS://host:99999", "port must be 1..65535"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char v[300];
        snprintf(v, sizeof v, "\"%s\"", cases[i].ep);
        int ok = expect_config_error(json_with("endpoint", v), cases[i].says);
        if (!ok) fprintf(stderr, "  %s: not reported as %s\n", cases[i].ep, cases[i].says);
        CHECK(ok);
    }
}

TEST(buckets_follow_s3_naming_rules)
{
    static const char *good[] = {"abc", "ivcs", "my-bucket.01", "0bucket9",
                                 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"};
    static const char *bad[] = {
        "",           "ab",          "Abc",           "my_bucket", "-abc",
        "abc-",       ".abc",        "abc.",          "a..b",      "192.168.1.1",
        "xn--abc",    "sthree-abc",  "abc-s3alias",   "abc--ol-s3", "a b c",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", /* 64 */
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char v[100];
        snprintf(v, sizeof v, "\"%s\"", good[i]);
        ivcs_config_s cfg;
        int ok = expect_ok(json_with("bucket", v), &cfg);
        if (!ok) fprintf(stderr, "  bucket rejected: %s\n", good[i]);
        CHECK(ok);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char v[100];
        snprintf(v, sizeof v, "\"%s\"", bad[i]);
        int ok = expect_config_error(json_with("bucket", v), "bucket");
        if (!ok) fprintf(stderr, "  bucket accepted: %s\n", bad[i]);
        CHECK(ok);
    }
}

TEST(device_id_syntax)
{
    char id64[70], v[80];
    memset(id64, 'a', 64);
    id64[64] = '\0';
    ivcs_config_s cfg;
    snprintf(v, sizeof v, "\"%s\"", id64);
    CHECK(expect_ok(json_with("device_id", v), &cfg));
    CHECK_EQ(strlen(cfg.device_id), 64);
    CHECK(expect_ok(json_with("device_id", "\"A-z_09\""), &cfg));
    snprintf(v, sizeof v, "\"%sb\"", id64);
    CHECK(expect_config_error(json_with("device_id", v), "device_id"));
    CHECK(expect_config_error(json_with("device_id", "\"\""), "device_id"));
    CHECK(expect_config_error(json_with("device_id", "\"cam/1\""), "device_id"));
    CHECK(expect_config_error(json_with("device_id", "\"cam 1\""), "device_id"));
    CHECK(expect_config_error(json_with("device_id", "\"cam.1\""), "device_id"));
    CHECK(expect_config_error(json_with("device_id", "\"caf\\u00e9\""), "device_id"));
    CHECK(expect_config_error(json_with("device_id", NULL), "device_id"));
}

TEST(keys_must_be_present_and_printable)
{
    CHECK(expect_config_error(json_with("access_key", "\"\""), "access_key"));
    CHECK(expect_config_error(json_with("access_key", NULL), "access_key"));
    CHECK(expect_config_error(json_with("secret_key", "\"\""), "secret_key"));
    CHECK(expect_config_error(json_with("secret_key", NULL), "secret_key"));
    CHECK(expect_config_error(json_with("secret_key", "\"" SECRET " x\""), "secret_key"));
    CHECK(expect_config_error(json_with("secret_key", "\"" SECRET "\\n\""), "secret_key"));
    CHECK(expect_config_error(json_with("access_key", "\"" ACCESS "\\t\""), "access_key"));
    CHECK(expect_config_error(json_with("session_token", "\"" TOKEN "\\r\\n\""),
                              "session_token"));
    CHECK(expect_config_error(json_with("bucket", NULL), "bucket"));
    CHECK(expect_config_error(json_with("endpoint", NULL), "endpoint"));
}

TEST(other_strings)
{
    ivcs_config_s cfg;
    CHECK(expect_ok(json_with("prefix", "\"v\\u00eddeo/2024/\""), &cfg));
    CHECK(!strcmp(cfg.prefix, "v\xc3\xad" "deo/2024/"));
    CHECK(expect_config_error(json_with("prefix", "\"/abs\""), "prefix"));
    CHECK(expect_config_error(json_with("prefix", "\"a\\nb\""), "prefix"));
    CHECK(expect_config_error(json_with("prefix", "\"a\\\\b\""), "prefix"));
    /* issue 9: dot and empty segments (sent as is: GET /bucket/../x/...) */
    static const char *const bad_prefix[] = {"\"../x/\"", "\"./\"", "\"a/./b/\"",
                                             "\"a/../\"", "\"a//b/\"", "\"x/..\\/\""};
    for (size_t i = 0; i < sizeof bad_prefix / sizeof bad_prefix[0]; i++)
        CHECK(expect_config_error(json_with("prefix", bad_prefix[i]), "segment"));
    static const char *const good_prefix[] = {"\"..x/\"", "\"a.b/..c/\"", "\"site-\"",
                                              "\"a/..\"", "\"v/.\""};
    for (size_t i = 0; i < sizeof good_prefix / sizeof good_prefix[0]; i++)
        CHECK(expect_ok(json_with("prefix", good_prefix[i]), &cfg));
    CHECK(expect_config_error(json_with("region", "\"\""), "region"));
    CHECK(expect_config_error(json_with("region", "\"us east\""), "region"));
    CHECK(expect_config_error(json_with("ca_file", "\"/a\\u0007b\""), "ca_file"));
}

TEST(string_lengths_within_struct_buffers)
{
    static char big[4096];
    struct {
        const char *key;
        size_t max; /* longest accepted */
    } cases[] = {
        {"prefix", IVCS_CFG_STR_MAX - 1},
        {"ca_file", IVCS_CFG_STR_MAX - 1},
        {"session_token", sizeof(((ivcs_config_s *)0)->session_token) - 1},
        {"access_key", sizeof(((ivcs_config_s *)0)->access_key) - 1},
        {"secret_key", sizeof(((ivcs_config_s *)0)->secret_key) - 1},
        {"region", sizeof(((ivcs_config_s *)0)->region) - 1},
    };
    /* Filled with "SeCrEt" repeated, so a message quoting the value fails. */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ivcs_config_s cfg;
        big[0] = '"';
        for (size_t j = 0; j <= cases[i].max; j++) big[1 + j] = "SeCrEt"[j % 6];
        snprintf(big + 1 + cases[i].max, 8, "\"");
        CHECK(expect_ok(json_with(cases[i].key, big), &cfg));
        for (size_t j = 0; j <= cases[i].max; j++) big[1 + j] = "SeCrEt"[j % 6];
        snprintf(big + 2 + cases[i].max, 8, "\"");
        CHECK(expect_config_error(json_with(cases[i].key, big), cases[i].key));
    }
    /* endpoint: a long but valid host name overflows the buffer. */
    snprintf(big, sizeof big, "\"https://%s", "");
    size_t o = strlen(big);
    for (int l = 0; l < 5; l++) {
        memset(big + o, 'h', 60);
        o += 60;
        big[o++] = '.';
    }
    snprintf(big + o, sizeof big - o, "example\"");
    CHECK(expect_config_error(json_with("endpoint", big), "endpoint"));
}

TEST(json_structure_errors)
{
    ivcs_config_s cfg;
    char err[256];
    CHECK(expect_config_error("[1,2]", "object"));
    CHECK(expect_config_error("\"str\"", "object"));
    CHECK(expect_config_error("null", "object"));
    CHECK(expect_config_error("", "empty"));
    CHECK(expect_config_error("   ", "syntax"));
    CHECK(expect_config_error("{\"bucket\": \"ivcs\",}", "syntax"));
    CHECK(expect_config_error("{\"bucket\": \"ivcs\"} {}", "after"));
    CHECK(expect_config_error("{\"bucket\": \"ivcs\"} x", "after"));
    /* Errors give the line; a secret next to the error is not quoted. */
    CHECK_EQ(parse_str(&cfg, "{\n\"bucket\": \"ivcs\",\n\"secret_key\": \"" SECRET "\n}", err,
                       sizeof err),
             IVCS_ERR_CONFIG);
    CHECK(strstr(err, "line") != NULL);
    CHECK(!err_has_secret(err));
    CHECK_EQ(parse_str(&cfg, "{\n\n\"secret_key\" \"" SECRET "\"}", err, sizeof err),
             IVCS_ERR_CONFIG);
    CHECK(strstr(err, "line 3") != NULL);
    CHECK(!err_has_secret(err));
    /* Duplicates are typos too. */
    char dup[8192];
    snprintf(dup, sizeof dup, "%s", json_with(NULL, NULL));
    char *close = strrchr(dup, '}');
    snprintf(close, sizeof dup - (size_t)(close - dup), ", \"bucket\": \"other\"}");
    CHECK(expect_config_error(dup, "bucket"));
    CHECK(expect_config_error(dup, "duplicate"));
    /* Trailing whitespace and a UTF-8 BOM are fine. */
    char ws[8192];
    snprintf(ws, sizeof ws, "\xef\xbb\xbf%s \n\t\r\n", json_with(NULL, NULL));
    CHECK(expect_ok(ws, &cfg));
}

TEST(escaped_nul_refused_literal_backslash_u_kept)
{
    ivcs_config_s cfg;
    CHECK(expect_config_error(json_with("bucket", "\"ivcs\\u0000evil\""), "u0000"));
    CHECK(expect_config_error(json_with("secret_key", "\"\\\\\\u0000\""), "u0000"));
    /* "ab\\u0000" is the 9 characters ab\u0000: no NUL involved. */
    CHECK(expect_ok(json_with("access_key", "\"ab\\\\u0000\""), &cfg));
    CHECK(!strcmp(cfg.access_key, "ab\\u0000"));
}

TEST(parse_reads_only_len_bytes)
{
    const char *src = json_with(NULL, NULL);
    size_t n = strlen(src);
    /* Exactly n bytes, no terminating NUL: ASan catches any over-read. */
    char *exact = malloc(n);
    CHECK(exact != NULL);
    if (!exact) return;
    memcpy(exact, src, n);
    ivcs_config_s cfg;
    char err[256];
    CHECK_EQ(ivcs_config_parse(&cfg, exact, n, err, sizeof err), 0);
    CHECK(!strcmp(cfg.secret_key, SECRET));
    /* A length that cuts the object short is a syntax error. */
    CHECK_EQ(ivcs_config_parse(&cfg, exact, n / 2, err, sizeof err), IVCS_ERR_CONFIG);
    CHECK(!err_has_secret(err));
    for (size_t cut = 0; cut + 2 < n; cut += 7) {
        int rc = ivcs_config_parse(&cfg, exact, cut, err, sizeof err);
        CHECK(rc == IVCS_ERR_CONFIG);
        CHECK(!err_has_secret(err));
    }
    free(exact);
}

TEST(error_buffer_handling)
{
    ivcs_config_s cfg;
    char small[8];
    memset(small, 'x', sizeof small);
    CHECK_EQ(parse_str(&cfg, json_with("bucket", "\"A\""), small, sizeof small),
             IVCS_ERR_CONFIG);
    CHECK(memchr(small, '\0', sizeof small) != NULL);
    CHECK_EQ(parse_str(&cfg, json_with("bucket", "\"A\""), NULL, 0), IVCS_ERR_CONFIG);
    char one[1] = {'x'};
    CHECK_EQ(parse_str(&cfg, json_with("bucket", "\"A\""), one, 0), IVCS_ERR_CONFIG);
    CHECK_EQ(one[0], 'x');
    char err[128];
    CHECK_EQ(ivcs_config_parse(NULL, "{}", 2, err, sizeof err), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_config_parse(&cfg, NULL, 5, err, sizeof err), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_config_validate(NULL, err, sizeof err), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_config_load(NULL, "/x", err, sizeof err), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_config_load(&cfg, NULL, err, sizeof err), IVCS_ERR_INVALID_ARG);
}

static void valid_struct(ivcs_config_s *cfg)
{
    ivcs_config_defaults(cfg);
    snprintf(cfg->endpoint, sizeof cfg->endpoint, "https://s3.example.com");
    snprintf(cfg->bucket, sizeof cfg->bucket, "ivcs");
    snprintf(cfg->device_id, sizeof cfg->device_id, "cam1");
    snprintf(cfg->access_key, sizeof cfg->access_key, ACCESS);
    snprintf(cfg->secret_key, sizeof cfg->secret_key, SECRET);
}

TEST(validate_struct_directly)
{
    ivcs_config_s cfg;
    char err[256];
    valid_struct(&cfg);
    CHECK_EQ(ivcs_config_validate(&cfg, err, sizeof err), 0);
    CHECK_EQ(err[0], 0);
    CHECK_EQ(ivcs_config_validate(&cfg, NULL, 0), 0);

    /* Unterminated buffers filled by hand. */
    valid_struct(&cfg);
    memset(cfg.bucket, 'a', sizeof cfg.bucket);
    CHECK_EQ(ivcs_config_validate(&cfg, err, sizeof err), IVCS_ERR_CONFIG);
    CHECK(strstr(err, "bucket") != NULL);
    valid_struct(&cfg);
    memset(cfg.secret_key, 'S', sizeof cfg.secret_key);
    CHECK_EQ(ivcs_config_validate(&cfg, err, sizeof err), IVCS_ERR_CONFIG);
    CHECK(strstr(err, "secret_key") != NULL);
    CHECK(strstr(err, "SSSS") == NULL);
    valid_struct(&cfg);
    memset(cfg.device_id, 'd', sizeof cfg.device_id);
    CHECK_EQ(ivcs_config_validate(&cfg, err, sizeof err), IVCS_ERR_CONFIG);
    CHECK(strstr(err, "device_id") != NULL);

    valid_struct(&cfg);
    cfg.verify_tls = 2;
    CHECK_EQ(ivcs_config_validate(&cfg, err, sizeof err), IVCS_ERR_CONFIG);
    CHECK(strstr(err, "verify_tls") != NULL);
    valid_struct(&cfg);
    cfg.virtual_host = -1;
    CHECK_EQ(ivcs_config_validate(&cfg, err, sizeof err), IVCS_ERR_CONFIG);
    CHECK(strstr(err, "virtual_host") != NULL);
    valid_struct(&cfg);
    cfg.plan_poll_s = 0;
    CHECK_EQ(ivcs_config_validate(&cfg, err, sizeof err), IVCS_ERR_CONFIG);
    CHECK(strstr(err, "plan_poll_s") != NULL);
    valid_struct(&cfg);
    cfg.slice_ms = 0xffffffffu;
    CHECK_EQ(ivcs_config_validate(&cfg, err, sizeof err), IVCS_ERR_CONFIG);
    CHECK(strstr(err, "slice_ms") != NULL);
}

TEST(virtual_host_rules)
{
    ivcs_config_s cfg;
    char err[256];
    valid_struct(&cfg);
    cfg.virtual_host = 1;
    CHECK_EQ(ivcs_config_validate(&cfg, err, sizeof err), 0);
    snprintf(cfg.endpoint, sizeof cfg.endpoint, "https://127.0.0.1:7443");
    CHECK_EQ(ivcs_config_validate(&cfg, err, sizeof err), IVCS_ERR_CONFIG);
    CHECK(strstr(err, "virtual_host") != NULL);
    snprintf(cfg.endpoint, sizeof cfg.endpoint, "https://[::1]:7443");
    CHECK_EQ(ivcs_config_validate(&cfg, err, sizeof err), IVCS_ERR_CONFIG);
    snprintf(cfg.endpoint, sizeof cfg.endpoint, "https://s3.example.com");
    snprintf(cfg.bucket, sizeof cfg.bucket, "my.bucket");
    CHECK_EQ(ivcs_config_validate(&cfg, err, sizeof err), IVCS_ERR_CONFIG);
    CHECK(strstr(err, "bucket") != NULL);
    cfg.virtual_host = 0; /* path style: dots are fine */
    CHECK_EQ(ivcs_config_validate(&cfg, err, sizeof err), 0);
    /* The base file's endpoint is an IP address. */
    CHECK(expect_config_error(json_with("virtual_host", "true"), "virtual_host"));
}

TEST(no_error_message_contains_a_secret)
{
    /* Every key broken in turn while all secrets are present. */
    static const kv breaks[] = {
        {"endpoint", "\"https://user:PaSsWoRd@s3.example.com\""},
        {"endpoint", "\"https://s3.example.com/?X-Amz-Signature=PaSsWoRd\""},
        {"secret_key", "\"" SECRET " \""},
        {"secret_key", "[\"" SECRET "\"]"},
        {"secret_key", "{\"v\":\"" SECRET "\"}"},
        {"access_key", "\"" ACCESS "\\u0001\""},
        {"session_token", "\"TokenSECRETxyz \""},
        {"session_token", "42"},
        {"bucket", "\"" SECRET "\""},
        {"device_id", "\"" SECRET "\""},
        {"region", "\"" SECRET "\""},
        {"prefix", "\"/" SECRET "\""},
        {SECRET, "1"},
        {"plan_poll_s", "0"},
    };
    for (size_t i = 0; i < sizeof breaks / sizeof breaks[0]; i++) {
        ivcs_config_s cfg;
        char err[512];
        int rc = parse_str(&cfg, json_with(breaks[i].key, breaks[i].value), err, sizeof err);
        CHECK_EQ(rc, IVCS_ERR_CONFIG);
        if (!strcmp(breaks[i].key, SECRET)) {
            /* An unknown key is named as written; the key itself is no secret. */
            CHECK(strstr(err, "unknown key") != NULL);
            continue;
        }
        if (err_has_secret(err)) fprintf(stderr, "  leaks: %s\n", err);
        CHECK(!err_has_secret(err));
        CHECK(strstr(err, breaks[i].key) != NULL);
    }
}

static char *write_temp(const char *content, size_t len)
{
    static char path[128];
    const char *tmp = getenv("TMPDIR");
    snprintf(path, sizeof path, "%s/ivcs-cfg-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) return NULL;
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, content + off, len - off);
        if (w <= 0) break;
        off += (size_t)w;
    }
    close(fd);
    return off == len ? path : NULL;
}

TEST(load_file)
{
    ivcs_config_s cfg;
    char err[512];
    const char *json = json_with(NULL, NULL);
    char *path = write_temp(json, strlen(json));
    CHECK(path != NULL);
    if (!path) return;
    CHECK_EQ(ivcs_config_load(&cfg, path, err, sizeof err), 0);
    CHECK(!strcmp(cfg.secret_key, SECRET));
    CHECK(!strcmp(cfg.endpoint, "https://127.0.0.1:7443"));
    unlink(path);

    json = json_with("slice_ms", "5");
    path = write_temp(json, strlen(json));
    CHECK(path != NULL);
    if (!path) return;
    CHECK_EQ(ivcs_config_load(&cfg, path, err, sizeof err), IVCS_ERR_CONFIG);
    CHECK(strstr(err, "slice_ms") != NULL);
    CHECK(strstr(err, path) != NULL); /* the message says which file */
    CHECK(!err_has_secret(err));
    unlink(path);

    CHECK_EQ(ivcs_config_load(&cfg, "/nonexistent/ivcs.json", err, sizeof err), IVCS_ERR_IO);
    CHECK(strstr(err, "/nonexistent/ivcs.json") != NULL);
    CHECK_EQ(ivcs_config_load(&cfg, "/", err, sizeof err), IVCS_ERR_IO); /* a directory */

    /* Larger than any sane config file. */
    size_t big = (1u << 20) + 10;
    char *junk = malloc(big);
    CHECK(junk != NULL);
    if (!junk) return;
    memset(junk, ' ', big);
    path = write_temp(junk, big);
    free(junk);
    CHECK(path != NULL);
    if (!path) return;
    CHECK_EQ(ivcs_config_load(&cfg, path, err, sizeof err), IVCS_ERR_CONFIG);
    unlink(path);
}

TEST(io_backend_names_and_validation)
{
    ivcs_config_s cfg;
    ivcs_config_defaults(&cfg);
    CHECK_EQ(cfg.io_backend, IVCS_IO_AUTO);
    CHECK(expect_ok(json_with(NULL, NULL), &cfg));
    CHECK_EQ(cfg.io_backend, IVCS_IO_AUTO);
    CHECK(expect_ok(json_with("io_backend", "\"auto\""), &cfg));
    CHECK_EQ(cfg.io_backend, IVCS_IO_AUTO);
    CHECK(expect_ok(json_with("io_backend", "\"io_uring\""), &cfg));
    CHECK_EQ(cfg.io_backend, IVCS_IO_URING);
    CHECK(expect_ok(json_with("io_backend", "\"epoll\""), &cfg));
    CHECK_EQ(cfg.io_backend, IVCS_IO_EPOLL);
    CHECK(expect_config_error(json_with("io_backend", "\"kqueue\""), "io_backend"));
    CHECK(expect_config_error(json_with("io_backend", "\"EPOLL\""), "io_backend"));
    CHECK(expect_config_error(json_with("io_backend", "2"), "io_backend"));
    CHECK(expect_config_error(json_with("io_backend", "null"), "io_backend"));
    /* the struct: only the enum's values */
    CHECK(expect_ok(json_with(NULL, NULL), &cfg));
    char err[256];
    cfg.io_backend = 3;
    CHECK_EQ(ivcs_config_validate(&cfg, err, sizeof err), IVCS_ERR_CONFIG);
    CHECK(strstr(err, "io_backend") != NULL);
    cfg.io_backend = -1;
    CHECK_EQ(ivcs_config_validate(&cfg, err, sizeof err), IVCS_ERR_CONFIG);
    cfg.io_backend = IVCS_IO_EPOLL;
    CHECK_EQ(ivcs_config_validate(&cfg, err, sizeof err), 0);
}

int main(void)
{
    RUN(defaults_are_documented_values);
    RUN(defaults_alone_do_not_validate);
    RUN(parse_full_example_sets_every_field);
    RUN(parse_minimal_keeps_defaults);
    RUN(parse_starts_from_defaults_not_from_cfg);
    RUN(session_token_string_or_null);
    RUN(unknown_keys_are_errors_naming_the_key);
    RUN(wrong_types_are_errors_naming_the_key);
    RUN(numbers_must_be_whole_and_in_range);
    RUN(endpoints_accepted);
    RUN(endpoints_rejected_naming_endpoint);
    RUN(endpoint_messages_name_the_fault);
    RUN(buckets_follow_s3_naming_rules);
    RUN(device_id_syntax);
    RUN(keys_must_be_present_and_printable);
    RUN(other_strings);
    RUN(string_lengths_within_struct_buffers);
    RUN(json_structure_errors);
    RUN(escaped_nul_refused_literal_backslash_u_kept);
    RUN(parse_reads_only_len_bytes);
    RUN(error_buffer_handling);
    RUN(validate_struct_directly);
    RUN(virtual_host_rules);
    RUN(no_error_message_contains_a_secret);
    RUN(load_file);
    RUN(io_backend_names_and_validation);
    return check_done();
}
