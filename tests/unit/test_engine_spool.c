/* test_engine_spool.c - the engine and its local spool (spool_dir), the
 * parts that exist so far: the spool is opened (scanned, verified,
 * recovered) in ivcs_engine_new, before any channel or slice; the plan.json
 * the server answered is cached there; an engine that cannot reach the
 * server at start records under the cached plan (stats.plan_cached) unless
 * that plan has expired by its own dates; a missing spool directory is a
 * fault in the stats, not a failed start. The plan server is the
 * in-process fake of engine_fixture.h (radosgw cannot be made unreachable
 * on demand from a C test); "unreachable" is a closed loopback port. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "check.h"
#include "engine/net/hash.h"
#include "engine/record/engine_internal.h"
#include "engine/spool/spool.h"
#include "engine_fixture.h"
#include "iv_cs.h"

static pthread_mutex_t srv_mu = PTHREAD_MUTEX_INITIALIZER;
static char srv_plan[256];
static int srv_gets;
static int srv_fail;          /* 1: every PUT gets a 500 */
static char srv_put[256][200]; /* paths of the PUTs answered 200, in order */
static int srv_nput;

static void srv_set_fail(int f)
{
    pthread_mutex_lock(&srv_mu);
    srv_fail = f;
    pthread_mutex_unlock(&srv_mu);
}

static int srv_puts(void)
{
    pthread_mutex_lock(&srv_mu);
    int n = srv_nput;
    pthread_mutex_unlock(&srv_mu);
    return n;
}

static int plan_reply(const char *head, char *resp, size_t cap)
{
    int inm = strcasestr(head, "\r\nif-none-match:") != NULL;
    int n;
    pthread_mutex_lock(&srv_mu);
    if (!strncmp(head, "GET ", 4)) {
        srv_gets++;
        if (inm)
            n = snprintf(resp, cap, "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n\r\n");
        else
            n = snprintf(resp, cap, "HTTP/1.1 200 OK\r\nETag: \"v1\"\r\nContent-Length: %zu\r\n\r\n%s",
                         strlen(srv_plan), srv_plan);
    } else if (srv_fail) {
        n = snprintf(resp, cap, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
    } else {
        const char *sp = strchr(head, ' '), *e = sp ? strchr(sp + 1, ' ') : NULL;
        if (sp && e && srv_nput < 256 && (size_t)(e - sp - 1) < sizeof srv_put[0])
            snprintf(srv_put[srv_nput++], sizeof srv_put[0], "%.*s", (int)(e - sp - 1), sp + 1);
        n = snprintf(resp, cap, "HTTP/1.1 200 OK\r\nETag: \"x\"\r\nContent-Length: 0\r\n\r\n");
    }
    pthread_mutex_unlock(&srv_mu);
    return n;
}

static _Atomic uint64_t fake_now = 1767225600000ull; /* 2026-01-01 */
static uint64_t clock_fn(void *ctx)
{
    (void)ctx;
    return atomic_load(&fake_now);
}

#define WAIT_FOR(cond)                                                                       \
    do {                                                                                     \
        for (int w_ = 0; w_ < 500 && !(cond); w_++) fx_sleep_ms(10);                         \
    } while (0)

static char g_spool[64];
static uint16_t closed_port;

static void base_config(ivcs_engine_config_s *ec, uint16_t port, const char *spool)
{
    ivcs_engine_config_defaults(ec);
    snprintf(ec->cloud.endpoint, sizeof ec->cloud.endpoint, "http://127.0.0.1:%u", port);
    strcpy(ec->cloud.bucket, "ivcs");
    strcpy(ec->cloud.device_id, "unit");
    strcpy(ec->cloud.access_key, "AKIDEXAMPLE");
    strcpy(ec->cloud.secret_key, "secret");
    ec->cloud.verify_tls = 0;
    /* these tests count requests: no integrity probe (the sink checks no
     * body, so "auto" would settle on md5 after a few probe PUTs anyway) */
    ec->cloud.integrity = IVCS_INTEGRITY_MD5;
    if (spool) snprintf(ec->cloud.spool_dir, sizeof ec->cloud.spool_dir, "%s", spool);
    ec->now_ms = clock_fn;
}

static void chan_config(ivcs_channel_config_s *cc)
{
    memset(cc, 0, sizeof *cc);
    cc->max_gop_size = 1 << 20;
    cc->av_fmt.eVideoType = IV_CM_VENC_TYPE_H264;
    cc->av_fmt.u32VideoWidth = 640;
    cc->av_fmt.u32VideoHeight = 360;
    cc->av_fmt.u32Framerate = 25;
    cc->av_fmt.eAudioType = IV_CM_AENC_TYPE_AAC;
    cc->av_fmt.eAudioSampleRate = IV_CM_AENC_SAMPLE_RATE_48000;
    cc->av_fmt.eAudioMode = IV_CM_AENC_MODE_STEREO;
    cc->cb.stream_start = fx_cb_nop;
    cc->cb.stream_stop = fx_cb_nop;
}

/* the first key frame of the clip, pushed once */
static int push_key(ivcs_channel_s *ch)
{
    for (int i = 0; i < fx_n_vf; i++)
        if (fx_vf[i].key) {
            iv_cm_venc_pack_s pk = {.pu8Addr = (uint8_t *)fx_vf[i].p, .u32Len = fx_vf[i].len,
                                    .u64PTS = 1000, .eFrameType = IV_CM_FRAME_TYPE_I};
            return ivcs_channel_push_video(ch, &pk);
        }
    return -1;
}

/* engine on port with spool; pushes one key frame; returns its result and
 * the stats right after ivcs_engine_new */
static int start_and_push(uint16_t port, const char *spool, ivcs_engine_stats_s *st)
{
    ivcs_engine_config_s ec;
    base_config(&ec, port, spool);
    ivcs_engine_s *e = NULL;
    if (ivcs_engine_new(&e, &ec) != 0) return -1;
    ivcs_engine_stats(e, st);
    ivcs_channel_config_s cc;
    chan_config(&cc);
    ivcs_channel_s *ch = NULL;
    int rc = ivcs_channel_open(e, &cc, &ch);
    if (rc == 0) rc = push_key(ch);
    (void)ivcs_engine_destroy(e);
    return rc;
}

static int read_plan_cache(char *body, size_t cap, char *tag, size_t tcap, int64_t *t)
{
    ivcs_spool_config_s c = {g_spool, 0, 0, 1, NULL, NULL};
    ivcs_spool *s = NULL;
    if (ivcs_spool_open(&s, NULL, &c, NULL) != 0) return -1;
    size_t len;
    int rc = ivcs_spool_cache_get(s, IVCS_SPOOL_PLAN, body, cap, &len, tag, tcap, t);
    ivcs_spool_close(s);
    return rc;
}

static int write_plan_cache(const char *plan, const char *tag, int64_t fetched)
{
    ivcs_spool_config_s c = {g_spool, 0, 0, 1, NULL, NULL};
    ivcs_spool *s = NULL;
    if (ivcs_spool_open(&s, NULL, &c, NULL) != 0) return -1;
    int rc = ivcs_spool_cache_put(s, IVCS_SPOOL_PLAN, tag, plan, strlen(plan), fetched);
    ivcs_spool_close(s);
    return rc;
}

TEST(plan_answered_is_cached_in_the_spool)
{
    pthread_mutex_lock(&srv_mu);
    snprintf(srv_plan, sizeof srv_plan, "{\"cs_switch\":1,\"cs_type\":\"full_time\",\"cs_days\":7}");
    pthread_mutex_unlock(&srv_mu);
    ivcs_engine_config_s ec;
    base_config(&ec, fx_srv_port, g_spool);
    ivcs_engine_s *e = NULL;
    CHECK_EQ(ivcs_engine_new(&e, &ec), 0);
    if (!e) return;
    ivcs_engine_stats_s st;
    WAIT_FOR((ivcs_engine_stats(e, &st), st.service == 2));
    CHECK_EQ(st.service, 2);
    CHECK_EQ(st.plan_cached, 0);
    CHECK_EQ(st.spool_on, 1);
    CHECK_EQ(st.spool_fault, 0);
    (void)ivcs_engine_destroy(e);
    char body[512], tag[64];
    int64_t t = 0;
    CHECK_EQ(read_plan_cache(body, sizeof body, tag, sizeof tag, &t), 0);
    CHECK(!strcmp(body, srv_plan));
    CHECK(!strcmp(tag, "\"v1\""));
    CHECK_EQ(t, (int64_t)atomic_load(&fake_now));
}

TEST(unreachable_at_start_records_under_the_cached_plan)
{
    ivcs_engine_stats_s st;
    /* control: no spool, nothing known -> no service, the push refused */
    CHECK_EQ(start_and_push(closed_port, NULL, &st), IV_ERR_CS_APPLY_NO_SERVICE);
    CHECK_EQ(st.plan_cached, 0);
    CHECK_EQ(st.spool_on, 0);
    /* the plan cached by the earlier engine: recording goes on */
    char body[512], tag[64];
    int64_t t;
    CHECK_EQ(read_plan_cache(body, sizeof body, tag, sizeof tag, &t), 0);
    CHECK_EQ(start_and_push(closed_port, g_spool, &st), 0);
    CHECK_EQ(st.plan_cached, 1);
    CHECK_EQ(st.service, 2);
    CHECK_EQ(st.spool_on, 1);
    /* and once the server answers (304 to the cached ETag) it says so */
    ivcs_engine_config_s ec;
    base_config(&ec, fx_srv_port, g_spool);
    ivcs_engine_s *e = NULL;
    int gets0 = srv_gets;
    CHECK_EQ(ivcs_engine_new(&e, &ec), 0);
    if (!e) return;
    ivcs_engine_stats(e, &st);
    CHECK_EQ(st.plan_cached, 1);
    WAIT_FOR((ivcs_engine_stats(e, &st), st.plan_not_modified >= 1));
    CHECK_EQ(st.plan_not_modified, 1);
    CHECK_EQ(st.plan_cached, 0);
    CHECK_EQ(st.service, 2);
    CHECK(srv_gets > gets0);
    (void)ivcs_engine_destroy(e);
}

TEST(expired_or_broken_cached_plan_is_not_used)
{
    ivcs_engine_stats_s st;
    int64_t now = (int64_t)atomic_load(&fake_now);
    char plan[160];
    /* expired by its own date */
    snprintf(plan, sizeof plan, "{\"cs_switch\":1,\"cs_type\":\"full_time\",\"expire_utc\":%lld}",
             (long long)(now / 1000 - 1));
    CHECK_EQ(write_plan_cache(plan, "\"v2\"", now - 1000), 0);
    CHECK_EQ(start_and_push(closed_port, g_spool, &st), IV_ERR_CS_APPLY_NO_SERVICE);
    CHECK_EQ(st.plan_cached, 0);
    /* a free trial that ran out since it was fetched */
    snprintf(plan, sizeof plan,
             "{\"cs_switch\":1,\"cs_type\":\"free_trial\",\"free_trial_remaining_sec\":60}");
    CHECK_EQ(write_plan_cache(plan, "", now - 61000), 0);
    CHECK_EQ(start_and_push(closed_port, g_spool, &st), IV_ERR_CS_APPLY_NO_SERVICE);
    CHECK_EQ(st.service, 0);
    /* ... and one still running */
    CHECK_EQ(write_plan_cache(plan, "", now - 30000), 0);
    CHECK_EQ(start_and_push(closed_port, g_spool, &st), 0);
    CHECK_EQ(st.plan_cached, 1);
    /* a cache file with a flipped byte: not used */
    snprintf(plan, sizeof plan, "{\"cs_switch\":1,\"cs_type\":\"full_time\"}");
    CHECK_EQ(write_plan_cache(plan, "", now - 1000), 0);
    char p[128];
    snprintf(p, sizeof p, "%s/plan.cache", g_spool);
    int fd = open(p, O_RDWR);
    uint8_t c = 0;
    CHECK(pread(fd, &c, 1, IVCS_SPOOL_HDR_LEN + 5) == 1);
    c ^= 0x20;
    CHECK(pwrite(fd, &c, 1, IVCS_SPOOL_HDR_LEN + 5) == 1);
    close(fd);
    CHECK_EQ(start_and_push(closed_port, g_spool, &st), IV_ERR_CS_APPLY_NO_SERVICE);
    CHECK_EQ(st.plan_cached, 0);
}

static int put_res;
static void on_put(ivcs_spool_put_s *p, int res)
{
    (void)p;
    put_res = res;
}

TEST(spool_recovered_at_engine_start)
{
    /* two good entries, then one torn and one unfinished write: the
     * engine's open keeps the good ones and counts the two others */
    ivcs_spool_config_s c = {g_spool, 0, 0, 1, NULL, NULL};
    ivcs_spool *s = NULL;
    CHECK_EQ(ivcs_spool_open(&s, NULL, &c, NULL), 0);
    if (!s) return;
    /* the earlier engines spooled the key frame they could not upload */
    ivcs_spool_entry_s x;
    while (ivcs_spool_next(s, 0, 0, &x) == 0) CHECK_EQ(ivcs_spool_remove(s, x.seq), 0);
    static uint8_t body[10000];
    memset(body, 0x47, sizeof body);
    uint8_t md5[16];
    ivcs_md5(body, sizeof body, md5);
    struct iovec iov = {body, sizeof body};
    uint64_t seq[3] = {0};
    for (int i = 0; i < 3; i++) {
        ivcs_spool_put_s p = {0};
        p.kind = IVCS_SPOOL_SLICE;
        p.created_ms = 1767225500000LL + i;
        p.key = "unit/ch0/rec/x.ts";
        p.key_len = strlen(p.key);
        p.body = &iov;
        p.body_cnt = 1;
        p.md5 = md5;
        p.frames = 100;
        p.done = on_put;
        put_res = 1;
        CHECK_EQ(ivcs_spool_put(s, &p), 0);
        ivcs_spool_drain(s);
        CHECK_EQ(put_res, 0);
        seq[i] = p.seq;
    }
    const char *plan = "{\"cs_switch\":1,\"cs_type\":\"full_time\"}";
    CHECK_EQ(ivcs_spool_cache_put(s, IVCS_SPOOL_PLAN, "", plan, strlen(plan),
                                  (int64_t)atomic_load(&fake_now) - 1000),
             0);
    ivcs_spool_close(s);
    char p[128], q[128], n[IVCS_SPOOL_NAME_LEN + 1];
    ivcs_spool_entry_name(seq[2], 0, n);
    snprintf(p, sizeof p, "%s/%s", g_spool, n);
    CHECK_EQ(truncate(p, 5000), 0); /* torn */
    ivcs_spool_entry_name(seq[2] + 1, 1, n);
    snprintf(q, sizeof q, "%s/%s", g_spool, n);
    FILE *f = fopen(q, "w"); /* a write the power cut interrupted */
    if (f) fclose(f);
    ivcs_engine_stats_s st;
    CHECK_EQ(start_and_push(closed_port, g_spool, &st), 0);
    CHECK_EQ(st.spool_on, 1);
    CHECK_EQ(st.spool_recovered, 2);
    CHECK_EQ(st.spool_discarded_corrupt, 2);
    CHECK_EQ(st.spool_entries, 2);
    CHECK_EQ(st.spool_bytes, 2 * (IVCS_SPOOL_HDR_LEN + strlen("unit/ch0/rec/x.ts") + sizeof body));
    CHECK_EQ(st.spool_oldest_ms, 1767225500000LL);
    CHECK(access(p, F_OK) != 0 && access(q, F_OK) != 0);
    for (int i = 0; i < 2; i++) {
        ivcs_spool_entry_name(seq[i], 0, n);
        snprintf(p, sizeof p, "%s/%s", g_spool, n);
        CHECK_EQ(unlink(p), 0);
    }
}

TEST(missing_spool_dir_is_a_fault_not_a_failed_start)
{
    ivcs_engine_stats_s st;
    /* the plan comes from the server; the spool cannot be opened */
    (void)start_and_push(fx_srv_port, "/nonexistent/ivcs-spool", &st);
    CHECK_EQ(st.spool_on, 0);
    CHECK_EQ(st.spool_fault, IVCS_SPOOL_FAULT_MISSING);
}

static _Atomic int n_spooled_notes, n_uploaded_notes, n_fault_notes;
static void on_note(void *u, uint32_t ch, const ivcs_notify_s *n)
{
    (void)u;
    (void)ch;
    if (n->kind == IVCS_NOTIFY_SLICE_SPOOLED) atomic_fetch_add(&n_spooled_notes, 1);
    if (n->kind == IVCS_NOTIFY_SLICE_UPLOADED) atomic_fetch_add(&n_uploaded_notes, 1);
    if (n->kind == IVCS_NOTIFY_SPOOL_FAULT) atomic_fetch_add(&n_fault_notes, 1);
}

static const iv_cs_balance_info_s full_time = {.cs_switch = 1, .cs_type = 1};

/* an engine with a fixed full-time plan, the spool and a small ring */
static ivcs_engine_s *spool_engine(const char *spool, ivcs_channel_s **ch, uint32_t budget)
{
    ivcs_engine_config_s ec;
    base_config(&ec, fx_srv_port, spool);
    ec.now_ms = NULL;
    ec.fixed_plan = &full_time;
    ec.upload_timeout_ms = 2000;
    ivcs_engine_s *e = NULL;
    if (ivcs_engine_new(&e, &ec) != 0) return NULL;
    ivcs_channel_config_s cc;
    chan_config(&cc);
    cc.max_gop_size = budget;
    cc.cb.notify = on_note;
    if (ivcs_channel_open(e, &cc, ch) != 0) {
        (void)ivcs_engine_destroy(e);
        return NULL;
    }
    return e;
}

/* pushes frames [from, to) of the clip (looped), 40 ms apart in PTS, 2 ms
 * apart in real time; returns the number accepted */
static int push_range(ivcs_channel_s *ch, int from, int to)
{
    int ok = 0;
    for (int i = from; i < to; i++) {
        const fx_frame_t *f = &fx_vf[i % fx_n_vf];
        iv_cm_venc_pack_s pk = {.pu8Addr = (uint8_t *)f->p, .u32Len = f->len,
                                .u64PTS = 1000 + (uint64_t)i * 40,
                                .eFrameType = f->key ? IV_CM_FRAME_TYPE_I : IV_CM_FRAME_TYPE_P,
                                .u32Seq = (uint32_t)i};
        int rc = ivcs_channel_push_video(ch, &pk);
        if (rc == 0) ok++;
        fx_sleep_ms(2); /* 20x real time */
    }
    return ok;
}

static int64_t fx_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int acc_ok(const ivcs_channel_stats_s *s)
{
    return s->video_frames_pushed + s->audio_frames_pushed ==
           s->frames_uploaded + s->frames_dropped + s->prerecord_discarded + s->frames_held;
}

TEST(outage_slices_spooled_then_backfilled)
{
    char d[64];
    snprintf(d, sizeof d, "/tmp/ivcs_bf_XXXXXX");
    CHECK(mkdtemp(d) != NULL);
    srv_set_fail(1);
    int puts0 = srv_puts();
    ivcs_channel_s *ch = NULL;
    /* 256 KiB: the ring holds ~1 slice; without the spool most would drop */
    ivcs_engine_s *e = spool_engine(d, &ch, 256 << 10);
    CHECK(e != NULL);
    if (!e) return;
    int pushed = push_range(ch, 0, 600); /* 24 s of video while every PUT fails */
    ivcs_channel_stats_s cs;
    WAIT_FOR((ivcs_channel_stats(ch, &cs), cs.slices_spooled >= 4 && cs.slices_queued <= 1));
    CHECK(cs.slices_spooled >= 4);
    CHECK_EQ(cs.frames_dropped, 0);
    CHECK_EQ(cs.frames_uploaded, 0);
    CHECK(cs.frames_spooled > 0);
    CHECK(cs.frames_held >= cs.frames_spooled);
    CHECK(acc_ok(&cs));
    CHECK_EQ(atomic_load(&n_spooled_notes), (int)cs.slices_spooled);
    ivcs_engine_stats_s es;
    ivcs_engine_stats(e, &es);
    CHECK_EQ(es.spool_entries, cs.slices_spooled);
    CHECK(es.spool_bytes > 0);
    CHECK_EQ(srv_puts(), puts0);
    uint64_t spooled = cs.slices_spooled;
    /* the server is back: live slices and the backfill land */
    srv_set_fail(0);
    pushed += push_range(ch, 600, 700);
    WAIT_FOR((ivcs_engine_stats(e, &es), es.spool_entries == 0));
    ivcs_engine_stats(e, &es);
    CHECK_EQ(es.spool_entries, 0);
    CHECK(es.backfill_slices >= spooled);
    CHECK_EQ(ivcs_engine_stop(e), 0);
    /* the backfill read each entry through the loop: on io_uring every
     * spool file op went through the ring, the writes and fsyncs the spool
     * counts and at least one read per backfilled entry */
    ivcs_spool_stats_s sst;
    ivcs_spool_get_stats(e->spool, &sst);
    uint64_t ring = ivcs_loop_ring_file_ops(e->loop);
    fprintf(stderr, "  %s: %llu file ops through the ring, %llu of them spool writes/fsyncs\n",
            ivcs_loop_backend(e->loop) == IVCS_IO_URING ? "io_uring" : "epoll",
            (unsigned long long)ring, (unsigned long long)sst.loop_ops);
    if (ivcs_loop_backend(e->loop) == IVCS_IO_URING)
        CHECK(ring >= sst.loop_ops + es.backfill_slices);
    else
        CHECK_EQ(ring, 0);
    ivcs_channel_stats(ch, &cs);
    CHECK_EQ(cs.video_frames_pushed, (uint64_t)pushed);
    CHECK_EQ(cs.frames_uploaded, (uint64_t)pushed); /* every frame, once */
    CHECK_EQ(cs.frames_dropped, 0);
    CHECK_EQ(cs.frames_held, 0);
    CHECK_EQ(cs.frames_spooled, 0);
    CHECK(acc_ok(&cs));
    fprintf(stderr, "  pushed %d, slices spooled %llu, backfilled %llu, uploaded %llu\n", pushed,
            (unsigned long long)cs.slices_spooled, (unsigned long long)es.backfill_slices,
            (unsigned long long)cs.slices_uploaded);
    /* the spooled slices went up under their keys, oldest first, no key twice */
    int n = srv_puts();
    CHECK_EQ((uint64_t)(n - puts0), cs.slices_uploaded);
    pthread_mutex_lock(&srv_mu);
    for (int i = puts0; i < n; i++)
        for (int j = i + 1; j < n; j++) CHECK(strcmp(srv_put[i], srv_put[j]) != 0);
    pthread_mutex_unlock(&srv_mu);
    (void)ivcs_engine_destroy(e);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    CHECK_EQ(system(cmd), 0);
}

TEST(restart_backfills_what_the_last_engine_spooled)
{
    char d[64];
    snprintf(d, sizeof d, "/tmp/ivcs_bf_XXXXXX");
    CHECK(mkdtemp(d) != NULL);
    srv_set_fail(1);
    ivcs_channel_s *ch = NULL;
    ivcs_engine_s *e = spool_engine(d, &ch, 256 << 10);
    CHECK(e != NULL);
    if (!e) return;
    int pushed = push_range(ch, 0, 400);
    ivcs_channel_stats_s cs;
    WAIT_FOR((ivcs_channel_stats(ch, &cs), cs.slices_spooled >= 3 && cs.slices_queued <= 1));
    /* stopped while the server is still down: what is spooled stays held on
     * disk; only what never reached the spool may be lost */
    (void)ivcs_engine_stop(e);
    ivcs_channel_stats(ch, &cs);
    CHECK_EQ(cs.video_frames_pushed, (uint64_t)pushed);
    CHECK(cs.frames_spooled > 0);
    CHECK_EQ(cs.frames_held, cs.frames_spooled);
    CHECK_EQ(cs.frames_uploaded, 0);
    CHECK(acc_ok(&cs));
    uint64_t frames = cs.frames_spooled, slices = cs.slices_spooled;
    fprintf(stderr, "  pushed %d, dropped %llu, spooled %llu frames in %llu slices\n", pushed,
            (unsigned long long)cs.frames_dropped, (unsigned long long)frames,
            (unsigned long long)slices);
    (void)ivcs_engine_destroy(e);
    /* a new engine on the same spool, the server back: all of it lands */
    srv_set_fail(0);
    int puts0 = srv_puts();
    e = spool_engine(d, &ch, 256 << 10);
    CHECK(e != NULL);
    if (!e) return;
    ivcs_engine_stats_s es;
    ivcs_engine_stats(e, &es);
    CHECK_EQ(es.spool_recovered, slices);
    WAIT_FOR((ivcs_engine_stats(e, &es), es.spool_entries == 0));
    CHECK_EQ(es.backfill_slices, slices);
    CHECK_EQ(es.backfill_frames, frames);
    CHECK_EQ((uint64_t)(srv_puts() - puts0), slices);
    ivcs_channel_stats(ch, &cs); /* the new engine's channel: nothing of its own */
    CHECK_EQ(cs.frames_uploaded, 0);
    CHECK(acc_ok(&cs));
    (void)ivcs_engine_destroy(e);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
    CHECK_EQ(system(cmd), 0);
}

TEST(spool_on_a_full_then_read_only_filesystem)
{
    /* a 1 MiB tmpfs: it fills after a few slices (ENOSPC): the fault is
     * notified (once until a write succeeds again), the spool is left
     * alone for 1 s, 2 s, 4 s ... (at most 60 s), and the slices it
     * cannot take are dropped from the ring as without a spool (counted,
     * notified); then the file system is remounted read-only and pushing
     * goes on (the spool's own EROFS handling: test_spool). Pushes never
     * block or fail for any of it, and the accounting stays exact. */
    char d[64];
    snprintf(d, sizeof d, "/tmp/ivcs_bffull_XXXXXX");
    CHECK(mkdtemp(d) != NULL);
    if (geteuid() != 0 || mount("tmpfs", d, "tmpfs", 0, "size=1m,mode=0700") != 0) {
        fprintf(stderr, "skip: cannot mount a tmpfs (%s)\n", strerror(errno));
        rmdir(d);
        return;
    }
    srv_set_fail(1);
    atomic_store(&n_fault_notes, 0);
    ivcs_channel_s *ch = NULL;
    ivcs_engine_s *e = spool_engine(d, &ch, 256 << 10);
    CHECK(e != NULL);
    if (e) {
        int pushed = push_range(ch, 0, 1000);
        ivcs_channel_stats_s cs;
        ivcs_engine_stats_s es;
        WAIT_FOR((ivcs_engine_stats(e, &es), es.spool_fault == IVCS_SPOOL_FAULT_FULL));
        ivcs_engine_stats(e, &es);
        CHECK_EQ(es.spool_fault, IVCS_SPOOL_FAULT_FULL);
        /* once per episode: a new note only after a write succeeded again
         * (the retries come after 1 s, 2 s, ...: a smaller slice may fit);
         * the notes first: the count of successes can only grow after */
        int notes = atomic_load(&n_fault_notes);
        ivcs_channel_stats(ch, &cs);
        CHECK(notes >= 1);
        CHECK(notes <= 1 + (int)cs.slices_spooled);
        CHECK(cs.slices_spooled >= 1);
        CHECK(acc_ok(&cs));
        /* read-only now (the writes under way finish or fail first) */
        int ro = -1;
        for (int i = 0; i < 100 && ro != 0; i++) {
            ro = mount("tmpfs", d, "tmpfs", MS_REMOUNT | MS_RDONLY, "size=1m");
            if (ro != 0) fx_sleep_ms(20);
        }
        CHECK_EQ(ro, 0);
        pushed += push_range(ch, 1000, 1300);
        (void)ivcs_engine_stop(e);
        ivcs_channel_stats(ch, &cs);
        CHECK_EQ(cs.video_frames_pushed, (uint64_t)pushed);
        CHECK(cs.frames_dropped > 0);
        CHECK(cs.slices_dropped > 0);
        CHECK_EQ(cs.frames_held, cs.frames_spooled); /* what is on disk waits */
        CHECK(acc_ok(&cs));
        (void)ivcs_engine_destroy(e);
    }
    CHECK_EQ(umount(d), 0);
    rmdir(d);
}

TEST(spool_fault_retry_backs_off_exponentially)
{
    /* the pause after a fault: 1 s doubling, at most 60 s, never wrapping */
    static const uint32_t want[] = {1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000};
    for (unsigned i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECK_EQ(ivcs_up_spool_retry_ms(i), want[i]);
    CHECK_EQ(ivcs_up_spool_retry_ms(31), 60000);
    CHECK_EQ(ivcs_up_spool_retry_ms(32), 60000);
    CHECK_EQ(ivcs_up_spool_retry_ms(~0u), 60000);
}

TEST(spool_full_then_freed_is_used_again_within_seconds)
{
    /* a 1 MiB tmpfs filled by another file: the first slice write fails
     * with ENOSPC (fault notified); the file is removed at once, and the
     * spool takes slices again after the first short pause (1-2 s), not
     * after a fixed 30 s. */
    char d[64], filler[96];
    snprintf(d, sizeof d, "/tmp/ivcs_bfback_XXXXXX");
    CHECK(mkdtemp(d) != NULL);
    if (geteuid() != 0 || mount("tmpfs", d, "tmpfs", 0, "size=1m,mode=0700") != 0) {
        fprintf(stderr, "skip: cannot mount a tmpfs (%s)\n", strerror(errno));
        rmdir(d);
        return;
    }
    srv_set_fail(1);
    atomic_store(&n_fault_notes, 0);
    ivcs_channel_s *ch = NULL;
    ivcs_engine_s *e = spool_engine(d, &ch, 256 << 10);
    CHECK(e != NULL);
    snprintf(filler, sizeof filler, "%s/filler", d);
    int fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    CHECK(fd >= 0);
    static uint8_t blk[4096];
    while (fd >= 0 && write(fd, blk, sizeof blk) > 0) {
    }
    if (fd >= 0) close(fd);
    if (e) {
        int pushed = 0, i = 0;
        ivcs_channel_stats_s cs;
        ivcs_engine_stats_s es;
        for (; i < 5000 && atomic_load(&n_fault_notes) == 0; i += 50) pushed += push_range(ch, i, i + 50);
        CHECK_EQ(atomic_load(&n_fault_notes), 1);
        ivcs_channel_stats(ch, &cs);
        CHECK_EQ(cs.slices_spooled, 0);
        CHECK_EQ(unlink(filler), 0);
        int64_t t0 = fx_now_ms();
        /* push on (20x real time) for at most 8 s of wall time */
        for (int64_t end = t0 + 8000; fx_now_ms() < end; i += 50) {
            pushed += push_range(ch, i, i + 50);
            ivcs_channel_stats(ch, &cs);
            if (cs.slices_spooled >= 1) break;
        }
        int64_t waited = fx_now_ms() - t0;
        ivcs_channel_stats(ch, &cs);
        fprintf(stderr, "spool used again %lld ms after the space was freed\n", (long long)waited);
        CHECK(cs.slices_spooled >= 1);
        /* published after the slice's count */
        WAIT_FOR((ivcs_engine_stats(e, &es), es.spool_fault == 0));
        CHECK_EQ(es.spool_fault, 0);
        (void)ivcs_engine_stop(e);
        ivcs_channel_stats(ch, &cs);
        CHECK_EQ(cs.video_frames_pushed, (uint64_t)pushed);
        CHECK(acc_ok(&cs));
        (void)ivcs_engine_destroy(e);
    }
    CHECK_EQ(umount(d), 0);
    rmdir(d);
}

int main(void)
{
    if (fx_load_media(0) != 0) return 1;
    if (fx_srv_start(plan_reply) < 0) return 1;
    /* a loopback port nobody listens on */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &al) != 0)
        return 1;
    closed_port = ntohs(a.sin_port);
    close(fd);
    snprintf(g_spool, sizeof g_spool, "/tmp/ivcs_engspool_XXXXXX");
    if (!mkdtemp(g_spool)) return 1;
    RUN(plan_answered_is_cached_in_the_spool);
    RUN(unreachable_at_start_records_under_the_cached_plan);
    RUN(expired_or_broken_cached_plan_is_not_used);
    RUN(spool_recovered_at_engine_start);
    RUN(missing_spool_dir_is_a_fault_not_a_failed_start);
    RUN(outage_slices_spooled_then_backfilled);
    RUN(restart_backfills_what_the_last_engine_spooled);
    RUN(spool_on_a_full_then_read_only_filesystem);
    RUN(spool_fault_retry_backs_off_exponentially);
    RUN(spool_full_then_freed_is_used_again_within_seconds);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_spool);
    if (system(cmd) != 0) return 1;
    fx_free_media();
    return check_done();
}
