/* test_layout.c - object keys, their parser, UTC date math, boot id. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* timegm */
#endif
#include <time.h>

#include "check.h"
#include "engine/layout/layout.h"
#include "guard.h"

/* ---------------------------------------------------------------- helpers */

static uint64_t rng_state = 0x243f6a8885a308d3ull;

static uint64_t rnd(void)
{
    /* xorshift64*: deterministic, so a failure reproduces */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

static ivcs_layout_s mk(const char *prefix, const char *device)
{
    ivcs_layout_s l;
    int rc = ivcs_layout_init(&l, prefix, device);
    if (rc) {
        fprintf(stderr, "layout_init(%s, %s) = %d\n", prefix, device, rc);
        exit(2);
    }
    return l;
}

/* libc's own conversion, an independent oracle for the date math. */
static void libc_date(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000));
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        strcpy(out, "?");
        return;
    }
    snprintf(out, 32, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

/* ---------------------------------------------------------------- dates */

TEST(days_from_civil_known_values)
{
    CHECK_EQ(ivcs_layout_days_from_civil(1970, 1, 1), 0);
    CHECK_EQ(ivcs_layout_days_from_civil(1969, 12, 31), -1);
    CHECK_EQ(ivcs_layout_days_from_civil(2000, 3, 1), 11017);
    CHECK_EQ(ivcs_layout_days_from_civil(2038, 1, 19), 24855); /* 2^31 s lies in this day */
    CHECK_EQ(ivcs_layout_days_from_civil(2026, 1, 1), 20454);
    CHECK_EQ(ivcs_layout_days_from_civil(9999, 12, 31), 2932896);
    CHECK_EQ(ivcs_layout_days_from_civil(0, 3, 1), -719468);
    CHECK_EQ(ivcs_layout_days_from_civil(0, 1, 1), -719528);
}

TEST(every_day_of_years_0_to_9999_round_trips_and_is_consecutive)
{
    int64_t want = ivcs_layout_days_from_civil(0, 1, 1);
    int bad = 0;
    for (int32_t y = 0; y <= 9999; y++) {
        for (uint32_t m = 1; m <= 12; m++) {
            uint32_t dim = ivcs_layout_days_in_month(y, m);
            for (uint32_t d = 1; d <= dim; d++) {
                int64_t days = ivcs_layout_days_from_civil(y, m, d);
                int32_t yy;
                uint32_t mm, dd;
                ivcs_layout_civil_from_days(days, &yy, &mm, &dd);
                if (days != want || yy != y || mm != m || dd != d) bad++;
                want++;
            }
        }
    }
    CHECK_EQ(bad, 0);
    CHECK_EQ(want, IVCS_LAYOUT_MS_MAX / 86400000 + 1); /* 9999-12-31 was the last */
}

TEST(leap_years_follow_the_gregorian_rule)
{
    CHECK_EQ(ivcs_layout_days_in_month(2000, 2), 29);
    CHECK_EQ(ivcs_layout_days_in_month(1900, 2), 28);
    CHECK_EQ(ivcs_layout_days_in_month(2100, 2), 28);
    CHECK_EQ(ivcs_layout_days_in_month(2024, 2), 29);
    CHECK_EQ(ivcs_layout_days_in_month(2023, 2), 28);
    CHECK_EQ(ivcs_layout_days_in_month(9996, 2), 29);
    CHECK_EQ(ivcs_layout_days_in_month(2023, 13), 0);
    CHECK_EQ(ivcs_layout_days_in_month(2023, 0), 0);
    int64_t d;
    CHECK_EQ(ivcs_layout_parse_date("2024-02-29", 10, &d), 0);
    CHECK_EQ(d, ivcs_layout_days_from_civil(2024, 3, 1) - 1);
    CHECK_EQ(ivcs_layout_parse_date("2000-02-29", 10, &d), 0);
    CHECK_EQ(ivcs_layout_parse_date("2023-02-29", 10, &d), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_layout_parse_date("1900-02-29", 10, &d), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_layout_parse_date("2100-02-29", 10, &d), IVCS_ERR_INVALID_ARG);
}

TEST(format_date_edges)
{
    char s[11];
    CHECK_EQ(ivcs_layout_format_date(0, s), 10);
    CHECK(!strcmp(s, "1970-01-01"));
    CHECK_EQ(ivcs_layout_format_date(86399999, s), 10);
    CHECK(!strcmp(s, "1970-01-01"));
    CHECK_EQ(ivcs_layout_format_date(86400000, s), 10);
    CHECK(!strcmp(s, "1970-01-02"));
    CHECK_EQ(ivcs_layout_format_date(2147483647000LL, s), 10);
    CHECK(!strcmp(s, "2038-01-19"));
    CHECK_EQ(ivcs_layout_format_date(2147483648000LL, s), 10);
    CHECK(!strcmp(s, "2038-01-19"));
    CHECK_EQ(ivcs_layout_format_date(4294967296000LL, s), 10);
    CHECK(!strcmp(s, "2106-02-07"));
    CHECK_EQ(ivcs_layout_format_date(951782400000LL, s), 10); /* 2000-02-29T00:00Z */
    CHECK(!strcmp(s, "2000-02-29"));
    CHECK_EQ(ivcs_layout_format_date(IVCS_LAYOUT_MS_MAX, s), 10);
    CHECK(!strcmp(s, "9999-12-31"));
    CHECK_EQ(ivcs_layout_format_date(IVCS_LAYOUT_MS_MAX + 1, s), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_layout_format_date(-1, s), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_layout_format_date(0, NULL), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_layout_day_of_ms(-1), -1);
    CHECK_EQ(ivcs_layout_day_of_ms(-86400000), -1);
    CHECK_EQ(ivcs_layout_day_of_ms(-86400001), -2);
}

TEST(format_date_agrees_with_libc_gmtime)
{
    char a[11], b[32];
    int bad = 0;
    for (int i = 0; i < 200000; i++) {
        int64_t ms = (int64_t)(rnd() % (uint64_t)(IVCS_LAYOUT_MS_MAX + 1));
        if (i < 1000) ms = (int64_t)(rnd() % 5000000000000ULL); /* dense near today */
        if (ivcs_layout_format_date(ms, a) != 10) bad++;
        libc_date(ms, b);
        if (strcmp(a, b)) {
            if (bad < 5) fprintf(stderr, "ms %lld: %s vs libc %s\n", (long long)ms, a, b);
            bad++;
        }
    }
    CHECK_EQ(bad, 0);
}

TEST(format_iso8601)
{
    char s[25];
    CHECK_EQ(ivcs_layout_format_iso8601(0, s), 24);
    CHECK(!strcmp(s, "1970-01-01T00:00:00.000Z"));
    CHECK_EQ(ivcs_layout_format_iso8601(1767225600123LL, s), 24);
    CHECK(!strcmp(s, "2026-01-01T00:00:00.123Z"));
    CHECK_EQ(ivcs_layout_format_iso8601(1709251199999LL, s), 24);
    CHECK(!strcmp(s, "2024-02-29T23:59:59.999Z"));
    CHECK_EQ(ivcs_layout_format_iso8601(IVCS_LAYOUT_MS_MAX, s), 24);
    CHECK(!strcmp(s, "9999-12-31T23:59:59.999Z"));
    CHECK_EQ(ivcs_layout_format_iso8601(-1, s), IVCS_ERR_INVALID_ARG);
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        int64_t ms = (int64_t)(rnd() % (uint64_t)(IVCS_LAYOUT_MS_MAX + 1));
        if (ivcs_layout_format_iso8601(ms, s) != 24) bad++;
        struct tm tm;
        memset(&tm, 0, sizeof tm);
        int msec = -1;
        if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                   &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &msec) != 7)
            bad++;
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        if ((int64_t)timegm(&tm) * 1000 + msec != ms) bad++;
    }
    CHECK_EQ(bad, 0);
}

TEST(parse_date_is_strict)
{
    int64_t d = 12345;
    const char *bad[] = {"2024-1-01",  "2024-01-1 ", "2024/01/01", "+024-01-01", "2024-00-10",
                         "2024-13-01", "2024-01-32", "2024-04-31", "2024-01-00", " 2024-01-0",
                         "2024-01-0a", "20240101xx", "2024--1-01", "0000-00-00"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (ivcs_layout_parse_date(bad[i], strlen(bad[i]), &d) != IVCS_ERR_INVALID_ARG) {
            fprintf(stderr, "accepted %s\n", bad[i]);
            CHECK(0);
        }
    }
    CHECK_EQ(d, 12345);
    CHECK_EQ(ivcs_layout_parse_date("2024-01-01", 9, &d), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_layout_parse_date("2024-01-011", 11, &d), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_layout_parse_date("0000-01-01", 10, &d), 0);
    CHECK_EQ(d, -719528);
    CHECK_EQ(ivcs_layout_parse_date("9999-12-31", 10, &d), 0);
    CHECK_EQ(d, 2932896);
    CHECK_EQ(ivcs_layout_parse_date("1970-01-01", 10, &d), 0);
    CHECK_EQ(d, 0);
}

/* ---------------------------------------------------------------- init */

TEST(init_validates_prefix_and_device)
{
    ivcs_layout_s l;
    CHECK_EQ(ivcs_layout_init(&l, "", "cam-0001"), 0);
    CHECK(!strcmp(l.root, "cam-0001/"));
    CHECK_EQ(l.root_len, 9);
    CHECK_EQ(ivcs_layout_init(&l, NULL, "A_z-9"), 0);
    CHECK(!strcmp(l.root, "A_z-9/"));
    CHECK_EQ(ivcs_layout_init(&l, "tenant/7/", "cam"), 0);
    CHECK(!strcmp(l.root, "tenant/7/cam/"));
    CHECK_EQ(ivcs_layout_init(&l, "pre.", "cam"), 0); /* no '/' needed */
    CHECK(!strcmp(l.root, "pre.cam/"));

    CHECK_EQ(ivcs_layout_init(&l, "", ""), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(l.root_len, 0);
    CHECK_EQ(ivcs_layout_init(&l, "", NULL), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_layout_init(NULL, "", "cam"), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_layout_init(&l, "", "cam.1"), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_layout_init(&l, "", "cam/1"), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_layout_init(&l, "", "cam 1"), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_layout_init(&l, "", "caméra"), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_layout_init(&l, "/abs/", "cam"), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_layout_init(&l, "a\nb/", "cam"), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_layout_init(&l, "a\x7f/", "cam"), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_layout_init(&l, "a\\b/", "cam"), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(l.root_len, 0);

    char dev[66], pre[257];
    memset(dev, 'd', 64);
    dev[64] = 0;
    memset(pre, 'p', 255);
    pre[255] = 0;
    CHECK_EQ(ivcs_layout_init(&l, pre, dev), 0);
    CHECK_EQ(l.root_len, IVCS_LAYOUT_ROOT_MAX);
    dev[64] = 'd';
    dev[65] = 0;
    CHECK_EQ(ivcs_layout_init(&l, "", dev), IVCS_ERR_TOO_LONG);
    pre[255] = 'p';
    pre[256] = 0;
    CHECK_EQ(ivcs_layout_init(&l, pre, "cam"), IVCS_ERR_TOO_LONG);
}

/* ---------------------------------------------------------------- builders */

TEST(keys_have_the_contract_format)
{
    ivcs_layout_s l = mk("", "cam-0001");
    char k[IVCS_LAYOUT_KEY_MAX + 1];
    CHECK_EQ(ivcs_layout_plan_key(&l, k, sizeof k), 18);
    CHECK(!strcmp(k, "cam-0001/plan.json"));

    ivcs_slice_name_s s = {1767225600000LL, 4000, 0x00abcdefu, 0, 1};
    CHECK_EQ(ivcs_layout_slice_key(&l, 0, &s, k, sizeof k), 61);
    CHECK(!strcmp(k, "cam-0001/ch0/rec/2026-01-01/1767225600000_4000_00abcdef_0k.ts"));

    ivcs_slice_name_s s2 = {0, 0, 0, 0, 0};
    CHECK(ivcs_layout_slice_key(&l, 3, &s2, k, sizeof k) > 0);
    CHECK(!strcmp(k, "cam-0001/ch3/rec/1970-01-01/0000000000000_0_00000000_0p.ts"));

    ivcs_slice_name_s s3 = {IVCS_LAYOUT_START_MS_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX, 1};
    CHECK(ivcs_layout_slice_key(&l, UINT32_MAX, &s3, k, sizeof k) > 0);
    CHECK(!strcmp(k, "cam-0001/ch4294967295/rec/2286-11-20/"
                     "9999999999999_4294967295_ffffffff_4294967295k.ts"));

    /* the last ms of a day stays in that day */
    ivcs_slice_name_s s4 = {1767225599999LL, 1, 0x12345678u, 42, 1};
    CHECK(ivcs_layout_slice_key(&l, 0, &s4, k, sizeof k) > 0);
    CHECK(!strcmp(k, "cam-0001/ch0/rec/2025-12-31/1767225599999_1_12345678_42k.ts"));

    ivcs_slice_name_s s5 = {1709164800000LL, 4000, 1, 7, 0}; /* 2024-02-29T00:00Z */
    CHECK(ivcs_layout_slice_key(&l, 0, &s5, k, sizeof k) > 0);
    CHECK(!strcmp(k, "cam-0001/ch0/rec/2024-02-29/1709164800000_4000_00000001_7p.ts"));

    CHECK_EQ(ivcs_layout_event_key(&l, 0, 1767225600000LL, 3, 0, k, sizeof k), 48);
    CHECK(!strcmp(k, "cam-0001/ch0/evt/2026-01-01/1767225600000_3.json"));
    CHECK_EQ(ivcs_layout_event_key(&l, 1, 1767225600000LL, 16, 1, k, sizeof k), 48);
    CHECK(!strcmp(k, "cam-0001/ch1/evt/2026-01-01/1767225600000_16.jpg"));

    CHECK_EQ(ivcs_layout_dir_prefix(&l, 0, IVCS_LAYOUT_REC, k, sizeof k), 17);
    CHECK(!strcmp(k, "cam-0001/ch0/rec/"));
    CHECK_EQ(ivcs_layout_dir_prefix(&l, 12, IVCS_LAYOUT_EVT, k, sizeof k), 18);
    CHECK(!strcmp(k, "cam-0001/ch12/evt/"));
    CHECK_EQ(
        ivcs_layout_day_prefix(&l, 0, IVCS_LAYOUT_REC, 1767225600000LL + 86399999, k, sizeof k),
        28);
    CHECK(!strcmp(k, "cam-0001/ch0/rec/2026-01-01/"));
    CHECK(ivcs_layout_day_prefix(&l, 2, IVCS_LAYOUT_EVT, 0, k, sizeof k) > 0);
    CHECK(!strcmp(k, "cam-0001/ch2/evt/1970-01-01/"));

    ivcs_layout_s p = mk("ivcs/prod/", "gw_7");
    CHECK(ivcs_layout_plan_key(&p, k, sizeof k) > 0);
    CHECK(!strcmp(k, "ivcs/prod/gw_7/plan.json"));
    CHECK(ivcs_layout_slice_key(&p, 0, &s, k, sizeof k) > 0);
    CHECK(!strcmp(k, "ivcs/prod/gw_7/ch0/rec/2026-01-01/1767225600000_4000_00abcdef_0k.ts"));
}

TEST(builders_refuse_out_of_range_fields)
{
    ivcs_layout_s l = mk("", "cam");
    char k[IVCS_LAYOUT_KEY_MAX + 1];
    ivcs_slice_name_s s = {IVCS_LAYOUT_START_MS_MAX + 1, 1, 1, 1, 1};
    CHECK_EQ(ivcs_layout_slice_key(&l, 0, &s, k, sizeof k), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(k[0], 0);
    s.start_ms = -1;
    CHECK_EQ(ivcs_layout_slice_key(&l, 0, &s, k, sizeof k), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_layout_slice_key(&l, 0, NULL, k, sizeof k), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_layout_slice_key(NULL, 0, &s, k, sizeof k), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_layout_event_key(&l, 0, 0, 0, 0, k, sizeof k), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_layout_event_key(&l, 0, 0, 17, 0, k, sizeof k), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_layout_event_key(&l, 0, -5, 1, 0, k, sizeof k), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_layout_event_key(&l, 0, IVCS_LAYOUT_START_MS_MAX + 1, 1, 0, k, sizeof k),
             IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_layout_day_prefix(&l, 0, IVCS_LAYOUT_REC, -1, k, sizeof k), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_layout_day_prefix(&l, 0, (ivcs_layout_dir_e)7, 0, k, sizeof k),
             IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_layout_plan_key(&l, NULL, 10), IVCS_ERR_INVALID_ARG);
    ivcs_layout_s zero;
    memset(&zero, 0, sizeof zero);
    CHECK_EQ(ivcs_layout_plan_key(&zero, k, sizeof k), IVCS_ERR_INVALID_ARG);
}

/* Runs one builder with every capacity 0..len+1 into a buffer fenced with a
 * pattern: short capacities must fail with TOO_LONG, leave "" and write
 * nothing at or beyond cap. */
typedef int (*build_fn)(const ivcs_layout_s *l, char *buf, size_t cap);

static const ivcs_slice_name_s cap_slice = {1767225600000LL, 4000, 0xdeadbeefu, 99, 1};
static int b_plan(const ivcs_layout_s *l, char *buf, size_t cap)
{
    return ivcs_layout_plan_key(l, buf, cap);
}
static int b_slice(const ivcs_layout_s *l, char *buf, size_t cap)
{
    return ivcs_layout_slice_key(l, 7, &cap_slice, buf, cap);
}
static int b_event(const ivcs_layout_s *l, char *buf, size_t cap)
{
    return ivcs_layout_event_key(l, 7, 1767225600000LL, 9, 0, buf, cap);
}
static int b_pic(const ivcs_layout_s *l, char *buf, size_t cap)
{
    return ivcs_layout_event_key(l, 7, 1767225600000LL, 9, 1, buf, cap);
}
static int b_dir(const ivcs_layout_s *l, char *buf, size_t cap)
{
    return ivcs_layout_dir_prefix(l, 7, IVCS_LAYOUT_EVT, buf, cap);
}
static int b_day(const ivcs_layout_s *l, char *buf, size_t cap)
{
    return ivcs_layout_day_prefix(l, 7, IVCS_LAYOUT_REC, 1767225600000LL, buf, cap);
}

TEST(short_buffers_get_too_long_and_nothing_is_overrun)
{
    build_fn fns[] = {b_plan, b_slice, b_event, b_pic, b_dir, b_day};
    ivcs_layout_s l = mk("some/prefix/", "device-01");
    for (size_t f = 0; f < sizeof fns / sizeof fns[0]; f++) {
        char full[IVCS_LAYOUT_KEY_MAX + 1];
        int len = fns[f](&l, full, sizeof full);
        CHECK(len > 0);
        if (len <= 0) continue;
        for (size_t cap = 0; cap <= (size_t)len + 1; cap++) {
            char area[IVCS_LAYOUT_KEY_MAX + 64];
            memset(area, 0x5a, sizeof area);
            int rc = fns[f](&l, area, cap);
            if (cap <= (size_t)len) {
                CHECK_EQ(rc, IVCS_ERR_TOO_LONG);
                if (cap > 0) CHECK_EQ(area[0], 0);
            } else {
                CHECK_EQ(rc, len);
                CHECK(!strcmp(area, full));
            }
            size_t from = cap == 0 ? 0 : cap;
            for (size_t i = from; i < sizeof area; i++) {
                if (area[i] != 0x5a) {
                    fprintf(stderr, "builder %zu cap %zu wrote byte %zu\n", f, cap, i);
                    CHECK(0);
                    break;
                }
            }
        }
    }
    /* A heap buffer of exactly cap bytes: ASan sees any write past it. */
    char full[IVCS_LAYOUT_KEY_MAX + 1];
    int len = b_slice(&l, full, sizeof full);
    for (size_t cap = 1; cap <= (size_t)len + 1; cap++) {
        char *b = malloc(cap);
        int rc = b_slice(&l, b, cap);
        CHECK(cap == (size_t)len + 1 ? rc == len : rc == IVCS_ERR_TOO_LONG);
        free(b);
    }
}

TEST(longest_keys_fit_the_documented_buffer)
{
    char dev[65], pre[256];
    memset(dev, 'd', 64);
    dev[64] = 0;
    memset(pre, 'p', 255);
    pre[255] = 0;
    ivcs_layout_s l = mk(pre, dev);
    char k[IVCS_LAYOUT_KEY_MAX + 1];
    ivcs_slice_name_s s = {IVCS_LAYOUT_START_MS_MAX, UINT32_MAX, UINT32_MAX, UINT32_MAX, 1};
    int n = ivcs_layout_slice_key(&l, UINT32_MAX, &s, k, sizeof k);
    CHECK(n > 0 && n < 400);
    n = ivcs_layout_event_key(&l, UINT32_MAX, IVCS_LAYOUT_START_MS_MAX, 16, 0, k, sizeof k);
    CHECK(n > 0 && n < 400);
}

/* ---------------------------------------------------------------- parser */

/* Builds the key back from what the parser found: the parser must accept
 * exactly what the builders write, so this gives the input back. */
static int rebuild(const char *key, const ivcs_key_info_s *ki, char *out, size_t cap)
{
    ivcs_layout_s l;
    memcpy(l.root, key, ki->root_len);
    l.root[ki->root_len] = 0;
    l.root_len = ki->root_len;
    if (ki->kind == IVCS_KEY_SLICE)
        return ivcs_layout_slice_key(&l, ki->channel, &ki->slice, out, cap);
    return ivcs_layout_event_key(&l, ki->channel, ki->event_start_ms, ki->event_id,
                                 ki->kind == IVCS_KEY_PICTURE, out, cap);
}

TEST(build_then_parse_round_trips)
{
    const char *prefixes[] = {"", "a/", "x/y/z/", "pre-", "tenant 1/ü/"};
    const char *devices[] = {"cam-0001", "d", "NVR_77", "0123456789"};
    guard_buf g = GUARD_INIT;
    int bad = 0;
    for (int i = 0; i < 20000; i++) {
        const char *pre = prefixes[rnd() % 5];
        const char *dev = devices[rnd() % 4];
        ivcs_layout_s l = mk(pre, dev);
        uint32_t ch = (uint32_t)(rnd() % 4 == 0 ? rnd() : rnd() % 16);
        char k[IVCS_LAYOUT_KEY_MAX + 1];
        ivcs_slice_name_s s = {(int64_t)(rnd() % (uint64_t)(IVCS_LAYOUT_START_MS_MAX + 1)),
                               (uint32_t)(rnd() % 3 ? rnd() % 10000 : rnd()), (uint32_t)rnd(),
                               (uint32_t)(rnd() % 3 ? rnd() % 100 : rnd()), (int)(rnd() & 1)};
        int32_t ev = (int32_t)(1 + rnd() % 16);
        int kind = (int)(rnd() % 3);
        int n = kind == 0 ? ivcs_layout_slice_key(&l, ch, &s, k, sizeof k)
                          : ivcs_layout_event_key(&l, ch, s.start_ms, ev, kind == 2, k, sizeof k);
        if (n <= 0) {
            bad++;
            continue;
        }
        /* exact length, no NUL, against a guard page on either side */
        ivcs_key_info_s ki;
        const char *p =
            (const char *)guard_place(&g, k, (size_t)n, (i & 1) ? GUARD_BEFORE : GUARD_AFTER);
        if (ivcs_layout_parse_key(p, (size_t)n, &ki) != 0) {
            if (bad < 5) fprintf(stderr, "did not parse: %s\n", k);
            bad++;
            continue;
        }
        if (ki.channel != ch || ki.root_len != l.root_len || memcmp(k, l.root, l.root_len) != 0 ||
            ki.day != ivcs_layout_day_of_ms(s.start_ms))
            bad++;
        size_t dl = strlen(dev);
        if (pre[0] == 0 || pre[strlen(pre) - 1] == '/') {
            if (ki.device_len != dl || memcmp(k + ki.device_off, dev, dl) != 0) bad++;
        }
        if (kind == 0) {
            if (ki.kind != IVCS_KEY_SLICE || ki.slice.start_ms != s.start_ms ||
                ki.slice.dur_ms != s.dur_ms || ki.slice.boot != s.boot || ki.slice.seq != s.seq ||
                ki.slice.keyframe != s.keyframe || ki.event_id != 0)
                bad++;
        } else {
            if (ki.kind != (kind == 1 ? IVCS_KEY_EVENT : IVCS_KEY_PICTURE) ||
                ki.event_start_ms != s.start_ms || ki.event_id != ev || ki.slice.start_ms != 0)
                bad++;
        }
    }
    guard_release(&g);
    CHECK_EQ(bad, 0);
}

TEST(parser_refuses_malformed_keys)
{
    const char *good[] = {
        "cam/ch0/rec/2026-01-01/1767225600000_4000_00abcdef_0k.ts",
        "cam/ch0/evt/2026-01-01/1767225600000_3.json",
        "cam/ch0/evt/2026-01-01/1767225600000_16.jpg",
        "p/q/cam/ch10/rec/1970-01-01/0000000000000_0_00000000_0p.ts",
        "x.y/ch0/rec/2026-01-01/1767225600000_4000_00abcdef_0k.ts", /* prefix "x." */
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ivcs_key_info_s ki;
        if (ivcs_layout_parse_key(good[i], strlen(good[i]), &ki) != 0) {
            fprintf(stderr, "refused good key %s\n", good[i]);
            CHECK(0);
        }
    }
    const char *bad[] = {
        "",
        "plan.json",
        "cam/plan.json",
        "ch0/rec/2026-01-01/1767225600000_4000_00abcdef_0k.ts",     /* no device */
        "/ch0/rec/2026-01-01/1767225600000_4000_00abcdef_0k.ts",    /* empty device */
        "a//ch0/rec/2026-01-01/1767225600000_4000_00abcdef_0k.ts",  /* empty device */
        "cam/ch0/rec/2026-01-02/1767225600000_4000_00abcdef_0k.ts", /* date != start */
        "cam/ch0/rec/2025-12-31/1767225600000_4000_00abcdef_0k.ts",
        "cam/ch0/rec/2026-1-01/1767225600000_4000_00abcdef_0k.ts",
        "cam/ch0/rec/2026-02-30/1772236800000_4000_00abcdef_0k.ts",
        "cam/ch0/rec/2026-01-01/176722560000_4000_00abcdef_0k.ts",   /* 12 digits */
        "cam/ch0/rec/2026-01-01/01767225600000_4000_00abcdef_0k.ts", /* 14 digits */
        "cam/ch0/rec/2026-01-01/1767225600000_04000_00abcdef_0k.ts", /* leading zero */
        "cam/ch0/rec/2026-01-01/1767225600000_4000_00ABCDEF_0k.ts",  /* upper hex */
        "cam/ch0/rec/2026-01-01/1767225600000_4000_0abcdef_0k.ts",   /* 7 hex */
        "cam/ch0/rec/2026-01-01/1767225600000_4000_000abcdef_0k.ts", /* 9 hex */
        "cam/ch0/rec/2026-01-01/1767225600000_4000_00abcdef_00k.ts",
        "cam/ch0/rec/2026-01-01/1767225600000_4000_00abcdef_k.ts",
        "cam/ch0/rec/2026-01-01/1767225600000__00abcdef_0k.ts",
        "cam/ch0/rec/2026-01-01/1767225600000_4294967296_00abcdef_0k.ts", /* > u32 */
        "cam/ch0/rec/2026-01-01/1767225600000_4000_00abcdef_4294967296k.ts",
        "cam/ch0/rec/2026-01-01/1767225600000_-4000_00abcdef_0k.ts",
        "cam/ch0/rec/2026-01-01/1767225600000_+4000_00abcdef_0k.ts",
        "cam/ch0/rec/2026-01-01/1767225600000_4000_00abcdef_0x.ts",
        "cam/ch0/rec/2026-01-01/1767225600000_4000_00abcdef_0K.ts",
        "cam/ch0/rec/2026-01-01/1767225600000_4000_00abcdef_0k.tsx",
        "cam/ch0/rec/2026-01-01/1767225600000_4000_00abcdef_0k.ts.ts",
        "cam/ch0/rec/2026-01-01/1767225600000_4000_00abcdef_0kk.ts",
        "cam/ch0/rec/2026-01-01/1767225600000_4000_00abcdef_0k_1.ts",
        "cam/ch0/rec/2026-01-01/x/1767225600000_4000_00abcdef_0k.ts",
        "cam/ch00/rec/2026-01-01/1767225600000_4000_00abcdef_0k.ts",
        "cam/ch/rec/2026-01-01/1767225600000_4000_00abcdef_0k.ts",
        "cam/ch-1/rec/2026-01-01/1767225600000_4000_00abcdef_0k.ts",
        "cam/ch4294967296/rec/2026-01-01/1767225600000_4000_00abcdef_0k.ts",
        "cam/CH0/rec/2026-01-01/1767225600000_4000_00abcdef_0k.ts",
        "cam/ch0/Rec/2026-01-01/1767225600000_4000_00abcdef_0k.ts",
        "cam/ch0/evt/2026-01-01/1767225600000_4000_00abcdef_0k.ts", /* slice in evt/ */
        "cam/ch0/rec/2026-01-01/1767225600000_3.json",              /* event in rec/ */
        "cam/ch0/evt/2026-01-01/1767225600000_0.json",
        "cam/ch0/evt/2026-01-01/1767225600000_17.json",
        "cam/ch0/evt/2026-01-01/1767225600000_03.json",
        "cam/ch0/evt/2026-01-01/1767225600000_3.JSON",
        "cam/ch0/evt/2026-01-01/1767225600000_3.jpeg",
        "cam/ch0/evt/2026-01-01/1767225600000_3.json.json",
        "cam/ch0/evt/2026-01-01/1767225600000.json",
        "cam/ch0/evt/2026-01-01/_3.json",
        "c\tm/ch0/evt/2026-01-01/1767225600000_3.json", /* control byte */
        "c\\m/ch0/evt/2026-01-01/1767225600000_3.json",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ivcs_key_info_s ki;
        memset(&ki, 0x77, sizeof ki);
        int rc = ivcs_layout_parse_key(bad[i], strlen(bad[i]), &ki);
        if (rc != IVCS_ERR_INVALID_ARG) {
            fprintf(stderr, "accepted bad key %s (rc %d)\n", bad[i], rc);
            CHECK(0);
        }
        CHECK_EQ(ki.kind, 0); /* zeroed on error */
        CHECK_EQ(ki.root_len, 0);
    }
    /* a NUL inside the length */
    const char nul[] = "cam/ch0/evt/2026-01-01/1767225600000_3.json";
    char tmp[sizeof nul];
    memcpy(tmp, nul, sizeof nul);
    tmp[1] = 0;
    ivcs_key_info_s ki;
    CHECK_EQ(ivcs_layout_parse_key(tmp, sizeof nul - 1, &ki), IVCS_ERR_INVALID_ARG);
    /* a prefix of a good key is not a key */
    for (size_t n = 0; n < sizeof nul - 1; n++)
        CHECK_EQ(ivcs_layout_parse_key(nul, n, &ki), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_layout_parse_key(nul, sizeof nul - 1, NULL), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_layout_parse_key(NULL, 5, &ki), IVCS_ERR_INVALID_ARG);
    static char huge[IVCS_LAYOUT_KEY_MAX + 2];
    memset(huge, 'a', sizeof huge);
    CHECK_EQ(ivcs_layout_parse_key(huge, sizeof huge, &ki), IVCS_ERR_TOO_LONG);
}

TEST(every_single_byte_mutation_is_refused_or_canonical)
{
    /* Whatever the parser accepts must be exactly what the builders would
     * write for the parsed fields: no second spelling of a key exists. */
    const char *keys[] = {
        "pre/cam-1/ch12/rec/2024-02-29/1709164800000_4000_0badf00d_1234k.ts",
        "pre/cam-1/ch3/evt/2024-02-29/1709164800000_12.json",
    };
    int bad = 0, accepted = 0;
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(keys[i]);
        char k[128], back[IVCS_LAYOUT_KEY_MAX + 1];
        for (size_t pos = 0; pos < n; pos++) {
            for (int c = 0; c < 256; c++) {
                memcpy(k, keys[i], n);
                k[pos] = (char)c;
                ivcs_key_info_s ki;
                if (ivcs_layout_parse_key(k, n, &ki) != 0) continue;
                accepted++;
                int m = rebuild(k, &ki, back, sizeof back);
                if (m != (int)n || memcmp(back, k, n) != 0) {
                    if (bad < 5) fprintf(stderr, "non-canonical: %.*s\n", (int)n, k);
                    bad++;
                }
            }
        }
    }
    CHECK_EQ(bad, 0);
    CHECK(accepted > 200); /* digits and prefix bytes do vary legally */
}

/* ---------------------------------------------------------------- boot id */

TEST(boot_ids_are_random)
{
    enum { N = 2000 };
    static uint32_t ids[N];
    int dup = 0;
    uint32_t or_all = 0, and_all = 0xffffffffu;
    for (int i = 0; i < N; i++) {
        ids[i] = ivcs_layout_boot_id();
        or_all |= ids[i];
        and_all &= ids[i];
        for (int j = 0; j < i; j++)
            dup += ids[j] == ids[i];
    }
    CHECK(dup <= 1);               /* birthday bound: P(any dup among 2000) ~ 0.05% */
    CHECK_EQ(or_all, 0xffffffffu); /* every bit seen set ... */
    CHECK_EQ(and_all, 0);          /* ... and clear */
}

int main(void)
{
    RUN(days_from_civil_known_values);
    RUN(every_day_of_years_0_to_9999_round_trips_and_is_consecutive);
    RUN(leap_years_follow_the_gregorian_rule);
    RUN(format_date_edges);
    RUN(format_date_agrees_with_libc_gmtime);
    RUN(format_iso8601);
    RUN(parse_date_is_strict);
    RUN(init_validates_prefix_and_device);
    RUN(keys_have_the_contract_format);
    RUN(builders_refuse_out_of_range_fields);
    RUN(short_buffers_get_too_long_and_nothing_is_overrun);
    RUN(longest_keys_fit_the_documented_buffer);
    RUN(build_then_parse_round_trips);
    RUN(parser_refuses_malformed_keys);
    RUN(every_single_byte_mutation_is_refused_or_canonical);
    RUN(boot_ids_are_random);
    return check_done();
}
