/* event_record.c - the event record JSON: allocation-free writer, cJSON reader. */
#include "engine/layout/event_record.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdbool.h>
#include <string.h>

/* ---------------------------------------------------------------- checks */

static int time_ok(int64_t t)
{
    return t >= 0 && t <= IVCS_EVENT_RECORD_MS_MAX;
}

static int opt_time_ok(int64_t t)
{
    return t == IVCS_EVENT_TIME_NONE || time_ok(t);
}

/* The consistency rules of event_record.h, shared by writer and parser. */
static int record_consistent(const ivcs_event_record_s *r)
{
    if (r->event_id < 1 || r->event_id > 16) return 0;
    if (!time_ok(r->event_start_ms) || !time_ok(r->stream_start_ms)) return 0;
    if (!opt_time_ok(r->event_stop_ms) || !opt_time_ok(r->stream_stop_ms)) return 0;
    if (r->event_stop_ms != IVCS_EVENT_TIME_NONE && r->event_stop_ms < r->event_start_ms) return 0;
    if (r->stream_stop_ms != IVCS_EVENT_TIME_NONE && r->stream_stop_ms < r->stream_start_ms)
        return 0;
    return 1;
}

/* ---------------------------------------------------------------- writer */

/* Counts every byte but stores only while they fit (one byte kept for the
 * NUL), so the same code measures and writes. */
typedef struct {
    char *buf;
    size_t cap;
    size_t len;
} jw;

static void jw_put(jw *w, const char *s, size_t n)
{
    if (w->buf && w->len + n < w->cap) memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void jw_str(jw *w, const char *s)
{
    jw_put(w, s, strlen(s));
}

static void jw_i64(jw *w, int64_t v)
{
    if (v == IVCS_EVENT_TIME_NONE) {
        jw_put(w, "null", 4);
        return;
    }
    char tmp[24];
    int n = 0;
    uint64_t u = (uint64_t)v; /* callers pass v >= 0 */
    do {
        tmp[sizeof tmp - 1 - n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    jw_put(w, tmp + sizeof tmp - n, (size_t)n);
}

static void jw_u6(jw *w, unsigned cp)
{
    static const char hex[] = "0123456789abcdef";
    char e[6] = {'\\', 'u', hex[cp >> 12 & 15], hex[cp >> 8 & 15], hex[cp >> 4 & 15], hex[cp & 15]};
    jw_put(w, e, 6);
}

/* Length of the valid UTF-8 sequence at s[0..n) (1..4), or 0 if it is not
 * one (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF). */
static size_t utf8_seq(const unsigned char *s, size_t n, unsigned *cp)
{
    unsigned c = s[0];
    size_t len;
    unsigned min, v;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
        len = 2, min = 0x80, v = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3, min = 0x800, v = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4, min = 0x10000, v = c & 0x07;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return 0;
        v = v << 6 | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return 0;
    *cp = v;
    return len;
}

/* JSON's two-character escapes: each byte followed by the letter after '\\'. */
static const char short_esc[] = "\"\"\\\\\bb\ff\nn\rr\tt";

static void jw_json_string(jw *w, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str);
    jw_put(w, "\"", 1);
    size_t i = 0;
    while (i < n) {
        /* copy the longest run that needs no escape in one go */
        size_t run = i;
        while (run < n && s[run] >= 0x20 && s[run] < 0x7f && s[run] != '"' && s[run] != '\\')
            run++;
        if (run > i) {
            jw_put(w, str + i, run - i);
            i = run;
            continue;
        }
        unsigned char c = s[i];
        const char *e = c ? strchr(short_esc, c) : NULL;
        if (e && (e - short_esc) % 2 == 0) {
            char two[2] = {'\\', e[1]};
            jw_put(w, two, 2);
            i++;
            continue;
        }
        if (c < 0x20 || c == 0x7f) {
            jw_u6(w, c);
            i++;
            continue;
        }
        unsigned cp;
        size_t len = utf8_seq(s + i, n - i, &cp);
        if (len == 0) {
            jw_u6(w, 0xfffd); /* one replacement per bad byte, then resync */
            i++;
        } else if (cp == 0x2028 || cp == 0x2029) {
            jw_u6(w, cp);
            i += len;
        } else {
            jw_put(w, str + i, len);
            i += len;
        }
    }
    jw_put(w, "\"", 1);
}

/* Whether s, once each invalid byte is replaced by U+FFFD (3 bytes), is at
 * most max bytes: the limit is on what a reader decodes, so that whatever
 * is written also parses back within the same limit. */
static int fits(const char *s, size_t max)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strnlen(s, 3 * max + 1), out = 0;
    if (n > 3 * max) return 0;
    for (size_t i = 0; i < n && out <= max;) {
        unsigned cp;
        size_t len = utf8_seq(u + i, n - i, &cp);
        out += len ? len : 3;
        i += len ? len : 1;
    }
    return out <= max;
}

static int emit(const ivcs_event_record_s *r, jw *w)
{
    if (!r || !record_consistent(r)) return IVCS_ERR_INVALID_ARG;
    const char *info = r->info ? r->info : "";
    if (!fits(info, IVCS_EVENT_INFO_MAX) ||
        (r->picture && !fits(r->picture, IVCS_EVENT_PICTURE_MAX)))
        return IVCS_ERR_TOO_LONG;
    jw_str(w, "{\"event_id\":");
    jw_i64(w, r->event_id);
    jw_str(w, ",\"info\":");
    jw_json_string(w, info);
    jw_str(w, ",\"channel\":");
    jw_i64(w, r->channel);
    jw_str(w, ",\"event_start_ms\":");
    jw_i64(w, r->event_start_ms);
    jw_str(w, ",\"event_stop_ms\":");
    jw_i64(w, r->event_stop_ms);
    jw_str(w, ",\"stream_start_ms\":");
    jw_i64(w, r->stream_start_ms);
    jw_str(w, ",\"stream_stop_ms\":");
    jw_i64(w, r->stream_stop_ms);
    jw_str(w, ",\"picture\":");
    if (r->picture)
        jw_json_string(w, r->picture);
    else
        jw_put(w, "null", 4);
    jw_str(w, ivcs_event_record_closed(r) ? ",\"status\":\"closed\"}" : ",\"status\":\"open\"}");
    return 0;
}

int ivcs_event_record_write(const ivcs_event_record_s *r, char *buf, size_t cap)
{
    if (!buf) return IVCS_ERR_INVALID_ARG;
    if (cap > 0) buf[0] = '\0';
    jw w = {buf, cap, 0};
    int rc = emit(r, &w);
    if (rc) return rc;
    if (w.len >= cap) {
        if (cap > 0) buf[0] = '\0';
        return IVCS_ERR_TOO_LONG;
    }
    buf[w.len] = '\0';
    return (int)w.len;
}

int ivcs_event_record_size(const ivcs_event_record_s *r)
{
    jw w = {NULL, 0, 0};
    int rc = emit(r, &w);
    return rc ? rc : (int)w.len;
}

/* ---------------------------------------------------------------- parser */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* What cJSON lets through but a strict reader must not: invalid UTF-8
 * (RFC 8259 requires UTF-8, and the writer would turn it into U+FFFD, so the
 * record would not survive a rewrite), raw control bytes inside strings,
 * and \u escapes that are not four hex digits or are \u0000 (cJSON decodes
 * both into a NUL that silently cuts the string short). */
bool ivcs_json_text_ok(const char *json, size_t len)
{
    const unsigned char *s = (const unsigned char *)json;
    bool in_str = false;
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c >= 0x80) {
            unsigned cp;
            size_t n = utf8_seq(s + i, len - i, &cp);
            if (n == 0) return false;
            i += n;
            continue;
        }
        if (!in_str) {
            in_str = c == '"';
            i++;
            continue;
        }
        if (c < 0x20) return false;
        if (c == '"') {
            in_str = false;
            i++;
        } else if (c != '\\') {
            i++;
        } else if (i + 1 < len && s[i + 1] == 'u') {
            if (len - i < 6) return false;
            int v = 0;
            for (int k = 0; k < 4; k++) {
                int h = hexval(json[i + 2 + k]);
                if (h < 0) return false;
                v = v << 4 | h;
            }
            if (v == 0) return false;
            i += 6;
        } else {
            i += 2; /* cJSON checks the other escapes */
        }
    }
    return true;
}

static int whole(const cJSON *v, double lo, double hi, int64_t *out)
{
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= lo && d <= hi)) return -1;
    int64_t i = (int64_t)d;
    if ((double)i != d) return -1;
    *out = i;
    return 0;
}

static int opt_time(const cJSON *v, int64_t *out)
{
    if (cJSON_IsNull(v)) {
        *out = IVCS_EVENT_TIME_NONE;
        return 0;
    }
    return whole(v, 0, (double)IVCS_EVENT_RECORD_MS_MAX, out);
}

enum { K_ID, K_INFO, K_CH, K_ESTART, K_ESTOP, K_SSTART, K_SSTOP, K_PIC, K_STATUS, NKEYS };
static const char *const key_names[NKEYS] = {"event_id",       "info",          "channel",
                                             "event_start_ms", "event_stop_ms", "stream_start_ms",
                                             "stream_stop_ms", "picture",       "status"};

/* Copies s + NUL into strbuf at *used. */
static int put_string(const char *s, size_t max, char *strbuf, size_t strcap, size_t *used,
                      const char **out)
{
    size_t n = strlen(s);
    if (n > max) return IVCS_ERR_TOO_LONG;
    if (!strbuf || strcap - *used < n + 1) return IVCS_ERR_TOO_LONG;
    memcpy(strbuf + *used, s, n + 1);
    *out = strbuf + *used;
    *used += n + 1;
    return 0;
}

static int parse_tree(const cJSON *root, ivcs_event_record_s *r, char *strbuf, size_t strcap)
{
    const cJSON *k[NKEYS] = {NULL};
    if (!cJSON_IsObject(root)) return IVCS_ERR_INVALID_ARG;
    for (const cJSON *it = root->child; it; it = it->next) {
        int idx = -1;
        for (int i = 0; i < NKEYS && it->string; i++)
            if (!strcmp(it->string, key_names[i])) idx = i;
        if (idx < 0 || k[idx]) return IVCS_ERR_INVALID_ARG; /* unknown or duplicate */
        k[idx] = it;
    }
    for (int i = 0; i < NKEYS; i++)
        if (!k[i]) return IVCS_ERR_INVALID_ARG;

    int64_t v;
    if (whole(k[K_ID], 1, 16, &v)) return IVCS_ERR_INVALID_ARG;
    r->event_id = (int32_t)v;
    if (whole(k[K_CH], 0, UINT32_MAX, &v)) return IVCS_ERR_INVALID_ARG;
    r->channel = (uint32_t)v;
    if (whole(k[K_ESTART], 0, (double)IVCS_EVENT_RECORD_MS_MAX, &r->event_start_ms) ||
        whole(k[K_SSTART], 0, (double)IVCS_EVENT_RECORD_MS_MAX, &r->stream_start_ms) ||
        opt_time(k[K_ESTOP], &r->event_stop_ms) || opt_time(k[K_SSTOP], &r->stream_stop_ms))
        return IVCS_ERR_INVALID_ARG;

    const cJSON *st = k[K_STATUS];
    if (!cJSON_IsString(st) || !st->valuestring) return IVCS_ERR_INVALID_ARG;
    int closed;
    if (!strcmp(st->valuestring, "closed"))
        closed = 1;
    else if (!strcmp(st->valuestring, "open"))
        closed = 0;
    else
        return IVCS_ERR_INVALID_ARG;
    if (closed != ivcs_event_record_closed(r) || !record_consistent(r)) return IVCS_ERR_INVALID_ARG;

    if (!cJSON_IsString(k[K_INFO]) || !k[K_INFO]->valuestring) return IVCS_ERR_INVALID_ARG;
    const cJSON *pic = k[K_PIC];
    if (!cJSON_IsNull(pic) && (!cJSON_IsString(pic) || !pic->valuestring))
        return IVCS_ERR_INVALID_ARG;
    size_t used = 0;
    int rc =
        put_string(k[K_INFO]->valuestring, IVCS_EVENT_INFO_MAX, strbuf, strcap, &used, &r->info);
    if (rc) return rc;
    if (cJSON_IsString(pic)) {
        rc = put_string(pic->valuestring, IVCS_EVENT_PICTURE_MAX, strbuf, strcap, &used,
                        &r->picture);
        if (rc) return rc;
    }
    return 0;
}

int ivcs_event_record_parse(const char *json, size_t len, ivcs_event_record_s *out, char *strbuf,
                            size_t strcap)
{
    if (!out) return IVCS_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    if (!json || !ivcs_json_text_ok(json, len)) return IVCS_ERR_INVALID_ARG;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        /* cJSON reports an allocation failure like a syntax error. */
        cJSON *probe = cJSON_Parse("{}");
        if (!probe) return IV_ERR_SYS_MALLOC_FAIL;
        cJSON_Delete(probe);
        return IVCS_ERR_INVALID_ARG;
    }
    int rc = 0;
    for (size_t i = end ? (size_t)(end - json) : len; i < len && !rc; i++)
        if (!isspace((unsigned char)json[i])) rc = IVCS_ERR_INVALID_ARG;
    if (!rc) rc = parse_tree(root, out, strbuf, strcap);
    cJSON_Delete(root);
    if (rc) memset(out, 0, sizeof *out);
    return rc;
}
