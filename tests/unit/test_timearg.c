/* test_timearg.c - the time arguments of the viewer commands (tools/timearg.h). */
#include "tools/timearg.c" /* the CLI's own file: the CLI is not a library */

#include "check.h"

#define T_2026_11_25 1795564800000LL /* 2026-11-25T00:00:00Z */

static int64_t ok_ms(const char *s)
{
    int64_t ms = -12345;
    int rc = ivcs_timearg_parse(s, &ms);
    if (rc != 0) {
        fprintf(stderr, "  '%s' refused\n", s);
        return -1;
    }
    return ms;
}

static int refused(const char *s)
{
    int64_t ms = -777;
    int rc = ivcs_timearg_parse(s, &ms);
    return rc == IVCS_ERR_INVALID_ARG && ms == -777;
}

TEST(iso8601_forms)
{
    int64_t t = T_2026_11_25 + 10 * 3600000LL;
    CHECK_EQ(ok_ms("2026-11-25T10:00:00Z"), t);
    CHECK_EQ(ok_ms("2026-11-25t10:00:00z"), t);
    CHECK_EQ(ok_ms("2026-11-25 10:00:00Z"), t);
    CHECK_EQ(ok_ms("2026-11-25T10:00Z"), t);
    CHECK_EQ(ok_ms("2026-11-25T10:00:00+00:00"), t);
    CHECK_EQ(ok_ms("2026-11-25T10:00:00-00:00"), t);
    CHECK_EQ(ok_ms("2026-11-25T10:00:00.250Z"), t + 250);
    CHECK_EQ(ok_ms("2026-11-25T10:00:00.2Z"), t + 200);
    CHECK_EQ(ok_ms("2026-11-25T10:00:00,25Z"), t + 250);
    CHECK_EQ(ok_ms("2026-11-25T10:00:00.999999999Z"), t + 999); /* cut, not rounded */
    CHECK_EQ(ok_ms("2026-11-25T11:30:00+01:30"), t);
    CHECK_EQ(ok_ms("2026-11-25T11:30:00+0130"), t);
    CHECK_EQ(ok_ms("2026-11-25T05:00:00-05:00"), t);
    CHECK_EQ(ok_ms("2026-11-25T23:59:59.999Z"), T_2026_11_25 + 86399999);
    /* an offset that crosses the date line */
    CHECK_EQ(ok_ms("2026-11-26T01:00:00+02:00"), T_2026_11_25 + 23 * 3600000LL);
    CHECK_EQ(ok_ms("2026-11-25"), T_2026_11_25);
    CHECK_EQ(ok_ms("1970-01-01T00:00:00Z"), 0);
    CHECK_EQ(ok_ms("2024-02-29T12:00:00Z"), 1709208000000LL); /* leap day */
    CHECK_EQ(ok_ms("9999-12-31T23:59:59.999Z"), IVCS_LAYOUT_MS_MAX);
}

TEST(epoch_forms)
{
    CHECK_EQ(ok_ms("1795600000"), 1795600000000LL);
    CHECK_EQ(ok_ms("1795600000.5"), 1795600000500LL);
    CHECK_EQ(ok_ms("1795600000.123"), 1795600000123LL);
    CHECK_EQ(ok_ms("0"), 0);
    CHECK_EQ(ok_ms("99999999999"), 99999999999000LL); /* 11 digits: seconds */
    CHECK_EQ(ok_ms("100000000000"), 100000000000LL);  /* 12 digits: ms */
    CHECK_EQ(ok_ms("1795600000000"), 1795600000000LL);
    /* the same instant in every notation */
    CHECK_EQ(ok_ms("1795600000"), ok_ms("2026-11-25T09:46:40Z"));
}

TEST(now_is_the_clock)
{
    int64_t a = ok_ms("now");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t b = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    CHECK(a > 1700000000000LL && a <= b && b - a < 5000);
}

TEST(refusals)
{
    static const char *const bad[] = {
        "",
        " 2026-11-25T10:00:00Z",
        "2026-11-25T10:00:00Z ",
        "2026-11-25T10:00:00",
        "2026-11-25T10:00",
        "2026-11-25T24:00:00Z",
        "2026-11-25T10:60:00Z",
        "2026-11-25T10:00:60Z",
        "2026-02-30",
        "2026-13-01",
        "2026-11-5",
        "26-11-25",
        "2026-11-25T10:00:00.Z",
        "2026-11-25T10:00:00.1234567890Z",
        "2026-11-25T10:00:00+1:00",
        "2026-11-25T10:00:00+01",
        "2026-11-25T10:00:00+24:00",
        "2026-11-25T10:00:00ZZ",
        "2026-11-25X10:00:00Z",
        "yesterday",
        "-1",
        "+5",
        "1e9",
        "1795600000.",
        "1795600000.1234",
        "1795600000000.5",
        "0x10",
        "1234567890123456",
        "10000-01-01",
        "1969-12-31T23:59:59Z",
        "1970-01-01T00:30:00+01:00",
        "NOW",
        "now ",
        "12a",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (!refused(bad[i])) fprintf(stderr, "  '%s' accepted\n", bad[i]);
        CHECK(refused(bad[i]));
    }
    int64_t ms;
    CHECK_EQ(ivcs_timearg_parse(NULL, &ms), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_timearg_parse("0", NULL), IVCS_ERR_INVALID_ARG);
}

TEST(day_only)
{
    int64_t ms = -1;
    CHECK_EQ(ivcs_timearg_parse_day("2026-11-25", &ms), 0);
    CHECK_EQ(ms, T_2026_11_25);
    CHECK_EQ(ivcs_timearg_parse_day("2026-11-25T00:00:00Z", &ms), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_timearg_parse_day("1795600000", &ms), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_timearg_parse_day("2025-02-29", &ms), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_timearg_parse_day("1969-12-31", &ms), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ms, T_2026_11_25);
    CHECK(strstr(ivcs_timearg_help(), "ISO-8601") != NULL);
}

int main(void)
{
    RUN(iso8601_forms);
    RUN(epoch_forms);
    RUN(now_is_the_clock);
    RUN(refusals);
    RUN(day_only);
    return check_done();
}
