/*
 * test_engine_notify.c - the notify callback of the native API, with an
 * in-process HTTP/1.1 sink on loopback that can be told to fail every PUT
 * (500) and an injected clock (retries become due when the test moves it):
 *  - per-slice results: one SLICE_UPLOADED per landed slice, with its key,
 *    start, duration, frames and bytes; the frames add up to the stats;
 *  - upload fail / recover: the first failed attempt gives one
 *    UPLOAD_FAIL (err < 0), the first success after it one UPLOAD_RECOVER,
 *    in that order, however many attempts fail in between;
 *  - buffer watermarks with hysteresis: BUFFER_HIGH once when the video
 *    ring passes 75 % (not again while it stays above), BUFFER_LOW once
 *    when it is back under 50 % (value < 50), not before;
 *  - nothing lost: after the server recovers every frame lands.
 */
#include "check.h"
#include "engine_fixture.h"
#include "ivcs.h"

/* ---------------------------------------------------------------- notices */
static _Atomic uint64_t fake_now = 1767225600000ull; /* 2026-01-01 */
static uint64_t clock_fn(void *ctx)
{
    (void)ctx;
    return atomic_load(&fake_now);
}

#define MAXN 4096
static pthread_mutex_t nmu = PTHREAD_MUTEX_INITIALIZER;
static ivcs_notify_s nlog[MAXN];
static char nkeys[MAXN][8]; /* "k"/"p" suffix presence, key copied short */
static int nn;

static void on_notify(void *user, uint32_t ch, const ivcs_notify_s *n)
{
    (void)user;
    (void)ch;
    pthread_mutex_lock(&nmu);
    if (nn < MAXN) {
        nlog[nn] = *n;
        nkeys[nn][0] = n->key && strstr(n->key, "/rec/") && strstr(n->key, ".ts") ? 'k' : 0;
        nlog[nn].key = NULL; /* only valid during the call */
        nn++;
    }
    pthread_mutex_unlock(&nmu);
}

static int count(ivcs_notify_e kind)
{
    int c = 0;
    pthread_mutex_lock(&nmu);
    for (int i = 0; i < nn; i++)
        c += nlog[i].kind == kind;
    pthread_mutex_unlock(&nmu);
    return c;
}

/* index of the first notice of a kind, or -1 */
static int first(ivcs_notify_e kind)
{
    int r = -1;
    pthread_mutex_lock(&nmu);
    for (int i = 0; i < nn && r < 0; i++)
        if (nlog[i].kind == kind) r = i;
    pthread_mutex_unlock(&nmu);
    return r;
}

#define WAIT_FOR(cond)                                                                             \
    do {                                                                                           \
        for (int w_ = 0; w_ < 1000 && !(cond); w_++)                                               \
            fx_sleep_ms(10);                                                                          \
    } while (0)

static int push(ivcs_channel_s *ch, int i)
{
    const fx_frame_t *a = &fx_vf[i % fx_n_vf];
    iv_cm_venc_pack_s pk = {.pu8Addr = (uint8_t *)a->p,
                            .u32Len = a->len,
                            .u64PTS = 1000 + (uint64_t)i * 40,
                            .eFrameType = a->key ? IV_CM_FRAME_TYPE_I : IV_CM_FRAME_TYPE_P,
                            .u32Seq = (uint32_t)i};
    return ivcs_channel_push_video(ch, &pk);
}

/* ---------------------------------------------------------------- tests */

TEST(notify_slices_failures_watermarks)
{
    ivcs_engine_config_s ec;
    ivcs_engine_config_defaults(&ec);
    snprintf(ec.cloud.endpoint, sizeof ec.cloud.endpoint, "http://127.0.0.1:%u", fx_srv_port);
    /* no integrity probe: its PUTs to the sink (slow under qemu) would
     * compete with the uploads these tests time */
    ec.cloud.integrity = IVCS_INTEGRITY_MD5;
    strcpy(ec.cloud.bucket, "ivcs");
    strcpy(ec.cloud.device_id, "notify");
    strcpy(ec.cloud.access_key, "AK");
    strcpy(ec.cloud.secret_key, "SK");
    ec.now_ms = clock_fn;
    ec.wake_tick_ms = 10;
    iv_cs_balance_info_s plan = {.cs_switch = 1, .cs_type = CS_TYPE_FULL_TIME, .cs_days = 7};
    ec.fixed_plan = &plan;
    ivcs_engine_s *e;
    CHECK_EQ(ivcs_engine_new(&e, &ec), 0);
    ivcs_channel_config_s cc;
    memset(&cc, 0, sizeof cc);
    cc.max_gop_size = 1 << 20; /* 512 KiB video ring */
    cc.av_fmt.eVideoType = IV_CM_VENC_TYPE_H264;
    cc.av_fmt.u32Framerate = 25;
    cc.cb.stream_start = fx_cb_nop;
    cc.cb.stream_stop = fx_cb_nop;
    cc.cb.notify = on_notify;
    ivcs_channel_s *ch;
    CHECK_EQ(ivcs_channel_open(e, &cc, &ch), 0);

    /* 1. server fine: per-slice results. Paced by the ring (below 50 %
     * before each push, waiting at most 2 s): a slow engine thread (qemu on
     * a loaded machine, seen in CI) must not cross the high watermark here */
    ivcs_channel_stats_s st;
    int i = 0;
    for (; i < 150; i++) {
        for (int w = 0; w < 400; w++) {
            ivcs_channel_stats(ch, &st);
            if (st.video_ring_fill_pct < 50) break;
            fx_sleep_ms(5);
        }
        CHECK_EQ(push(ch, i), 0);
        if (i % 10 == 9) fx_sleep_ms(5);
    }
    WAIT_FOR(count(IVCS_NOTIFY_SLICE_UPLOADED) >= 1);
    int up1 = count(IVCS_NOTIFY_SLICE_UPLOADED);
    CHECK(up1 >= 1);
    CHECK_EQ(count(IVCS_NOTIFY_UPLOAD_FAIL), 0);
    CHECK_EQ(count(IVCS_NOTIFY_BUFFER_HIGH), 0);

    /* 2. every PUT fails: one FAIL; the ring fills past 75 %: one HIGH */
    atomic_store(&fx_srv_fail, 1);
    int fill_ok = 0;
    for (int k = 0; k < 400; k++, i++) {
        ivcs_channel_stats(ch, &st);
        if (st.video_ring_fill_pct >= 85) {
            fill_ok = 1;
            break;
        }
        CHECK_EQ(push(ch, i), 0);
        if (k % 10 == 9) {
            fx_sleep_ms(5);
            atomic_fetch_add(&fake_now, 1000); /* retries come due, fail again */
        }
    }
    CHECK(fill_ok);
    WAIT_FOR(count(IVCS_NOTIFY_BUFFER_HIGH) == 1 && count(IVCS_NOTIFY_UPLOAD_FAIL) == 1);
    /* stays above 75 %: no second HIGH, no LOW, still one FAIL */
    for (int k = 0; k < 20; k++) {
        atomic_fetch_add(&fake_now, 1000);
        ivcs_engine_wake(e);
        fx_sleep_ms(5);
    }
    CHECK_EQ(count(IVCS_NOTIFY_BUFFER_HIGH), 1);
    CHECK_EQ(count(IVCS_NOTIFY_BUFFER_LOW), 0);
    CHECK_EQ(count(IVCS_NOTIFY_UPLOAD_FAIL), 1);
    CHECK_EQ(count(IVCS_NOTIFY_UPLOAD_RECOVER), 0);
    int h = first(IVCS_NOTIFY_BUFFER_HIGH);
    CHECK(h >= 0 && nlog[h].value >= 75);
    int f = first(IVCS_NOTIFY_UPLOAD_FAIL);
    CHECK(f >= 0 && nlog[f].err < 0);
    CHECK_EQ(count(IVCS_NOTIFY_SLICE_UPLOADED), up1);
    ivcs_channel_stats(ch, &st);
    CHECK(st.upload_failures >= 1);

    /* 3. the server is back: one RECOVER, the ring drains: one LOW (< 50 %) */
    atomic_store(&fx_srv_fail, 0);
    for (int k = 0;
         k < 600 && !(count(IVCS_NOTIFY_UPLOAD_RECOVER) && count(IVCS_NOTIFY_BUFFER_LOW)); k++) {
        atomic_fetch_add(&fake_now, 1000);
        ivcs_engine_wake(e);
        fx_sleep_ms(10);
    }
    CHECK_EQ(count(IVCS_NOTIFY_UPLOAD_RECOVER), 1);
    CHECK_EQ(count(IVCS_NOTIFY_BUFFER_LOW), 1);
    CHECK_EQ(count(IVCS_NOTIFY_BUFFER_HIGH), 1);
    int r = first(IVCS_NOTIFY_UPLOAD_RECOVER), l = first(IVCS_NOTIFY_BUFFER_LOW);
    CHECK(r > f);
    CHECK(l > h);
    CHECK(l >= 0 && nlog[l].value < 50);

    /* 4. flush: every frame landed, the notices add up to the stats */
    CHECK_EQ(ivcs_engine_stop(e), 0);
    ivcs_channel_stats(ch, &st);
    CHECK_EQ(st.frames_uploaded, (uint64_t)i);
    CHECK_EQ(st.slices_dropped, 0);
    uint64_t frames = 0, bytes = 0;
    int slices = 0, bad = 0;
    pthread_mutex_lock(&nmu);
    for (int k = 0; k < nn; k++)
        if (nlog[k].kind == IVCS_NOTIFY_SLICE_UPLOADED) {
            slices++;
            frames += nlog[k].frames;
            bytes += nlog[k].bytes;
            if (!nkeys[k][0] || !nlog[k].frames || !nlog[k].bytes || !nlog[k].dur_ms ||
                nlog[k].start_ms < 1767225600000ull)
                bad++;
        }
    pthread_mutex_unlock(&nmu);
    printf("  %d slices notified, %llu frames, %llu bytes; %d successful PUTs\n", slices,
           (unsigned long long)frames, (unsigned long long)bytes, atomic_load(&fx_srv_puts_ok));
    CHECK_EQ(bad, 0);
    CHECK_EQ((uint64_t)slices, st.slices_uploaded);
    CHECK_EQ(frames, st.frames_uploaded);
    CHECK_EQ(bytes, st.bytes_uploaded);
    ivcs_engine_destroy(e);
}

int main(void)
{
    if (fx_load_media(0) < 0) {
        printf("no $IVCS_MEDIA_DIR/clip_h264.h264\n");
        return 1;
    }
    if (fx_srv_start(NULL) < 0) return 1;
    RUN(notify_slices_failures_watermarks);
    return check_done();
}
