/*
 * spool_up.c - the engine thread's use of the local spool: a slice that
 * cannot be uploaded is written to the spool and its ring space freed
 * (ivcs_up_spool_slice), and spooled entries are uploaded back under their
 * original keys, oldest first, while live uploads succeed (ivcs_bf_*).
 * Design: docs/ARCHITECTURE.md section 11.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "engine/record/engine_internal.h"
#include "engine/core/alloc.h"
#include "engine/net/retry.h"

/* ---------------------------------------------------------------- spool */

static void pic_result_of(ivcs_channel_s *c, uint8_t *pic, int err)
{
    if (c->cfg.cb.picture_result) c->cfg.cb.picture_result(c->cfg.cb.user, c->index, &pic, err);
}

/* After a spool fault (ENOSPC, EIO, EROFS, a missing directory): the spool
 * is left alone for 1 s, 2 s, 4 s ... at most 60 s, the delay doubling with
 * each fault in a row and starting again at 1 s after a successful write. */
#define SPOOL_RETRY_MIN_MS 1000u
#define SPOOL_RETRY_MAX_MS 60000u

uint32_t ivcs_up_spool_retry_ms(unsigned attempt)
{
    if (attempt >= 6) return SPOOL_RETRY_MAX_MS; /* 1000 << 6 > 60000 */
    uint32_t ms = SPOOL_RETRY_MIN_MS << attempt;
    return ms < SPOOL_RETRY_MAX_MS ? ms : SPOOL_RETRY_MAX_MS;
}

static void spool_back_off(ivcs_engine_s *e, int64_t now)
{
    e->spool_retry_at = now + ivcs_up_spool_retry_ms(e->spool_attempt);
    if (e->spool_attempt < 64) e->spool_attempt++;
}

static void spool_ok(ivcs_engine_s *e)
{
    e->spool_fault_shown = 0;
    e->spool_attempt = 0;
}

static void spool_fault(ivcs_engine_s *e, ivcs_channel_s *c, int err)
{
    spool_back_off(e, ivcs_eng_now(e));
    ivcs_eng_spool_publish(e);
    if (e->spool_fault_shown) return;
    e->spool_fault_shown = 1;
    ivcs_spool_stats_s st;
    ivcs_spool_get_stats(e->spool, &st);
    ivcs_notify_s n = {.kind = IVCS_NOTIFY_SPOOL_FAULT, .err = err, .value = (uint32_t)st.fault};
    ivcs_eng_notify(c, &n);
}

static void on_spooled(ivcs_spool_put_s *p, int res)
{
    ivcs_channel_s *c = p->arg;
    ivcs_engine_s *e = c->eng;
    eng_upload_s *u = &c->up;
    u->spooling = 0;
    eng_slice_s *s = u->slice;
    if (res != 0 || !s) {
        u->waiting = 1; /* the upload retries go on, from the ring */
        if (res != 0) spool_fault(e, c, res);
        return;
    }
    spool_ok(e);
    /* the bytes are fixed now: the continuity counters move on as if the
     * slice had landed, so the next slice concatenates with it */
    ivcs_up_commit_cc(c, &u->ts); /* every byte read by ivcs_up_spool_slice */
    uint32_t frames = s->frames_v + s->frames_a;
    ivcs_eng_bump(&c->st_sl_spooled, 1);
    ivcs_notify_s n = {.kind = IVCS_NOTIFY_SLICE_SPOOLED,
                       .key = u->key,
                       .start_ms = (uint64_t)s->utc0,
                       .dur_ms = s->dur_ms,
                       .frames = frames,
                       .bytes = u->size};
    ivcs_eng_notify(c, &n);
    u->slice = NULL;
    u->waiting = 0;
    ivcs_up_release_front(c, 2);
    atomic_store_explicit(&c->starved, 0, RLX); /* room made without a drop */
    ivcs_eng_spool_publish(e);
    ivcs_up_publish_acc(c);
}

/* After a failed attempt: write the slice's exact TS bytes (the body the
 * PUT would send) to the spool, so its ring space can be freed. 0 when the
 * write is queued, -1 when the spool cannot take it now (the upload
 * retries from the ring go on as without a spool). */
int ivcs_up_spool_slice(ivcs_channel_s *c, eng_slice_s *s, int64_t now)
{
    ivcs_engine_s *e = c->eng;
    eng_upload_s *u = &c->up;
    if (!e->spool || now < e->spool_retry_at || !u->size) return -1;
    if (u->size > u->sp_cap) {
        size_t cap = (size_t)u->size + 65536;
        uint8_t *b = ivcs_alloc(e->alloc, cap, 64);
        if (!b) return -1;
        ivcs_free(e->alloc, u->sp_buf, u->sp_cap);
        u->sp_buf = b;
        u->sp_cap = cap;
    }
    int rc = ivcs_ts_slice_begin(&c->mux, &u->ts, &u->src);
    uint64_t got = 0;
    while (rc == 0 && got < u->size) {
        size_t room = (size_t)(u->size - got);
        room -= room % IVCS_TS_PACKET;
        if (!room) break;
        int64_t n = ivcs_ts_slice_read(&u->ts, u->sp_buf + got, room);
        if (n <= 0) break;
        got += (uint64_t)n;
    }
    if (rc != 0 || got != u->size) return -1;
    if (ivcs_digest_begin(&e->md5) != 0 || ivcs_digest_update(&e->md5, u->sp_buf, got) != 0 ||
        ivcs_digest_final(&e->md5, u->sp_md5) != 0)
        return -1;
    ivcs_spool_put_s *p = &u->sp_put;
    memset(p, 0, sizeof *p);
    u->sp_iov.iov_base = u->sp_buf;
    u->sp_iov.iov_len = (size_t)got;
    p->kind = IVCS_SPOOL_SLICE;
    p->created_ms = s->utc0;
    p->key = u->key;
    p->key_len = strlen(u->key);
    p->body = &u->sp_iov;
    p->body_cnt = 1;
    p->md5 = u->sp_md5;
    p->frames = s->frames_v + s->frames_a;
    p->channel = c->index;
    p->done = on_spooled;
    p->arg = c;
    rc = ivcs_spool_put(e->spool, p);
    if (rc == IVCS_ERR_BUFFER_FULL) return -1; /* the queue: next service */
    if (rc != 0) {
        spool_back_off(e, now); /* too big for spool_max_mb */
        return -1;
    }
    u->spooling = 1;
    u->waiting = 0;
    return 0;
}

/* An event record or picture written to the spool (or not). */
static void on_aux_spooled(ivcs_spool_put_s *p, int res)
{
    ivcs_channel_s *c = p->arg;
    ivcs_engine_s *e = c->eng;
    eng_aux_s *a = &c->aux;
    eng_event_s *x = &c->ev[a->slot];
    a->spooling = 0;
    uint8_t *pic = a->is_pic ? a->pic : NULL;
    a->pic = NULL;
    if (res == 0) spool_ok(e);
    ivcs_eng_spool_publish(e);
    if (a->gen != x->gen) {
        /* the slot was reused (or the picture given back) meanwhile: the
         * result belongs to the old event; a spooled picture lands later */
        if (pic) pic_result_of(c, pic, res == 0 ? 0 : IV_ERR_CS_HTTP_DATA_FAIL);
        if (res != 0) spool_fault(e, c, res);
        return;
    }
    if (res != 0) {
        spool_fault(e, c, res);
        ivcs_up_aux_retry(c, x, a->is_pic, ivcs_eng_now(e));
        return;
    }
    x->attempts = 0;
    if (a->is_pic) {
        /* safe on disk: the firmware gets its buffer back (0: stored), and
         * the record names the picture backfill will upload */
        x->pic_pending = 0;
        x->pic_done = 1;
        x->json_dirty = 1;
        x->pic = NULL;
        pic_result_of(c, pic, 0);
    } else {
        x->rec_written = 1; /* the final version: stored when backfilled */
    }
}

int ivcs_up_spool_aux(ivcs_channel_s *c, const uint8_t *body, size_t len, int64_t now)
{
    ivcs_engine_s *e = c->eng;
    eng_aux_s *a = &c->aux;
    if (!e->spool || now < e->spool_retry_at || !body || !len) return -1;
    if (ivcs_digest_begin(&e->md5) != 0 || ivcs_digest_update(&e->md5, body, len) != 0 ||
        ivcs_digest_final(&e->md5, a->sp_md5) != 0)
        return -1;
    eng_event_s *x = &c->ev[a->slot];
    ivcs_spool_put_s *p = &a->sp_put;
    memset(p, 0, sizeof *p);
    a->sp_iov.iov_base = (void *)(uintptr_t)body;
    a->sp_iov.iov_len = len;
    p->kind = a->is_pic ? IVCS_SPOOL_PICTURE : IVCS_SPOOL_EVENT;
    p->created_ms = x->ev_start;
    p->key = a->is_pic ? a->pic_key : a->key;
    p->key_len = strlen(p->key);
    p->body = &a->sp_iov;
    p->body_cnt = 1;
    p->md5 = a->sp_md5;
    p->channel = c->index;
    p->done = on_aux_spooled;
    p->arg = c;
    int rc = ivcs_spool_put(e->spool, p);
    if (rc != 0) {
        if (rc != IVCS_ERR_BUFFER_FULL) spool_back_off(e, now);
        return -1;
    }
    a->spooling = 1;
    return 0;
}

/* ---------------------------------------------------------------- backfill */

/* What backfill uploads: slices, event records, event pictures (oldest
 * first, in the order they were spooled). */
#define BF_KINDS                                                           \
    ((1u << IVCS_SPOOL_SLICE) | (1u << IVCS_SPOOL_EVENT) |                 \
     (1u << IVCS_SPOOL_PICTURE))

static ivcs_channel_s *chan_of(ivcs_engine_s *e, uint32_t index)
{
    uint32_t n = atomic_load_explicit(&e->n_ch, memory_order_acquire);
    return index < n ? e->ch[index] : NULL;
}

/* Frames of an entry that left the spool without landing: dropped, counted
 * and notified on its channel (this engine's entries only; a previous
 * engine's frames are in no count of this one). */
static void spool_entry_lost(ivcs_engine_s *e, uint32_t kind, uint64_t seq, uint32_t channel,
                             uint32_t frames, uint64_t bytes, int64_t utc0, int err)
{
    if (err == IVCS_ERR_BUFFER_FULL) atomic_fetch_add_explicit(&e->st_spool_evicted, 1, RLX);
    ivcs_channel_s *c = seq >= e->own_seq0 ? chan_of(e, channel) : NULL;
    if (!c || kind != IVCS_SPOOL_SLICE) return; /* an event record or picture: counted above */
    c->acc.spooled -= frames;
    c->acc.drop += frames;
    ivcs_eng_bump(&c->st_sl_drop, 1);
    ivcs_eng_bump(&c->st_by_drop, bytes);
    ivcs_notify_s n = {.kind = IVCS_NOTIFY_SLICE_DROPPED,
                       .err = err,
                       .start_ms = (uint64_t)utc0,
                       .frames = frames,
                       .bytes = bytes};
    ivcs_eng_notify(c, &n);
    ivcs_up_publish_acc(c);
}

void ivcs_bf_lost(void *ctx, const ivcs_spool_entry_s *x, int why)
{
    ivcs_engine_s *e = ctx;
    if ((e->bf.have || e->bf.reading) && x->seq == e->bf.seq) {
        e->bf.lost = 1; /* its PUT decides: landed, or dropped then */
        return;
    }
    spool_entry_lost(e, x->kind, x->seq, x->channel, x->frames, x->size, x->created_ms,
                     why == 1 ? IVCS_ERR_BUFFER_FULL : IVCS_ERR_IO);
}

static int64_t bf_body(void *arg, uint64_t offset, uint8_t *buf, size_t cap)
{
    ivcs_engine_s *e = arg;
    if (offset > e->bf.body_len) return IVCS_ERR_STATE;
    uint64_t left = e->bf.body_len - offset;
    size_t n = left < cap ? (size_t)left : cap;
    memcpy(buf, e->bf.body + offset, n);
    return (int64_t)n;
}

static void bf_done(ivcs_s3_op *op, int result)
{
    ivcs_engine_s *e = op->arg;
    int64_t now = ivcs_eng_now(e);
    e->bf.active = 0;
    e->bf.used_ms += now - e->bf.started_at;
    ivcs_channel_s *c = e->bf.seq >= e->own_seq0 ? chan_of(e, e->bf.channel) : NULL;
    if (result == 0) {
        ivcs_eng_server_answered(e);
        if (!e->bf.lost) (void)ivcs_spool_remove(e->spool, e->bf.seq);
        /* the server answers: live slices are attempted again at once */
        uint32_t nch = atomic_load_explicit(&e->n_ch, memory_order_acquire);
        for (uint32_t i = 0; i < nch; i++) {
            eng_upload_s *u = &e->ch[i]->up;
            u->probe_at = 0;
            if (u->waiting && !u->active && !u->spooling && u->retry_at > now) u->retry_at = now;
        }
        if (e->bf.kind == IVCS_SPOOL_EVENT) {
            atomic_fetch_add_explicit(&e->st_bf_events, 1, RLX);
            if (c) {
                ivcs_eng_bump(&c->st_records, 1);
                ivcs_notify_s n = {.kind = IVCS_NOTIFY_EVENT_WRITTEN, .key = e->bf.key};
                ivcs_eng_notify(c, &n);
            }
        } else if (e->bf.kind == IVCS_SPOOL_PICTURE) {
            atomic_fetch_add_explicit(&e->st_bf_pictures, 1, RLX);
            if (c) ivcs_eng_bump(&c->st_pics, 1);
        } else {
            atomic_fetch_add_explicit(&e->st_bf_slices, 1, RLX);
            atomic_fetch_add_explicit(&e->st_bf_frames, e->bf.frames, RLX);
        }
        if (c && e->bf.kind == IVCS_SPOOL_SLICE) {
            c->acc.spooled -= e->bf.frames;
            c->acc.up += e->bf.frames;
            ivcs_eng_bump(&c->st_bytes_up, e->bf.body_len);
            ivcs_eng_bump(&c->st_slices_up, 1);
            ivcs_notify_s n = {.kind = IVCS_NOTIFY_SLICE_UPLOADED,
                               .key = e->bf.key,
                               .start_ms = (uint64_t)e->bf.utc0,
                               .frames = e->bf.frames,
                               .bytes = e->bf.body_len};
            ivcs_eng_notify(c, &n);
            ivcs_up_publish_acc(c);
        }
        e->bf.have = 0;
        e->bf.attempt = 0;
        e->bf.waiting = 0;
    } else if (e->bf.lost) {
        spool_entry_lost(e, e->bf.kind, e->bf.seq, e->bf.channel, e->bf.frames, e->bf.body_len,
                         e->bf.utc0,
                         IVCS_ERR_BUFFER_FULL);
        e->bf.have = 0;
    } else {
        e->bf.waiting = 1;
        e->bf.retry_at = now + ivcs_retry_backoff_ms(e->bf.attempt++, &e->rng_state);
        if (e->bf.retry_at == now) e->bf.retry_at = now + 1;
    }
    e->bf.lost = 0;
    ivcs_s3_op_cleanup(op);
    ivcs_eng_spool_publish(e);
}

/* The backfill's entry read goes through the loop (io_uring READV, or the
 * syscall at the next loop turn under epoll), in pieces until the whole
 * entry is in bf.buf: the engine thread does not wait for the disk. */
static void bf_read_step(ivcs_engine_s *e);

static void bf_read_finish(ivcs_engine_s *e, int err)
{
    ivcs_spool_hdr_s h;
    const uint8_t *k, *m, *b;
    e->bf.reading = 0; /* a corrupt entry is reported the usual way */
    int rc = ivcs_spool_read_end(e->spool, e->bf.rx.seq, e->bf.rd_fd, e->bf.buf, e->bf.rd_size,
                                 e->bf.rd_got, err, &h, &k, &m, &b);
    e->bf.rd_fd = -1;
    if (rc == 0 && ivcs_base64_encode(h.md5, 16, e->bf.md5, sizeof e->bf.md5) < 0)
        rc = IVCS_ERR_STATE;
    if (rc != 0) {
        if (e->bf.lost) { /* evicted while being read, and it cannot be sent */
            const ivcs_spool_entry_s *x = &e->bf.rx;
            spool_entry_lost(e, x->kind, x->seq, x->channel, x->frames, x->size, x->created_ms,
                             IVCS_ERR_BUFFER_FULL);
            e->bf.lost = 0;
        }
        ivcs_eng_spool_publish(e); /* corrupt: removed, counted via the callback */
        if (rc == IVCS_ERR_IO) {
            e->bf.waiting = 1;
            e->bf.retry_at = ivcs_eng_now(e) + ivcs_up_spool_retry_ms(e->bf.attempt++);
        }
        return;
    }
    memcpy(e->bf.key, k, h.key_len);
    e->bf.key[h.key_len] = 0;
    e->bf.body = b;
    e->bf.body_len = h.body_len;
    e->bf.frames = h.frames;
    e->bf.channel = h.channel;
    e->bf.kind = h.kind;
    e->bf.utc0 = h.created_ms;
    e->bf.have = 1; /* bf.lost stays: evicted while read, its PUT decides */
    e->bf.attempt = 0;
}

static void bf_read_done(ivcs_loop_op *op, int res)
{
    ivcs_engine_s *e = op->arg;
    if (res < 0) {
        bf_read_finish(e, op->sys_errno ? op->sys_errno : EIO);
        return;
    }
    e->bf.rd_got += (uint64_t)res;
    /* 0: the file ended early (end finds it torn) */
    if (res == 0 || e->bf.rd_got >= e->bf.rd_size) {
        bf_read_finish(e, 0);
        return;
    }
    bf_read_step(e);
}

static void bf_read_step(ivcs_engine_s *e)
{
    e->bf.rd_iov.iov_base = e->bf.buf + e->bf.rd_got;
    e->bf.rd_iov.iov_len = (size_t)(e->bf.rd_size - e->bf.rd_got);
    e->bf.rd_op.cb = bf_read_done;
    e->bf.rd_op.arg = e;
    if (ivcs_loop_preadv(e->loop, &e->bf.rd_op, e->bf.rd_fd, &e->bf.rd_iov, 1, e->bf.rd_got) < 0)
        bf_read_finish(e, EIO);
}

void ivcs_bf_abandon(ivcs_engine_s *e)
{
    if (e->bf.have && e->bf.lost)
        spool_entry_lost(e, e->bf.kind, e->bf.seq, e->bf.channel, e->bf.frames, e->bf.body_len,
                         e->bf.utc0, IVCS_ERR_BUFFER_FULL);
    e->bf.have = 0;
    e->bf.lost = 0;
}

/* Uploads spooled slices oldest first under their keys: only while live
 * uploads succeed (a channel whose slice is failing probes the server),
 * and while live slices wait, at most backfill_share % of the time. */
int ivcs_bf_service(ivcs_engine_s *e, int64_t now)
{
    if (!e->spool || e->bf.active || e->bf.reading) return 0;
    if (e->bf.waiting && now < e->bf.retry_at) return 0;
    uint32_t n = atomic_load_explicit(&e->n_ch, memory_order_acquire);
    int live = 0;
    for (uint32_t i = 0; i < n; i++) {
        const ivcs_channel_s *c = e->ch[i];
        /* a failing channel's probe time also lets a backfill PUT probe */
        if (c->up.spooling || (c->up.failing && now < c->up.probe_at)) return 0;
        if (c->up.active || c->up.waiting || (c->q_len && c->q[c->q_head].state == SL_READY))
            live = 1;
    }
    if (!e->bf.have) {
        ivcs_spool_entry_s x;
        if (ivcs_spool_next(e->spool, 0, BF_KINDS, &x) != 0) {
            e->bf.since = 0;
            return 0;
        }
        if (x.size > e->bf.cap) {
            size_t cap = (size_t)x.size + 65536;
            uint8_t *b = ivcs_alloc(e->alloc, cap, 64);
            if (!b) return 0;
            ivcs_free(e->alloc, e->bf.buf, e->bf.cap);
            e->bf.buf = b;
            e->bf.cap = cap;
        }
        ivcs_spool_hdr_s h;
        int fd = -1;
        uint64_t size = 0;
        int rc = ivcs_spool_read_begin(e->spool, x.seq, e->bf.cap, &fd, &size, &h);
        if (rc != 0) {
            ivcs_eng_spool_publish(e); /* corrupt: removed, counted via the callback */
            if (rc == IVCS_ERR_IO)
                e->bf.waiting = 1, e->bf.retry_at = now + ivcs_up_spool_retry_ms(e->bf.attempt++);
            return rc == IVCS_ERR_NOT_FOUND;
        }
        e->bf.rx = x;
        e->bf.seq = x.seq;
        e->bf.rd_fd = fd;
        e->bf.rd_size = size;
        e->bf.rd_got = 0;
        e->bf.lost = 0;
        e->bf.reading = 1;
        bf_read_step(e);
        return 1; /* the PUT starts once the entry is read */
    }
    if (!e->bf.since) e->bf.since = now, e->bf.used_ms = 0;
    uint32_t share = e->cfg.cloud.backfill_share ? e->cfg.cloud.backfill_share : 50;
    if (live && e->bf.used_ms * 100 > (int64_t)share * (now - e->bf.since)) return 0;
    ivcs_s3_op *op = &e->bf.op;
    ivcs_s3_op_init(op, IVCS_S3_PUT, e->bf.key);
    op->body_fn = bf_body;
    op->body_arg = e;
    op->body_len = e->bf.body_len;
    op->content_md5 = e->bf.md5;
    op->content_type = e->bf.kind == IVCS_SPOOL_EVENT     ? "application/json"
                       : e->bf.kind == IVCS_SPOOL_PICTURE ? "image/jpeg"
                                                          : "video/mp2t";
    op->on_done = bf_done;
    op->arg = e;
    if (ivcs_s3_start(e->s3, op) < 0) {
        e->bf.waiting = 1;
        e->bf.retry_at = now + 1000;
        return 0;
    }
    e->bf.active = 1;
    e->bf.waiting = 0;
    e->bf.started_at = now;
    return 1;
}

int ivcs_bf_pending(const ivcs_engine_s *e)
{
    if (!e->spool) return 0;
    if (e->bf.active || e->bf.reading) return 1;
    uint32_t n = atomic_load_explicit(&e->n_ch, memory_order_acquire);
    for (uint32_t i = 0; i < n; i++)
        if (e->ch[i]->up.failing) return 0; /* the server is away: wait no longer */
    if (e->bf.waiting) return 0;
    ivcs_spool_entry_s x;
    return e->bf.have || ivcs_spool_next(e->spool, 0, BF_KINDS, &x) == 0;
}

int ivcs_bf_busy(const ivcs_engine_s *e)
{
    return e->bf.active || e->bf.reading; /* a file read cannot be cancelled */
}

void ivcs_bf_cancel(ivcs_engine_s *e)
{
    if (e->bf.active) ivcs_http_request_cancel(ivcs_s3_http(e->s3), &e->bf.op.http);
}
