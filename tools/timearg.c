/* timearg.c - time arguments of the viewer commands (see timearg.h). */
#include "tools/timearg.h"

#include <string.h>
#include <time.h>

#include "engine/layout/layout.h"
#include "ivcs.h"

const char *ivcs_timearg_help(void)
{
    return "UTC ISO-8601 (2026-11-25T10:00:00Z, .sss and +HH:MM allowed; 2026-11-25 = "
           "its 00:00Z), epoch seconds, epoch ms (12+ digits) or 'now'";
}

static int digits(const char *s, size_t n, int64_t *out)
{
    int64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

static int parse_epoch(const char *s, size_t len, int64_t *ms)
{
    const char *dot = memchr(s, '.', len);
    size_t ilen = dot ? (size_t)(dot - s) : len;
    if (ilen == 0 || ilen > 15) return IVCS_ERR_INVALID_ARG;
    int64_t v;
    if (digits(s, ilen, &v)) return IVCS_ERR_INVALID_ARG;
    if (ilen >= 12) { /* milliseconds: no fraction */
        if (dot) return IVCS_ERR_INVALID_ARG;
    } else {
        int64_t frac = 0;
        if (dot) {
            size_t flen = len - ilen - 1;
            if (flen < 1 || flen > 3 || digits(dot + 1, flen, &frac)) return IVCS_ERR_INVALID_ARG;
            for (size_t i = flen; i < 3; i++)
                frac *= 10;
        }
        v = v * 1000 + frac;
    }
    if (v > IVCS_LAYOUT_MS_MAX) return IVCS_ERR_INVALID_ARG;
    *ms = v;
    return 0;
}

int ivcs_timearg_parse_day(const char *s, int64_t *ms)
{
    int64_t days;
    if (!s || !ms || ivcs_layout_parse_date(s, strlen(s), &days) < 0 || days < 0)
        return IVCS_ERR_INVALID_ARG;
    *ms = days * 86400000LL;
    return 0;
}

int ivcs_timearg_parse(const char *s, int64_t *ms)
{
    if (!s || !ms) return IVCS_ERR_INVALID_ARG;
    size_t len = strlen(s);
    if (!strcmp(s, "now")) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        *ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        return 0;
    }
    if (len == 0) return IVCS_ERR_INVALID_ARG;
    if (len < 10 || s[4] != '-') return parse_epoch(s, len, ms);

    int64_t days;
    if (ivcs_layout_parse_date(s, 10, &days) < 0) return IVCS_ERR_INVALID_ARG;
    int64_t t = days * 86400000LL;
    if (len == 10) goto done;
    /* "THH:MM" */
    const char *p = s + 10, *end = s + len;
    if ((*p != 'T' && *p != 't' && *p != ' ') || end - p < 6 || p[3] != ':')
        return IVCS_ERR_INVALID_ARG;
    int64_t hh, mm, ss = 0, frac = 0;
    if (digits(p + 1, 2, &hh) || digits(p + 4, 2, &mm) || hh > 23 || mm > 59)
        return IVCS_ERR_INVALID_ARG;
    p += 6;
    if (p < end && *p == ':') {
        if (end - p < 3 || digits(p + 1, 2, &ss) || ss > 59) return IVCS_ERR_INVALID_ARG;
        p += 3;
        if (p < end && (*p == '.' || *p == ',')) {
            p++;
            size_t n = 0;
            while (p + n < end && p[n] >= '0' && p[n] <= '9')
                n++;
            if (n < 1 || n > 9) return IVCS_ERR_INVALID_ARG;
            int64_t f = 0;
            (void)digits(p, n < 3 ? n : 3, &f);
            for (size_t i = n; i < 3; i++)
                f *= 10;
            frac = f;
            p += n;
        }
    }
    /* zone: required */
    int64_t off = 0;
    if (p == end) return IVCS_ERR_INVALID_ARG;
    if ((*p == 'Z' || *p == 'z') && p + 1 == end) {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        int64_t oh, om;
        size_t n = (size_t)(end - p);
        if (n == 6 && p[3] == ':') {
            if (digits(p + 1, 2, &oh) || digits(p + 4, 2, &om)) return IVCS_ERR_INVALID_ARG;
        } else if (n == 5) {
            if (digits(p + 1, 2, &oh) || digits(p + 3, 2, &om)) return IVCS_ERR_INVALID_ARG;
        } else {
            return IVCS_ERR_INVALID_ARG;
        }
        if (oh > 23 || om > 59) return IVCS_ERR_INVALID_ARG;
        off = sign * (oh * 3600000 + om * 60000);
    } else {
        return IVCS_ERR_INVALID_ARG;
    }
    t += hh * 3600000 + mm * 60000 + ss * 1000 + frac - off;
done:
    if (t < 0 || t > IVCS_LAYOUT_MS_MAX) return IVCS_ERR_INVALID_ARG;
    *ms = t;
    return 0;
}
