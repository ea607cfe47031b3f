/*
 * test_push_threads.c - one channel fed from two firmware threads at once
 * (video from one, audio from the other) through the native API while the
 * engine thread slices and uploads, under ThreadSanitizer. A third thread
 * reads the stats and the main thread starts and stops events meanwhile,
 * so every cross-thread path of the push side runs: the rings' SPSC
 * protocol, the lazy wake-up (urgent / sleeping Dekker pair), the shared
 * counters, the need-IDR flag, the command queue. Any data race report
 * fails the test (TSAN_OPTIONS=halt_on_error=1 from ctest; exit code 66
 * otherwise). Also checked: every accepted frame lands (uploaded = pushed,
 * nothing dropped with a 4 MiB budget).
 *
 * Uploads go to an in-process HTTP/1.1 sink on loopback; the plan is fixed
 * (full time). Media: $IVCS_MEDIA_DIR, else ../media next to this binary
 * (build/tests/.. -> build/media, written by the media.make test).
 */
#include <math.h>

#include "engine_fixture.h"
#include "ivcs.h"

/* test_push_threads_pcm.c includes this file with PUSH_PCM 1: the audio
 * thread then pushes 48 kHz stereo PCM, which the engine thread encodes to
 * AAC while the pushes go on (the input ring, the encoder, the AAC ring
 * written by the engine itself). */
#ifndef PUSH_PCM
#define PUSH_PCM 0
#endif

static int failures;
#define EXPECT(c)                                                                                  \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c);                        \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* ---------------------------------------------------------------- threads */
static ivcs_channel_s *g_ch;
static _Atomic int done_pushing;
static _Atomic int video_ok, audio_ok, video_err, audio_err;
enum { NV = 300 };

static void *video_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < NV; i++) {
        const fx_frame_t *f = &fx_vf[i % fx_n_vf];
        iv_cm_venc_pack_s pk = {.pu8Addr = (uint8_t *)f->p,
                                .u32Len = f->len,
                                .u64PTS = 1000 + (uint64_t)i * 40,
                                .eFrameType = f->key ? IV_CM_FRAME_TYPE_I : IV_CM_FRAME_TYPE_P,
                                .u32Seq = (uint32_t)i};
        int rc;
        if (i % 2) {
            rc = ivcs_channel_push_video(g_ch, &pk);
        } else { /* zero-copy half */
            uint8_t *p;
            rc = ivcs_channel_reserve(g_ch, IV_CM_STREAM_TYPE_VIDEO, f->len, &p);
            if (rc == 0) {
                memcpy(p, f->p, f->len);
                rc = ivcs_channel_commit(g_ch, IV_CM_STREAM_TYPE_VIDEO, f->len, pk.u64PTS,
                                         pk.eFrameType, pk.u32Seq);
            }
        }
        atomic_fetch_add(rc == 0 ? &video_ok : &video_err, 1);
        if (rc) fprintf(stderr, "video push %d: %s\n", i, ivcs_strerror(rc));
        fx_sleep_us(2000);
    }
    return NULL;
}

static int16_t pcm[2048]; /* one 1024-sample stereo frame: 440 / 660 Hz */

static void *audio_main(void *arg)
{
    (void)arg;
    /* 1024 samples at 48 kHz = 21.33 ms: as many as cover NV video frames */
    int na = NV * 40 * 48 / 1024;
    for (int i = 0; i < na; i++) {
        const fx_frame_t *f = &fx_af[i % fx_n_af];
        iv_cm_aenc_pack_s pk = {.pu8Addr = (uint8_t *)f->p,
                                .u32Len = f->len,
                                .u64PTS = 1000 + (uint64_t)i * 1024 / 48,
                                .u32Seq = (uint32_t)i};
        if (PUSH_PCM) {
            pk.pu8Addr = (uint8_t *)pcm;
            pk.u32Len = sizeof pcm;
        }
        int rc = ivcs_channel_push_audio(g_ch, &pk);
        /* PCM: the 8-frame input ring is drained at each engine service;
         * pushing 20x faster than real time, wait for it as a firmware would */
        for (int t = 0; PUSH_PCM && rc == IVCS_ERR_BUFFER_FULL && t < 1000; t++) {
            fx_sleep_us(2000);
            rc = ivcs_channel_push_audio(g_ch, &pk);
        }
        atomic_fetch_add(rc == 0 ? &audio_ok : &audio_err, 1);
        if (rc) fprintf(stderr, "audio push %d: %s\n", i, ivcs_strerror(rc));
        fx_sleep_us(1000);
    }
    return NULL;
}

static void *stats_main(void *arg)
{
    ivcs_engine_s *e = arg;
    uint64_t last = 0;
    while (!atomic_load(&done_pushing)) {
        ivcs_channel_stats_s st;
        ivcs_engine_stats_s es;
        ivcs_channel_stats(g_ch, &st);
        ivcs_engine_stats(e, &es);
        EXPECT(st.video_frames_pushed >= last); /* monotonic */
        last = st.video_frames_pushed;
        /* every frame accounted for, at every instant (one consistent read) */
        EXPECT(st.video_frames_pushed + st.audio_frames_pushed ==
               st.frames_uploaded + st.frames_dropped + st.prerecord_discarded + st.frames_held);
        fx_sleep_us(3000);
    }
    return NULL;
}

int main(void)
{
    if (fx_load_media(1) < 0 || !fx_vf[0].key || fx_srv_start(NULL) < 0) return 1;
    ivcs_engine_config_s ec;
    ivcs_engine_config_defaults(&ec);
    snprintf(ec.cloud.endpoint, sizeof ec.cloud.endpoint, "http://127.0.0.1:%u", fx_srv_port);
    strcpy(ec.cloud.bucket, "ivcs");
    strcpy(ec.cloud.device_id, "tsan");
    strcpy(ec.cloud.access_key, "AK");
    strcpy(ec.cloud.secret_key, "SK");
    iv_cs_balance_info_s plan = {.cs_switch = 1, .cs_type = CS_TYPE_FULL_TIME, .cs_days = 7};
    ec.fixed_plan = &plan;
    ivcs_engine_s *e;
    if (ivcs_engine_new(&e, &ec) != 0) return 1;
    ivcs_channel_config_s cc;
    memset(&cc, 0, sizeof cc);
    cc.max_gop_size = 4 << 20;
    cc.av_fmt.eVideoType = IV_CM_VENC_TYPE_H264;
    cc.av_fmt.u32Framerate = 25;
    cc.av_fmt.eAudioType = IV_CM_AENC_TYPE_AAC;
    cc.av_fmt.eAudioSampleRate = IV_CM_AENC_SAMPLE_RATE_48000;
    cc.av_fmt.eAudioMode = IV_CM_AENC_MODE_STEREO;
    if (PUSH_PCM) {
        cc.av_fmt.eAudioType = IV_CM_AENC_TYPE_PCM;
        cc.av_fmt.eAudioBitWidth = IV_CM_AENC_BIT_WIDTH_16;
        cc.av_fmt.u32SampleNumPerFrame = 1024;
        for (int i = 0; i < 1024; i++) {
            pcm[2 * i] = (int16_t)(8000 * sin(2 * M_PI * 440 * i / 48000.0));
            pcm[2 * i + 1] = (int16_t)(8000 * sin(2 * M_PI * 660 * i / 48000.0));
        }
    }
    cc.cb.stream_start = fx_cb_nop;
    cc.cb.stream_stop = fx_cb_nop;
    if (ivcs_channel_open(e, &cc, &g_ch) != 0) return 1;

    pthread_t tv, ta, ts;
    pthread_create(&tv, NULL, video_main, NULL);
    pthread_create(&ta, NULL, audio_main, NULL);
    pthread_create(&ts, NULL, stats_main, e);
    /* events from a third firmware thread (this one) meanwhile */
    for (int k = 0; k < 5; k++) {
        fx_sleep_us(80000);
        EXPECT(ivcs_channel_event_start(g_ch, 1 + k % 3, 0, 0) == 0);
        fx_sleep_us(40000);
        EXPECT(ivcs_channel_event_stop(g_ch, 1 + k % 3, 0, 0) == 0);
    }
    pthread_join(tv, NULL);
    pthread_join(ta, NULL);
    atomic_store(&done_pushing, 1);
    pthread_join(ts, NULL);

    EXPECT(ivcs_engine_stop(e) == 0);
    ivcs_channel_stats_s st;
    ivcs_channel_stats(g_ch, &st);
    ivcs_engine_stats_s es;
    ivcs_engine_stats(e, &es);
    printf("video %d ok / %d refused, audio %d ok / %d refused; uploaded %llu frames in %llu "
           "slices, dropped %llu; %llu wake-ups\n",
           atomic_load(&video_ok), atomic_load(&video_err), atomic_load(&audio_ok),
           atomic_load(&audio_err), (unsigned long long)st.frames_uploaded,
           (unsigned long long)st.slices_uploaded, (unsigned long long)st.frames_dropped,
           (unsigned long long)es.wakeups);
    EXPECT(atomic_load(&video_err) == 0 && atomic_load(&audio_err) == 0);
    EXPECT(st.video_frames_pushed == (uint64_t)atomic_load(&video_ok));
    EXPECT(st.audio_frames_pushed == (uint64_t)atomic_load(&audio_ok));
    /* one AAC frame per pushed frame, + 2 flushing the encoder at stop;
     * frames_uploaded counts pushed frames, not the encoder's silence */
    if (PUSH_PCM) EXPECT(st.audio_frames_encoded == st.audio_frames_pushed + 2);
    EXPECT(st.frames_uploaded == st.video_frames_pushed + st.audio_frames_pushed);
    EXPECT(st.frames_held == 0);
    EXPECT(st.frames_dropped == 0);
    EXPECT(st.slices_uploaded >= 2);
    EXPECT(ivcs_engine_destroy(e) == 0);
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
