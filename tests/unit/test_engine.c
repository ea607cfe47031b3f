/*
 * test_engine.c - the engine's decisions with an injected clock and a tiny
 * in-process HTTP/1.1 "S3" (plain http on loopback), so no sleep stands in
 * for time and no cloud is needed:
 *  - 120 s without data pauses the recording (not at 119 s); the slice is
 *    uploaded, P-frames then need an I-frame;
 *  - plan.json polling: If-None-Match + 304 at plan_poll_s, a full re-read
 *    at least hourly even with plan_poll_s = 86400, plan on/off -> start /
 *    stop callbacks, pushes refused without a plan;
 *  - memory: the engine's allocations per channel (counting allocator and
 *    jemalloc arena stats) <= u32MaxGopSize + 64 KiB; pushes make no
 *    allocator call and (outside ASan) no malloc on the pushing thread;
 *  - the I/O backend: io_uring refused by seccomp -> auto runs on epoll
 *    (seed API included), forced io_uring -> IVCS_ERR_IO_BACKEND / -109.
 */
#include <errno.h>
#include <sys/wait.h>

#include "check.h"
#include "engine/record/engine_internal.h"
#include "engine_fixture.h"
#include "no_io_uring.h"

/* ---------------------------------------------------------------- malloc spy */
/* libjemalloc is the process's malloc (libivcs links it): its per-thread
 * counter "thread.allocated" counts every malloc/calloc/realloc of the
 * calling thread. Under ASan, ASan's malloc replaces it and the counter
 * stays 0 (the check is then only the allocator-hook one). */
#include <jemalloc/jemalloc.h>
static uint64_t thread_allocated(void)
{
    uint64_t v = 0;
    size_t sz = sizeof v;
    if (mallctl("thread.allocated", &v, &sz, NULL, 0) != 0) return 0;
    return v;
}

/* ---------------------------------------------------------------- counting allocator */
static _Atomic long long cnt_bytes, cnt_calls;
static _Thread_local int cnt_forbid; /* armed on the pushing thread only */
static _Atomic long cnt_forbidden;
static void *cnt_alloc(void *ctx, size_t size, size_t align)
{
    (void)ctx;
    if (cnt_forbid) atomic_fetch_add(&cnt_forbidden, 1);
    atomic_fetch_add(&cnt_bytes, (long long)size);
    atomic_fetch_add(&cnt_calls, 1);
    void *p = NULL;
    if (posix_memalign(&p, align < sizeof(void *) ? sizeof(void *) : align, size ? size : 1))
        return NULL;
    return p;
}
static void cnt_free(void *ctx, void *p, size_t size)
{
    (void)ctx;
    if (cnt_forbid) atomic_fetch_add(&cnt_forbidden, 1);
    atomic_fetch_sub(&cnt_bytes, (long long)size);
    free(p);
}
static const ivcs_allocator_s counting = {cnt_alloc, cnt_free, NULL};

/* ---------------------------------------------------------------- fake S3 */
static pthread_mutex_t srv_mu = PTHREAD_MUTEX_INITIALIZER;
static char srv_plan[256];   /* "" = 404 */
static int srv_plan_ver;
static int srv_gets, srv_gets_inm, srv_304, srv_puts;
static int srv_fail_puts; /* 1: every PUT gets a 500 */

/* The plan server: GET plan.json -> 404 / 304 (If-None-Match) / 200 with
 * the plan; PUT -> 200. Counts every kind of request. */
static int plan_reply(const char *head, char *resp, size_t cap)
{
    int inm = strcasestr(head, "\r\nif-none-match:") != NULL;
    int n;
    pthread_mutex_lock(&srv_mu);
    if (!strncmp(head, "GET ", 4)) {
        srv_gets++;
        if (inm) srv_gets_inm++;
        if (!srv_plan[0]) {
            n = snprintf(resp, cap,
                         "HTTP/1.1 404 Not Found\r\nContent-Type: application/xml\r\n"
                         "Content-Length: 45\r\n\r\n<Error><Code>NoSuchKey</Code></Error>\n       ");
        } else if (inm) {
            srv_304++;
            n = snprintf(resp, cap, "HTTP/1.1 304 Not Modified\r\nETag: \"v%d\"\r\n\r\n",
                         srv_plan_ver);
        } else {
            n = snprintf(resp, cap,
                         "HTTP/1.1 200 OK\r\nETag: \"v%d\"\r\nContent-Length: %zu\r\n\r\n%s",
                         srv_plan_ver, strlen(srv_plan), srv_plan);
        }
    } else if (srv_fail_puts) {
        n = snprintf(resp, cap, "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n");
    } else {
        srv_puts++;
        n = snprintf(resp, cap, "HTTP/1.1 200 OK\r\nETag: \"x\"\r\nContent-Length: 0\r\n\r\n");
    }
    pthread_mutex_unlock(&srv_mu);
    return n;
}

static void set_plan(const char *type)
{
    pthread_mutex_lock(&srv_mu);
    if (type) snprintf(srv_plan, sizeof srv_plan, "{\"cs_switch\":1,\"cs_type\":\"%s\",\"cs_days\":7}", type);
    else srv_plan[0] = 0;
    srv_plan_ver++;
    pthread_mutex_unlock(&srv_mu);
}

static int srv_get(int *v)
{
    pthread_mutex_lock(&srv_mu);
    int r = *v;
    pthread_mutex_unlock(&srv_mu);
    return r;
}

/* ---------------------------------------------------------------- helpers */
static _Atomic uint64_t fake_now = 1767225600000ull; /* 2026-01-01 */
static uint64_t clock_fn(void *ctx)
{
    (void)ctx;
    return atomic_load(&fake_now);
}

static _Atomic int starts, stops;
static int32_t on_start(void *u, uint32_t ch)
{
    (void)u;
    (void)ch;
    atomic_fetch_add(&starts, 1);
    return 0;
}
static int32_t on_stop(void *u, uint32_t ch)
{
    (void)u;
    (void)ch;
    atomic_fetch_add(&stops, 1);
    return 0;
}

static void base_config(ivcs_engine_config_s *ec)
{
    ivcs_engine_config_defaults(ec);
    snprintf(ec->cloud.endpoint, sizeof ec->cloud.endpoint, "http://127.0.0.1:%u", fx_srv_port);
    strcpy(ec->cloud.bucket, "ivcs");
    strcpy(ec->cloud.device_id, "unit");
    strcpy(ec->cloud.access_key, "AKIDEXAMPLE");
    strcpy(ec->cloud.secret_key, "secret");
    ec->cloud.verify_tls = 0;
    /* these tests count requests: no integrity probe (the sink checks no
     * body, so "auto" would settle on md5 after a few probe PUTs anyway) */
    ec->cloud.integrity = IVCS_INTEGRITY_MD5;
    ec->now_ms = clock_fn;
}

static void chan_config(ivcs_channel_config_s *cc, uint32_t budget)
{
    memset(cc, 0, sizeof *cc);
    cc->max_gop_size = budget;
    cc->av_fmt.eVideoType = IV_CM_VENC_TYPE_H264;
    cc->av_fmt.u32VideoWidth = 640;
    cc->av_fmt.u32VideoHeight = 360;
    cc->av_fmt.u32Framerate = 25;
    cc->av_fmt.eAudioType = IV_CM_AENC_TYPE_AAC;
    cc->av_fmt.eAudioSampleRate = IV_CM_AENC_SAMPLE_RATE_48000;
    cc->av_fmt.eAudioMode = IV_CM_AENC_MODE_STEREO;
    cc->cb.stream_start = on_start;
    cc->cb.stream_stop = on_stop;
}

/* An engine with a fixed full-time plan whose every allocation goes
 * through the counting hook; *bytes gets the hook's count before it. */
static const iv_cs_balance_info_s full_time = {.cs_switch = 1, .cs_type = CS_TYPE_FULL_TIME};
static ivcs_engine_s *counted_engine(ivcs_engine_config_s *ec, uint32_t channels,
                                     long long *bytes)
{
    base_config(ec);
    ec->fixed_plan = &full_time;
    ec->alloc = &counting;
    ec->max_channels = channels;
    *bytes = atomic_load(&cnt_bytes);
    ivcs_engine_s *e = NULL;
    CHECK_EQ(ivcs_engine_new(&e, ec), 0);
    return e;
}

/* Waits (real time, bounded) for the engine thread to reach a state. */
#define WAIT_FOR(cond)                                                                       \
    do {                                                                                     \
        for (int w_ = 0; w_ < 500 && !(cond); w_++) fx_sleep_ms(10);                            \
    } while (0)

static int push_frame(ivcs_channel_s *ch, int i, uint64_t pts)
{
    const fx_frame_t *a = &fx_vf[i % fx_n_vf];
    iv_cm_venc_pack_s pk = {.pu8Addr = (uint8_t *)a->p, .u32Len = a->len, .u64PTS = pts,
                            .eFrameType = a->key ? IV_CM_FRAME_TYPE_I : IV_CM_FRAME_TYPE_P,
                            .u32Seq = (uint32_t)i};
    return ivcs_channel_push_video(ch, &pk);
}

/* ---------------------------------------------------------------- tests */

TEST(pause_after_120s_without_data)
{
    ivcs_engine_config_s ec;
    base_config(&ec);
    iv_cs_balance_info_s plan = {.cs_switch = 1, .cs_type = CS_TYPE_FULL_TIME, .cs_days = 7};
    ec.fixed_plan = &plan;
    ivcs_engine_s *e;
    CHECK_EQ(ivcs_engine_new(&e, &ec), 0);
    ivcs_channel_config_s cc;
    chan_config(&cc, 4 << 20); /* 2 s of GOP 25 stay one slice */
    ivcs_channel_s *ch;
    CHECK_EQ(ivcs_channel_open(e, &cc, &ch), 0);
    WAIT_FOR(atomic_load(&starts) == 1);
    CHECK_EQ(atomic_load(&starts), 1);
    int puts0 = srv_get(&srv_puts);
    for (int i = 0; i < 50; i++) CHECK_EQ(push_frame(ch, i, 1000 + (uint64_t)i * 40), 0);
    ivcs_channel_stats_s st;
    ivcs_engine_stats_s es0, es;
    ivcs_engine_stats(e, &es0);
    WAIT_FOR((ivcs_engine_stats(e, &es), es.loop_iterations > es0.loop_iterations + 2));
    atomic_fetch_add(&fake_now, 119000);
    ivcs_engine_wake(e);
    ivcs_engine_stats(e, &es0);
    WAIT_FOR((ivcs_engine_stats(e, &es), es.loop_iterations > es0.loop_iterations + 2));
    ivcs_channel_stats(ch, &st);
    CHECK_EQ(st.pauses, 0);
    CHECK_EQ(st.slices_uploaded, 0); /* 2 s < slice_ms: still open */
    atomic_fetch_add(&fake_now, 1000);
    ivcs_engine_wake(e);
    WAIT_FOR((ivcs_channel_stats(ch, &st), st.pauses == 1 && st.slices_uploaded == 1));
    CHECK_EQ(st.pauses, 1);
    CHECK_EQ(st.slices_uploaded, 1);
    CHECK_EQ(st.frames_uploaded, 50);
    CHECK_EQ(srv_get(&srv_puts) - puts0, 1);
    /* after the pause the stream must restart at an I-frame */
    CHECK_EQ(push_frame(ch, 51, 200000), IV_ERR_CS_NEED_IDR_FRAME);
    CHECK_EQ(push_frame(ch, 0, 200000), 0);
    CHECK_EQ(ivcs_engine_destroy(e), 0);
    atomic_store(&starts, 0);
    atomic_store(&stops, 0);
}

TEST(plan_poll_304_hourly_refresh_and_switch)
{
    set_plan("full_time");
    ivcs_engine_config_s ec;
    base_config(&ec);
    ec.cloud.plan_poll_s = 86400;
    ivcs_engine_s *e;
    CHECK_EQ(ivcs_engine_new(&e, &ec), 0);
    ivcs_channel_config_s cc;
    chan_config(&cc, 1 << 20);
    ivcs_channel_s *ch;
    CHECK_EQ(ivcs_channel_open(e, &cc, &ch), 0);
    ivcs_engine_stats_s es, es0;
    WAIT_FOR((ivcs_engine_stats(e, &es), es.plan_polls == 1 && atomic_load(&starts) == 1));
    CHECK_EQ(es.plan_polls, 1);
    CHECK_EQ(atomic_load(&starts), 1);
    int g0 = srv_get(&srv_gets), inm0 = srv_get(&srv_gets_inm);
    /* 3599 s later: nothing; at 3600 s a full GET (no If-None-Match) */
    atomic_fetch_add(&fake_now, 3599000);
    ivcs_engine_wake(e);
    ivcs_engine_stats(e, &es0);
    WAIT_FOR((ivcs_engine_stats(e, &es), es.loop_iterations > es0.loop_iterations + 2));
    CHECK_EQ(srv_get(&srv_gets), g0);
    atomic_fetch_add(&fake_now, 1000);
    ivcs_engine_wake(e);
    WAIT_FOR((ivcs_engine_stats(e, &es), es.plan_polls == 2));
    CHECK_EQ(es.plan_polls, 2);
    CHECK_EQ(srv_get(&srv_gets), g0 + 1);
    CHECK_EQ(srv_get(&srv_gets_inm), inm0);
    CHECK_EQ(ivcs_engine_destroy(e), 0);

    /* plan_poll_s 60: If-None-Match -> 304; plan off -> stop, pushes refused */
    atomic_store(&starts, 0);
    base_config(&ec);
    ec.cloud.plan_poll_s = 60;
    CHECK_EQ(ivcs_engine_new(&e, &ec), 0);
    CHECK_EQ(ivcs_channel_open(e, &cc, &ch), 0);
    WAIT_FOR(atomic_load(&starts) == 1);
    CHECK_EQ(push_frame(ch, 0, 1000), 0);
    atomic_fetch_add(&fake_now, 60000);
    ivcs_engine_wake(e);
    WAIT_FOR((ivcs_engine_stats(e, &es), es.plan_not_modified == 1));
    CHECK_EQ(es.plan_not_modified, 1);
    set_plan(NULL);
    atomic_fetch_add(&fake_now, 60000);
    ivcs_engine_wake(e);
    WAIT_FOR(atomic_load(&stops) == 1);
    CHECK_EQ(atomic_load(&stops), 1);
    CHECK_EQ(es.service, IVCS_SERVICE_FULL_TIME);
    ivcs_engine_stats(e, &es);
    CHECK_EQ(es.service, IVCS_SERVICE_NONE);
    CHECK_EQ(push_frame(ch, 1, 1040), IV_ERR_CS_APPLY_NO_SERVICE);
    CHECK_EQ(ivcs_channel_event_start(ch, 1, 0, 0), IV_ERR_CS_APPLY_NO_SERVICE);
    /* event plan: no start callback, events work, duplicate refused */
    set_plan("event");
    atomic_fetch_add(&fake_now, 60000);
    ivcs_engine_wake(e);
    WAIT_FOR((ivcs_engine_stats(e, &es), es.service == IVCS_SERVICE_EVENT));
    CHECK_EQ(es.service, IVCS_SERVICE_EVENT);
    CHECK_EQ(atomic_load(&starts), 1);
    CHECK_EQ(ivcs_channel_event_start(ch, 17, 0, 0), IVCS_ERR_EVENT_ID_RANGE);
    CHECK_EQ(ivcs_channel_event_stop(ch, 3, 0, 0), IVCS_ERR_EVENT_NOT_STARTED);
    CHECK_EQ(ivcs_channel_event_start(ch, 3, 0, 400), IVCS_ERR_EVENT_TIME_MIX);
    CHECK_EQ(ivcs_channel_event_start(ch, 3, 0, 5), 0);
    CHECK_EQ(ivcs_channel_event_start(ch, 3, 0, 0), IVCS_ERR_EVENT_ACTIVE);
    WAIT_FOR(atomic_load(&starts) == 2);
    CHECK_EQ(atomic_load(&starts), 2);
    CHECK_EQ(ivcs_channel_event_stop(ch, 3, 0, 0), 0);
    WAIT_FOR(atomic_load(&stops) == 2);
    CHECK_EQ(atomic_load(&stops), 2);
    CHECK_EQ(ivcs_engine_destroy(e), 0);
    set_plan(NULL);
}

TEST(memory_budget_and_no_alloc_push)
{
    enum { N = 16, BUDGET = 256 * 1024 };
    ivcs_engine_config_s ec;
    long long b0;
    ivcs_engine_s *e = counted_engine(&ec, N, &b0);
    long long b1 = atomic_load(&cnt_bytes);
    ivcs_channel_config_s cc;
    chan_config(&cc, BUDGET);
    ivcs_channel_s *ch[N];
    for (int i = 0; i < N; i++) CHECK_EQ(ivcs_channel_open(e, &cc, &ch[i]), 0);
    long long b2 = atomic_load(&cnt_bytes);
    long long per = (b2 - b1) / N;
    fprintf(stderr, "engine %lld B, per channel %lld B (budget %d + 64 KiB = %d)\n", b1 - b0, per,
            BUDGET, BUDGET + 65536);
    CHECK(per <= BUDGET + 65536);
    CHECK(per >= BUDGET / 2); /* the rings really are in there */
    /* pushes: no allocator call, no malloc on this thread */
    cnt_forbid = 1;
    uint64_t m0 = thread_allocated();
    int ok = 0;
    for (int i = 0; i < 100; i++)
        for (int c = 0; c < N; c++) ok += push_frame(ch[c], i, 1000 + (uint64_t)i * 40) == 0;
    uint64_t m1 = thread_allocated();
    cnt_forbid = 0;
    CHECK(ok > 0);
    CHECK_EQ(m1 - m0, 0); /* no malloc on the pushing thread */
    /* no allocator-hook call from the pushing thread (the engine thread
     * opening its first connections meanwhile may allocate: control path) */
    CHECK_EQ(atomic_load(&cnt_forbidden), 0);
    CHECK_EQ(ivcs_engine_destroy(e), 0);
    CHECK_EQ(atomic_load(&cnt_bytes), b0);

    /* the default allocator: a private jemalloc arena, read from its stats */
    ec.alloc = NULL;
    CHECK_EQ(ivcs_engine_new(&e, &ec), 0);
    if (e->ja) {
        ivcs_jemalloc_stats_s j1, j2;
        CHECK_EQ(ivcs_jemalloc_allocator_stats(e->ja, &j1), 0);
        for (int i = 0; i < N; i++) CHECK_EQ(ivcs_channel_open(e, &cc, &ch[i]), 0);
        CHECK_EQ(ivcs_jemalloc_allocator_stats(e->ja, &j2), 0);
        long long jper = ((long long)j2.allocated - (long long)j1.allocated) / N;
        fprintf(stderr, "jemalloc arena: per channel %lld B\n", jper);
        CHECK(jper <= BUDGET + 65536);
        CHECK(jper >= BUDGET / 2);
        /* the public stats report the same arena (the engine thread may
         * allocate or free a little between two readings: connections,
         * seen as a 1 KiB difference in a CI run) */
        ivcs_engine_stats_s es;
        ivcs_engine_stats(e, &es);
        CHECK_EQ(ivcs_jemalloc_allocator_stats(e->ja, &j2), 0);
        CHECK(es.mem_allocated + 65536 >= (uint64_t)j2.allocated &&
              es.mem_allocated <= (uint64_t)j2.allocated + 65536);
        CHECK(es.mem_allocated >= (uint64_t)N * BUDGET / 2);
        CHECK(es.mem_resident > 0);
    } else {
        ivcs_engine_stats_s es;
        ivcs_engine_stats(e, &es);
        CHECK_EQ(es.mem_allocated, 0);
    }
    CHECK_EQ(ivcs_engine_destroy(e), 0);
    /* an engine on the firmware's allocator reports no arena */
    ec.alloc = &counting;
    CHECK_EQ(ivcs_engine_new(&e, &ec), 0);
    ivcs_engine_stats_s es0;
    ivcs_engine_stats(e, &es0);
    CHECK_EQ(es0.mem_allocated, 0);
    CHECK_EQ(es0.mem_resident, 0);
    CHECK_EQ(ivcs_engine_destroy(e), 0);
}

/* A counted engine with BUDGET_CHANNELS channels of cc in ch[]; *per gets
 * the bytes each channel took through the hook, *b0 the count before the
 * engine (for the leak check after destroy). */
enum { BUDGET_CHANNELS = 4 };
static ivcs_engine_s *open_budget_channels(const ivcs_channel_config_s *cc, ivcs_channel_s **ch,
                                           long long *per, long long *b0)
{
    ivcs_engine_config_s ec;
    ivcs_engine_s *e = counted_engine(&ec, BUDGET_CHANNELS, b0);
    long long b1 = atomic_load(&cnt_bytes);
    for (int i = 0; i < BUDGET_CHANNELS; i++) CHECK_EQ(ivcs_channel_open(e, cc, &ch[i]), 0);
    *per = (atomic_load(&cnt_bytes) - b1) / BUDGET_CHANNELS;
    return e;
}

/* The budgets of docs/PERF.md section 5: bytes through the allocator hook
 * per channel, and what of it is not ring memory. */
TEST(memory_budget_per_size)
{
    static const int budgets[] = {800 * 1024, 4 << 20};
    for (unsigned b = 0; b < sizeof budgets / sizeof budgets[0]; b++) {
        ivcs_channel_config_s cc;
        chan_config(&cc, (uint32_t)budgets[b]);
        ivcs_channel_s *ch[BUDGET_CHANNELS];
        long long per, b0;
        ivcs_engine_s *e = open_budget_channels(&cc, ch, &per, &b0);
        long long rings = (long long)ch[0]->ring_mem_len;
        fprintf(stderr,
                "budget %d B: per channel %lld B (rings %lld B, video frames up to %u B), "
                "beyond the rings %lld B\n",
                budgets[b], per, rings, ivcs_channel_max_frame(ch[0]), per - rings);
        CHECK(per <= budgets[b] + 65536);
        CHECK(rings <= budgets[b]);
        CHECK(per - rings <= 65536);
        CHECK_EQ(ivcs_engine_destroy(e), 0);
    }
}

/* ---------------------------------------------------------------- G.711/PCM */

static void chan_config_raw(ivcs_channel_config_s *cc, uint32_t budget, iv_cm_aenc_type_e t,
                            uint32_t rate, int stereo)
{
    chan_config(cc, budget);
    cc->av_fmt.eAudioType = t;
    cc->av_fmt.eAudioSampleRate = (iv_cm_aenc_sample_rate_e)rate;
    cc->av_fmt.eAudioMode = stereo ? IV_CM_AENC_MODE_STEREO : IV_CM_AENC_MODE_MONO;
    cc->av_fmt.eAudioBitWidth = IV_CM_AENC_BIT_WIDTH_16;
    cc->av_fmt.u32SampleNumPerFrame = 1024;
}

/* The encoder (~48 KiB) and its input ring come out of u32MaxGopSize: a
 * G.711/PCM channel stays inside u32MaxGopSize + 64 KiB like an AAC one. */
TEST(memory_budget_transcoded_audio)
{
    static const struct {
        iv_cm_aenc_type_e t;
        uint32_t rate;
        int stereo;
    } fmts[] = {{IV_CM_AENC_TYPE_G711A, 8000, 0},
                {IV_CM_AENC_TYPE_G711U, 8000, 0},
                {IV_CM_AENC_TYPE_PCM, 16000, 0},
                {IV_CM_AENC_TYPE_PCM, 48000, 1}};
    static const int budgets[] = {256 * 1024, 800 * 1024};
    for (unsigned f = 0; f < sizeof fmts / sizeof fmts[0]; f++)
        for (unsigned b = 0; b < sizeof budgets / sizeof budgets[0]; b++) {
            ivcs_channel_config_s cc;
            chan_config_raw(&cc, (uint32_t)budgets[b], fmts[f].t, fmts[f].rate, fmts[f].stereo);
            ivcs_channel_s *ch[BUDGET_CHANNELS];
            long long per, b0;
            ivcs_engine_s *e = open_budget_channels(&cc, ch, &per, &b0);
            long long enc = (long long)ivcs_aac_enc_bytes(ch[0]->aenc);
            fprintf(stderr,
                    "audio type %d %u Hz %s, budget %d B: per channel %lld B (encoder %lld B, "
                    "rings %zu B)\n",
                    (int)fmts[f].t, fmts[f].rate, fmts[f].stereo ? "stereo" : "mono", budgets[b],
                    per, enc, ch[0]->ring_mem_len);
            CHECK(per <= budgets[b] + 65536);
            CHECK(enc > 0);
            CHECK(ch[0]->ring_mem_len + (size_t)enc <= (size_t)budgets[b]);
            CHECK_EQ(ivcs_engine_destroy(e), 0);
            CHECK_EQ(atomic_load(&cnt_bytes), b0); /* encoder blocks given back */
        }
}

/* Init checks of the three formats, the frame size rule, and a stream of
 * PCM from the test clip encoded on the engine thread while the pushing
 * thread allocates nothing. */
TEST(transcoded_audio_push)
{
    ivcs_engine_config_s ec;
    long long b0;
    ivcs_engine_s *e = counted_engine(&ec, ENG_MAX_CHANNELS_DEFAULT, &b0);
    ivcs_channel_config_s cc;
    ivcs_channel_s *ch;
    chan_config_raw(&cc, 1 << 20, IV_CM_AENC_TYPE_G711A, 7000, 0); /* not an AAC rate */
    CHECK_EQ(ivcs_channel_open(e, &cc, &ch), IV_ERR_CS_INIT_PRM_RANGE);
    chan_config_raw(&cc, 1 << 20, IV_CM_AENC_TYPE_G711A, 96000, 0); /* above the encoder's */
    CHECK_EQ(ivcs_channel_open(e, &cc, &ch), IV_ERR_CS_INIT_PRM_RANGE);
    chan_config_raw(&cc, 1 << 20, IV_CM_AENC_TYPE_PCM, 8000, 0);
    cc.av_fmt.eAudioBitWidth = IV_CM_AENC_BIT_WIDTH_8; /* only 16-bit PCM */
    CHECK_EQ(ivcs_channel_open(e, &cc, &ch), IV_ERR_CS_INIT_PRM_RANGE);
    chan_config_raw(&cc, 1 << 20, IV_CM_AENC_TYPE_PCM, 8000, 0);
    cc.av_fmt.u32SampleNumPerFrame = 160; /* the seed: 1024 only */
    CHECK_EQ(ivcs_channel_open(e, &cc, &ch), IV_ERR_CS_INIT_PRM_RANGE);
    chan_config_raw(&cc, 64 * 1024, IV_CM_AENC_TYPE_PCM, 48000, 1); /* no room for the encoder */
    CHECK_EQ(ivcs_channel_open(e, &cc, &ch), IV_ERR_CS_INIT_PRM_RANGE);
    /* a zeroed av_fmt (PCM at 0 Hz): a video-only channel, audio refused */
    chan_config_raw(&cc, 1 << 20, IV_CM_AENC_TYPE_PCM, 0, 0);
    CHECK_EQ(ivcs_channel_open(e, &cc, &ch), 0);
    uint8_t two[2048] = {0};
    iv_cm_aenc_pack_s silent = {.pu8Addr = two, .u32Len = sizeof two, .u64PTS = 1};
    CHECK_EQ(ivcs_channel_push_audio(ch, &silent), IVCS_ERR_UNSUPPORTED);
    chan_config_raw(&cc, 4 << 20, IV_CM_AENC_TYPE_PCM, 8000, 0); /* 5 s of video fit */
    cc.av_fmt.u32SampleNumPerFrame = 0; /* "not said" is fine */
    CHECK_EQ(ivcs_channel_open(e, &cc, &ch), 0);

    size_t pcm_len = 0;
    uint8_t *pcm = check_read_file(check_media("clip_pcm.s16le"), &pcm_len);
    CHECK(pcm != NULL && pcm_len >= 2048 * 40);
    if (!pcm) {
        (void)ivcs_engine_destroy(e);
        return;
    }
    /* wrong sizes: refused, nothing changes */
    iv_cm_aenc_pack_s ap = {.pu8Addr = pcm, .u32Len = 2047, .u64PTS = 1000};
    CHECK_EQ(ivcs_channel_push_audio(ch, &ap), IVCS_ERR_AUDIO_FRAME_SIZE);
    ap.u32Len = 1024; /* a G.711-sized frame on a PCM channel */
    CHECK_EQ(ivcs_channel_push_audio(ch, &ap), IVCS_ERR_AUDIO_FRAME_SIZE);
    ivcs_channel_stats_s st;
    ivcs_channel_stats(ch, &st);
    CHECK_EQ(st.audio_frames_pushed, 0);
    CHECK_EQ(st.frames_refused, 2);

    /* 5 s: video at 25 fps and 1024-sample PCM frames (128 ms) by PTS */
    enum { AUDIO = 39 };
    int vi = 0, ai = 0, vok = 0, aok = 0;
    cnt_forbid = 1;
    uint64_t m0 = thread_allocated();
    while (vi < 125 || ai < AUDIO) {
        uint64_t vp = 1000 + (uint64_t)vi * 40, apts = 1000 + (uint64_t)ai * 128;
        int rc;
        /* the input ring holds 8 frames: a full ring means "wait for the
         * engine's next service", as a paced firmware would */
        for (int tries = 0; tries < 100; tries++) {
            if (ai < AUDIO && (vi >= 125 || apts <= vp)) {
                iv_cm_aenc_pack_s pk = {.pu8Addr = pcm + (size_t)ai * 2048, .u32Len = 2048,
                                        .u64PTS = apts, .u32Seq = (uint32_t)ai};
                rc = ivcs_channel_push_audio(ch, &pk);
            } else {
                rc = push_frame(ch, vi, vp);
            }
            if (rc != IVCS_ERR_BUFFER_FULL) break;
            fx_sleep_ms(20);
        }
        if (ai < AUDIO && (vi >= 125 || apts <= vp)) {
            aok += rc == 0;
            ai++;
        } else {
            vok += rc == 0;
            vi++;
        }
    }
    uint64_t m1 = thread_allocated();
    cnt_forbid = 0;
    CHECK_EQ(vok, 125);
    CHECK_EQ(aok, AUDIO);
    CHECK_EQ(m1 - m0, 0);
    CHECK_EQ(atomic_load(&cnt_forbidden), 0);
    ap.u64PTS = 1000; /* behind the last frame */
    ap.u32Len = 2048;
    CHECK_EQ(ivcs_channel_push_audio(ch, &ap), IVCS_ERR_PTS_BACKWARDS);
    /* the engine encodes them all at its next service (100 ms tick) */
    WAIT_FOR((ivcs_channel_stats(ch, &st), st.audio_frames_encoded == AUDIO));
    CHECK_EQ(st.audio_frames_encoded, AUDIO);
    CHECK_EQ(st.audio_frames_pushed, AUDIO);
    CHECK_EQ(ivcs_engine_destroy(e), 0);
    CHECK_EQ(atomic_load(&cnt_bytes), b0); /* the encoder's blocks went back too */
    free(pcm);
}

TEST(push_errors_change_nothing)
{
    iv_cs_balance_info_s plan = {.cs_switch = 1, .cs_type = CS_TYPE_FULL_TIME};
    ivcs_engine_config_s ec;
    base_config(&ec);
    ec.fixed_plan = &plan;
    ivcs_engine_s *e;
    CHECK_EQ(ivcs_engine_new(&e, &ec), 0);
    ivcs_channel_config_s cc;
    chan_config(&cc, 1 << 20);
    ivcs_channel_s *ch;
    cc.max_gop_size = 1000; /* not a multiple of 4 KiB */
    CHECK_EQ(ivcs_channel_open(e, &cc, &ch), IV_ERR_CS_INIT_PRM_RANGE);
    chan_config(&cc, 1 << 20);
    cc.cb.stream_start = NULL;
    CHECK_EQ(ivcs_channel_open(e, &cc, &ch), IV_ERR_CS_INIT_CB_NULL);
    chan_config(&cc, 1 << 20);
    CHECK_EQ(ivcs_channel_open(e, &cc, &ch), 0);
    CHECK_EQ(push_frame(ch, 1, 1000), IV_ERR_CS_NEED_IDR_FRAME); /* P first */
    CHECK_EQ(push_frame(ch, 0, 1000), 0);
    CHECK_EQ(push_frame(ch, 1, 999), IVCS_ERR_PTS_BACKWARDS);
    iv_cm_venc_pack_s bad = {.pu8Addr = (uint8_t *)"\x01\x02\x03\x04", .u32Len = 4,
                             .u64PTS = 1040, .eFrameType = IV_CM_FRAME_TYPE_P};
    CHECK_EQ(ivcs_channel_push_video(ch, &bad), IVCS_ERR_BAD_ANNEXB);
    bad.u32Len = 0;
    CHECK_EQ(ivcs_channel_push_video(ch, &bad), IVCS_ERR_EMPTY_FRAME);
    iv_cm_venc_pack_s wrong = {.pu8Addr = (uint8_t *)fx_vf[0].p, .u32Len = fx_vf[0].len,
                               .u64PTS = 1040, .eFrameType = IV_CM_FRAME_TYPE_P};
    CHECK_EQ(ivcs_channel_push_video(ch, &wrong), IVCS_ERR_FRAME_TYPE);
    iv_cm_aenc_pack_s aa = {.pu8Addr = (uint8_t *)"\xff\xf1\x00\x00\x00\x00\x00", .u32Len = 7};
    CHECK_EQ(ivcs_channel_push_audio(ch, &aa), IVCS_ERR_BAD_ADTS);
    CHECK_EQ(push_frame(ch, 1, 1040), 0); /* the stream goes on after the errors */
    ivcs_channel_stats_s st;
    ivcs_channel_stats(ch, &st);
    CHECK_EQ(st.video_frames_pushed, 2);
    CHECK_EQ(st.frames_refused, 6);
    CHECK(ivcs_channel_max_frame(ch) >= 255 * 1024); /* half the 512 KiB video ring */
    /* zero-copy: reserve, write, commit (validated at commit) */
    uint8_t *buf = NULL;
    CHECK_EQ(ivcs_channel_reserve(ch, IV_CM_STREAM_TYPE_VIDEO, fx_vf[2].len, &buf), 0);
    CHECK(buf != NULL);
    memset(buf, 0x11, fx_vf[2].len);
    CHECK_EQ(ivcs_channel_commit(ch, IV_CM_STREAM_TYPE_VIDEO, fx_vf[2].len, 1080,
                                 IV_CM_FRAME_TYPE_P, 2), IVCS_ERR_BAD_ANNEXB);
    memcpy(buf, fx_vf[2].p, fx_vf[2].len);
    CHECK_EQ(ivcs_channel_commit(ch, IV_CM_STREAM_TYPE_VIDEO, fx_vf[2].len, 1080,
                                 IV_CM_FRAME_TYPE_P, 2), 0);
    CHECK_EQ(ivcs_channel_commit(ch, IV_CM_STREAM_TYPE_VIDEO, fx_vf[2].len, 1120,
                                 IV_CM_FRAME_TYPE_P, 2), IVCS_ERR_STATE);
    ivcs_channel_stats(ch, &st);
    CHECK_EQ(st.video_frames_pushed, 3);
    CHECK_EQ(ivcs_engine_set_trans_time(e, 0, 10), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_engine_set_trans_time(e, 1000, 1000), 0);
    CHECK_EQ(ivcs_engine_destroy(e), 0);
}

static uint8_t jpeg[] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x02, 0xFF, 0xD9};
static uint8_t notjpeg[] = {0x89, 'P', 'N', 'G', 0, 0, 0, 0};
static _Atomic int pic_results, pic_last_err = 1;
static int32_t cap_pic(void *u, uint32_t ch, int32_t id, uint8_t **pic, int32_t *size)
{
    (void)u;
    (void)ch;
    *pic = id == 1 ? jpeg : id == 2 ? notjpeg : NULL;
    *size = id == 3 ? 0 : 8;
    return 0;
}
static int32_t pic_result(void *u, uint32_t ch, uint8_t **pic, int32_t err)
{
    (void)u;
    (void)ch;
    (void)pic;
    atomic_store(&pic_last_err, err);
    atomic_fetch_add(&pic_results, 1);
    return 0;
}

TEST(event_pictures_jpeg_checked_none_for_no_picture)
{
    iv_cs_balance_info_s plan = {.cs_switch = 1, .cs_type = CS_TYPE_EVENT};
    ivcs_engine_config_s ec;
    base_config(&ec);
    ec.fixed_plan = &plan;
    ivcs_engine_s *e;
    CHECK_EQ(ivcs_engine_new(&e, &ec), 0);
    ivcs_channel_config_s cc;
    chan_config(&cc, 1 << 20);
    cc.cb.capture_picture = cap_pic;
    cc.cb.picture_result = pic_result;
    ivcs_channel_s *ch;
    CHECK_EQ(ivcs_channel_open(e, &cc, &ch), 0);
    int puts0 = srv_get(&srv_puts);
    /* 1: a JPEG -> uploaded, result 0; record written twice (open, naming it) */
    CHECK_EQ(ivcs_channel_event_start(ch, 1, 0, 0), 0);
    WAIT_FOR(atomic_load(&pic_results) == 1);
    CHECK_EQ(atomic_load(&pic_results), 1);
    CHECK_EQ(atomic_load(&pic_last_err), 0);
    /* 2: not a JPEG -> result with an error at once, nothing uploaded for it */
    CHECK_EQ(ivcs_channel_event_start(ch, 2, 0, 0), 0);
    WAIT_FOR(atomic_load(&pic_results) == 2);
    CHECK_EQ(atomic_load(&pic_last_err), IV_ERR_CS_UPLOAD_OPEN_FILE_FAIL);
    /* 3: no picture -> no result callback */
    CHECK_EQ(ivcs_channel_event_start(ch, 3, 0, 0), 0);
    ivcs_channel_stats_s st;
    WAIT_FOR((ivcs_channel_stats(ch, &st), st.event_records_written >= 4));
    fx_sleep_ms(50);
    CHECK_EQ(atomic_load(&pic_results), 2);
    ivcs_channel_stats(ch, &st);
    CHECK_EQ(st.pictures_uploaded, 1);
    CHECK_EQ(st.events_open, 3);
    CHECK_EQ(st.event_records_written, 4); /* 1 open, 1 naming the JPEG, 2, 3 */
    CHECK_EQ(srv_get(&srv_puts) - puts0, 5);
    CHECK_EQ(ivcs_engine_destroy(e), 0);
}

static int32_t s_start(void) { return 0; }
static int32_t s_stop(void) { return 0; }
static int32_t s_cap(int32_t id, uint8_t **p, int32_t *n)
{
    (void)id;
    *p = NULL;
    *n = 0;
    return 0;
}
static int32_t s_res(uint8_t **p, int32_t e)
{
    (void)p;
    (void)e;
    return 0;
}

TEST(seed_api_init_validation)
{
    ivcs_engine_config_s ec;
    base_config(&ec);
    CHECK_EQ(ivcs_set_default_config(&ec.cloud), 0);
    iv_cs_init_parm_s p;
    memset(&p, 0, sizeof p);
    CHECK_EQ(iv_cs_init(NULL), IV_ERR_CS_INIT_PRM_NULL);
    CHECK_EQ(iv_cs_init(&p), IV_ERR_CS_INIT_CB_NULL);
    p.iv_cs_push_stream_start_cb = s_start;
    p.iv_cs_push_stream_stop_cb = s_stop;
    p.iv_cs_event_capture_picture_cb = s_cap;
    p.iv_cs_event_picture_result_cb = s_res;
    p.u32MaxGopSize = 800 * 1024 + 1;
    p.av_fmt.eVideoType = IV_CM_VENC_TYPE_H264;
    p.av_fmt.eAudioType = IV_CM_AENC_TYPE_AAC;
    p.av_fmt.eAudioSampleRate = IV_CM_AENC_SAMPLE_RATE_48000;
    p.av_fmt.eAudioMode = IV_CM_AENC_MODE_STEREO;
    CHECK_EQ(iv_cs_init(&p), IV_ERR_CS_INIT_PRM_RANGE);
    p.u32MaxGopSize = 800 * 1024;
    p.av_fmt.eVideoType = IV_CM_VENC_TYPE_MJPG;
    CHECK_EQ(iv_cs_init(&p), IV_ERR_CS_INIT_PRM_RANGE);
    p.av_fmt.eVideoType = IV_CM_VENC_TYPE_H264;
    p.av_fmt.eAudioSampleRate = (iv_cm_aenc_sample_rate_e)12345;
    CHECK_EQ(iv_cs_init(&p), IV_ERR_CS_INIT_PRM_RANGE);
    CHECK(ivcs_default_engine() == NULL);
    p.av_fmt.eAudioSampleRate = IV_CM_AENC_SAMPLE_RATE_48000;
    CHECK_EQ(iv_cs_init(&p), IV_ERR_NONE);
    CHECK_EQ(iv_cs_init(&p), IV_ERR_CS_INIT_REPEAT);
    CHECK_EQ(iv_cs_set_trans_time(0, 1000), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(iv_cs_set_trans_time(1000, 0), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(iv_cs_set_trans_time(3000, 1000), 0);
    iv_cs_balance_info_s b;
    CHECK_EQ(iv_cs_get_balance_info(&b, 0), 0);
    CHECK_EQ(b.cs_switch, 0); /* the fake server has no plan */
    CHECK_EQ(iv_cs_event_start(0), IVCS_ERR_EVENT_ID_RANGE);
    CHECK_EQ(iv_cs_exit(), IV_ERR_NONE);
    CHECK_EQ(iv_cs_exit(), IV_ERR_CS_PRM_NOT_AVAILABLE);
    ivcs_set_default_config(NULL);
}

/* iv_cs_exit with every upload failing: the data left after the upload
 * timeout is dropped and counted (nothing held), and exit says so with
 * IVCS_ERR_TIMEOUT instead of 0; the module is gone all the same. */
TEST(seed_api_exit_reports_dropped_data)
{
    set_plan("full_time");
    pthread_mutex_lock(&srv_mu);
    srv_fail_puts = 1;
    pthread_mutex_unlock(&srv_mu);
    ivcs_engine_config_s ec;
    base_config(&ec);
    ec.cloud.plan_poll_s = 1;
    CHECK_EQ(ivcs_set_default_config(&ec.cloud), 0);
    CHECK_EQ(iv_cs_set_trans_time(300, 300), 0);
    iv_cs_init_parm_s p;
    memset(&p, 0, sizeof p);
    p.iv_cs_push_stream_start_cb = s_start;
    p.iv_cs_push_stream_stop_cb = s_stop;
    p.iv_cs_event_capture_picture_cb = s_cap;
    p.iv_cs_event_picture_result_cb = s_res;
    p.u32MaxGopSize = 1 << 20;
    p.av_fmt.eVideoType = IV_CM_VENC_TYPE_H264;
    p.av_fmt.eAudioType = IV_CM_AENC_TYPE_AAC;
    p.av_fmt.eAudioSampleRate = IV_CM_AENC_SAMPLE_RATE_48000;
    p.av_fmt.eAudioMode = IV_CM_AENC_MODE_STEREO;
    CHECK_EQ(iv_cs_init(&p), IV_ERR_NONE);
    iv_cs_balance_info_s b = {0};
    WAIT_FOR((iv_cs_get_balance_info(&b, 0), b.cs_switch == 1));
    int ok = 0;
    for (int i = 0; i < 100; i++) {
        const fx_frame_t *a = &fx_vf[i % fx_n_vf];
        iv_cm_venc_pack_s pk = {.pu8Addr = (uint8_t *)a->p, .u32Len = a->len,
                                .u64PTS = 1000 + (uint64_t)i * 40,
                                .eFrameType = a->key ? IV_CM_FRAME_TYPE_I : IV_CM_FRAME_TYPE_P};
        ok += iv_cs_push_stream(IV_CM_STREAM_TYPE_VIDEO, &pk) == IV_ERR_NONE;
    }
    CHECK(ok > 0);
    CHECK_EQ(iv_cs_exit(), (iv_err_code_e)IVCS_ERR_TIMEOUT);
    ivcs_channel_stats_s st;
    CHECK_EQ(ivcs_default_last_stats(&st, NULL), 0);
    printf("  %d pushed; at exit uploaded %llu, dropped %llu, held %llu\n", ok,
           (unsigned long long)st.frames_uploaded, (unsigned long long)st.frames_dropped,
           (unsigned long long)st.frames_held);
    CHECK_EQ(st.video_frames_pushed, (uint64_t)ok);
    CHECK_EQ(st.frames_uploaded, 0);
    CHECK_EQ(st.frames_dropped, (uint64_t)ok);
    CHECK_EQ(st.frames_held, 0);
    CHECK_EQ(iv_cs_exit(), IV_ERR_CS_PRM_NOT_AVAILABLE);
    pthread_mutex_lock(&srv_mu);
    srv_fail_puts = 0;
    pthread_mutex_unlock(&srv_mu);
    CHECK_EQ(iv_cs_set_trans_time(20000, 10000), 0);
    ivcs_set_default_config(NULL);
    set_plan(NULL);
}

/* In a child with io_uring_setup refused (EPERM), as under Docker's
 * default seccomp profile: auto records on epoll through the seed API and
 * names it in the stats; a forced io_uring fails with its own code and the
 * cause (the seed: -109), never "unsupported codec". Exit status 0: ok. */
static int refused_engine_child(void)
{
    unsetenv("IVCS_IO_BACKEND");
    ivcs_engine_config_s ec;
    base_config(&ec);
    ec.cloud.io_backend = IVCS_IO_AUTO;
    if (ivcs_set_default_config(&ec.cloud) != 0) return 1;
    iv_cs_init_parm_s p;
    memset(&p, 0, sizeof p);
    p.iv_cs_push_stream_start_cb = s_start;
    p.iv_cs_push_stream_stop_cb = s_stop;
    p.iv_cs_event_capture_picture_cb = s_cap;
    p.iv_cs_event_picture_result_cb = s_res;
    p.u32MaxGopSize = 800 * 1024;
    p.av_fmt.eVideoType = IV_CM_VENC_TYPE_H264;
    p.av_fmt.eAudioType = IV_CM_AENC_TYPE_AAC;
    p.av_fmt.eAudioSampleRate = IV_CM_AENC_SAMPLE_RATE_48000;
    p.av_fmt.eAudioMode = IV_CM_AENC_MODE_STEREO;
    int rc = iv_cs_init(&p);
    if (rc != IV_ERR_NONE) {
        fprintf(stderr, "  iv_cs_init under seccomp: %d %s\n", rc, ivcs_strerror(rc));
        return 2;
    }
    ivcs_engine_stats_s es;
    ivcs_engine_stats(ivcs_default_engine(), &es);
    if (es.io_backend != IVCS_IO_EPOLL) return 3;
    if (!strstr(es.io_note, "io_uring_setup refused (EPERM)")) return 4;
    if (iv_cs_exit() != IV_ERR_NONE) return 5;
    ec.cloud.io_backend = IVCS_IO_URING;
    if (ivcs_set_default_config(&ec.cloud) != 0) return 6;
    if (iv_cs_init(&p) != IV_ERR_SYS_COMMUNICATE_FAIL) return 7;
    if (!strstr(ivcs_io_backend_note(), "set io_backend to epoll or auto")) return 8;
    ivcs_engine_s *e = NULL;
    if (ivcs_engine_new(&e, &ec) != IVCS_ERR_IO_BACKEND || e) return 9;
    if (!strstr(ivcs_strerror(IVCS_ERR_IO_BACKEND), "io_uring")) return 10;
    iv_cs_balance_info_s b;
    if (ivcs_query_balance_info(&ec.cloud, &b, 1) != IVCS_ERR_IO_BACKEND) return 11;
    ivcs_set_default_config(NULL);
    return 0;
}

TEST(io_uring_refused_engine_runs_on_epoll)
{
    if (!ivcs_test_seccomp_usable("io_uring_refused_engine_runs_on_epoll")) return;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (ivcs_test_refuse_io_uring(EPERM) < 0) _exit(90);
        _exit(refused_engine_child());
    }
    int st = -1;
    CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
    CHECK(WIFEXITED(st));
    CHECK_EQ(WEXITSTATUS(st), 0);
}

TEST(engine_stats_name_the_backend)
{
    ivcs_engine_config_s ec;
    base_config(&ec);
    iv_cs_balance_info_s plan = {.cs_switch = 0};
    ec.fixed_plan = &plan;
    ec.cloud.io_backend = IVCS_IO_EPOLL;
    const char *env = getenv("IVCS_IO_BACKEND");
    ivcs_engine_s *e;
    CHECK_EQ(ivcs_engine_new(&e, &ec), 0);
    ivcs_engine_stats_s es;
    ivcs_engine_stats(e, &es);
    /* the environment, when set, overrides the config */
    int want = env && !strcmp(env, "io_uring") ? IVCS_IO_URING : IVCS_IO_EPOLL;
    CHECK_EQ(es.io_backend, want);
    if (want == IVCS_IO_EPOLL) CHECK(strstr(es.io_note, "epoll") != NULL);
    CHECK_EQ(ivcs_engine_destroy(e), 0);
}

int main(void)
{
    if (fx_srv_start(plan_reply) < 0) return 1;
    if (fx_load_media(0) < 0) {
        fprintf(stderr, "cannot load $IVCS_MEDIA_DIR/clip_h264.h264\n");
        return 1;
    }
    RUN(pause_after_120s_without_data);
    RUN(io_uring_refused_engine_runs_on_epoll);
    RUN(engine_stats_name_the_backend);
    RUN(plan_poll_304_hourly_refresh_and_switch);
    RUN(memory_budget_and_no_alloc_push);
    RUN(memory_budget_per_size);
    RUN(memory_budget_transcoded_audio);
    RUN(transcoded_audio_push);
    RUN(push_errors_change_nothing);
    RUN(seed_api_init_validation);
    RUN(seed_api_exit_reports_dropped_data);
    RUN(event_pictures_jpeg_checked_none_for_no_picture);
    fx_free_media();
    return check_done();
}
