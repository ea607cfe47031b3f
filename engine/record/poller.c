/*
 * poller.c - plan.json polling on the engine thread.
 *
 * GET {device}/plan.json every plan_poll_s with If-None-Match: the ETag of
 * the plan in force, so an unchanged plan costs a 304. At least once an
 * hour (ENG_PLAN_REFRESH_MS) the GET is sent without If-None-Match, so the
 * cached plan (and the balance info built from it) is re-read in full even
 * if the operator's store never changes ETags. A failed poll keeps the plan
 * in force and retries after min(interval, 10 s). 404 means no plan.
 */
#include <stdio.h>
#include <string.h>

#include "engine/record/engine_internal.h"
#include "engine/spool/spool.h"

#define FAIL_RETRY_MS 10000

static int64_t interval_ms(const ivcs_engine_s *e)
{
    int64_t i = (int64_t)e->cfg.cloud.plan_poll_s * 1000;
    return i > ENG_PLAN_REFRESH_MS ? ENG_PLAN_REFRESH_MS : i;
}

int ivcs_poll_init(ivcs_engine_s *e)
{
    int rc = ivcs_layout_plan_key(&e->layout, e->poll.key, sizeof e->poll.key);
    return rc < 0 ? IVCS_ERR_CONFIG : 0;
}

/* Keeps the plan just received in the spool (synchronous: a small file and
 * two fsyncs, only when the plan changed). */
static void cache_plan(ivcs_engine_s *e, const char *body, size_t len, int64_t now)
{
    if (!e->spool) return;
    if (ivcs_spool_cache_put(e->spool, IVCS_SPOOL_PLAN, e->poll.etag, body, len, now) != 0)
        ivcs_eng_spool_publish(e); /* the fault */
}

void ivcs_eng_spool_publish(ivcs_engine_s *e)
{
    if (!e->spool) return;
    ivcs_spool_stats_s st;
    ivcs_spool_get_stats(e->spool, &st);
    atomic_store_explicit(&e->st_spool_entries, st.entries, RLX);
    atomic_store_explicit(&e->st_spool_bytes, st.bytes, RLX);
    atomic_store_explicit(&e->st_spool_oldest_ms, st.oldest_ms, RLX);
    atomic_store_explicit(&e->st_spool_recovered, st.recovered, RLX);
    atomic_store_explicit(&e->st_spool_discarded,
                          st.discarded_corrupt + st.discarded_tmp, RLX);
    atomic_store_explicit(&e->st_spool_fault, st.fault, RLX);
}

void ivcs_poll_spool_init(ivcs_engine_s *e)
{
    if (!e->cfg.cloud.spool_dir[0]) return;
    uint32_t mb = e->cfg.cloud.spool_max_mb ? e->cfg.cloud.spool_max_mb : 1024;
    ivcs_spool_config_s sc = {e->cfg.cloud.spool_dir, (uint64_t)mb << 20, 0, 0, ivcs_bf_lost, e};
    int fault = 0;
    if (ivcs_spool_open(&e->spool, e->alloc, &sc, &fault) != 0) {
        e->spool = NULL;
        atomic_store_explicit(&e->st_spool_fault, fault ? fault : IVCS_SPOOL_FAULT_IO, RLX);
        return;
    }
    atomic_store_explicit(&e->st_spool_on, 1, RLX);
    /* entry writes and fsyncs go through the engine thread's loop */
    ivcs_spool_set_loop(e->spool, e->loop);
    ivcs_spool_stats_s st;
    ivcs_spool_get_stats(e->spool, &st);
    e->own_seq0 = st.next_seq;
    ivcs_eng_spool_publish(e);
    if (e->fixed) return;
    char body[sizeof e->poll.body + 1];
    char tag[sizeof e->poll.etag];
    size_t len;
    int64_t fetched;
    if (ivcs_spool_cache_get(e->spool, IVCS_SPOOL_PLAN, body, sizeof body, &len, tag, sizeof tag,
                             &fetched) != 0)
        return;
    /* parsed as of when it was fetched: a free trial counts from then */
    ivcs_plan_s p;
    int64_t now = ivcs_eng_now(e);
    if (fetched <= 0 || fetched > now || ivcs_plan_parse(&p, body, len, fetched / 1000) != 0)
        return;
    if (p.expire_utc && now / 1000 >= p.expire_utc) return; /* expired by its own dates */
    e->plan = p;
    e->have_plan = 1;
    e->plan_cached = 1;
    atomic_store_explicit(&e->st_plan_cached, 1, RLX);
    snprintf(e->poll.etag, sizeof e->poll.etag, "%s", tag);
    e->poll.last_ok_at = fetched; /* a full read once it is an hour old */
}

static int on_data(void *arg, const uint8_t *d, size_t n)
{
    ivcs_engine_s *e = arg;
    if (e->poll.body_len + n > sizeof e->poll.body) {
        e->poll.overflow = 1;
        return 0;
    }
    memcpy(e->poll.body + e->poll.body_len, d, n);
    e->poll.body_len += n;
    return 0;
}

static void on_done(ivcs_s3_op *op, int result)
{
    ivcs_engine_s *e = op->arg;
    int64_t now = ivcs_eng_now(e);
    e->poll.active = 0;
    atomic_fetch_add_explicit(&e->st_polls, 1, RLX);
    int64_t next = now + interval_ms(e);
    if (result == 0 || result == IVCS_ERR_NOT_FOUND) { /* the server answered */
        e->plan_cached = 0;
        atomic_store_explicit(&e->st_plan_cached, 0, RLX);
    }
    if (result == 0 && op->res.status == 304) {
        atomic_fetch_add_explicit(&e->st_not_modified, 1, RLX);
    } else if (result == 0) {
        ivcs_plan_s p;
        if (!e->poll.overflow &&
            ivcs_plan_parse(&p, e->poll.body, e->poll.body_len, now / 1000) == 0) {
            e->plan = p;
            e->have_plan = 1;
            snprintf(e->poll.etag, sizeof e->poll.etag, "%s", op->res.etag);
            e->poll.last_ok_at = now;
            atomic_fetch_add_explicit(&e->st_plan_changes, 1, RLX);
            cache_plan(e, e->poll.body, e->poll.body_len, now);
        } else {
            next = now + FAIL_RETRY_MS; /* a bad plan keeps the old one */
        }
    } else if (result == IVCS_ERR_NOT_FOUND) {
        if (e->have_plan && e->plan.cs_switch)
            atomic_fetch_add_explicit(&e->st_plan_changes, 1, RLX);
        ivcs_plan_none(&e->plan, now / 1000);
        e->have_plan = 1;
        e->poll.etag[0] = 0;
        e->poll.last_ok_at = now;
        char none[IVCS_PLAN_JSON_MAX + 1];
        int n = ivcs_plan_write(&e->plan, none, sizeof none);
        if (n > 0) cache_plan(e, none, (size_t)n, now);
    } else {
        if (interval_ms(e) > FAIL_RETRY_MS) next = now + FAIL_RETRY_MS;
    }
    e->poll.next_at = next;
    ivcs_s3_op_cleanup(op);
    ivcs_eng_apply_service(e);
}

int ivcs_poll_service(ivcs_engine_s *e, int64_t now)
{
    if (e->poll.active) return 0;
    int forced = atomic_exchange(&e->poll.force, 0);
    if (!forced && now < e->poll.next_at) return 0;
    ivcs_s3_op *op = &e->poll.op;
    ivcs_s3_op_init(op, IVCS_S3_GET, e->poll.key);
    /* a full read at least hourly refreshes the cache for sure */
    int full = !e->poll.etag[0] || now - e->poll.last_ok_at >= ENG_PLAN_REFRESH_MS;
    op->if_none_match = full ? NULL : e->poll.etag;
    op->on_data = on_data;
    op->on_done = on_done;
    op->arg = e;
    e->poll.body_len = 0;
    e->poll.overflow = 0;
    if (ivcs_s3_start(e->s3, op) < 0) {
        e->poll.next_at = now + FAIL_RETRY_MS;
        return 0;
    }
    e->poll.active = 1;
    return 1;
}

int64_t ivcs_poll_deadline(const ivcs_engine_s *e)
{
    return e->poll.active ? INT64_MAX : e->poll.next_at;
}

void ivcs_poll_cancel(ivcs_engine_s *e)
{
    if (e->poll.active) ivcs_http_request_cancel(ivcs_s3_http(e->s3), &e->poll.op.http);
}

int ivcs_poll_busy(const ivcs_engine_s *e)
{
    return e->poll.active;
}
