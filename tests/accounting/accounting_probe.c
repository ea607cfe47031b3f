/*
 * accounting_probe.c - frame accounting against a real S3 server.
 *
 *   accounting_probe CONFIG.json SECONDS [fixed]
 *
 * Opens an engine from CONFIG (plan.json read from the bucket; with
 * "fixed": a fixed full-time plan, for a config whose uploads all fail),
 * pushes SECONDS of the test clip ($IVCS_MEDIA_DIR: clip_h264.h264 +
 * clip_aac.aac, looped) at 4x real time, while a second thread reads
 * ivcs_channel_stats every millisecond and checks
 *   video + audio pushed == uploaded + dropped + discarded + held
 * then stops the engine and checks it once more. Prints one JSON line.
 * Exit status 0 when it ran (the caller judges the numbers), 1 on setup
 * errors.
 */
#include "engine_fixture.h"
#include "ivcs.h"

static ivcs_channel_s *g_ch;
static _Atomic int g_stop;
static _Atomic long g_samples, g_violations;
static _Atomic uint64_t g_max_held;

static int balanced(const ivcs_channel_stats_s *st)
{
    return st->video_frames_pushed + st->audio_frames_pushed ==
           st->frames_uploaded + st->frames_dropped + st->prerecord_discarded + st->frames_held;
}

static void *sampler(void *arg)
{
    (void)arg;
    while (!atomic_load(&g_stop)) {
        ivcs_channel_stats_s st;
        ivcs_channel_stats(g_ch, &st);
        if (!balanced(&st)) atomic_fetch_add(&g_violations, 1);
        if (st.frames_held > atomic_load(&g_max_held)) atomic_store(&g_max_held, st.frames_held);
        atomic_fetch_add(&g_samples, 1);
        fx_sleep_us(1000);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: accounting_probe CONFIG.json SECONDS [fixed]\n");
        return 1;
    }
    int fixed = argc > 3 && !strcmp(argv[3], "fixed");
    int seconds = atoi(argv[2]);
    if (fx_load_media(1) < 0) return 1;
    ivcs_engine_config_s ec;
    ivcs_engine_config_defaults(&ec);
    char why[256];
    if (ivcs_config_load(&ec.cloud, argv[1], why, sizeof why) < 0) {
        fprintf(stderr, "config: %s\n", why);
        return 1;
    }
    static const iv_cs_balance_info_s full = {.cs_switch = 1, .cs_type = CS_TYPE_FULL_TIME};
    if (fixed) ec.fixed_plan = &full;
    ec.upload_timeout_ms = 3000;
    ec.reply_timeout_ms = 3000;
    ivcs_engine_s *e;
    if (ivcs_engine_new(&e, &ec) != 0) return 1;
    iv_cs_balance_info_s b = {0};
    for (int i = 0; i < 100 && !b.cs_switch; i++) {
        (void)ivcs_engine_get_balance_info(e, &b, 0);
        if (!b.cs_switch) fx_sleep_ms(100);
    }
    ivcs_channel_config_s cc;
    memset(&cc, 0, sizeof cc);
    cc.max_gop_size = 4 << 20;
    cc.av_fmt.eVideoType = IV_CM_VENC_TYPE_H264;
    cc.av_fmt.u32Framerate = 25;
    cc.av_fmt.eAudioType = IV_CM_AENC_TYPE_AAC;
    cc.av_fmt.eAudioSampleRate = IV_CM_AENC_SAMPLE_RATE_48000;
    cc.av_fmt.eAudioMode = IV_CM_AENC_MODE_STEREO;
    cc.cb.stream_start = fx_cb_nop;
    cc.cb.stream_stop = fx_cb_nop;
    if (ivcs_channel_open(e, &cc, &g_ch) != 0) return 1;
    pthread_t t;
    pthread_create(&t, NULL, sampler, NULL);
    long refused = 0;
    int nv = seconds * 25;
    for (int i = 0, a = 0; i < nv; i++) {
        /* the clip looped: one continuous timeline, 40 ms per frame */
        const fx_frame_t *f = &fx_vf[i % fx_n_vf];
        iv_cm_venc_pack_s v = {.pu8Addr = (uint8_t *)f->p, .u32Len = f->len,
                               .u64PTS = 1000 + (uint64_t)i * 40,
                               .eFrameType = f->key ? IV_CM_FRAME_TYPE_I : IV_CM_FRAME_TYPE_P,
                               .u32Seq = (uint32_t)i};
        refused += ivcs_channel_push_video(g_ch, &v) != 0;
        for (; (uint64_t)a * 1024 * 1000 / 48000 < (uint64_t)(i + 1) * 40; a++) {
            const fx_frame_t *af = &fx_af[a % fx_n_af];
            iv_cm_aenc_pack_s pk = {.pu8Addr = (uint8_t *)af->p, .u32Len = af->len,
                                    .u64PTS = 1000 + (uint64_t)a * 1024 * 1000 / 48000};
            refused += ivcs_channel_push_audio(g_ch, &pk) != 0;
        }
        fx_sleep_ms(10);
    }
    int rc = ivcs_engine_stop(e);
    fx_sleep_ms(20);
    atomic_store(&g_stop, 1);
    pthread_join(t, NULL);
    ivcs_channel_stats_s st;
    ivcs_channel_stats(g_ch, &st);
    printf("{\"plan\":%d,\"stop_rc\":%d,\"refused\":%ld,\"video_pushed\":%llu,"
           "\"audio_pushed\":%llu,\"uploaded\":%llu,\"dropped\":%llu,\"discarded\":%llu,"
           "\"held\":%llu,\"slices_uploaded\":%llu,\"balanced_at_exit\":%d,\"samples\":%ld,"
           "\"violations\":%ld,\"max_held\":%llu}\n",
           b.cs_switch, rc, refused, (unsigned long long)st.video_frames_pushed,
           (unsigned long long)st.audio_frames_pushed, (unsigned long long)st.frames_uploaded,
           (unsigned long long)st.frames_dropped, (unsigned long long)st.prerecord_discarded,
           (unsigned long long)st.frames_held, (unsigned long long)st.slices_uploaded,
           balanced(&st), atomic_load(&g_samples), atomic_load(&g_violations),
           (unsigned long long)atomic_load(&g_max_held));
    ivcs_engine_destroy(e);
    fx_free_media();
    return 0;
}
