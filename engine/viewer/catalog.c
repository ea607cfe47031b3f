/* catalog.c - the viewer side of the cloud contract (see catalog.h). */
#include "engine/viewer/catalog.h"

#include <errno.h>
#include <expat.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/core/strbuf.h"
#include "engine/net/s3_xml.h"
#include "engine/net/sigv4.h"

#define EVENT_JSON_MAX (IVCS_EVENT_RECORD_JSON_MAX + 64)

static void keep_err(ivcs_s3_result *err, const ivcs_s3_op *op)
{
    if (err) *err = op->res;
}

static void op_defaults(ivcs_s3_op *op)
{
    op->max_attempts = IVCS_CATALOG_ATTEMPTS;
    op->backoff_max_ms = 2000; /* a person is waiting */
}

/* ---------------------------------------------------------------- listing */

/* Pages through a ListObjectsV2; on_entry may return 1 to stop early
 * (then the listing ends successfully). */
typedef struct {
    int (*fn)(void *arg, const ivcs_s3_entry *e);
    void *arg;
    int stopped;
} list_ctx;

static int list_tramp(void *arg, const ivcs_s3_entry *e)
{
    list_ctx *c = arg;
    int rc = c->fn(c->arg, e);
    if (rc > 0) c->stopped = 1;
    return rc;
}

static int list_all(ivcs_s3 *s3, const char *prefix, const char *delimiter, const char *start_after,
                    uint32_t max_keys, int (*fn)(void *, const ivcs_s3_entry *), void *arg,
                    ivcs_s3_result *err)
{
    list_ctx c = {fn, arg, 0};
    /* Bounded: no endless or replayed pages (s3.h ivcs_s3_pager). */
    ivcs_s3_pager *pg = malloc(sizeof *pg);
    if (!pg) return IV_ERR_SYS_MALLOC_FAIL;
    ivcs_s3_pager_init(pg, 0);
    int rc = 0;
    for (;;) {
        ivcs_s3_op op;
        ivcs_s3_op_init(&op, IVCS_S3_LIST, NULL);
        op_defaults(&op);
        op.prefix = prefix;
        op.delimiter = delimiter;
        op.start_after = pg->pages ? NULL : start_after;
        op.max_keys = max_keys;
        op.on_entry = list_tramp;
        op.arg = &c;
        ivcs_s3_pager_apply(pg, &op);
        rc = ivcs_s3_run(s3, &op);
        if (c.stopped) {
            ivcs_s3_op_cleanup(&op);
            rc = 0;
            break;
        }
        /* max_keys: the caller wants one page only */
        if (rc == 0 && !max_keys) rc = ivcs_s3_pager_next(pg, &op);
        if (rc < 0) keep_err(err, &op);
        ivcs_s3_op_cleanup(&op);
        if (rc <= 0 || max_keys) break;
    }
    free(pg);
    return rc < 0 ? rc : 0;
}

typedef struct {
    int64_t *v;
    size_t n, cap;
    size_t plen;
} days_ctx;

static int on_day(void *arg, const ivcs_s3_entry *e)
{
    days_ctx *d = arg;
    if (!e->is_prefix) return 0;
    size_t kl = strlen(e->key);
    int64_t day;
    /* "{dir prefix}YYYY-MM-DD/" */
    if (kl != d->plen + IVCS_LAYOUT_DATE_LEN + 1 || e->key[kl - 1] != '/') return 0;
    if (ivcs_layout_parse_date(e->key + d->plen, IVCS_LAYOUT_DATE_LEN, &day) < 0) return 0;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        int64_t *n = realloc(d->v, cap * sizeof *n);
        if (!n) return IV_ERR_SYS_MALLOC_FAIL;
        d->v = n;
        d->cap = cap;
    }
    d->v[d->n++] = day;
    return 0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int ivcs_catalog_days(ivcs_s3 *s3, const ivcs_layout_s *l, uint32_t ch, ivcs_layout_dir_e dir,
                      int64_t **days, size_t *n, ivcs_s3_result *err)
{
    if (!s3 || !l || !days || !n) return IVCS_ERR_INVALID_ARG;
    *days = NULL;
    *n = 0;
    char prefix[IVCS_LAYOUT_KEY_MAX + 1];
    int rc = ivcs_layout_dir_prefix(l, ch, dir, prefix, sizeof prefix);
    if (rc < 0) return rc;
    days_ctx d = {.plen = (size_t)rc};
    rc = list_all(s3, prefix, "/", NULL, 0, on_day, &d, err);
    if (rc < 0) {
        free(d.v);
        return rc;
    }
    if (d.n) qsort(d.v, d.n, sizeof *d.v, cmp_i64);
    *days = d.v;
    *n = d.n;
    return 0;
}

static int on_any(void *arg, const ivcs_s3_entry *e)
{
    (void)e;
    *(int *)arg = 1;
    return 1;
}

int ivcs_catalog_device_exists(ivcs_s3 *s3, const ivcs_layout_s *l, ivcs_s3_result *err)
{
    if (!s3 || !l) return IVCS_ERR_INVALID_ARG;
    int found = 0;
    int rc = list_all(s3, l->root, NULL, NULL, 1, on_any, &found, err);
    return rc < 0 ? rc : found;
}

/* ---------------------------------------------------------------- slices */

int ivcs_catalog_slices_add(ivcs_catalog_slices_s *s, const char *key, uint64_t size,
                            const ivcs_slice_name_s *name)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 256;
        ivcs_catalog_slice_s *v = realloc(s->v, cap * sizeof *v);
        if (!v) return IV_ERR_SYS_MALLOC_FAIL;
        s->v = v;
        s->cap = cap;
    }
    char *k = strdup(key ? key : "");
    if (!k) return IV_ERR_SYS_MALLOC_FAIL;
    s->v[s->n++] = (ivcs_catalog_slice_s){.key = k, .size = size, .name = *name};
    return 0;
}

void ivcs_catalog_slices_free(ivcs_catalog_slices_s *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].key);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int cmp_slice(const void *a, const void *b)
{
    const ivcs_slice_name_s *x = &((const ivcs_catalog_slice_s *)a)->name;
    const ivcs_slice_name_s *y = &((const ivcs_catalog_slice_s *)b)->name;
    if (x->start_ms != y->start_ms) return x->start_ms < y->start_ms ? -1 : 1;
    if (x->boot != y->boot) return x->boot < y->boot ? -1 : 1;
    return (x->seq > y->seq) - (x->seq < y->seq);
}

void ivcs_catalog_slices_sort(ivcs_catalog_slices_s *s)
{
    if (s && s->n > 1) qsort(s->v, s->n, sizeof *s->v, cmp_slice);
}

static int64_t slice_end(const ivcs_slice_name_s *s)
{
    return s->start_ms + (int64_t)s->dur_ms;
}

int ivcs_catalog_is_break(const ivcs_catalog_slice_s *a, const ivcs_catalog_slice_s *b,
                          uint32_t gap_ms)
{
    if (a->name.boot != b->name.boot) return 1;
    int64_t d = b->name.start_ms - slice_end(&a->name);
    return d > (int64_t)gap_ms || d < -(int64_t)gap_ms;
}

size_t ivcs_catalog_merge(const ivcs_catalog_slice_s *v, size_t n, uint32_t gap_ms,
                          ivcs_catalog_range_s *out)
{
    size_t nr = 0;
    for (size_t i = 0; i < n; i++) {
        const ivcs_slice_name_s *s = &v[i].name;
        ivcs_catalog_range_s *r = nr ? &out[nr - 1] : NULL;
        if (r && s->start_ms <= r->end_ms + (int64_t)gap_ms) {
            if (slice_end(s) > r->end_ms) r->end_ms = slice_end(s);
            if (s->boot != v[i - 1].name.boot) r->boots++;
            r->count++;
            continue;
        }
        out[nr++] = (ivcs_catalog_range_s){
            .start_ms = s->start_ms, .end_ms = slice_end(s), .first = i, .count = 1, .boots = 1};
    }
    return nr;
}

typedef struct {
    ivcs_catalog_slices_s *out;
    int64_t to_ms;
    size_t plen; /* length of the day prefix */
    int err;
} slice_ctx;

static int on_slice(void *arg, const ivcs_s3_entry *e)
{
    slice_ctx *c = arg;
    if (e->is_prefix) return 0;
    ivcs_key_info_s ki;
    size_t kl = strlen(e->key);
    if (ivcs_layout_parse_key(e->key, kl, &ki) < 0 || ki.kind != IVCS_KEY_SLICE) {
        c->out->foreign++;
        return 0;
    }
    /* Keys are in time order within a day: nothing after this one counts. */
    if (ki.slice.start_ms >= c->to_ms) return 1;
    int rc = ivcs_catalog_slices_add(c->out, e->key, e->size, &ki.slice);
    return rc < 0 ? rc : 0;
}

static int overlaps(const ivcs_slice_name_s *s, int64_t from, int64_t to)
{
    if (s->start_ms >= to) return 0;
    if (s->dur_ms == 0) return s->start_ms >= from;
    return slice_end(s) > from;
}

void ivcs_catalog_filter(ivcs_catalog_slices_s *s, int64_t from_ms, int64_t to_ms, unsigned flags)
{
    size_t first = s->n;
    for (size_t i = 0; i < s->n; i++)
        if (overlaps(&s->v[i].name, from_ms, to_ms)) {
            first = i;
            break;
        }
    size_t start = first;
    if ((flags & IVCS_CATALOG_FROM_KEYFRAME) && first < s->n) {
        /* back over the 'p' slices of the same boot to the GOP's 'k' slice */
        while (start > 0 && !s->v[start].name.keyframe) {
            const ivcs_catalog_slice_s *p = &s->v[start - 1], *c = &s->v[start];
            if (p->name.boot != c->name.boot || p->name.seq + 1 != c->name.seq ||
                ivcs_catalog_is_break(p, c, IVCS_CATALOG_GAP_MS))
                break;
            start--;
        }
    }
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (i >= start && (i < first || overlaps(&s->v[i].name, from_ms, to_ms)))
            s->v[n++] = s->v[i];
        else
            free(s->v[i].key);
    }
    s->n = n;
}

int ivcs_catalog_list_slices(ivcs_s3 *s3, const ivcs_layout_s *l, uint32_t ch, int64_t from_ms,
                             int64_t to_ms, unsigned flags, ivcs_catalog_slices_s *out,
                             ivcs_s3_result *err)
{
    if (!s3 || !l || !out || from_ms < 0 || to_ms < from_ms) return IVCS_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    if (to_ms == from_ms) return 0;
    if (to_ms > IVCS_LAYOUT_START_MS_MAX + 1) to_ms = IVCS_LAYOUT_START_MS_MAX + 1;
    int64_t *days;
    size_t nd;
    int rc = ivcs_catalog_days(s3, l, ch, IVCS_LAYOUT_REC, &days, &nd, err);
    if (rc < 0) return rc;
    int64_t lo = from_ms > IVCS_CATALOG_LOOKBACK_MS ? from_ms - IVCS_CATALOG_LOOKBACK_MS : 0;
    int64_t dlo = ivcs_layout_day_of_ms(lo), dhi = ivcs_layout_day_of_ms(to_ms - 1);
    ivcs_catalog_slices_s all = {0};
    char prefix[IVCS_LAYOUT_KEY_MAX + 1], after[IVCS_LAYOUT_KEY_MAX + 32];
    for (size_t i = 0; i < nd && rc == 0; i++) {
        if (days[i] < dlo || days[i] > dhi) continue;
        rc = ivcs_layout_day_prefix(l, ch, IVCS_LAYOUT_REC, days[i] * 86400000LL, prefix,
                                    sizeof prefix);
        if (rc < 0) break;
        slice_ctx c = {.out = &all, .to_ms = to_ms, .plen = (size_t)rc};
        /* On the first day skip what ended long before `from`: keys sort by
         * their 13-digit start. */
        const char *sa = NULL;
        if (days[i] == dlo && lo > days[i] * 86400000LL) {
            snprintf(after, sizeof after, "%s%013" PRId64, prefix, lo);
            sa = after;
        }
        rc = list_all(s3, prefix, NULL, sa, 0, on_slice, &c, err);
    }
    free(days);
    if (rc < 0) {
        ivcs_catalog_slices_free(&all);
        return rc;
    }
    ivcs_catalog_slices_sort(&all);
    ivcs_catalog_filter(&all, from_ms, to_ms, flags);
    *out = all;
    return 0;
}

/* ---------------------------------------------------------------- playlist */

int ivcs_catalog_playlist(ivcs_s3 *s3, const ivcs_catalog_slice_s *v, size_t n, uint32_t expires,
                          uint32_t gap_ms, char **out, size_t *len)
{
    if (!s3 || !v || !n || !out || !len || !expires || expires > IVCS_SIGV4_MAX_EXPIRES)
        return IVCS_ERR_INVALID_ARG;
    *out = NULL;
    *len = 0;
    uint32_t maxdur = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i].name.dur_ms > maxdur) maxdur = v[i].name.dur_ms;
    /* EXTINF rounded to the nearest second must not exceed it (RFC 8216
     * 4.3.3.1); a ceiling always satisfies that. */
    uint32_t target = (maxdur + 999) / 1000;
    if (target == 0) target = 1;
    ivcs_strbuf_s b = {0};
    int rc = ivcs_strbuf_printf(&b,
                                "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%u\n"
                                "#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n",
                                target);
    char *url = malloc(8192);
    if (!url) rc = IV_ERR_SYS_MALLOC_FAIL;
    for (size_t i = 0; i < n && rc == 0; i++) {
        int brk = i > 0 && ivcs_catalog_is_break(&v[i - 1], &v[i], gap_ms);
        if (brk) rc = ivcs_strbuf_printf(&b, "#EXT-X-DISCONTINUITY\n");
        if (rc == 0 && (i == 0 || brk)) {
            char iso[IVCS_LAYOUT_ISO_LEN + 1];
            if (ivcs_layout_format_iso8601(v[i].name.start_ms, iso) > 0)
                rc = ivcs_strbuf_printf(&b, "#EXT-X-PROGRAM-DATE-TIME:%s\n", iso);
        }
        if (rc == 0) rc = ivcs_s3_presign_get(s3, v[i].key, expires, url, 8192);
        if (rc == 0)
            rc = ivcs_strbuf_printf(&b, "#EXTINF:%u.%03u,\n%s\n", v[i].name.dur_ms / 1000,
                                    v[i].name.dur_ms % 1000, url);
    }
    if (rc == 0) rc = ivcs_strbuf_printf(&b, "#EXT-X-ENDLIST\n");
    free(url);
    if (rc < 0) {
        free(b.p);
        return rc;
    }
    *out = b.p;
    *len = b.len;
    return 0;
}

/* ---------------------------------------------------------------- export */

typedef struct {
    int fd;
    off_t base, pos;
    unsigned attempt;
    const ivcs_s3_op *op;
} fd_sink;

static int on_fd_data(void *arg, const uint8_t *data, size_t len)
{
    fd_sink *s = arg;
    /* A retried GET starts over from byte 0 of the object. */
    if (s->attempt != s->op->res.attempts) {
        s->attempt = s->op->res.attempts;
        s->pos = s->base;
        if (ftruncate(s->fd, s->base) != 0) return IVCS_ERR_WRITE;
    }
    while (len) {
        ssize_t w = pwrite(s->fd, data, len, s->pos);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return IVCS_ERR_WRITE;
        data += w;
        len -= (size_t)w;
        s->pos += w;
    }
    return 0;
}

int ivcs_catalog_export(ivcs_s3 *s3, const ivcs_catalog_slice_s *v, size_t n, int fd,
                        uint64_t *bytes, ivcs_s3_result *err)
{
    if (!s3 || (!v && n) || fd < 0) return IVCS_ERR_INVALID_ARG;
    off_t pos = lseek(fd, 0, SEEK_CUR);
    if (pos < 0) return IVCS_ERR_WRITE;
    off_t start = pos;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        ivcs_s3_op op;
        ivcs_s3_op_init(&op, IVCS_S3_GET, v[i].key);
        op_defaults(&op);
        fd_sink s = {.fd = fd, .base = pos, .pos = pos, .attempt = 1, .op = &op};
        op.on_data = on_fd_data;
        op.arg = &s;
        rc = ivcs_s3_run(s3, &op);
        if (rc < 0) keep_err(err, &op);
        ivcs_s3_op_cleanup(&op);
        pos = s.pos;
    }
    if (rc == 0 && lseek(fd, pos, SEEK_SET) < 0) rc = IVCS_ERR_WRITE;
    if (bytes) *bytes = (uint64_t)(pos - start);
    return rc;
}

/* ---------------------------------------------------------------- small objects */

typedef struct {
    ivcs_strbuf_s b;
    size_t max;
    unsigned attempt;
    const ivcs_s3_op *op;
} mem_sink;

static int on_mem_data(void *arg, const uint8_t *data, size_t len)
{
    mem_sink *s = arg;
    if (s->attempt != s->op->res.attempts) {
        s->attempt = s->op->res.attempts;
        s->b.len = 0;
    }
    if (s->b.len + len > s->max) return IVCS_ERR_TOO_LONG;
    return ivcs_strbuf_add(&s->b, data, len);
}

/* A GET or GET_LIFECYCLE into a malloc'ed NUL-terminated buffer of at most
 * max bytes. */
int ivcs_catalog_get_mem(ivcs_s3 *s3, ivcs_s3_kind_e kind, const char *key, size_t max, char **out,
                         size_t *len, ivcs_s3_result *err)
{
    *out = NULL;
    *len = 0;
    ivcs_s3_op op;
    ivcs_s3_op_init(&op, kind, key);
    op_defaults(&op);
    mem_sink s = {.max = max, .attempt = 1, .op = &op};
    op.on_data = on_mem_data;
    op.arg = &s;
    int rc = ivcs_s3_run(s3, &op);
    if (rc < 0) keep_err(err, &op);
    ivcs_s3_op_cleanup(&op);
    if (rc == 0 && !s.b.p) rc = ivcs_strbuf_reserve(&s.b, 0); /* empty object: "" */
    if (rc < 0) {
        free(s.b.p);
        return rc;
    }
    s.b.p[s.b.len] = 0;
    *out = s.b.p;
    *len = s.b.len;
    return 0;
}

int ivcs_catalog_get_small(ivcs_s3 *s3, const char *key, size_t max, char **out, size_t *len,
                           ivcs_s3_result *err)
{
    if (!s3 || !key || !out || !len) return IVCS_ERR_INVALID_ARG;
    return ivcs_catalog_get_mem(s3, IVCS_S3_GET, key, max, out, len, err);
}

/* ---------------------------------------------------------------- events */

void ivcs_catalog_event_free(ivcs_catalog_event_s *e)
{
    if (!e) return;
    free(e->key);
    free(e->strbuf);
    memset(e, 0, sizeof *e);
}

void ivcs_catalog_events_free(ivcs_catalog_events_s *e)
{
    if (!e) return;
    for (size_t i = 0; i < e->n; i++)
        ivcs_catalog_event_free(&e->v[i]);
    free(e->v);
    memset(e, 0, sizeof *e);
}

int ivcs_catalog_picture_key_ok(const char *record_key, const char *picture)
{
    if (!record_key || !picture) return 0;
    size_t rl = strlen(record_key), pl = strlen(picture);
    ivcs_key_info_s r, p;
    if (ivcs_layout_parse_key(record_key, rl, &r) < 0 || r.kind != IVCS_KEY_EVENT) return 0;
    if (ivcs_layout_parse_key(picture, pl, &p) < 0 || p.kind != IVCS_KEY_PICTURE) return 0;
    /* same root, channel, day, start and id: the parser is strict, so the
     * keys then differ only in the extension; compare the bytes anyway */
    return r.root_len == p.root_len && r.channel == p.channel && r.day == p.day &&
           r.event_start_ms == p.event_start_ms && r.event_id == p.event_id && rl == pl + 1 &&
           !memcmp(record_key, picture, pl - 4) && !strcmp(picture + pl - 4, ".jpg") &&
           !strcmp(record_key + rl - 5, ".json");
}

int ivcs_catalog_get_event(ivcs_s3 *s3, const char *key, ivcs_catalog_event_s *out,
                           ivcs_s3_result *err)
{
    if (!s3 || !key || !out) return IVCS_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    ivcs_key_info_s ki;
    if (ivcs_layout_parse_key(key, strlen(key), &ki) < 0 || ki.kind != IVCS_KEY_EVENT)
        return IVCS_ERR_INVALID_ARG;
    char *json;
    size_t len;
    int rc = ivcs_catalog_get_small(s3, key, EVENT_JSON_MAX, &json, &len, err);
    if (rc < 0) return rc;
    out->strbuf = malloc(IVCS_EVENT_RECORD_STRBUF);
    out->key = strdup(key);
    if (!out->strbuf || !out->key) rc = IV_ERR_SYS_MALLOC_FAIL;
    if (rc == 0)
        rc = ivcs_event_record_parse(json, len, &out->rec, out->strbuf, IVCS_EVENT_RECORD_STRBUF);
    free(json);
    if (rc == 0 && out->rec.picture && !ivcs_catalog_picture_key_ok(key, out->rec.picture)) {
        out->rec.picture = NULL;
        out->picture_refused = 1;
    }
    if (rc < 0) ivcs_catalog_event_free(out);
    return rc;
}

typedef struct {
    char **v;
    size_t n, cap;
} strlist;

static int strlist_add(strlist *s, const char *k)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        char **v = realloc(s->v, cap * sizeof *v);
        if (!v) return IV_ERR_SYS_MALLOC_FAIL;
        s->v = v;
        s->cap = cap;
    }
    if (!(s->v[s->n] = strdup(k))) return IV_ERR_SYS_MALLOC_FAIL;
    s->n++;
    return 0;
}

static void strlist_free(strlist *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i]);
    free(s->v);
    memset(s, 0, sizeof *s);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

typedef struct {
    strlist json, jpg;
    int64_t to_ms;
} evt_ctx;

static int on_evt(void *arg, const ivcs_s3_entry *e)
{
    evt_ctx *c = arg;
    if (e->is_prefix) return 0;
    ivcs_key_info_s ki;
    if (ivcs_layout_parse_key(e->key, strlen(e->key), &ki) < 0) return 0;
    if (ki.event_start_ms >= c->to_ms) return 1;
    if (ki.kind == IVCS_KEY_EVENT) return strlist_add(&c->json, e->key);
    if (ki.kind == IVCS_KEY_PICTURE) return strlist_add(&c->jpg, e->key);
    return 0;
}

static int cmp_event(const void *a, const void *b)
{
    const ivcs_event_record_s *x = &((const ivcs_catalog_event_s *)a)->rec;
    const ivcs_event_record_s *y = &((const ivcs_catalog_event_s *)b)->rec;
    if (x->event_start_ms != y->event_start_ms)
        return x->event_start_ms < y->event_start_ms ? -1 : 1;
    return (x->event_id > y->event_id) - (x->event_id < y->event_id);
}

int ivcs_catalog_list_events(ivcs_s3 *s3, const ivcs_layout_s *l, uint32_t ch, int64_t from_ms,
                             int64_t to_ms, ivcs_catalog_events_s *out, ivcs_s3_result *err)
{
    if (!s3 || !l || !out || from_ms < 0 || to_ms < from_ms) return IVCS_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    if (to_ms == from_ms) return 0;
    if (to_ms > IVCS_LAYOUT_START_MS_MAX + 1) to_ms = IVCS_LAYOUT_START_MS_MAX + 1;
    int64_t *days;
    size_t nd;
    int rc = ivcs_catalog_days(s3, l, ch, IVCS_LAYOUT_EVT, &days, &nd, err);
    if (rc < 0) return rc;
    int64_t lo =
        from_ms > IVCS_CATALOG_EVT_LOOKBACK_MS ? from_ms - IVCS_CATALOG_EVT_LOOKBACK_MS : 0;
    int64_t dlo = ivcs_layout_day_of_ms(lo), dhi = ivcs_layout_day_of_ms(to_ms - 1);
    evt_ctx c = {.to_ms = to_ms};
    char prefix[IVCS_LAYOUT_KEY_MAX + 1];
    for (size_t i = 0; i < nd && rc == 0; i++) {
        if (days[i] < dlo || days[i] > dhi) continue;
        rc = ivcs_layout_day_prefix(l, ch, IVCS_LAYOUT_EVT, days[i] * 86400000LL, prefix,
                                    sizeof prefix);
        if (rc >= 0) rc = list_all(s3, prefix, NULL, NULL, 0, on_evt, &c, err);
    }
    free(days);
    if (rc == 0 && c.jpg.n > 1) qsort(c.jpg.v, c.jpg.n, sizeof *c.jpg.v, cmp_str);
    for (size_t i = 0; i < c.json.n && rc == 0; i++) {
        ivcs_catalog_event_s ev;
        int r = ivcs_catalog_get_event(s3, c.json.v[i], &ev, NULL);
        if (r == IV_ERR_SYS_MALLOC_FAIL) {
            rc = r;
            break;
        }
        if (r < 0) { /* deleted meanwhile, or not a valid record */
            out->bad++;
            continue;
        }
        const ivcs_event_record_s *e = &ev.rec;
        int hit = e->event_start_ms < to_ms &&
                  (!ivcs_event_record_closed(e) || e->event_stop_ms >= from_ms);
        if (!hit) {
            ivcs_catalog_event_free(&ev);
            continue;
        }
        /* the listed picture: the record's key with .jpg */
        size_t kl = strlen(ev.key);
        char *pic = malloc(kl + 1);
        if (pic) {
            memcpy(pic, ev.key, kl + 1);
            memcpy(pic + kl - 5, ".jpg", 5);
            /* no picture listed at all: v is NULL, which bsearch may not get */
            ev.picture_listed = c.jpg.n &&
                                bsearch(&pic, c.jpg.v, c.jpg.n, sizeof *c.jpg.v, cmp_str) != NULL;
            free(pic);
        }
        if (out->n == out->cap) {
            size_t cap = out->cap ? out->cap * 2 : 32;
            ivcs_catalog_event_s *v = realloc(out->v, cap * sizeof *v);
            if (!v) {
                ivcs_catalog_event_free(&ev);
                rc = IV_ERR_SYS_MALLOC_FAIL;
                break;
            }
            out->v = v;
            out->cap = cap;
        }
        out->v[out->n++] = ev;
    }
    strlist_free(&c.json);
    strlist_free(&c.jpg);
    if (rc < 0) {
        ivcs_catalog_events_free(out);
        return rc;
    }
    if (out->n > 1) qsort(out->v, out->n, sizeof *out->v, cmp_event);
    return 0;
}
