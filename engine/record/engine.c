/*
 * engine.c - the engine: its thread and loop, the command queue, the plan's
 * effects (service, stream start/stop callbacks), events, and the native
 * engine API. The slicer and uploads are in uploader.c, plan.json polling in
 * poller.c, the push path in channel/channel.c.
 *
 * The engine thread sleeps in its loop (ivcs_loop_run_once: io_uring, or
 * epoll where io_uring cannot run) with a receive
 * armed on one end of a socketpair, for at most a tick (100 ms) or until
 * its next timer. Wake-ups are lazy: an ordinary frame is picked up at the
 * next tick, so real-time pushing makes no syscall. A producer wakes the
 * engine only when it must act promptly (channel.c: a key frame at a slice
 * boundary, the unread part of a ring past 1/8, its fill past 3/4, a full
 * ring; commands always). That wake-up is a Dekker pair on e->sleeping and
 * ch->urgent (seq_cst): the engine stores sleeping = 1 then loads every
 * urgent; the producer stores urgent = 1 then loads sleeping and claims it
 * (exchange to 0) before its send. Either the engine sees urgent and does
 * not block, or the producer sees sleeping and wakes it: no lost wake-up,
 * and at most one send per sleep. Latency push -> upload start: < 1 ms
 * after an urgent push (slice-closing key frame), at most one tick
 * otherwise. (io_uring's IORING_OP_READ on an eventfd would do the same;
 * the loop offers recv, so a socketpair is the wake-up object.)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "engine/record/engine.h"
#include "engine/record/balance.h"
#include "engine/record/engine_internal.h"
#include "engine/spool/spool.h"
#include "engine/core/alloc.h"

int ivcs_eng_enqueue(ivcs_engine_s *e, int kind); /* channel.c */

static uint64_t real_now_ms(void *ctx)
{
    (void)ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int64_t ivcs_eng_now(const ivcs_engine_s *e)
{
    return (int64_t)e->cfg.now_ms(e->cfg.clock_ctx);
}

void ivcs_eng_notify(ivcs_channel_s *c, const ivcs_notify_s *n)
{
    if (c->cfg.cb.notify) c->cfg.cb.notify(c->cfg.cb.user, c->index, n);
}

void ivcs_eng_wake_producer(ivcs_engine_s *e)
{
    static const char b = 1;
    /* EAGAIN (socket buffer full) means wake-ups are already pending */
    atomic_fetch_add_explicit(&e->st_wakes, 1, RLX);
    ssize_t r = send(e->wake_fd[1], &b, 1, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)r;
}

void ivcs_eng_nudge(ivcs_engine_s *e, ivcs_channel_s *c)
{
    /* seq_cst store then seq_cst load: the Dekker half of the producer */
    atomic_store(&c->urgent, 1);
    if (atomic_load(&e->sleeping) && atomic_exchange(&e->sleeping, 0)) ivcs_eng_wake_producer(e);
}

void ivcs_engine_wake(ivcs_engine_s *e)
{
    if (e) ivcs_eng_wake_producer(e);
}

static void on_wake(ivcs_loop_op *op, int res)
{
    ivcs_engine_s *e = op->arg;
    (void)res;
    e->wake_armed = 0;
}

static void arm_wake(ivcs_engine_s *e)
{
    if (e->wake_armed) return;
    e->wake_op.cb = on_wake;
    e->wake_op.arg = e;
    if (ivcs_loop_recv(e->loop, &e->wake_op, e->wake_fd[0], e->wake_buf, sizeof e->wake_buf, 0) ==
        0)
        e->wake_armed = 1;
}

/* ---------------------------------------------------------------- streaming */

static int any_open(const ivcs_channel_s *c)
{
    for (int i = 0; i < ENG_EVENTS; i++)
        if (c->ev[i].state == 1) return 1;
    return 0;
}

/* Calls stream_start/stop when "should the firmware push" changes: a
 * full-time service, or any open event. */
static void update_streaming(ivcs_engine_s *e, ivcs_channel_s *c)
{
    int svc = atomic_load_explicit(&e->service, RLX);
    int want = svc == IVCS_SERVICE_FULL_TIME || (svc != IVCS_SERVICE_NONE && any_open(c));
    if (want == c->streaming) return;
    c->streaming = want;
    atomic_store_explicit(&c->st_streaming, want, RLX);
    if (want)
        c->cfg.cb.stream_start(c->cfg.cb.user, c->index);
    else
        c->cfg.cb.stream_stop(c->cfg.cb.user, c->index);
}

void ivcs_eng_apply_service(ivcs_engine_s *e)
{
    int64_t now = ivcs_eng_now(e);
    pthread_mutex_lock(&e->plan_mu);
    if (e->adopt && !e->fixed) {
        e->plan = e->adopt_plan;
        e->have_plan = 1;
    }
    e->adopt = 0;
    pthread_mutex_unlock(&e->plan_mu);
    ivcs_service_e svc = e->have_plan ? ivcs_plan_service(&e->plan, now / 1000) : IVCS_SERVICE_NONE;
    int old = atomic_exchange_explicit(&e->service, (int)svc, RLX);
    /* The cached balance first: a stream_start/stop callback that reads it
     * (iv_cs_get_balance_info with timeout 0) sees the plan that called it. */
    if (old != (int)svc || e->have_plan) {
        pthread_mutex_lock(&e->plan_mu);
        ivcs_plan_balance(&e->plan, now / 1000, &e->balance);
        pthread_mutex_unlock(&e->plan_mu);
    }
    uint32_t n = atomic_load_explicit(&e->n_ch, memory_order_acquire);
    for (uint32_t i = 0; i < n; i++) {
        update_streaming(e, e->ch[i]);
        if (old != (int)svc) ivcs_up_reconsider(e->ch[i]);
    }
}

/* ---------------------------------------------------------------- events */

static int is_jpeg(const uint8_t *p, int32_t n)
{
    return p && n >= 4 && p[0] == 0xFF && p[1] == 0xD8 && p[n - 2] == 0xFF && p[n - 1] == 0xD9;
}

static void event_start(ivcs_engine_s *e, ivcs_channel_s *c, int32_t id, int64_t ev, int64_t st)
{
    eng_event_s *x = &c->ev[id - 1];
    /* the id restarts: the previous event's picture, if the engine still
     * has it, goes back to the firmware first (its one result) */
    ivcs_up_pic_give_back(c, x, IV_ERR_CS_HTTP_DATA_FAIL);
    uint32_t gen = x->gen + 1;
    memset(x, 0, sizeof *x);
    x->gen = gen;
    x->state = 1;
    x->id = id;
    x->ev_start = ev;
    x->st_start = st;
    x->ev_stop = x->st_stop = -1;
    x->json_dirty = 1;
    atomic_fetch_add_explicit(&c->st_events_open, 1, RLX);
    /* Order (documented): capture_picture, stream_start, record written,
     * picture uploaded, picture_result. */
    if (c->cfg.cb.capture_picture) {
        uint8_t *pic = NULL;
        int32_t size = 0;
        c->cfg.cb.capture_picture(c->cfg.cb.user, c->index, id, &pic, &size);
        if (pic && size > 0) {
            if (is_jpeg(pic, size)) {
                x->pic = pic;
                x->pic_len = size;
                x->pic_pending = 1;
            } else if (c->cfg.cb.picture_result) { /* not a JPEG: back at once */
                c->cfg.cb.picture_result(c->cfg.cb.user, c->index, &pic,
                                         IV_ERR_CS_UPLOAD_OPEN_FILE_FAIL);
            }
        }
    }
    update_streaming(e, c);
    ivcs_up_reconsider(c);
}

static void event_stop(ivcs_engine_s *e, ivcs_channel_s *c, int32_t id, int64_t ev, int64_t st)
{
    eng_event_s *x = &c->ev[id - 1];
    if (x->state != 1) return;
    x->ev_stop = ev < x->ev_start ? x->ev_start : ev;
    x->st_stop = st < x->st_start ? x->st_start : st;
    if (x->st_stop < x->ev_stop) x->st_stop = x->ev_stop;
    x->state = 2;
    x->json_dirty = 1;
    x->attempts = 0;
    x->retry_at = 0;
    atomic_fetch_sub_explicit(&c->st_events_open, 1, RLX);
    update_streaming(e, c);
    ivcs_up_reconsider(c);
}

static int drain_cmds(ivcs_engine_s *e)
{
    int did = 0;
    for (;;) {
        /* One consumer (this thread): cmd_deq is plain. acquire pairs with the
         * producer's release of seq = pos + 1 (channel.c enqueue): the
         * command's fields are read after they were written. */
        eng_cmd_s *s = &e->cmdq[e->cmd_deq & (ENG_CMD_Q - 1)];
        uint32_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
        if (seq != (uint32_t)(e->cmd_deq + 1)) break;
        eng_cmd_s cmd = {.kind = s->kind,
                         .ch = s->ch,
                         .event_id = s->event_id,
                         .t_event_ms = s->t_event_ms,
                         .t_stream_ms = s->t_stream_ms};
        /* release: the fields were copied out before the slot is handed to
         * the producer of the next lap (its acquire load of seq) */
        atomic_store_explicit(&s->seq, (uint32_t)(e->cmd_deq + ENG_CMD_Q), memory_order_release);
        e->cmd_deq++;
        did = 1;
        uint32_t n = atomic_load_explicit(&e->n_ch, memory_order_acquire);
        if (cmd.kind == CMD_WAKE || cmd.ch >= n) continue;
        ivcs_channel_s *c = e->ch[cmd.ch];
        if (cmd.kind == CMD_EVENT_START)
            event_start(e, c, cmd.event_id, cmd.t_event_ms, cmd.t_stream_ms);
        else if (cmd.kind == CMD_EVENT_STOP)
            event_stop(e, c, cmd.event_id, cmd.t_event_ms, cmd.t_stream_ms);
    }
    return did;
}

/* ---------------------------------------------------------------- thread */

/* Engine half of the Dekker pair: announce the sleep, then look for a
 * producer that asked for prompt action. Returns 1 if the engine may block. */
static int may_sleep(ivcs_engine_s *e, uint32_t n)
{
    atomic_store(&e->sleeping, 1);
    for (uint32_t i = 0; i < n; i++)
        if (atomic_load(&e->ch[i]->urgent)) {
            atomic_store_explicit(&e->sleeping, 0, RLX);
            return 0;
        }
    return 1;
}

/* Serves one channel. The urgent flag is cleared with a full barrier before
 * the scan, so a frame committed before a later urgent store is either seen
 * by this scan or announced again. */
static int service_channel(ivcs_channel_s *c, int64_t now, int stopping)
{
    if (atomic_load_explicit(&c->urgent, RLX)) (void)atomic_exchange(&c->urgent, 0);
    int busy = ivcs_up_service(c, now, stopping);
    busy |= ivcs_up_aux_service(c, now);
    ivcs_up_publish_acc(c);
    /* stored only when it moved: the producers read this line per push.
     * Every >= 10 ms the fill rate of each ring gives rate_sleep_ms: the
     * longest the engine may sleep before, at that rate, a ring's unread
     * part would reach the 1/8 mark at which a push must wake it
     * (channel.c must_wake): half that time, at least 1 ms. A fast stream
     * so makes the engine poll instead of every few pushes paying a wake-up
     * syscall (12-50 us on a 2-vCPU guest, docs/PERF.md section 1). */
    int64_t dt = now - c->rate_at;
    int measure = dt >= 10;
    if (measure) c->rate_sleep_ms = INT64_MAX;
    for (int s = 0; s < 2; s++) {
        uint64_t rp = ivcs_ring_read_pos(c->pring[s]);
        if (atomic_load_explicit(&c->seen[s], RLX) != (uint32_t)rp)
            atomic_store_explicit(&c->seen[s], (uint32_t)rp, RLX);
        if (!measure) continue;
        uint64_t bpms = c->rate_at ? (rp - c->rate_from[s]) / (uint64_t)dt : 0;
        c->rate_from[s] = rp;
        if (!bpms) continue;
        int64_t t = (int64_t)(ivcs_ring_capacity(c->pring[s]) / 8 / bpms / 2);
        if (t < 1) t = 1;
        if (t < c->rate_sleep_ms) c->rate_sleep_ms = t;
    }
    if (measure) c->rate_at = now;
    return busy;
}

/* The engine whose thread this is (NULL on every other thread): lets the
 * calls that would deadlock or free the engine under its own feet (stop,
 * destroy, iv_cs_exit) refuse when a callback makes them. Thread-local
 * rather than pthread_equal on e->thread, which pthread_create writes
 * without ordering against the new thread's reads. */
static _Thread_local const ivcs_engine_s *tl_engine;

int ivcs_eng_on_thread(const ivcs_engine_s *e)
{
    return e && tl_engine == e;
}

/* integrity "auto": a few PUTs of a probe object next to plan.json (its own
 * thread, client and loop, each request bounded by min(reply timeout, 5 s));
 * slices sent meanwhile use md5; the object is deleted after. A probe that
 * got no answer at all leaves md5 in force and runs again after the first
 * PUT that succeeds (so never while the server is away), at most every
 * 30 s. */
#define ENG_REPROBE_MIN_MS 30000

void ivcs_eng_server_answered(ivcs_engine_s *e)
{
    if (e->integ_reprobe) e->integ_reprobe_due = 1;
}

/* The probe thread: reads only what does not change after init (config,
 * layout, boot, allocator) and writes only the probe_* results. */
static void *probe_main(void *arg)
{
    ivcs_engine_s *e = arg;
    char key[IVCS_LAYOUT_KEY_MAX + 64];
    e->probe_mode = IVCS_INTEGRITY_MD5;
    e->probe_answered = 1;
    e->probe_note[0] = 0;
    if (ivcs_layout_plan_key(&e->layout, key, sizeof key) >= 0) {
        char *slash = strrchr(key, '/');
        size_t at = slash ? (size_t)(slash + 1 - key) : 0;
        snprintf(key + at, sizeof key - at, "integrity-probe-%08x", e->boot);
        /* at most 5 s a request: a destroy waits for the probe */
        uint32_t ms = atomic_load_explicit(&e->reply_ms, RLX);
        if (!ms || ms > 5000) ms = 5000;
        e->probe_mode = ivcs_s3_probe_integrity(e->alloc, &e->cfg.cloud, key, ms, e->probe_note,
                                                sizeof e->probe_note, &e->probe_answered);
    }
    atomic_store_explicit(&e->probe_done, 1, memory_order_release);
    ivcs_engine_wake(e);
    return NULL;
}

static void probe_apply(ivcs_engine_s *e, int mode, const char *note, int answered)
{
    pthread_mutex_lock(&e->plan_mu); /* ivcs_engine_stats copies the note */
    snprintf(e->integrity_note, sizeof e->integrity_note, "%s", note);
    pthread_mutex_unlock(&e->plan_mu);
    atomic_store(&e->integrity, mode);
    atomic_store(&e->integ_ready, 1);
    e->integ_reprobe = !answered;
    e->integ_reprobe_due = 0;
}

/* Starts the probe thread (engine thread). Without a thread: md5, said so. */
static void probe_start(ivcs_engine_s *e)
{
    if (e->probe_running) return;
    atomic_store_explicit(&e->probe_done, 0, RLX);
    if (pthread_create(&e->probe_th, NULL, probe_main, e) != 0) {
        probe_apply(e, IVCS_INTEGRITY_MD5, "probe not run (no thread): md5", 1);
        return;
    }
    e->probe_running = 1;
}

/* Applies a finished probe (engine thread); wait: join a running one. 1 if
 * one was applied. */
static int probe_finish(ivcs_engine_s *e, int wait)
{
    if (!e->probe_running) return 0;
    if (!wait && !atomic_load_explicit(&e->probe_done, memory_order_acquire)) return 0;
    pthread_join(e->probe_th, NULL);
    e->probe_running = 0;
    probe_apply(e, e->probe_mode, e->probe_note, e->probe_answered);
    return 1;
}

static void *engine_main(void *arg)
{
    ivcs_engine_s *e = arg;
    tl_engine = e;
    uint64_t flush_deadline = 0; /* monotonic: the injected clock may be frozen */
    int cancelled = 0;
    if (!e->fixed) atomic_store(&e->poll.force, 1);
    if (atomic_load(&e->integrity) == IVCS_INTEGRITY_AUTO) probe_start(e);
    for (;;) {
        atomic_fetch_add_explicit(&e->st_iter, 1, RLX);
        arm_wake(e);
        uint32_t um = atomic_load_explicit(&e->up_ms, RLX),
                 rm = atomic_load_explicit(&e->reply_ms, RLX);
        ivcs_s3_set_timeouts(e->s3, um, rm);
        int64_t now = ivcs_eng_now(e);
        int busy = drain_cmds(e);
        if (!e->fixed) busy |= ivcs_poll_service(e, now);
        ivcs_eng_apply_service(e);
        int stopping = atomic_load(&e->stopping);
        uint32_t n = atomic_load_explicit(&e->n_ch, memory_order_acquire);
        for (uint32_t i = 0; i < n; i++)
            busy |= service_channel(e->ch[i], now, stopping);
        atomic_store_explicit(&e->st_skew, (int32_t)ivcs_s3_clock_skew(e->s3), RLX);
        busy |= probe_finish(e, 0);
        if (e->integ_reprobe_due && !e->probe_running && !stopping &&
            now >= e->integ_reprobe_at) {
            probe_start(e); /* the server answered a PUT: it is back */
            /* no answer again: not before another PUT succeeded and 30 s */
            e->integ_reprobe_at = now + ENG_REPROBE_MIN_MS;
            busy = 1;
        }
        if (e->spool) {
            busy |= ivcs_spool_poll(e->spool) > 0; /* one bounded disk step */
            if (!cancelled) busy |= ivcs_bf_service(e, now);
        }
        if (stopping) {
            if (!flush_deadline) flush_deadline = ivcs_loop_now_ms() + um;
            uint32_t pend = 0;
            for (uint32_t i = 0; i < n; i++)
                pend += ivcs_up_pending(e->ch[i]);
            pend += ivcs_bf_pending(e); /* backfill goes on within the budget */
            if (!pend || ivcs_loop_now_ms() >= flush_deadline) {
                if (!cancelled) {
                    for (uint32_t i = 0; i < n; i++)
                        ivcs_up_cancel(e->ch[i]);
                    ivcs_poll_cancel(e);
                    ivcs_bf_cancel(e);
                    cancelled = 1;
                }
                int active = ivcs_poll_busy(e) || ivcs_bf_busy(e);
                for (uint32_t i = 0; i < n; i++)
                    active |= ivcs_up_busy(e->ch[i]);
                if (!active) {
                    /* spool writes under way finish (their slices are safe) */
                    if (e->spool) {
                        ivcs_spool_drain(e->spool);
                        for (uint32_t i = 0; i < n; i++) ivcs_up_publish_acc(e->ch[i]);
                    }
                    /* what is left is lost: counted, notified, pictures back */
                    if (e->spool) ivcs_bf_abandon(e);
                    uint64_t lost = 0;
                    for (uint32_t i = 0; i < n; i++)
                        lost += ivcs_up_abandon(e->ch[i]);
                    e->abandoned = lost;
                    break;
                }
                ivcs_loop_run_once(e->loop, 50);
                continue;
            }
        }
        int wait = 0;
        if (!busy) {
            int64_t dl = e->fixed ? INT64_MAX : ivcs_poll_deadline(e);
            if (e->spool && e->bf.waiting && e->bf.retry_at < dl) dl = e->bf.retry_at;
            for (uint32_t i = 0; i < n; i++) {
                int64_t d = ivcs_up_deadline(e->ch[i]);
                if (d < dl) dl = d;
                int64_t r = e->ch[i]->rate_sleep_ms;
                if (r != INT64_MAX && now + r < dl) dl = now + r;
            }
            if (may_sleep(e, n)) {
                int64_t w = dl == INT64_MAX ? e->tick_ms : dl - now;
                wait = w < 0 ? 0 : w > e->tick_ms ? (int)e->tick_ms : (int)w;
                if (stopping && wait > 50) wait = 50;
            }
        }
        ivcs_loop_run_once(e->loop, wait);
        atomic_store_explicit(&e->sleeping, 0, RLX);
    }
    probe_finish(e, 1); /* a running probe: each of its requests <= 5 s */
    return NULL;
}

/* ---------------------------------------------------------------- API */

void ivcs_engine_config_defaults(ivcs_engine_config_s *cfg)
{
    if (!cfg) return;
    memset(cfg, 0, sizeof *cfg);
    ivcs_config_defaults(&cfg->cloud);
    cfg->max_channels = ENG_MAX_CHANNELS_DEFAULT;
    cfg->upload_timeout_ms = IVCS_DEFAULT_UPLOAD_TIMEOUT_MS;
    cfg->reply_timeout_ms = IVCS_DEFAULT_REPLY_TIMEOUT_MS;
    cfg->pause_ms = IVCS_DEFAULT_PAUSE_MS;
}

static void engine_free(ivcs_engine_s *e)
{
    ivcs_jemalloc_allocator_s *ja = e->ja;
    const ivcs_allocator_s *a = e->alloc;
    uint32_t n = atomic_load(&e->n_ch);
    for (uint32_t i = 0; i < n; i++)
        ivcs_channel_free(e->ch[i]);
    if (e->s3) ivcs_s3_destroy(e->s3);
    if (e->loop) ivcs_loop_destroy(e->loop);
    ivcs_spool_close(e->spool);
    ivcs_s3_op_cleanup(&e->bf.op);
    ivcs_free(a, e->bf.buf, e->bf.cap);
    ivcs_digest_cleanup(&e->md5);
    if (e->wake_fd[0] >= 0) close(e->wake_fd[0]);
    if (e->wake_fd[1] >= 0) close(e->wake_fd[1]);
    ivcs_free(a, e->scratch, e->scratch_len);
    ivcs_free(a, e->cmdq, sizeof *e->cmdq * ENG_CMD_Q);
    ivcs_free(a, e->ch, sizeof *e->ch * e->max_ch);
    pthread_mutex_destroy(&e->plan_mu);
    ivcs_free(a, e, sizeof *e);
    if (ja) {
        ivcs_jemalloc_allocator_destroy(ja);
        free(ja);
    }
}

int ivcs_engine_new(ivcs_engine_s **out, const ivcs_engine_config_s *cfg)
{
    if (!out || !cfg) return IVCS_ERR_INVALID_ARG;
    *out = NULL;
    char why[160];
    if (ivcs_config_validate(&cfg->cloud, why, sizeof why) < 0) return IVCS_ERR_CONFIG;
    const ivcs_allocator_s *a = cfg->alloc;
    ivcs_jemalloc_allocator_s *ja = NULL;
    if (!a) {
        if (ivcs_jemalloc_available() && (ja = calloc(1, sizeof *ja)) &&
            ivcs_jemalloc_allocator_init(ja) == 0) {
            a = &ja->allocator;
        } else {
            free(ja);
            ja = NULL;
            a = ivcs_allocator_default();
        }
    }
    ivcs_engine_s *e = ivcs_alloc(a, sizeof *e, 64);
    if (!e) {
        if (ja) {
            ivcs_jemalloc_allocator_destroy(ja);
            free(ja);
        }
        return IV_ERR_SYS_MALLOC_FAIL;
    }
    memset(e, 0, sizeof *e);
    e->alloc = a;
    e->ja = ja;
    e->cfg = *cfg;
    e->cfg.alloc = a;
    e->wake_fd[0] = e->wake_fd[1] = -1;
    if (!e->cfg.now_ms) e->cfg.now_ms = real_now_ms;
    if (!e->cfg.max_channels) e->cfg.max_channels = ENG_MAX_CHANNELS_DEFAULT;
    if (!e->cfg.upload_timeout_ms) e->cfg.upload_timeout_ms = IVCS_DEFAULT_UPLOAD_TIMEOUT_MS;
    if (!e->cfg.reply_timeout_ms) e->cfg.reply_timeout_ms = IVCS_DEFAULT_REPLY_TIMEOUT_MS;
    if (!e->cfg.pause_ms) e->cfg.pause_ms = IVCS_DEFAULT_PAUSE_MS;
    e->tick_ms = e->cfg.wake_tick_ms ? e->cfg.wake_tick_ms : ENG_TICK_MS_DEFAULT;
    if (e->tick_ms > 1000) e->tick_ms = 1000;
    atomic_store(&e->up_ms, e->cfg.upload_timeout_ms);
    atomic_store(&e->reply_ms, e->cfg.reply_timeout_ms);
    e->max_ch = e->cfg.max_channels;
    pthread_mutex_init(&e->plan_mu, NULL);
    int64_t now = ivcs_eng_now(e);
    ivcs_plan_none(&e->plan, now / 1000);
    if (cfg->fixed_plan) {
        e->fixed = 1;
        e->have_plan = 1;
        e->plan.cs_switch = cfg->fixed_plan->cs_switch;
        e->plan.cs_type = (ivcs_plan_type_e)cfg->fixed_plan->cs_type;
        e->plan.cs_days = cfg->fixed_plan->cs_days;
        e->plan.free_trial_remaining_sec = cfg->fixed_plan->free_trial_remaining_sec;
    }
    e->boot = ivcs_layout_boot_id();
    e->rng_state = ((uint64_t)e->boot << 32) ^ (uint64_t)now ^ 0x9e3779b97f4a7c15ull;
    int rc = ivcs_layout_init(&e->layout, cfg->cloud.prefix, cfg->cloud.device_id);
    if (rc < 0) rc = IVCS_ERR_CONFIG;
    e->ch = rc == 0 ? ivcs_alloc(a, sizeof *e->ch * e->max_ch, 8) : NULL;
    e->cmdq = e->ch ? ivcs_alloc(a, sizeof *e->cmdq * ENG_CMD_Q, 64) : NULL;
    e->scratch_len = 64 * IVCS_TS_PACKET;
    e->scratch = e->cmdq ? ivcs_alloc(a, e->scratch_len, 64) : NULL;
    if (rc == 0 && !e->scratch) rc = IV_ERR_SYS_MALLOC_FAIL;
    if (rc == 0) {
        memset(e->ch, 0, sizeof *e->ch * e->max_ch);
        for (uint32_t i = 0; i < ENG_CMD_Q; i++)
            atomic_init(&e->cmdq[i].seq, (uint32_t)i);
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, e->wake_fd) < 0)
            rc = IV_ERR_SYS_COMMUNICATE_FAIL;
    }
    atomic_store(&e->integrity, cfg->cloud.integrity);
    atomic_store(&e->integ_ready, cfg->cloud.integrity != IVCS_INTEGRITY_AUTO);
    if (rc == 0) rc = ivcs_digest_init(&e->md5, IVCS_DIGEST_MD5);
    if (rc == 0) rc = ivcs_loop_new_backend(&e->loop, a, 256, cfg->cloud.io_backend);
    if (rc == 0) rc = ivcs_s3_new(&e->s3, a, &cfg->cloud, e->loop);
    if (rc == 0) rc = ivcs_poll_init(e);
    if (rc == 0) ivcs_poll_spool_init(e); /* recovery before any slice exists */
    if (rc == 0) {
        atomic_store(&e->accepting, 1);
        ivcs_eng_apply_service(e);
        if (pthread_create(&e->thread, NULL, engine_main, e) != 0)
            rc = IV_ERR_SYS_COMMUNICATE_FAIL;
        else
            e->thread_started = 1;
    }
    if (rc < 0) {
        engine_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

int ivcs_engine_stop(ivcs_engine_s *e)
{
    if (!e) return IVCS_ERR_INVALID_ARG;
    if (ivcs_eng_on_thread(e)) return IVCS_ERR_STATE; /* a callback: would join itself */
    atomic_store(&e->accepting, 0);
    atomic_store(&e->stopping, 1);
    ivcs_engine_wake(e);
    if (e->thread_started) pthread_join(e->thread, NULL);
    e->thread_started = 0;
    int rc = e->abandoned ? IVCS_ERR_TIMEOUT : 0;
    uint32_t n = atomic_load(&e->n_ch);
    for (uint32_t i = 0; i < n; i++)
        if (ivcs_up_pending(e->ch[i])) rc = IVCS_ERR_TIMEOUT;
    return rc;
}

int ivcs_engine_destroy(ivcs_engine_s *e)
{
    if (!e) return IVCS_ERR_INVALID_ARG;
    if (ivcs_eng_on_thread(e)) return IVCS_ERR_STATE; /* a callback: would free its caller */
    int rc = ivcs_engine_stop(e);
    engine_free(e);
    return rc;
}

int ivcs_engine_set_trans_time(ivcs_engine_s *e, uint32_t upload_timeout_ms,
                               uint32_t reply_timeout_ms)
{
    if (!e || !upload_timeout_ms || !reply_timeout_ms) return IVCS_ERR_INVALID_ARG;
    atomic_store(&e->up_ms, upload_timeout_ms);
    atomic_store(&e->reply_ms, reply_timeout_ms);
    return 0;
}

typedef struct {
    char b[1024];
    size_t n;
} body_buf;

static int collect(void *arg, const uint8_t *d, size_t n)
{
    body_buf *body = arg;
    if (body->n + n > sizeof body->b) return IVCS_ERR_TOO_LONG;
    memcpy(body->b + body->n, d, n);
    body->n += n;
    return 0;
}

/* GET plan.json with a short-lived client of its own, blocking up to
 * timeout_s. 0 and *plan (404 = no plan), or IV_ERR_CS_QUERY_SERVICE_TIMEOUT
 * (no answer, an error status, or a body that is not a plan), IVCS_ERR_CONFIG. */
static int query_plan(const ivcs_config_s *cfg, uint32_t timeout_s, int64_t now_s,
                      ivcs_plan_s *plan)
{
    ivcs_layout_s l;
    char key[IVCS_LAYOUT_KEY_MAX + 1];
    if (ivcs_layout_init(&l, cfg->prefix, cfg->device_id) < 0 ||
        ivcs_layout_plan_key(&l, key, sizeof key) < 0)
        return IVCS_ERR_CONFIG;
    ivcs_s3 *s3;
    int rc = ivcs_s3_new(&s3, NULL, cfg, NULL);
    /* an I/O backend that cannot start is no timeout: say so */
    if (rc < 0) return rc == IVCS_ERR_IO_BACKEND ? rc : IV_ERR_CS_QUERY_SERVICE_TIMEOUT;
    body_buf body = {.n = 0};
    ivcs_s3_op op;
    ivcs_s3_op_init(&op, IVCS_S3_GET, key);
    uint32_t ms = timeout_s > 4000000 ? 4000000000u : timeout_s * 1000u;
    op.upload_ms = ms;
    op.reply_ms = ms;
    op.max_attempts = 1;
    op.arg = &body;
    op.on_data = collect;
    rc = ivcs_s3_run(s3, &op);
    ivcs_plan_none(plan, now_s);
    if (rc == 0) {
        if (ivcs_plan_parse(plan, body.b, body.n, now_s) < 0) rc = IV_ERR_CS_QUERY_SERVICE_TIMEOUT;
    } else if (rc == IVCS_ERR_NOT_FOUND) {
        rc = 0;
    } else {
        rc = IV_ERR_CS_QUERY_SERVICE_TIMEOUT;
    }
    ivcs_s3_op_cleanup(&op);
    ivcs_s3_destroy(s3);
    return rc;
}

int ivcs_query_balance_info(const ivcs_config_s *cfg, iv_cs_balance_info_s *out, uint32_t timeout_s)
{
    if (!cfg || !out) return IVCS_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    int64_t now = (int64_t)real_now_ms(NULL) / 1000;
    ivcs_plan_s plan;
    int rc = query_plan(cfg, timeout_s, now, &plan);
    if (rc == 0) ivcs_plan_balance(&plan, now, out);
    return rc;
}

int ivcs_engine_get_balance_info(ivcs_engine_s *e, iv_cs_balance_info_s *out, uint32_t timeout_s)
{
    if (!e || !out) return IVCS_ERR_INVALID_ARG;
    int rc = 0;
    if (timeout_s > 0 && !e->fixed) {
        ivcs_plan_s plan;
        int64_t now_s = ivcs_eng_now(e) / 1000;
        rc = query_plan(&e->cfg.cloud, timeout_s, now_s, &plan);
        if (rc == 0) {
            pthread_mutex_lock(&e->plan_mu);
            ivcs_plan_balance(&plan, now_s, &e->balance);
            e->adopt_plan = plan;
            e->adopt = 1;
            pthread_mutex_unlock(&e->plan_mu);
            /* let the poller pick the new plan up at once */
            atomic_store(&e->poll.force, 1);
            ivcs_engine_wake(e);
        }
    }
    pthread_mutex_lock(&e->plan_mu);
    *out = e->balance;
    pthread_mutex_unlock(&e->plan_mu);
    return rc;
}

void ivcs_engine_stats(ivcs_engine_s *e, ivcs_engine_stats_s *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    if (!e) return;
    o->plan_polls = atomic_load_explicit(&e->st_polls, RLX);
    o->plan_changes = atomic_load_explicit(&e->st_plan_changes, RLX);
    o->plan_not_modified = atomic_load_explicit(&e->st_not_modified, RLX);
    o->loop_iterations = atomic_load_explicit(&e->st_iter, RLX);
    o->wakeups = atomic_load_explicit(&e->st_wakes, RLX);
    o->channels = atomic_load(&e->n_ch);
    o->boot = e->boot;
    o->service = atomic_load(&e->service);
    if (e->loop) {
        o->io_backend = ivcs_loop_backend(e->loop);
        snprintf(o->io_note, sizeof o->io_note, "%s", ivcs_loop_note(e->loop));
    }
    o->plan_cached = atomic_load_explicit(&e->st_plan_cached, RLX);
    o->spool_on = atomic_load_explicit(&e->st_spool_on, RLX);
    o->spool_fault = atomic_load_explicit(&e->st_spool_fault, RLX);
    o->spool_entries = atomic_load_explicit(&e->st_spool_entries, RLX);
    o->spool_bytes = atomic_load_explicit(&e->st_spool_bytes, RLX);
    o->spool_oldest_ms = atomic_load_explicit(&e->st_spool_oldest_ms, RLX);
    o->spool_recovered = atomic_load_explicit(&e->st_spool_recovered, RLX);
    o->spool_discarded_corrupt = atomic_load_explicit(&e->st_spool_discarded, RLX);
    o->backfill_slices = atomic_load_explicit(&e->st_bf_slices, RLX);
    o->backfill_frames = atomic_load_explicit(&e->st_bf_frames, RLX);
    o->backfill_events = atomic_load_explicit(&e->st_bf_events, RLX);
    o->backfill_pictures = atomic_load_explicit(&e->st_bf_pictures, RLX);
    o->spool_evicted = atomic_load_explicit(&e->st_spool_evicted, RLX);
    o->integrity = atomic_load(&e->integrity);
    if (atomic_load(&e->integ_ready)) {
        pthread_mutex_lock(&e->plan_mu);
        snprintf(o->integrity_note, sizeof o->integrity_note, "%s", e->integrity_note);
        pthread_mutex_unlock(&e->plan_mu);
    }
    o->integrity_failures = atomic_load_explicit(&e->st_integ_fail, RLX);
    o->clock_skew_s = atomic_load_explicit(&e->st_skew, RLX);
    ivcs_jemalloc_stats_s js;
    if (e->ja && ivcs_jemalloc_allocator_stats(e->ja, &js) == 0) {
        o->mem_allocated = js.allocated;
        o->mem_resident = js.resident;
    }
}

double ivcs_engine_thread_cpu_s(ivcs_engine_s *e)
{
    clockid_t cid;
    struct timespec ts;
    if (!e || !e->thread_started || pthread_getcpuclockid(e->thread, &cid) ||
        clock_gettime(cid, &ts))
        return 0;
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
