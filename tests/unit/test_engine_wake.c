/*
 * test_engine_wake.c - the lazy wake-up of the engine thread (engine.c,
 * channel.c): pushing N frames at a steady pace makes far fewer than N
 * wake-up syscalls (<= N/10), and nothing pushed is lost for it: after the
 * flush every frame was uploaded. Uploads go to a tiny in-process HTTP/1.1
 * sink on loopback (no cloud); the plan is fixed (full time).
 */
#include "check.h"
#include "engine_fixture.h"
#include "ivcs.h"

/* ---------------------------------------------------------------- tests */

TEST(steady_pushing_makes_few_wakeups)
{
    ivcs_engine_config_s ec;
    ivcs_engine_config_defaults(&ec);
    snprintf(ec.cloud.endpoint, sizeof ec.cloud.endpoint, "http://127.0.0.1:%u", fx_srv_port);
    strcpy(ec.cloud.bucket, "ivcs");
    strcpy(ec.cloud.device_id, "wake");
    strcpy(ec.cloud.access_key, "AK");
    strcpy(ec.cloud.secret_key, "SK");
    iv_cs_balance_info_s plan = {.cs_switch = 1, .cs_type = CS_TYPE_FULL_TIME, .cs_days = 7};
    ec.fixed_plan = &plan;
    ivcs_engine_s *e;
    CHECK_EQ(ivcs_engine_new(&e, &ec), 0);
    ivcs_channel_config_s cc;
    memset(&cc, 0, sizeof cc);
    cc.max_gop_size = 8 << 20;
    cc.av_fmt.eVideoType = IV_CM_VENC_TYPE_H264;
    cc.av_fmt.u32Framerate = 25;
    cc.cb.stream_start = fx_cb_nop;
    cc.cb.stream_stop = fx_cb_nop;
    ivcs_channel_s *ch;
    CHECK_EQ(ivcs_channel_open(e, &cc, &ch), 0);
    fx_sleep_ms(300); /* the engine settles: channel open, plan applied */

    /* 2 ms between frames (the engine sleeps between them, as at 25 fps),
     * PTS at 25 fps: 400 frames = 16 s of video = 4 slices of 4 s. */
    enum { N = 400 };
    ivcs_engine_stats_s es0, es1;
    ivcs_engine_stats(e, &es0);
    int ok = 0;
    for (int i = 0; i < N; i++) {
        const fx_frame_t *a = &fx_vf[i % fx_n_vf];
        iv_cm_venc_pack_s pk = {.pu8Addr = (uint8_t *)a->p,
                                .u32Len = a->len,
                                .u64PTS = 1000 + (uint64_t)i * 40,
                                .eFrameType = a->key ? IV_CM_FRAME_TYPE_I : IV_CM_FRAME_TYPE_P,
                                .u32Seq = (uint32_t)i};
        if (ivcs_channel_push_video(ch, &pk) == 0) ok++;
        fx_sleep_ms(2);
    }
    ivcs_engine_stats(e, &es1);
    uint64_t wakes = es1.wakeups - es0.wakeups;
    printf("  %d frames pushed at 2 ms intervals: %llu wake-up syscalls\n", N,
           (unsigned long long)wakes);
    CHECK_EQ(ok, N);
    CHECK(wakes <= N / 10);
    /* (slice boundaries wake nobody: the engine polls near them itself) */

    /* nothing was lost for it: every frame lands after the flush */
    CHECK_EQ(ivcs_engine_stop(e), 0);
    ivcs_channel_stats_s st;
    ivcs_channel_stats(ch, &st);
    CHECK_EQ(st.video_frames_pushed, (uint64_t)N);
    CHECK_EQ(st.frames_uploaded, (uint64_t)N);
    CHECK_EQ(st.slices_dropped, 0);
    ivcs_engine_destroy(e);
}

int main(void)
{
    if (fx_load_media(0) < 0) {
        printf("no $IVCS_MEDIA_DIR/clip_h264.h264\n");
        return 1;
    }
    if (fx_srv_start(NULL) < 0) return 1;
    RUN(steady_pushing_makes_few_wakeups);
    return check_done();
}
