/* layout.c - object keys of the cloud contract, their parser, UTC dates. */
#include "engine/layout/layout.h"

#include "engine/core/civil.h"

#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define MS_PER_DAY 86400000LL

/* ---------------------------------------------------------------- dates */

int64_t ivcs_layout_days_from_civil(int32_t y, uint32_t m, uint32_t d)
{
    return ivcs_days_from_civil(y, m, d);
}

void ivcs_layout_civil_from_days(int64_t days, int32_t *y, uint32_t *m, uint32_t *d)
{
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;                                      /* [0, 146096] */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    int64_t mp = (5 * doy + 2) / 153;                                    /* [0, 11] */
    uint32_t dd = (uint32_t)(doy - (153 * mp + 2) / 5 + 1);
    uint32_t mm = (uint32_t)(mp < 10 ? mp + 3 : mp - 9);
    if (y) *y = (int32_t)(yoe + era * 400 + (mm <= 2));
    if (m) *m = mm;
    if (d) *d = dd;
}

static int is_leap(int32_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

uint32_t ivcs_layout_days_in_month(int32_t y, uint32_t m)
{
    static const uint8_t dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12) return 0;
    return dim[m - 1] + (m == 2 && is_leap(y));
}

int64_t ivcs_layout_day_of_ms(int64_t ms)
{
    int64_t q = ms / MS_PER_DAY;
    return (ms % MS_PER_DAY < 0) ? q - 1 : q;
}

static void put_digits(char *out, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

static void write_date(int64_t day, char *out)
{
    int32_t y;
    uint32_t m, d;
    ivcs_layout_civil_from_days(day, &y, &m, &d);
    put_digits(out, (uint64_t)y, 4);
    out[4] = '-';
    put_digits(out + 5, m, 2);
    out[7] = '-';
    put_digits(out + 8, d, 2);
}

int ivcs_layout_format_date(int64_t ms, char out[IVCS_LAYOUT_DATE_LEN + 1])
{
    if (!out || ms < 0 || ms > IVCS_LAYOUT_MS_MAX) return IVCS_ERR_INVALID_ARG;
    write_date(ivcs_layout_day_of_ms(ms), out);
    out[IVCS_LAYOUT_DATE_LEN] = '\0';
    return IVCS_LAYOUT_DATE_LEN;
}

int ivcs_layout_format_iso8601(int64_t ms, char out[IVCS_LAYOUT_ISO_LEN + 1])
{
    if (!out || ms < 0 || ms > IVCS_LAYOUT_MS_MAX) return IVCS_ERR_INVALID_ARG;
    int64_t day = ivcs_layout_day_of_ms(ms);
    int64_t in_day = ms - day * MS_PER_DAY;
    write_date(day, out);
    out[10] = 'T';
    put_digits(out + 11, (uint64_t)(in_day / 3600000), 2);
    out[13] = ':';
    put_digits(out + 14, (uint64_t)(in_day / 60000 % 60), 2);
    out[16] = ':';
    put_digits(out + 17, (uint64_t)(in_day / 1000 % 60), 2);
    out[19] = '.';
    put_digits(out + 20, (uint64_t)(in_day % 1000), 3);
    out[23] = 'Z';
    out[24] = '\0';
    return IVCS_LAYOUT_ISO_LEN;
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Exactly n digits at s. */
static int fixed_digits(const char *s, int n, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit(s[i])) return -1;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    *out = v;
    return 0;
}

int ivcs_layout_parse_date(const char *s, size_t len, int64_t *days)
{
    uint32_t y, m, d;
    if (!s || !days || len != IVCS_LAYOUT_DATE_LEN || s[4] != '-' || s[7] != '-' ||
        fixed_digits(s, 4, &y) || fixed_digits(s + 5, 2, &m) || fixed_digits(s + 8, 2, &d))
        return IVCS_ERR_INVALID_ARG;
    if (d < 1 || d > ivcs_layout_days_in_month((int32_t)y, m)) return IVCS_ERR_INVALID_ARG;
    *days = ivcs_layout_days_from_civil((int32_t)y, m, d);
    return 0;
}

/* ---------------------------------------------------------------- builders */

/* A bounded writer: on overflow it stops writing and remembers, so builders
 * are straight-line code with one check at the end. */
typedef struct {
    char *buf;
    size_t cap;
    size_t len;
    int over;
} kbuf;

static void kb_put(kbuf *b, const char *s, size_t n)
{
    if (b->over) return;
    /* one byte is always kept for the NUL */
    if (n >= b->cap - b->len) {
        b->over = 1;
        return;
    }
    memcpy(b->buf + b->len, s, n);
    b->len += n;
}

static void kb_str(kbuf *b, const char *s)
{
    kb_put(b, s, strlen(s));
}

static void kb_u64(kbuf *b, uint64_t v, int width)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[sizeof tmp - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n < width)
        tmp[sizeof tmp - 1 - n++] = '0';
    kb_put(b, tmp + sizeof tmp - n, (size_t)n);
}

static void kb_hex8(kbuf *b, uint32_t v)
{
    static const char hex[] = "0123456789abcdef";
    char tmp[8];
    for (int i = 7; i >= 0; i--) {
        tmp[i] = hex[v & 15];
        v >>= 4;
    }
    kb_put(b, tmp, 8);
}

static int kb_begin(kbuf *b, char *buf, size_t cap)
{
    b->buf = buf;
    b->cap = cap;
    b->len = 0;
    b->over = 0;
    if (!buf) return IVCS_ERR_INVALID_ARG;
    if (cap == 0) return IVCS_ERR_TOO_LONG;
    buf[0] = '\0';
    return 0;
}

static int kb_end(kbuf *b)
{
    if (b->over) {
        b->buf[0] = '\0';
        return IVCS_ERR_TOO_LONG;
    }
    b->buf[b->len] = '\0';
    return (int)b->len;
}

static int layout_ok(const ivcs_layout_s *l)
{
    return l && l->root_len > 0 && l->root_len <= IVCS_LAYOUT_ROOT_MAX &&
           l->root[l->root_len] == '\0';
}

static int device_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '_' || c == '-';
}

int ivcs_layout_init(ivcs_layout_s *l, const char *prefix, const char *device_id)
{
    if (!l) return IVCS_ERR_INVALID_ARG;
    l->root_len = 0;
    l->root[0] = '\0';
    if (!device_id) return IVCS_ERR_INVALID_ARG;
    if (!prefix) prefix = "";
    size_t pn = strnlen(prefix, IVCS_LAYOUT_PREFIX_MAX + 1);
    size_t dn = strnlen(device_id, IVCS_LAYOUT_DEVICE_MAX + 1);
    if (pn > IVCS_LAYOUT_PREFIX_MAX || dn > IVCS_LAYOUT_DEVICE_MAX) return IVCS_ERR_TOO_LONG;
    if (dn == 0 || (pn > 0 && prefix[0] == '/')) return IVCS_ERR_INVALID_ARG;
    for (size_t i = 0; i < pn; i++) {
        unsigned char c = (unsigned char)prefix[i];
        if (c < 0x20 || c == 0x7f || c == '\\') return IVCS_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < dn; i++)
        if (!device_char(device_id[i])) return IVCS_ERR_INVALID_ARG;
    memcpy(l->root, prefix, pn);
    memcpy(l->root + pn, device_id, dn);
    l->root[pn + dn] = '/';
    l->root[pn + dn + 1] = '\0';
    l->root_len = pn + dn + 1;
    return 0;
}

int ivcs_layout_plan_key(const ivcs_layout_s *l, char *buf, size_t cap)
{
    kbuf b;
    int rc = kb_begin(&b, buf, cap);
    if (rc) return rc;
    if (!layout_ok(l)) return IVCS_ERR_INVALID_ARG;
    kb_put(&b, l->root, l->root_len);
    kb_str(&b, "plan.json");
    return kb_end(&b);
}

/* "{root}ch{N}/{rec|evt}/" */
static void put_dir(kbuf *b, const ivcs_layout_s *l, uint32_t ch, ivcs_layout_dir_e dir)
{
    kb_put(b, l->root, l->root_len);
    kb_str(b, "ch");
    kb_u64(b, ch, 1);
    kb_str(b, dir == IVCS_LAYOUT_REC ? "/rec/" : "/evt/");
}

static void put_day(kbuf *b, int64_t ms)
{
    char date[IVCS_LAYOUT_DATE_LEN];
    write_date(ivcs_layout_day_of_ms(ms), date);
    kb_put(b, date, sizeof date);
    kb_put(b, "/", 1);
}

int ivcs_layout_dir_prefix(const ivcs_layout_s *l, uint32_t ch, ivcs_layout_dir_e dir, char *buf,
                           size_t cap)
{
    kbuf b;
    int rc = kb_begin(&b, buf, cap);
    if (rc) return rc;
    if (!layout_ok(l) || (dir != IVCS_LAYOUT_REC && dir != IVCS_LAYOUT_EVT))
        return IVCS_ERR_INVALID_ARG;
    put_dir(&b, l, ch, dir);
    return kb_end(&b);
}

int ivcs_layout_day_prefix(const ivcs_layout_s *l, uint32_t ch, ivcs_layout_dir_e dir, int64_t ms,
                           char *buf, size_t cap)
{
    kbuf b;
    int rc = kb_begin(&b, buf, cap);
    if (rc) return rc;
    if (!layout_ok(l) || (dir != IVCS_LAYOUT_REC && dir != IVCS_LAYOUT_EVT) || ms < 0 ||
        ms > IVCS_LAYOUT_START_MS_MAX)
        return IVCS_ERR_INVALID_ARG;
    put_dir(&b, l, ch, dir);
    put_day(&b, ms);
    return kb_end(&b);
}

int ivcs_layout_slice_key(const ivcs_layout_s *l, uint32_t ch, const ivcs_slice_name_s *s,
                          char *buf, size_t cap)
{
    kbuf b;
    int rc = kb_begin(&b, buf, cap);
    if (rc) return rc;
    if (!layout_ok(l) || !s || s->start_ms < 0 || s->start_ms > IVCS_LAYOUT_START_MS_MAX)
        return IVCS_ERR_INVALID_ARG;
    put_dir(&b, l, ch, IVCS_LAYOUT_REC);
    put_day(&b, s->start_ms);
    kb_u64(&b, (uint64_t)s->start_ms, 13);
    kb_put(&b, "_", 1);
    kb_u64(&b, s->dur_ms, 1);
    kb_put(&b, "_", 1);
    kb_hex8(&b, s->boot);
    kb_put(&b, "_", 1);
    kb_u64(&b, s->seq, 1);
    kb_str(&b, s->keyframe ? "k.ts" : "p.ts");
    return kb_end(&b);
}

int ivcs_layout_event_key(const ivcs_layout_s *l, uint32_t ch, int64_t start_ms, int32_t event_id,
                          int picture, char *buf, size_t cap)
{
    kbuf b;
    int rc = kb_begin(&b, buf, cap);
    if (rc) return rc;
    if (!layout_ok(l) || start_ms < 0 || start_ms > IVCS_LAYOUT_START_MS_MAX ||
        event_id < IVCS_LAYOUT_EVENT_ID_MIN || event_id > IVCS_LAYOUT_EVENT_ID_MAX)
        return IVCS_ERR_INVALID_ARG;
    put_dir(&b, l, ch, IVCS_LAYOUT_EVT);
    put_day(&b, start_ms);
    kb_u64(&b, (uint64_t)start_ms, 13);
    kb_put(&b, "_", 1);
    kb_u64(&b, (uint64_t)event_id, 1);
    kb_str(&b, picture ? ".jpg" : ".json");
    return kb_end(&b);
}

/* ---------------------------------------------------------------- parser */

/* A cursor over key[0..len); every read is bounds-checked against end. */
typedef struct {
    const char *p;
    const char *end;
} cur;

static int lit(cur *c, const char *s)
{
    size_t n = strlen(s);
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, s, n) != 0) return -1;
    c->p += n;
    return 0;
}

/* A decimal without leading zeros, at most max, up to the first non-digit. */
static int dec(cur *c, uint64_t max, uint64_t *out)
{
    const char *s = c->p;
    uint64_t v = 0;
    while (c->p < c->end && is_digit(*c->p)) {
        uint64_t dgt = (uint64_t)(*c->p - '0');
        if (v > (max - dgt) / 10) return -1;
        v = v * 10 + dgt;
        c->p++;
    }
    size_t n = (size_t)(c->p - s);
    if (n == 0 || (n > 1 && s[0] == '0')) return -1;
    *out = v;
    return 0;
}

static int hex8(cur *c, uint32_t *out)
{
    if (c->end - c->p < 8) return -1;
    uint32_t v = 0;
    for (int i = 0; i < 8; i++) {
        char h = c->p[i];
        uint32_t x;
        if (is_digit(h))
            x = (uint32_t)(h - '0');
        else if (h >= 'a' && h <= 'f')
            x = (uint32_t)(h - 'a' + 10);
        else
            return -1;
        v = v << 4 | x;
    }
    c->p += 8;
    *out = v;
    return 0;
}

static int start13(cur *c, int64_t *out)
{
    if (c->end - c->p < 13) return -1;
    int64_t v = 0;
    for (int i = 0; i < 13; i++) {
        if (!is_digit(c->p[i])) return -1;
        v = v * 10 + (c->p[i] - '0');
    }
    c->p += 13;
    *out = v;
    return 0;
}

static int ends_with(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

/* The file name of a slice: "{start13}_{dur}_{boot8}_{seq}{k|p}.ts". */
static int parse_slice_name(cur *c, ivcs_key_info_s *out)
{
    uint64_t v;
    ivcs_slice_name_s *s = &out->slice;
    if (start13(c, &s->start_ms) || lit(c, "_") || dec(c, UINT32_MAX, &v)) return -1;
    s->dur_ms = (uint32_t)v;
    if (lit(c, "_") || hex8(c, &s->boot) || lit(c, "_") || dec(c, UINT32_MAX, &v)) return -1;
    s->seq = (uint32_t)v;
    if (!lit(c, "k.ts"))
        s->keyframe = 1;
    else if (!lit(c, "p.ts"))
        s->keyframe = 0;
    else
        return -1;
    return 0;
}

/* The file name of an event: "{start13}_{event_id}.json|.jpg". */
static int parse_event_name(cur *c, ivcs_key_info_s *out)
{
    uint64_t v;
    if (start13(c, &out->event_start_ms) || lit(c, "_") || dec(c, IVCS_LAYOUT_EVENT_ID_MAX, &v) ||
        v < IVCS_LAYOUT_EVENT_ID_MIN)
        return -1;
    out->event_id = (int32_t)v;
    if (!lit(c, ".json"))
        out->kind = IVCS_KEY_EVENT;
    else if (!lit(c, ".jpg"))
        out->kind = IVCS_KEY_PICTURE;
    else
        return -1;
    return 0;
}

static int parse_key(const char *key, size_t len, ivcs_key_info_s *out)
{
    /* Walk back over the last four segments: {file} {date} {rec|evt} ch{N}. */
    const char *seg[4];
    size_t seg_len[4];
    size_t end = len;
    for (int i = 0; i < 4; i++) {
        size_t j = end;
        while (j > 0 && key[j - 1] != '/')
            j--;
        if (j == 0) return -1; /* every one of them is preceded by a '/' */
        seg[i] = key + j;
        seg_len[i] = end - j;
        end = j - 1;
    }
    /* key[0..end) is "{prefix}{device}" with end > 0 and a non-empty device
     * segment: the key cannot start with "/" nor have "//" before ch. */
    if (end == 0 || key[end - 1] == '/') return -1;
    size_t dev = end;
    while (dev > 0 && key[dev - 1] != '/')
        dev--;
    out->root_len = end + 1;
    out->device_off = dev;
    out->device_len = end - dev;

    cur c = {seg[3], seg[3] + seg_len[3]};
    uint64_t ch;
    if (lit(&c, "ch") || dec(&c, UINT32_MAX, &ch) || c.p != c.end) return -1;
    out->channel = (uint32_t)ch;

    int rec;
    if (seg_len[2] == 3 && !memcmp(seg[2], "rec", 3))
        rec = 1;
    else if (seg_len[2] == 3 && !memcmp(seg[2], "evt", 3))
        rec = 0;
    else
        return -1;

    if (ivcs_layout_parse_date(seg[1], seg_len[1], &out->day)) return -1;

    c.p = seg[0];
    c.end = seg[0] + seg_len[0];
    int64_t start;
    if (rec) {
        out->kind = IVCS_KEY_SLICE;
        if (parse_slice_name(&c, out)) return -1;
        start = out->slice.start_ms;
    } else {
        if (parse_event_name(&c, out)) return -1;
        start = out->event_start_ms;
    }
    if (c.p != c.end) return -1;
    if (ivcs_layout_day_of_ms(start) != out->day) return -1;
    return 0;
}

int ivcs_layout_parse_key(const char *key, size_t len, ivcs_key_info_s *out)
{
    if (!out) return IVCS_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    if (!key) return IVCS_ERR_INVALID_ARG;
    if (len > IVCS_LAYOUT_KEY_MAX) return IVCS_ERR_TOO_LONG;
    if (!ends_with(key, len, ".ts") && !ends_with(key, len, ".json") &&
        !ends_with(key, len, ".jpg"))
        return IVCS_ERR_INVALID_ARG;
    /* No byte of a key the builders write is a control byte; a NUL inside
     * len would make C-string users see another key. */
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)key[i];
        if (ch < 0x20 || ch == 0x7f || ch == '\\') return IVCS_ERR_INVALID_ARG;
    }
    if (parse_key(key, len, out)) {
        memset(out, 0, sizeof *out);
        return IVCS_ERR_INVALID_ARG;
    }
    return 0;
}

/* ---------------------------------------------------------------- boot id */

static uint32_t mix32(uint64_t x)
{
    /* splitmix64 finaliser: every input bit affects every output bit */
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return (uint32_t)(x ^ (x >> 32));
}

uint32_t ivcs_layout_boot_id(void)
{
    uint32_t v;
    ssize_t n;
    do {
        n = getrandom(&v, sizeof v, GRND_NONBLOCK);
    } while (n < 0 && errno == EINTR);
    if (n == (ssize_t)sizeof v) return v;
    /* The entropy pool is not ready (early boot) or getrandom is missing:
     * the id only has to differ from earlier boots' ids, and the wall
     * clock, uptime and pid together almost surely do. */
    uint64_t h = 0x9e3779b97f4a7c15ull;
    const clockid_t clocks[] = {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME};
    for (size_t i = 0; i < sizeof clocks / sizeof clocks[0]; i++) {
        struct timespec ts = {0, 0};
        (void)clock_gettime(clocks[i], &ts);
        h = (h ^ (uint64_t)ts.tv_sec) * 0x100000001b3ull;
        h = (h ^ (uint64_t)ts.tv_nsec) * 0x100000001b3ull;
    }
    h ^= (uint64_t)getpid() << 17;
    return mix32(h);
}
