/*
 * layout_modes.h - the checks of the cloud-contract parsers shared by the
 * harnesses fuzz_plan.c (all of them, one input byte picks which),
 * fuzz_key.c, fuzz_event_record.c and fuzz_event_time.c (one each, so each
 * parser has its own corpus and its own line in the coverage table).
 * Static inline so that a harness using some of them compiles warning-free.
 * Each check abort()s on a broken invariant; the invariants are documented
 * next to each check.
 */
#ifndef IVCS_FUZZ_LAYOUT_MODES_H
#define IVCS_FUZZ_LAYOUT_MODES_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/layout/event_record.h"
#include "engine/layout/event_time.h"
#include "engine/layout/layout.h"
#include "engine/layout/plan.h"
#include "engine/record/balance.h"
#include "iv_cs.h"

static inline void plan_mode(const char *d, size_t n)
{
    ivcs_plan_s p, q;
    int64_t now = 1760000000;
    int rc = ivcs_plan_parse(&p, d, n, now);
    if (rc != 0) {
        if (rc != IVCS_ERR_CONFIG && rc != IV_ERR_SYS_MALLOC_FAIL) abort();
        return;
    }
    char buf[IVCS_PLAN_JSON_MAX + 1];
    int w = ivcs_plan_write(&p, buf, sizeof buf);
    if (w <= 0 || (size_t)w >= sizeof buf || buf[w] != 0) abort();
    if (ivcs_plan_parse(&q, buf, (size_t)w, now) != 0) abort();
    if (p.cs_switch != q.cs_switch || p.cs_type != q.cs_type || p.cs_days != q.cs_days ||
        p.expire_utc != q.expire_utc || p.free_trial_remaining_sec != q.free_trial_remaining_sec ||
        p.received_utc != q.received_utc)
        abort();
    const int64_t times[] = {0, now - 1, now, now + 1, now + 86400, 253402300799LL};
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        int64_t t = times[i];
        int ft = ivcs_plan_full_time_active(&p, t), ev = ivcs_plan_events_allowed(&p, t);
        if (ft && !ev) abort(); /* full time always allows events */
        if (ev && (!p.cs_switch || p.cs_type == IVCS_PLAN_NONE)) abort();
        if (ev && p.expire_utc && t >= p.expire_utc) abort();
        iv_cs_balance_info_s b;
        ivcs_plan_balance(&p, t, &b);
        if (b.cs_switch != ev || (int)b.cs_type != (int)p.cs_type || b.cs_days != p.cs_days)
            abort();
        if (b.free_trial_remaining_sec < 0 ||
            b.free_trial_remaining_sec > p.free_trial_remaining_sec)
            abort();
    }
}

static inline void key_mode(const char *d, size_t n)
{
    ivcs_key_info_s ki;
    int rc = ivcs_layout_parse_key(d, n, &ki);
    if (rc != 0) {
        if (n > IVCS_LAYOUT_KEY_MAX ? rc != IVCS_ERR_TOO_LONG : rc != IVCS_ERR_INVALID_ARG) abort();
        return;
    }
    if (ki.root_len < 2 || ki.root_len >= n || d[ki.root_len - 1] != '/' || ki.device_len == 0 ||
        ki.device_off + ki.device_len + 1 != ki.root_len)
        abort();
    /* the root may be longer than a layout's when the key came from
     * elsewhere; rebuild it by hand with the same builders when it fits */
    if (ki.root_len > IVCS_LAYOUT_ROOT_MAX) return;
    ivcs_layout_s l;
    memcpy(l.root, d, ki.root_len);
    l.root[ki.root_len] = 0;
    l.root_len = ki.root_len;
    char back[IVCS_LAYOUT_KEY_MAX + 1];
    int m = ki.kind == IVCS_KEY_SLICE
                ? ivcs_layout_slice_key(&l, ki.channel, &ki.slice, back, sizeof back)
                : ivcs_layout_event_key(&l, ki.channel, ki.event_start_ms, ki.event_id,
                                        ki.kind == IVCS_KEY_PICTURE, back, sizeof back);
    if (m != (int)n || memcmp(back, d, n) != 0) abort();
}

static inline int rec_eq(const ivcs_event_record_s *a, const ivcs_event_record_s *b)
{
    return a->event_id == b->event_id && a->channel == b->channel && !strcmp(a->info, b->info) &&
           a->event_start_ms == b->event_start_ms && a->event_stop_ms == b->event_stop_ms &&
           a->stream_start_ms == b->stream_start_ms && a->stream_stop_ms == b->stream_stop_ms &&
           (a->picture == NULL) == (b->picture == NULL) &&
           (!a->picture || !strcmp(a->picture, b->picture));
}

__attribute__((unused)) static char json_buf[IVCS_EVENT_RECORD_JSON_MAX];
__attribute__((unused)) static char sb1[IVCS_EVENT_RECORD_STRBUF], sb2[IVCS_EVENT_RECORD_STRBUF];

/* write r, parse it back into *back; the writer's output always parses */
static inline void write_parse(const ivcs_event_record_s *r, ivcs_event_record_s *back, char *sb)
{
    int n = ivcs_event_record_write(r, json_buf, sizeof json_buf);
    if (n <= 0 || n != ivcs_event_record_size(r) || json_buf[n] != 0) abort();
    if (ivcs_event_record_parse(json_buf, (size_t)n, back, sb, IVCS_EVENT_RECORD_STRBUF) != 0)
        abort();
}

static inline void record_mode(const char *d, size_t n)
{
    ivcs_event_record_s r, back;
    int rc = ivcs_event_record_parse(d, n, &r, sb1, sizeof sb1);
    if (rc != 0) {
        if (rc != IVCS_ERR_INVALID_ARG && rc != IVCS_ERR_TOO_LONG && rc != IV_ERR_SYS_MALLOC_FAIL)
            abort();
        if (r.info || r.event_id) abort(); /* zeroed */
        return;
    }
    write_parse(&r, &back, sb2);
    if (!rec_eq(&r, &back)) abort();
}

/* RFC 3629: the length of the valid sequence at s[0..n), 0 if invalid.
 * Written independently of the writer's check. */
static inline size_t seq_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0], need, cp;
    if (c < 0x80) return 1;
    if ((c & 0xe0) == 0xc0)
        need = 1, cp = c & 0x1f;
    else if ((c & 0xf0) == 0xe0)
        need = 2, cp = c & 0x0f;
    else if ((c & 0xf8) == 0xf0)
        need = 3, cp = c & 0x07;
    else
        return 0;
    if (n <= need) return 0; /* truncated */
    for (unsigned k = 1; k <= need; k++) {
        if ((s[k] & 0xc0) != 0x80) return 0;
        cp = cp << 6 | (s[k] & 0x3f);
    }
    static const unsigned min[4] = {0, 0x80, 0x800, 0x10000};
    if (cp < min[need] || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) return 0;
    return need + 1;
}

/* Bytes a reader decodes from s[0..n) once written (U+FFFD is 3 bytes);
 * *valid = 0 if any byte was invalid. */
static inline size_t decoded_len(const char *str, size_t n, int *valid)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, out = 0;
    *valid = 1;
    while (i < n) {
        size_t l = seq_len(s + i, n - i);
        if (l == 0) {
            *valid = 0;
            out += 3;
            i++;
        } else {
            out += l;
            i += l;
        }
    }
    return out;
}

static inline void writer_mode(const char *d, size_t n)
{
    static char info[IVCS_EVENT_INFO_MAX + 1], pic[IVCS_EVENT_PICTURE_MAX + 1];
    size_t half = n / 2;
    size_t in = strnlen(d, half), pn = strnlen(d + half, n - half);
    if (in > IVCS_EVENT_INFO_MAX) in = IVCS_EVENT_INFO_MAX;
    if (pn > IVCS_EVENT_PICTURE_MAX) pn = IVCS_EVENT_PICTURE_MAX;
    memcpy(info, d, in);
    info[in] = 0;
    memcpy(pic, d + half, pn);
    pic[pn] = 0;
    ivcs_event_record_s r = {(int32_t)(1 + n % 16),
                             (uint32_t)n,
                             info,
                             1767225600000LL,
                             (n & 1) ? 1767225601000LL : IVCS_EVENT_TIME_NONE,
                             1767225590000LL,
                             IVCS_EVENT_TIME_NONE,
                             (n & 2) ? pic : NULL};
    ivcs_event_record_s back, again;
    int info_valid, pic_valid;
    size_t info_dec = decoded_len(info, in, &info_valid);
    size_t pic_dec = decoded_len(pic, pn, &pic_valid);
    if (info_dec > IVCS_EVENT_INFO_MAX || (r.picture && pic_dec > IVCS_EVENT_PICTURE_MAX)) {
        /* longer than a reader may accept once decoded: refused up front */
        if (ivcs_event_record_write(&r, json_buf, sizeof json_buf) != IVCS_ERR_TOO_LONG) abort();
        if (ivcs_event_record_size(&r) != IVCS_ERR_TOO_LONG) abort();
        return;
    }
    write_parse(&r, &back, sb1);
    /* valid UTF-8 (control bytes included: they are \u escapes) comes back
     * byte for byte; anything else comes back sanitised, and that is stable */
    if (info_valid && strcmp(back.info, info) != 0) abort();
    if (r.picture && pic_valid && strcmp(back.picture, pic) != 0) abort();
    if (strlen(back.info) != info_dec) abort();
    write_parse(&back, &again, sb2);
    if (!rec_eq(&back, &again)) abort();
    if (back.event_id != r.event_id || back.event_stop_ms != r.event_stop_ms) abort();
}

static inline uint64_t le(const uint8_t *d, size_t n, size_t off, size_t w)
{
    uint64_t v = 0;
    for (size_t i = 0; i < w; i++)
        v |= (uint64_t)(off + i < n ? d[off + i] : 0) << (8 * i);
    return v;
}

static inline void time_mode(const uint8_t *d, size_t n)
{
    int64_t ms = (int64_t)(le(d, n, 0, 8) >> 1);
    if (ms <= IVCS_LAYOUT_MS_MAX) {
        char s[IVCS_LAYOUT_DATE_LEN + 1], iso[IVCS_LAYOUT_ISO_LEN + 1];
        if (ivcs_layout_format_date(ms, s) != 10) abort();
        if (ivcs_layout_format_iso8601(ms, iso) != 24 || memcmp(s, iso, 10) != 0) abort();
        int64_t day;
        if (ivcs_layout_parse_date(s, 10, &day) != 0 || day != ivcs_layout_day_of_ms(ms)) abort();
    } else if (ivcs_layout_format_date(ms, (char[11]){0}) != IVCS_ERR_INVALID_ARG) {
        abort();
    }
    uint32_t a = (uint32_t)le(d, n, 8, 4), b = (uint32_t)le(d, n, 12, 4);
    int64_t now = (int64_t)(le(d, n, 16, 8) % (uint64_t)(IVCS_LAYOUT_MS_MAX + 1));
    int64_t x = -7, y = -7;
    int rc = ivcs_event_time_start(a, b, now, &x, &y);
    if (rc == 0) {
        if (x < 0 || y < 0 || x > now || y > now || y > x) abort();
        if (ivcs_event_time_is_relative(a) != ivcs_event_time_is_relative(b)) abort();
    } else {
        if (x != -7 || y != -7) abort(); /* nothing output on error */
        if ((ivcs_event_time_is_relative(a) != ivcs_event_time_is_relative(b)) !=
            (rc == IVCS_ERR_EVENT_TIME_MIX))
            abort();
    }
    rc = ivcs_event_time_stop(a, b, now, &x, &y);
    if (rc == 0 && (x < 0 || y < x || y > now)) abort();
}

#endif
