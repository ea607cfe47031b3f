/* viewer.c - the public viewer API (api/include/ivcs_viewer.h) over the
 * catalog (catalog.h): plain caller-owned lists in the viewer's allocator. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/alloc.h"
#include "engine/layout/event_record.h"
#include "engine/layout/layout.h"
#include "engine/layout/plan.h"
#include "engine/net/s3.h"
#include "engine/net/tls.h"
#include "engine/viewer/catalog.h"
#include "ivcs_viewer.h"

_Static_assert(IVCS_VIEWER_TIME_NONE == IVCS_EVENT_TIME_NONE, "event time none");
_Static_assert(IVCS_VIEWER_FROM_KEYFRAME == IVCS_CATALOG_FROM_KEYFRAME, "flag");
_Static_assert(IVCS_VIEWER_GAP_MS == IVCS_CATALOG_GAP_MS, "gap");
_Static_assert(IVCS_KEY_SLICE == 1 && IVCS_KEY_EVENT == 2 && IVCS_KEY_PICTURE == 3, "key kinds");

struct ivcs_viewer_s {
    const ivcs_allocator_s *alloc;
    uint32_t transfer_ms, reply_ms; /* as set on the S3 client */
    ivcs_config_s cfg;              /* holds the secret key: wiped at close */
    ivcs_layout_s layout;
    ivcs_s3 *s3;
    ivcs_viewer_error_s last;
};

/* ---------------------------------------------------------------- errors */

static void clear_error(ivcs_viewer_s *v)
{
    memset(&v->last, 0, sizeof v->last);
}

/* Records rc and, when a request was made, its result; returns rc. */
static int fail(ivcs_viewer_s *v, int rc, const ivcs_s3_result *r)
{
    if (rc >= 0) return rc;
    v->last.code = rc;
    if (r) {
        v->last.status = r->status;
        snprintf(v->last.s3_code, sizeof v->last.s3_code, "%s", r->code);
        snprintf(v->last.message, sizeof v->last.message, "%s", r->message);
        snprintf(v->last.detail, sizeof v->last.detail, "%s", r->detail);
        snprintf(v->last.request_id, sizeof v->last.request_id, "%s", r->request_id);
    }
    return rc;
}

/* ---------------------------------------------------------------- viewer */

int ivcs_viewer_open(ivcs_viewer_s **out, const ivcs_config_s *cfg, const ivcs_allocator_s *alloc,
                     char *err, size_t err_len)
{
    if (err && err_len) err[0] = 0;
    if (!out || !cfg) return IVCS_ERR_INVALID_ARG;
    *out = NULL;
    int rc = ivcs_config_validate(cfg, err, err_len);
    if (rc < 0) return rc;
    const ivcs_allocator_s *a = ivcs_allocator_or_default(alloc);
    ivcs_viewer_s *v = ivcs_alloc(a, sizeof *v, 16);
    if (!v) return IV_ERR_SYS_MALLOC_FAIL;
    memset(v, 0, sizeof *v);
    v->alloc = a;
    v->cfg = *cfg;
    rc = ivcs_layout_init(&v->layout, cfg->prefix, cfg->device_id);
    if (rc < 0) {
        if (err && err_len) snprintf(err, err_len, "prefix/device_id cannot form object keys");
        rc = IVCS_ERR_CONFIG;
    }
    if (rc == 0) rc = ivcs_s3_new(&v->s3, a, &v->cfg, NULL);
    v->transfer_ms = IVCS_S3_DEFAULT_TRANSFER_MS;
    v->reply_ms = IVCS_S3_DEFAULT_REPLY_MS;
    if (rc < 0) {
        if (rc == IVCS_ERR_TLS && cfg->ca_file[0] && err && err_len) {
            char why[160] = "";
            if (ivcs_tls_ca_file_check(cfg->ca_file, why, sizeof why) < 0)
                snprintf(err, err_len, "ca_file %s: %s", cfg->ca_file, why);
        }
        ivcs_viewer_close(v);
        return rc;
    }
    *out = v;
    return 0;
}

void ivcs_viewer_close(ivcs_viewer_s *v)
{
    if (!v) return;
    if (v->s3) ivcs_s3_destroy(v->s3);
    const ivcs_allocator_s *a = v->alloc;
    /* the secret key must not outlive the viewer in freed memory */
    volatile unsigned char *p = (volatile unsigned char *)v;
    for (size_t i = 0; i < sizeof *v; i++)
        p[i] = 0;
    ivcs_free(a, v, sizeof *v);
}

void ivcs_viewer_set_timeouts(ivcs_viewer_s *v, uint32_t transfer_ms, uint32_t reply_ms)
{
    if (!v || !v->s3) return;
    if (transfer_ms) v->transfer_ms = transfer_ms;
    if (reply_ms) v->reply_ms = reply_ms;
    ivcs_s3_set_timeouts(v->s3, v->transfer_ms, v->reply_ms);
}

const ivcs_viewer_error_s *ivcs_viewer_last_error(const ivcs_viewer_s *v)
{
    static const ivcs_viewer_error_s none;
    return v ? &v->last : &none;
}

int ivcs_viewer_device_exists(ivcs_viewer_s *v)
{
    if (!v) return IVCS_ERR_INVALID_ARG;
    clear_error(v);
    ivcs_s3_result r;
    int rc = ivcs_catalog_device_exists(v->s3, &v->layout, &r);
    return rc < 0 ? fail(v, rc, &r) : rc;
}

/* ---------------------------------------------------------------- days */

int ivcs_viewer_days(ivcs_viewer_s *v, uint32_t ch, int events, ivcs_viewer_days_s *out)
{
    if (!v || !out) return IVCS_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    clear_error(v);
    int64_t *days = NULL;
    size_t n = 0;
    ivcs_s3_result r;
    int rc = ivcs_catalog_days(v->s3, &v->layout, ch, events ? IVCS_LAYOUT_EVT : IVCS_LAYOUT_REC,
                               &days, &n, &r);
    if (rc < 0) return fail(v, rc, &r);
    if (n) {
        out->day = ivcs_alloc(v->alloc, n * sizeof *out->day, 8);
        if (!out->day) {
            free(days);
            return fail(v, IV_ERR_SYS_MALLOC_FAIL, NULL);
        }
        memcpy(out->day, days, n * sizeof *out->day);
    }
    free(days);
    out->n = n;
    out->alloc_ = v->alloc;
    return 0;
}

void ivcs_viewer_days_free(ivcs_viewer_days_s *d)
{
    if (!d) return;
    if (d->day && d->alloc_) ivcs_free(d->alloc_, d->day, d->n * sizeof *d->day);
    memset(d, 0, sizeof *d);
}

/* ---------------------------------------------------------------- slices */

/* Copies a catalog list into *out (keys in one block). */
static int slices_copy(ivcs_viewer_s *v, const ivcs_catalog_slices_s *c, ivcs_viewer_slices_s *out)
{
    size_t klen = 0;
    for (size_t i = 0; i < c->n; i++)
        klen += strlen(c->v[i].key) + 1;
    out->alloc_ = v->alloc;
    out->foreign = c->foreign;
    if (!c->n) return 0;
    out->v = ivcs_alloc(v->alloc, c->n * sizeof *out->v, 8);
    out->keys_ = ivcs_alloc(v->alloc, klen, 1);
    if (!out->v || !out->keys_) {
        if (out->v) ivcs_free(v->alloc, out->v, c->n * sizeof *out->v);
        if (out->keys_) ivcs_free(v->alloc, out->keys_, klen);
        out->v = NULL;
        out->keys_ = NULL;
        return IV_ERR_SYS_MALLOC_FAIL;
    }
    out->keys_len_ = klen;
    char *k = out->keys_;
    for (size_t i = 0; i < c->n; i++) {
        size_t l = strlen(c->v[i].key) + 1;
        memcpy(k, c->v[i].key, l);
        out->v[i] = (ivcs_viewer_slice_s){.key = k,
                                          .size = c->v[i].size,
                                          .start_ms = c->v[i].name.start_ms,
                                          .dur_ms = c->v[i].name.dur_ms,
                                          .boot = c->v[i].name.boot,
                                          .seq = c->v[i].name.seq,
                                          .keyframe = c->v[i].name.keyframe ? 1 : 0};
        k += l;
    }
    out->n = c->n;
    return 0;
}

int ivcs_viewer_list_slices(ivcs_viewer_s *v, uint32_t ch, int64_t from_ms, int64_t to_ms,
                            unsigned flags, ivcs_viewer_slices_s *out)
{
    if (!v || !out) return IVCS_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    clear_error(v);
    ivcs_catalog_slices_s c = {0};
    ivcs_s3_result r;
    int rc = ivcs_catalog_list_slices(v->s3, &v->layout, ch, from_ms, to_ms, flags, &c, &r);
    if (rc == 0)
        rc = slices_copy(v, &c, out);
    else
        fail(v, rc, &r);
    ivcs_catalog_slices_free(&c);
    return rc < 0 ? fail(v, rc, NULL) : 0;
}

void ivcs_viewer_slices_free(ivcs_viewer_slices_s *s)
{
    if (!s) return;
    if (s->alloc_) {
        if (s->v) ivcs_free(s->alloc_, s->v, s->n * sizeof *s->v);
        if (s->keys_) ivcs_free(s->alloc_, s->keys_, s->keys_len_);
    }
    memset(s, 0, sizeof *s);
}

static ivcs_catalog_slice_s to_catalog(const ivcs_viewer_slice_s *s)
{
    return (ivcs_catalog_slice_s){.key = (char *)s->key,
                                  .size = s->size,
                                  .name = {.start_ms = s->start_ms,
                                           .dur_ms = s->dur_ms,
                                           .boot = s->boot,
                                           .seq = s->seq,
                                           .keyframe = s->keyframe}};
}

/* A catalog view of n public slices (keys borrowed), or NULL. */
static ivcs_catalog_slice_s *catalog_view(const ivcs_viewer_slice_s *s, size_t n)
{
    if (!n || n > SIZE_MAX / sizeof(ivcs_catalog_slice_s)) return NULL;
    ivcs_catalog_slice_s *c = malloc(n * sizeof *c);
    if (!c) return NULL;
    for (size_t i = 0; i < n; i++)
        c[i] = to_catalog(&s[i]);
    return c;
}

int ivcs_viewer_is_break(const ivcs_viewer_slice_s *a, const ivcs_viewer_slice_s *b,
                         uint32_t gap_ms)
{
    if (!a || !b) return 0;
    ivcs_catalog_slice_s ca = to_catalog(a), cb = to_catalog(b);
    return ivcs_catalog_is_break(&ca, &cb, gap_ms);
}

size_t ivcs_viewer_ranges(const ivcs_viewer_slice_s *s, size_t n, uint32_t gap_ms,
                          ivcs_viewer_range_s *out)
{
    if (!s || !out || !n) return 0;
    /* ivcs_catalog_merge's rule on the public struct (no allocation). */
    size_t nr = 0;
    for (size_t i = 0; i < n; i++) {
        int64_t end = s[i].start_ms + (int64_t)s[i].dur_ms;
        ivcs_viewer_range_s *r = nr ? &out[nr - 1] : NULL;
        if (r && s[i].start_ms <= r->end_ms + (int64_t)gap_ms) {
            if (end > r->end_ms) r->end_ms = end;
            if (s[i].boot != s[i - 1].boot) r->boots++;
            r->count++;
        } else {
            out[nr++] = (ivcs_viewer_range_s){
                .start_ms = s[i].start_ms, .end_ms = end, .first = i, .count = 1, .boots = 1};
        }
    }
    return nr;
}

void ivcs_viewer_text_free(ivcs_viewer_text_s *t)
{
    if (!t) return;
    if (t->p && t->alloc_) ivcs_free(t->alloc_, t->p, t->len + 1);
    memset(t, 0, sizeof *t);
}

/* Moves a malloc'ed string into *out (the viewer's allocator). */
static int text_take(ivcs_viewer_s *v, char *p, size_t len, ivcs_viewer_text_s *out)
{
    out->p = ivcs_alloc(v->alloc, len + 1, 1);
    if (!out->p) {
        free(p);
        return IV_ERR_SYS_MALLOC_FAIL;
    }
    memcpy(out->p, p, len);
    out->p[len] = 0;
    out->len = len;
    out->alloc_ = v->alloc;
    free(p);
    return 0;
}

int ivcs_viewer_playlist(ivcs_viewer_s *v, const ivcs_viewer_slice_s *s, size_t n, uint32_t expires,
                         uint32_t gap_ms, ivcs_viewer_text_s *out)
{
    if (!v || !s || !n || !out) return IVCS_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    clear_error(v);
    ivcs_catalog_slice_s *c = catalog_view(s, n);
    if (!c) return fail(v, IV_ERR_SYS_MALLOC_FAIL, NULL);
    char *p = NULL;
    size_t len = 0;
    int rc = ivcs_catalog_playlist(v->s3, c, n, expires, gap_ms, &p, &len);
    free(c);
    if (rc == 0) rc = text_take(v, p, len, out);
    return fail(v, rc, NULL);
}

int ivcs_viewer_export(ivcs_viewer_s *v, const ivcs_viewer_slice_s *s, size_t n, int fd,
                       uint64_t *bytes)
{
    if (bytes) *bytes = 0;
    if (!v || (!s && n)) return IVCS_ERR_INVALID_ARG;
    clear_error(v);
    if (!n) return 0;
    ivcs_catalog_slice_s *c = catalog_view(s, n);
    if (!c) return fail(v, IV_ERR_SYS_MALLOC_FAIL, NULL);
    ivcs_s3_result r;
    int rc = ivcs_catalog_export(v->s3, c, n, fd, bytes, &r);
    free(c);
    return fail(v, rc, &r);
}

int ivcs_viewer_get_object(ivcs_viewer_s *v, const char *key, size_t max, ivcs_viewer_text_s *out)
{
    if (!v || !key || !out) return IVCS_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    clear_error(v);
    char *p = NULL;
    size_t len = 0;
    ivcs_s3_result r;
    int rc = ivcs_catalog_get_small(v->s3, key, max, &p, &len, &r);
    if (rc < 0) return fail(v, rc, &r);
    return fail(v, text_take(v, p, len, out), NULL);
}

/* ---------------------------------------------------------------- events */

static size_t opt_len(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

static const char *put_str(char **dst, const char *s)
{
    if (!s) return NULL;
    size_t l = strlen(s) + 1;
    memcpy(*dst, s, l);
    const char *r = *dst;
    *dst += l;
    return r;
}

static int events_copy(ivcs_viewer_s *v, const ivcs_catalog_event_s *e, size_t n, size_t bad,
                       ivcs_viewer_events_s *out)
{
    out->alloc_ = v->alloc;
    out->bad = bad;
    if (!n) return 0;
    size_t sl = 1; /* the shared "" for a missing info */
    for (size_t i = 0; i < n; i++)
        sl += opt_len(e[i].key) + opt_len(e[i].rec.info) + opt_len(e[i].rec.picture);
    out->v = ivcs_alloc(v->alloc, n * sizeof *out->v, 8);
    out->strings_ = ivcs_alloc(v->alloc, sl, 1);
    if (!out->v || !out->strings_) {
        if (out->v) ivcs_free(v->alloc, out->v, n * sizeof *out->v);
        if (out->strings_) ivcs_free(v->alloc, out->strings_, sl);
        out->v = NULL;
        out->strings_ = NULL;
        return IV_ERR_SYS_MALLOC_FAIL;
    }
    out->strings_len_ = sl;
    char *d = out->strings_;
    const char *empty = put_str(&d, "");
    for (size_t i = 0; i < n; i++) {
        const ivcs_event_record_s *r = &e[i].rec;
        ivcs_viewer_event_s *o = &out->v[i];
        o->key = put_str(&d, e[i].key);
        o->event_id = r->event_id;
        o->channel = r->channel;
        o->info = r->info ? put_str(&d, r->info) : empty;
        o->event_start_ms = r->event_start_ms;
        o->event_stop_ms = r->event_stop_ms;
        o->stream_start_ms = r->stream_start_ms;
        o->stream_stop_ms = r->stream_stop_ms;
        o->picture = put_str(&d, r->picture);
        o->picture_listed = e[i].picture_listed;
        o->picture_refused = e[i].picture_refused;
    }
    out->n = n;
    return 0;
}

int ivcs_viewer_list_events(ivcs_viewer_s *v, uint32_t ch, int64_t from_ms, int64_t to_ms,
                            ivcs_viewer_events_s *out)
{
    if (!v || !out) return IVCS_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    clear_error(v);
    ivcs_catalog_events_s c = {0};
    ivcs_s3_result r;
    int rc = ivcs_catalog_list_events(v->s3, &v->layout, ch, from_ms, to_ms, &c, &r);
    if (rc < 0) {
        ivcs_catalog_events_free(&c);
        return fail(v, rc, &r);
    }
    rc = events_copy(v, c.v, c.n, c.bad, out);
    ivcs_catalog_events_free(&c);
    return fail(v, rc, NULL);
}

int ivcs_viewer_get_event(ivcs_viewer_s *v, const char *key, ivcs_viewer_events_s *out)
{
    if (!v || !key || !out) return IVCS_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    clear_error(v);
    ivcs_catalog_event_s e;
    memset(&e, 0, sizeof e);
    ivcs_s3_result r;
    int rc = ivcs_catalog_get_event(v->s3, key, &e, &r);
    if (rc < 0) return fail(v, rc, &r);
    rc = events_copy(v, &e, 1, 0, out);
    ivcs_catalog_event_free(&e);
    return fail(v, rc, NULL);
}

void ivcs_viewer_events_free(ivcs_viewer_events_s *e)
{
    if (!e) return;
    if (e->alloc_) {
        if (e->v) ivcs_free(e->alloc_, e->v, e->n * sizeof *e->v);
        if (e->strings_) ivcs_free(e->alloc_, e->strings_, e->strings_len_);
    }
    memset(e, 0, sizeof *e);
}

/* ---------------------------------------------------------------- plan */

int ivcs_viewer_plan_key(const ivcs_viewer_s *v, char *buf, size_t cap)
{
    if (!v) return IVCS_ERR_INVALID_ARG;
    return ivcs_layout_plan_key(&v->layout, buf, cap);
}

int ivcs_viewer_plan_get(ivcs_viewer_s *v, int64_t now_utc_s, ivcs_viewer_plan_s *out)
{
    if (!v || !out) return IVCS_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    clear_error(v);
    char key[IVCS_LAYOUT_KEY_MAX + 1];
    int rc = ivcs_layout_plan_key(&v->layout, key, sizeof key);
    if (rc < 0) return fail(v, rc, NULL);
    char *body = NULL;
    size_t len = 0;
    ivcs_s3_result r;
    rc = ivcs_catalog_get_small(v->s3, key, 64 * 1024, &body, &len, &r);
    if (rc < 0) return fail(v, rc, &r);
    ivcs_plan_s p;
    rc = ivcs_plan_parse(&p, body, len, now_utc_s);
    free(body);
    if (rc < 0) return fail(v, rc, NULL);
    out->cs_switch = p.cs_switch;
    out->cs_type = (int)p.cs_type;
    out->cs_days = p.cs_days;
    out->expire_utc = p.expire_utc;
    out->free_trial_remaining_sec = p.free_trial_remaining_sec;
    out->service = (int)ivcs_plan_service(&p, now_utc_s);
    out->trial_remaining_sec = ivcs_plan_trial_remaining(&p, now_utc_s);
    return 0;
}

int ivcs_viewer_plan_set(ivcs_viewer_s *v, const ivcs_viewer_plan_s *in)
{
    if (!v || !in) return IVCS_ERR_INVALID_ARG;
    clear_error(v);
    ivcs_plan_s p = {.cs_switch = in->cs_switch,
                     .cs_type = (ivcs_plan_type_e)in->cs_type,
                     .cs_days = in->cs_days,
                     .expire_utc = in->expire_utc,
                     .free_trial_remaining_sec = in->free_trial_remaining_sec};
    char json[IVCS_PLAN_JSON_MAX + 1];
    int jlen = ivcs_plan_write(&p, json, sizeof json);
    if (jlen < 0) return fail(v, jlen, NULL);
    char key[IVCS_LAYOUT_KEY_MAX + 1];
    int rc = ivcs_layout_plan_key(&v->layout, key, sizeof key);
    if (rc < 0) return fail(v, rc, NULL);
    ivcs_s3_op op;
    ivcs_s3_op_init(&op, IVCS_S3_PUT, key);
    op.max_attempts = IVCS_CATALOG_ATTEMPTS;
    op.backoff_max_ms = 2000;
    op.body = (const uint8_t *)json;
    op.body_len = (uint64_t)jlen;
    op.content_type = "application/json";
    rc = ivcs_s3_run(v->s3, &op);
    fail(v, rc, &op.res);
    ivcs_s3_op_cleanup(&op);
    return rc;
}

const char *ivcs_viewer_plan_type_name(int cs_type)
{
    return ivcs_plan_type_name((ivcs_plan_type_e)cs_type);
}

int ivcs_viewer_retention_get(ivcs_viewer_s *v, uint32_t *days)
{
    if (!v || !days) return IVCS_ERR_INVALID_ARG;
    *days = 0;
    clear_error(v);
    ivcs_s3_result r;
    memset(&r, 0, sizeof r);
    int rc = ivcs_catalog_retention_get(v->s3, &v->cfg, &v->layout, days, &r);
    return fail(v, rc, &r);
}

int ivcs_viewer_retention_set(ivcs_viewer_s *v, uint32_t days)
{
    if (!v) return IVCS_ERR_INVALID_ARG;
    clear_error(v);
    ivcs_s3_result r;
    memset(&r, 0, sizeof r);
    int rc = ivcs_catalog_retention_set(v->s3, &v->cfg, &v->layout, days, &r);
    return fail(v, rc, &r);
}

int ivcs_viewer_presign(ivcs_viewer_s *v, const char *key, uint32_t expires,
                        ivcs_viewer_text_s *out)
{
    if (out) memset(out, 0, sizeof *out);
    if (!v || !key || !out || expires < 1 || expires > 604800) return IVCS_ERR_INVALID_ARG;
    clear_error(v);
    ivcs_viewer_key_s k;
    if (ivcs_viewer_parse_key(v, key, &k) < 0) return fail(v, IVCS_ERR_INVALID_ARG, NULL);
    char *url = malloc(8192);
    if (!url) return fail(v, IV_ERR_SYS_MALLOC_FAIL, NULL);
    int rc = ivcs_s3_presign_get(v->s3, key, expires, url, 8192);
    if (rc < 0) {
        free(url);
        return fail(v, rc, NULL);
    }
    return fail(v, text_take(v, url, strlen(url), out), NULL);
}

int ivcs_viewer_cors_set(ivcs_viewer_s *v, const char *const *origins, size_t n)
{
    if (!v || (n && !origins) || n > 16) return IVCS_ERR_INVALID_ARG;
    clear_error(v);
    for (size_t i = 0; i < n; i++)
        if (!ivcs_catalog_cors_origin_ok(origins[i])) return fail(v, IVCS_ERR_INVALID_ARG, NULL);
    ivcs_s3_result r;
    memset(&r, 0, sizeof r);
    int rc = ivcs_catalog_cors_set(v->s3, &v->layout, origins, n, &r);
    return fail(v, rc, &r);
}

int ivcs_viewer_parse_key(const ivcs_viewer_s *v, const char *key, ivcs_viewer_key_s *out)
{
    if (out) memset(out, 0, sizeof *out);
    if (!v || !key || !out) return IVCS_ERR_INVALID_ARG;
    ivcs_key_info_s ki;
    size_t len = strlen(key);
    if (ivcs_layout_parse_key(key, len, &ki) < 0 || ki.root_len != v->layout.root_len ||
        memcmp(key, v->layout.root, ki.root_len) != 0)
        return IVCS_ERR_INVALID_ARG;
    out->kind = (int)ki.kind;
    out->channel = ki.channel;
    if (ki.kind == IVCS_KEY_SLICE) {
        out->slice.start_ms = ki.slice.start_ms;
        out->slice.dur_ms = ki.slice.dur_ms;
        out->slice.boot = ki.slice.boot;
        out->slice.seq = ki.slice.seq;
        out->slice.keyframe = ki.slice.keyframe ? 1 : 0;
    }
    out->event_start_ms = ki.event_start_ms;
    out->event_id = ki.event_id;
    return 0;
}

const char *ivcs_viewer_root(const ivcs_viewer_s *v)
{
    return v ? v->layout.root : "";
}

int ivcs_viewer_format_time(int64_t ms, char *buf, size_t cap)
{
    if (!buf) return IVCS_ERR_INVALID_ARG;
    if (cap < IVCS_LAYOUT_ISO_LEN + 1) {
        if (cap) buf[0] = 0;
        return IVCS_ERR_TOO_LONG;
    }
    return ivcs_layout_format_iso8601(ms, buf);
}
