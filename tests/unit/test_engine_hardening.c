/*
 * test_engine_hardening.c - what a red-team pass found in the engine
 * (issue 9), each with the in-process HTTP/1.1 sink of engine_fixture.h
 * (failing PUTs are a fault radosgw cannot produce on demand):
 *  - frame accounting: with every PUT failing, pushed == uploaded +
 *    dropped + discarded + held at every sample taken while pushing, and
 *    at exit with held == 0 (what is left is dropped, notified, and stop
 *    says IVCS_ERR_TIMEOUT); audio pushed to a channel with no video is
 *    dropped and counted, not silently released;
 *  - a forward PTS jump on a P-frame re-anchors (no slice hours long, no
 *    slice dated hours ahead; the slice after the jump continues the GOP);
 *  - every picture handed to the engine gets exactly one picture_result:
 *    uploaded, event id restarted while its picture is pending, upload
 *    given up, exit with a picture pending;
 *  - ivcs_engine_stop/destroy from a callback (the engine thread) are
 *    refused with IVCS_ERR_STATE instead of joining/freeing the thread;
 *  - frame checks: random bytes behind a P-slice NAL header are refused
 *    (slice header fields: first_mb_in_slice 0 for the first slice, a
 *    slice_type and a pic_parameter_set_id that exist, that PPS seen), all
 *    but ~18 % of them (no decoding: what passes has plausible headers); an H.265 IDR pushed into an H.264 channel
 *    is IVCS_ERR_CODEC_MISMATCH;
 *  - the integrity probe (integrity auto) runs beside the engine thread: a
 *    server that accepts and never answers holds the probe for its reply
 *    timeout, while the engine thread goes on servicing the rings (before,
 *    the thread waited for the probe and no ring was drained);
 *  - out of memory is one code inside the engine (issue 10): every
 *    allocation of ivcs_engine_new and ivcs_channel_open failed in turn
 *    gives IV_ERR_SYS_MALLOC_FAIL (never the seed's -606) and leaks nothing.
 */
#include "check.h"
#include "engine_fixture.h"
#include "engine/core/alloc.h"
#include "engine/core/counting_alloc.h"
#include "ivcs.h"

static _Atomic uint64_t fake_now = 1767225600000ull; /* 2026-01-01 */
static uint64_t clock_fn(void *ctx)
{
    (void)ctx;
    return atomic_load(&fake_now);
}

#define WAIT_FOR(cond)                                                                             \
    do {                                                                                           \
        for (int w_ = 0; w_ < 1000 && !(cond); w_++)                                               \
            fx_sleep_ms(10);                                                                       \
    } while (0)

/* ---------------------------------------------------------------- notices */
static pthread_mutex_t nmu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t n_up_frames, n_drop_frames, n_up_slices, n_drop_slices, max_dur, max_start;
/* slices dropped after a failed PUT: notified with their key (the PUT may
 * have been stored before the connection failed) and value 1 */
static uint64_t n_drop_tried, n_drop_tried_keyed;

static void on_notify(void *user, uint32_t ch, const ivcs_notify_s *n)
{
    (void)user;
    (void)ch;
    pthread_mutex_lock(&nmu);
    if (n->kind == IVCS_NOTIFY_SLICE_UPLOADED) {
        n_up_frames += n->frames;
        n_up_slices++;
        if (n->dur_ms > max_dur) max_dur = n->dur_ms;
        if (n->start_ms > max_start) max_start = n->start_ms;
    } else if (n->kind == IVCS_NOTIFY_SLICE_DROPPED) {
        n_drop_frames += n->frames;
        n_drop_slices++;
        if (n->value == 1) n_drop_tried++;
        if (n->value == 1 && n->key && strstr(n->key, "/ch0/rec/") && strstr(n->key, ".ts"))
            n_drop_tried_keyed++;
        if (n->value != 1 && n->key) n_drop_tried_keyed = UINT64_MAX / 2; /* a key without it */
    }
    pthread_mutex_unlock(&nmu);
}

static void notices_reset(void)
{
    pthread_mutex_lock(&nmu);
    n_up_frames = n_drop_frames = n_up_slices = n_drop_slices = max_dur = max_start = 0;
    n_drop_tried = n_drop_tried_keyed = 0;
    pthread_mutex_unlock(&nmu);
}

static uint64_t locked(const uint64_t *v)
{
    pthread_mutex_lock(&nmu);
    uint64_t r = *v;
    pthread_mutex_unlock(&nmu);
    return r;
}

/* ---------------------------------------------------------------- setup */
static const iv_cs_balance_info_s full_time = {.cs_switch = 1, .cs_type = CS_TYPE_FULL_TIME};

/* An engine config for device dev at http://127.0.0.1:port, full time.
 * Integrity md5 (no probe: its PUTs to the sink, slow under qemu, would
 * compete with the uploads these tests time) unless the test asks. */
static void base_config(ivcs_engine_config_s *ec, unsigned port, const char *dev)
{
    ivcs_engine_config_defaults(ec);
    snprintf(ec->cloud.endpoint, sizeof ec->cloud.endpoint, "http://127.0.0.1:%u", port);
    ec->cloud.integrity = IVCS_INTEGRITY_MD5;
    strcpy(ec->cloud.bucket, "ivcs");
    snprintf(ec->cloud.device_id, sizeof ec->cloud.device_id, "%s", dev);
    strcpy(ec->cloud.access_key, "AK");
    strcpy(ec->cloud.secret_key, "SK");
    ec->fixed_plan = &full_time;
}

static ivcs_engine_s *engine(const char *dev, int fake_clock, uint32_t upload_ms)
{
    ivcs_engine_config_s ec;
    base_config(&ec, fx_srv_port, dev);
    if (fake_clock) ec.now_ms = clock_fn;
    ec.wake_tick_ms = 10;
    ec.upload_timeout_ms = upload_ms;
    ec.reply_timeout_ms = upload_ms;
    ivcs_engine_s *e = NULL;
    CHECK_EQ(ivcs_engine_new(&e, &ec), 0);
    return e;
}

static void chan_cfg(ivcs_channel_config_s *cc, uint32_t budget, int audio)
{
    memset(cc, 0, sizeof *cc);
    cc->max_gop_size = budget;
    cc->av_fmt.eVideoType = IV_CM_VENC_TYPE_H264;
    cc->av_fmt.u32Framerate = 25;
    if (audio) {
        cc->av_fmt.eAudioType = IV_CM_AENC_TYPE_AAC;
        cc->av_fmt.eAudioSampleRate = IV_CM_AENC_SAMPLE_RATE_48000;
        cc->av_fmt.eAudioMode = IV_CM_AENC_MODE_STEREO;
    }
    cc->cb.stream_start = fx_cb_nop;
    cc->cb.stream_stop = fx_cb_nop;
    cc->cb.notify = on_notify;
}

static int push_v(ivcs_channel_s *ch, int i, uint64_t pts)
{
    const fx_frame_t *a = &fx_vf[i % fx_n_vf];
    iv_cm_venc_pack_s pk = {.pu8Addr = (uint8_t *)a->p,
                            .u32Len = a->len,
                            .u64PTS = pts,
                            .eFrameType = a->key ? IV_CM_FRAME_TYPE_I : IV_CM_FRAME_TYPE_P,
                            .u32Seq = (uint32_t)i};
    return ivcs_channel_push_video(ch, &pk);
}

static int push_a(ivcs_channel_s *ch, int i, uint64_t pts)
{
    const fx_frame_t *a = &fx_af[i % fx_n_af];
    iv_cm_aenc_pack_s pk = {.pu8Addr = (uint8_t *)a->p, .u32Len = a->len, .u64PTS = pts};
    return ivcs_channel_push_audio(ch, &pk);
}

/* pushed == uploaded + dropped + discarded + held, in one reading */
static int balanced(ivcs_channel_s *ch, ivcs_channel_stats_s *st)
{
    ivcs_channel_stats(ch, st);
    uint64_t in = st->video_frames_pushed + st->audio_frames_pushed;
    uint64_t out = st->frames_uploaded + st->frames_dropped + st->prerecord_discarded +
                   st->frames_held;
    if (in != out)
        fprintf(stderr, "  unbalanced: pushed %llu, uploaded %llu dropped %llu discarded %llu held %llu\n",
                (unsigned long long)in, (unsigned long long)st->frames_uploaded,
                (unsigned long long)st->frames_dropped,
                (unsigned long long)st->prerecord_discarded, (unsigned long long)st->frames_held);
    return in == out;
}

/* A reader on its own thread, as a firmware's stats poller. */
static _Atomic int sampler_stop, samples, unbalanced_samples;
static void *sampler_main(void *arg)
{
    ivcs_channel_s *ch = arg;
    while (!atomic_load(&sampler_stop)) {
        ivcs_channel_stats_s st;
        if (!balanced(ch, &st)) atomic_fetch_add(&unbalanced_samples, 1);
        atomic_fetch_add(&samples, 1);
        fx_sleep_us(500);
    }
    return NULL;
}

/* ---------------------------------------------------------------- tests */

TEST(accounting_with_failing_uploads)
{
    notices_reset();
    atomic_store(&fx_srv_fail, 1);
    ivcs_engine_s *e = engine("acct", 0, 400);
    ivcs_channel_config_s cc;
    chan_cfg(&cc, 1 << 20, 1);
    ivcs_channel_s *ch;
    CHECK_EQ(ivcs_channel_open(e, &cc, &ch), 0);
    atomic_store(&sampler_stop, 0);
    atomic_store(&samples, 0);
    atomic_store(&unbalanced_samples, 0);
    pthread_t t;
    pthread_create(&t, NULL, sampler_main, ch);
    int ok = 0, full = 0, bad = 0;
    ivcs_channel_stats_s st;
    for (int i = 0, a = 0; i < 600; i++) {
        int rc = push_v(ch, i, 1000 + (uint64_t)i * 40);
        ok += rc == 0;
        full += rc == IVCS_ERR_BUFFER_FULL || rc == IV_ERR_CS_NEED_IDR_FRAME;
        for (; a * 1024 * 1000 / 48000 < (i + 1) * 40; a++)
            (void)push_a(ch, a, 1000 + (uint64_t)a * 1024 * 1000 / 48000);
        if (!balanced(ch, &st)) bad++;
        if (i % 20 == 19) fx_sleep_ms(2);
    }
    fx_sleep_ms(50);
    atomic_store(&sampler_stop, 1);
    pthread_join(t, NULL);
    printf("  %d video accepted, %d refused (ring full / need IDR); %d samples\n", ok, full,
           atomic_load(&samples));
    CHECK_EQ(bad, 0);
    CHECK_EQ(atomic_load(&unbalanced_samples), 0);
    CHECK(atomic_load(&samples) > 10);
    CHECK(full > 0); /* the ring did fill: drops for space happened */
    /* exit with uploads still failing: what is left is dropped, counted */
    CHECK_EQ(ivcs_engine_stop(e), IVCS_ERR_TIMEOUT);
    CHECK(balanced(ch, &st));
    printf("  at exit: pushed %llu+%llu, uploaded %llu, dropped %llu (%llu slices), held %llu\n",
           (unsigned long long)st.video_frames_pushed, (unsigned long long)st.audio_frames_pushed,
           (unsigned long long)st.frames_uploaded, (unsigned long long)st.frames_dropped,
           (unsigned long long)st.slices_dropped, (unsigned long long)st.frames_held);
    CHECK_EQ(st.frames_held, 0);
    CHECK_EQ(st.frames_uploaded, 0);
    CHECK_EQ(st.frames_dropped, st.video_frames_pushed + st.audio_frames_pushed);
    CHECK_EQ(locked(&n_drop_frames), st.frames_dropped); /* every drop notified */
    CHECK_EQ(locked(&n_drop_slices), st.slices_dropped);
    /* the slices dropped for space after a failed PUT name their key */
    printf("  %llu of them dropped after a failed PUT, with their key\n",
           (unsigned long long)locked(&n_drop_tried));
    CHECK(locked(&n_drop_tried) > 0);
    CHECK_EQ(locked(&n_drop_tried_keyed), locked(&n_drop_tried));
    CHECK_EQ(ivcs_engine_destroy(e), IVCS_ERR_TIMEOUT);
    atomic_store(&fx_srv_fail, 0);
}

/* The same with G.711 A-law the engine encodes: pushed frames are what the
 * counts count (not the encoder's flush silence), and the input the engine
 * never encoded is dropped at exit too. */
TEST(accounting_g711_with_failing_uploads)
{
    notices_reset();
    atomic_store(&fx_srv_fail, 1);
    ivcs_engine_s *e = engine("acctg711", 0, 300);
    ivcs_channel_config_s cc;
    chan_cfg(&cc, 1 << 20, 0);
    cc.av_fmt.eAudioType = IV_CM_AENC_TYPE_G711A;
    cc.av_fmt.eAudioSampleRate = IV_CM_AENC_SAMPLE_RATE_8000;
    cc.av_fmt.eAudioMode = IV_CM_AENC_MODE_MONO;
    ivcs_channel_s *ch;
    CHECK_EQ(ivcs_channel_open(e, &cc, &ch), 0);
    static uint8_t alaw[1024];
    memset(alaw, 0xD5, sizeof alaw); /* A-law silence */
    int bad = 0, aok = 0;
    ivcs_channel_stats_s st;
    for (int i = 0, a = 0; i < 300; i++) {
        (void)push_v(ch, i, 1000 + (uint64_t)i * 40);
        for (; a * 128 < (i + 1) * 40; a++) {
            iv_cm_aenc_pack_s pk = {.pu8Addr = alaw, .u32Len = sizeof alaw,
                                    .u64PTS = 1000 + (uint64_t)a * 128};
            aok += ivcs_channel_push_audio(ch, &pk) == 0;
        }
        if (!balanced(ch, &st)) bad++;
        if (i % 20 == 19) fx_sleep_ms(2);
    }
    CHECK_EQ(bad, 0);
    CHECK(aok > 50);
    CHECK_EQ(ivcs_engine_stop(e), IVCS_ERR_TIMEOUT);
    CHECK(balanced(ch, &st));
    printf("  G.711: pushed %llu+%llu (%llu AAC encoded), dropped %llu, held %llu\n",
           (unsigned long long)st.video_frames_pushed, (unsigned long long)st.audio_frames_pushed,
           (unsigned long long)st.audio_frames_encoded, (unsigned long long)st.frames_dropped,
           (unsigned long long)st.frames_held);
    CHECK_EQ(st.frames_held, 0);
    CHECK_EQ(st.frames_uploaded, 0);
    CHECK_EQ(st.frames_dropped, st.video_frames_pushed + st.audio_frames_pushed);
    CHECK_EQ(locked(&n_drop_frames), st.frames_dropped);
    ivcs_engine_destroy(e);
    atomic_store(&fx_srv_fail, 0);
}

TEST(audio_without_video_is_counted)
{
    notices_reset();
    ivcs_engine_s *e = engine("aonly", 0, 400);
    ivcs_channel_config_s cc;
    chan_cfg(&cc, 1 << 20, 1);
    ivcs_channel_s *ch;
    CHECK_EQ(ivcs_channel_open(e, &cc, &ch), 0);
    int ok = 0, bad = 0;
    ivcs_channel_stats_s st;
    for (int a = 0; a < 2000; a++) {
        ok += push_a(ch, a, 1000 + (uint64_t)a * 1024 * 1000 / 48000) == 0;
        if (!balanced(ch, &st)) bad++;
        if (a % 50 == 49) fx_sleep_ms(2);
    }
    CHECK_EQ(bad, 0);
    CHECK(ok > 0);
    ivcs_channel_stats(ch, &st);
    CHECK_EQ(st.audio_frames_pushed, (uint64_t)ok);
    CHECK(st.frames_dropped > 0); /* the audio ring filled: room made, counted */
    CHECK_EQ(ivcs_engine_stop(e), IVCS_ERR_TIMEOUT);
    CHECK(balanced(&*ch, &st));
    printf("  %d audio frames accepted: uploaded %llu, dropped %llu, held %llu\n", ok,
           (unsigned long long)st.frames_uploaded, (unsigned long long)st.frames_dropped,
           (unsigned long long)st.frames_held);
    CHECK_EQ(st.frames_uploaded, 0);
    CHECK_EQ(st.frames_dropped, (uint64_t)ok);
    CHECK_EQ(st.frames_held, 0);
    CHECK_EQ(locked(&n_drop_frames), (uint64_t)ok);
    ivcs_engine_destroy(e);
}

TEST(pts_jump_on_p_frame_reanchors)
{
    notices_reset();
    ivcs_engine_s *e = engine("jump", 1, 2000);
    ivcs_channel_config_s cc;
    chan_cfg(&cc, 4 << 20, 0);
    ivcs_channel_s *ch;
    CHECK_EQ(ivcs_channel_open(e, &cc, &ch), 0);
    const uint64_t jump = 3ull * 3600 * 1000;
    int jump_at = -1;
    for (int i = 0; i < 250; i++) {
        if (jump_at < 0 && i >= 60 && !fx_vf[i % fx_n_vf].key) jump_at = i; /* a P-frame */
        uint64_t pts = 1000 + (uint64_t)i * 40 + (jump_at >= 0 ? jump : 0);
        CHECK_EQ(push_v(ch, i, pts), 0);
        if (i % 10 == 9) {
            fx_sleep_ms(3);
            atomic_fetch_add(&fake_now, 400); /* the engine clock goes at real pace */
        }
    }
    CHECK_EQ(ivcs_engine_stop(e), 0);
    ivcs_channel_stats_s st;
    ivcs_channel_stats(ch, &st);
    printf("  jump at frame %d: %llu slices, longest %llu ms, reanchors %llu\n", jump_at,
           (unsigned long long)locked(&n_up_slices), (unsigned long long)locked(&max_dur),
           (unsigned long long)st.reanchors);
    CHECK(jump_at > 0);
    CHECK_EQ(st.reanchors, 1);
    CHECK(locked(&max_dur) <= 10000);                           /* no 3-hour slice */
    CHECK(locked(&max_start) < atomic_load(&fake_now) + 60000); /* none dated 3 h ahead */
    CHECK_EQ(st.frames_uploaded, 250); /* the slice after the jump continues the GOP */
    CHECK_EQ(st.frames_dropped + st.prerecord_discarded, 0);
    ivcs_engine_destroy(e);
}

/* ---------------------------------------------------------------- pictures */
enum { NPIC = 6 };
static uint8_t pics[NPIC][8];
static _Atomic int pic_next, pic_results[NPIC], pic_errs[NPIC];

static int32_t cap_pic(void *u, uint32_t ch, int32_t id, uint8_t **pic, int32_t *size)
{
    (void)u;
    (void)ch;
    (void)id;
    int k = atomic_fetch_add(&pic_next, 1);
    if (k >= NPIC) {
        *pic = NULL;
        *size = 0;
        return 0;
    }
    static const uint8_t jpeg[8] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x02, 0xFF, 0xD9};
    memcpy(pics[k], jpeg, 8);
    *pic = pics[k];
    *size = 8;
    return 0;
}

static int32_t pic_result(void *u, uint32_t ch, uint8_t **pic, int32_t err)
{
    (void)u;
    (void)ch;
    for (int k = 0; k < NPIC; k++)
        if (*pic == pics[k]) {
            atomic_fetch_add(&pic_results[k], 1);
            atomic_store(&pic_errs[k], err);
        }
    return 0;
}

TEST(every_picture_gets_one_result)
{
    ivcs_engine_s *e = engine("pics", 1, 500);
    ivcs_channel_config_s cc;
    chan_cfg(&cc, 1 << 20, 0);
    cc.cb.capture_picture = cap_pic;
    cc.cb.picture_result = pic_result;
    ivcs_channel_s *ch;
    CHECK_EQ(ivcs_channel_open(e, &cc, &ch), 0);
    /* 0: uploaded -> 0 */
    CHECK_EQ(ivcs_channel_event_start(ch, 1, 0, 0), 0);
    WAIT_FOR(atomic_load(&pic_results[0]) == 1);
    CHECK_EQ(atomic_load(&pic_errs[0]), 0);
    /* 1: pending (PUTs fail), the id restarts -> 1 gets its result */
    atomic_store(&fx_srv_fail, 1);
    CHECK_EQ(ivcs_channel_event_start(ch, 2, 0, 0), 0);
    fx_sleep_ms(50);
    CHECK_EQ(ivcs_channel_event_stop(ch, 2, 0, 0), 0);
    CHECK_EQ(ivcs_channel_event_start(ch, 2, 0, 0), 0); /* picture 2 */
    WAIT_FOR(atomic_load(&pic_results[1]) == 1);
    CHECK_EQ(atomic_load(&pic_results[1]), 1);
    CHECK(atomic_load(&pic_errs[1]) < 0);
    /* 2: the upload is given up after its attempts -> an error result */
    for (int k = 0; k < 3000 && !atomic_load(&pic_results[2]); k++) {
        atomic_fetch_add(&fake_now, 60000);
        ivcs_engine_wake(e);
        fx_sleep_ms(2);
    }
    CHECK_EQ(atomic_load(&pic_results[2]), 1);
    CHECK(atomic_load(&pic_errs[2]) < 0);
    /* 3: exit with the picture pending -> a result at exit */
    CHECK_EQ(ivcs_channel_event_start(ch, 3, 0, 0), 0);
    fx_sleep_ms(50);
    (void)ivcs_engine_stop(e);
    CHECK_EQ(atomic_load(&pic_results[3]), 1);
    CHECK(atomic_load(&pic_errs[3]) < 0);
    int handed = atomic_load(&pic_next), total = 0;
    for (int k = 0; k < NPIC; k++) {
        CHECK(atomic_load(&pic_results[k]) == (k < handed ? 1 : 0));
        total += atomic_load(&pic_results[k]);
    }
    printf("  %d pictures handed over, %d results\n", handed, total);
    CHECK_EQ(handed, 4);
    ivcs_engine_destroy(e);
    atomic_store(&fx_srv_fail, 0);
}

/* ---------------------------------------------------------------- thread */
static ivcs_engine_s *cb_engine;
static _Atomic int cb_calls, cb_stop_rc, cb_destroy_rc;
static int32_t start_then_stop(void *u, uint32_t ch)
{
    (void)u;
    (void)ch;
    atomic_store(&cb_stop_rc, ivcs_engine_stop(cb_engine));
    atomic_store(&cb_destroy_rc, ivcs_engine_destroy(cb_engine));
    atomic_fetch_add(&cb_calls, 1);
    return 0;
}

TEST(stop_destroy_from_callback_refused)
{
    cb_engine = engine("cbstop", 0, 1000);
    ivcs_channel_config_s cc;
    chan_cfg(&cc, 1 << 20, 0);
    cc.cb.stream_start = start_then_stop; /* full time: called at once */
    ivcs_channel_s *ch;
    CHECK_EQ(ivcs_channel_open(cb_engine, &cc, &ch), 0);
    WAIT_FOR(atomic_load(&cb_calls) == 1);
    CHECK_EQ(atomic_load(&cb_calls), 1);
    CHECK_EQ(atomic_load(&cb_stop_rc), IVCS_ERR_STATE);
    CHECK_EQ(atomic_load(&cb_destroy_rc), IVCS_ERR_STATE);
    /* the engine still works */
    CHECK_EQ(push_v(ch, 0, 1000), 0);
    CHECK_EQ(ivcs_engine_destroy(cb_engine), 0);
}

/* ---------------------------------------------------------------- checks */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 32);
}

TEST(random_p_slices_and_h265_in_h264_refused)
{
    ivcs_engine_s *e = engine("checks", 0, 1000);
    ivcs_channel_config_s cc;
    chan_cfg(&cc, 1 << 20, 0);
    ivcs_channel_s *ch;
    CHECK_EQ(ivcs_channel_open(e, &cc, &ch), 0);
    uint64_t pts = 1000;
    CHECK_EQ(push_v(ch, 0, pts), 0); /* a real IDR with SPS/PPS first */
    enum { N = 4000, LEN = 600 };
    static uint8_t buf[LEN];
    int accepted = 0;
    for (int k = 0; k < N; k++) {
        buf[0] = buf[1] = buf[2] = 0;
        buf[3] = 1;
        buf[4] = 0x41; /* nal_ref_idc 2, non-IDR slice */
        for (int i = 5; i < LEN; i++) {
            uint8_t b = (uint8_t)rnd();
            /* no start code inside: random bytes behind one header */
            buf[i] = (b <= 3 && buf[i - 1] == 0 && buf[i - 2] == 0) ? 0x55 : b;
        }
        iv_cm_venc_pack_s pk = {.pu8Addr = buf,
                                .u32Len = LEN,
                                .u64PTS = pts += 40,
                                .eFrameType = IV_CM_FRAME_TYPE_P};
        accepted += ivcs_channel_push_video(ch, &pk) == 0;
    }
    printf("  random P-slice payloads accepted: %d of %d (%.1f %%)\n", accepted, N,
           100.0 * accepted / N);
    CHECK(accepted * 100 <= N * 12); /* 25.6 % before the slice header checks, 7.8 % after */

    /* an H.265 IDR (VPS/SPS/PPS/IDR) into an H.264 channel */
    size_t hlen = 0;
    char dir[1024];
    const char *env = getenv("IVCS_MEDIA_DIR");
    snprintf(dir, sizeof dir, "%s", env && *env ? env : "media");
    uint8_t *h265 = fx_slurp(dir, "clip_h265.h265", &hlen);
    CHECK(h265 != NULL);
    if (h265) {
        int64_t l = ivcs_nalu_next_au(IVCS_CODEC_H265, h265, hlen, 1);
        CHECK(l > 0);
        iv_cm_venc_pack_s pk = {.pu8Addr = h265,
                                .u32Len = (uint32_t)l,
                                .u64PTS = pts += 40,
                                .eFrameType = IV_CM_FRAME_TYPE_I};
        CHECK_EQ(ivcs_channel_push_video(ch, &pk), IVCS_ERR_CODEC_MISMATCH);
        free(h265);
    }
    ivcs_engine_destroy(e);
}

TEST(out_of_memory_is_one_code)
{
    ivcs_counting_alloc_s ca;
    CHECK_EQ(ivcs_counting_alloc_init(&ca, ivcs_allocator_libc()), 0);
    int engine_failures = 0, channel_failures = 0, done = 0;
    for (int64_t n = 0; n < 500 && !done; n++) {
        ivcs_engine_config_s ec;
        base_config(&ec, fx_srv_port, "oom");
        ec.alloc = &ca.allocator;
        ivcs_counting_alloc_fail_after(&ca, n);
        ivcs_engine_s *e = NULL;
        int rc = ivcs_engine_new(&e, &ec);
        if (rc < 0) {
            CHECK_EQ(rc, IV_ERR_SYS_MALLOC_FAIL);
            engine_failures++;
        } else {
            ivcs_channel_config_s cc;
            chan_cfg(&cc, 256 * 1024, 1);
            ivcs_channel_s *ch = NULL;
            rc = ivcs_channel_open(e, &cc, &ch);
            if (rc < 0) {
                CHECK_EQ(rc, IV_ERR_SYS_MALLOC_FAIL);
                channel_failures++;
            } else {
                done = 1;
            }
            ivcs_counting_alloc_fail_after(&ca, -1);
            ivcs_engine_destroy(e);
        }
        ivcs_counting_alloc_fail_after(&ca, -1);
        ivcs_counting_stats_s st;
        ivcs_counting_alloc_stats(&ca, &st);
        CHECK_EQ(st.live_bytes, 0);
    }
    CHECK(done);
    CHECK(engine_failures > 0);
    CHECK(channel_failures > 0);
}

TEST(integrity_probe_does_not_hold_the_engine_thread)
{
    /* a port that takes connections (the kernel's backlog) and never
     * answers: each probe request waits for its reply timeout */
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(ls >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK_EQ(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
    CHECK_EQ(listen(ls, 16), 0);
    socklen_t al = sizeof a;
    CHECK_EQ(getsockname(ls, (struct sockaddr *)&a, &al), 0);
    ivcs_engine_config_s ec;
    base_config(&ec, ntohs(a.sin_port), "probe");
    ec.cloud.integrity = IVCS_INTEGRITY_AUTO;
    ec.wake_tick_ms = 10;
    /* the probe's bound per request: 5 s (its cap), well past the 2 s of
     * pushes below even under qemu */
    ec.upload_timeout_ms = 5000;
    ec.reply_timeout_ms = 5000;
    ivcs_engine_s *e = NULL;
    CHECK_EQ(ivcs_engine_new(&e, &ec), 0);
    if (!e) {
        close(ls);
        return;
    }
    ivcs_channel_config_s cc;
    chan_cfg(&cc, 1 << 20, 0);
    ivcs_channel_s *ch;
    CHECK_EQ(ivcs_channel_open(e, &cc, &ch), 0);
    /* 2 s of pushes while the probe waits (the slices cannot be uploaded
     * either: the server is silent; 50 frames fit the 1 MiB budget) */
    int ok = 0;
    for (int i = 0; i < 50; i++) {
        int rc = push_v(ch, i, 1000 + (uint64_t)i * 40);
        if (rc) printf("  frame %d: %s\n", i, ivcs_strerror_name(rc));
        ok += rc == 0;
        fx_sleep_ms(40);
    }
    ivcs_engine_stats_s es;
    ivcs_engine_stats(e, &es);
    ivcs_channel_stats_s st;
    ivcs_channel_stats(ch, &st);
    printf("  probe pending (integrity %d): %llu engine-loop turns, %d of 50 frames accepted, "
           "%llu held\n", es.integrity, (unsigned long long)es.loop_iterations, ok,
           (unsigned long long)st.frames_held);
    CHECK_EQ(es.integrity, IVCS_INTEGRITY_AUTO); /* the probe still waits */
    CHECK(es.loop_iterations > 10);              /* and the engine thread turns */
    CHECK_EQ(ok, 50);
    ivcs_engine_destroy(e); /* joins the probe: its request's timeout at most */
    close(ls);
}

int main(void)
{
    if (fx_load_media(1) < 0 || !fx_vf[0].key) {
        printf("no $IVCS_MEDIA_DIR media\n");
        return 1;
    }
    if (fx_srv_start(NULL) < 0) return 1;
    RUN(stop_destroy_from_callback_refused);
    RUN(accounting_with_failing_uploads);
    RUN(accounting_g711_with_failing_uploads);
    RUN(audio_without_video_is_counted);
    RUN(pts_jump_on_p_frame_reanchors);
    RUN(every_picture_gets_one_result);
    RUN(random_p_slices_and_h265_in_h264_refused);
    RUN(out_of_memory_is_one_code);
    RUN(integrity_probe_does_not_hold_the_engine_thread);
    fx_free_media();
    return check_done();
}
