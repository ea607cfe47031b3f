/*
 * test_seed_init_race.c - the seed API's default engine/channel pointers
 * under ThreadSanitizer. iv_cs_init starts the engine thread, which may
 * call push_stream_start_cb (a full-time plan from the in-process plan
 * server) before iv_cs_init has returned; a firmware's start callback
 * reads the default channel (here: ivcs_default_channel() and a push), so
 * the pointer's write in iv_cs_init and its read on the engine thread must
 * be ordered (it was a plain store: a TSan data race report). Also checked:
 * the callback finds the channel already published (not NULL), and
 * iv_cs_exit() from inside a callback is refused (IVCS_ERR_STATE) instead
 * of freeing the engine under its own thread. Repeated init/exit rounds
 * make the window likely; halt_on_error=1 (ctest) fails at the first race.
 */
#include "engine_fixture.h"
#include "iv_cs.h"
#include "ivcs.h"

static int failures;
#define EXPECT(c)                                                                                  \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c);                        \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

static const char plan[] = "{\"cs_switch\":1,\"cs_type\":\"full_time\",\"cs_days\":7}";

static int plan_reply(const char *head, char *resp, size_t cap)
{
    if (!strncmp(head, "GET ", 4))
        return snprintf(resp, cap, "HTTP/1.1 200 OK\r\nETag: \"p\"\r\nContent-Length: %zu\r\n\r\n%s",
                        strlen(plan), plan);
    return snprintf(resp, cap, "HTTP/1.1 200 OK\r\nETag: \"x\"\r\nContent-Length: 0\r\n\r\n");
}

static _Atomic int starts, saw_null, exit_refused, push_ok, finished;

static int32_t on_start(void)
{
    atomic_fetch_add(&starts, 1);
    if (!ivcs_default_channel() || !ivcs_default_engine()) atomic_fetch_add(&saw_null, 1);
    /* what a firmware does at once: push (an I-frame) */
    const fx_frame_t *f = &fx_vf[0];
    iv_cm_venc_pack_s pk = {.pu8Addr = (uint8_t *)f->p,
                            .u32Len = f->len,
                            .u64PTS = 1000,
                            .eFrameType = IV_CM_FRAME_TYPE_I};
    if (iv_cs_push_stream(IV_CM_STREAM_TYPE_VIDEO, &pk) == IV_ERR_NONE)
        atomic_fetch_add(&push_ok, 1);
    /* a careless firmware: exit from the callback must be refused */
    if (iv_cs_exit() == (iv_err_code_e)IVCS_ERR_STATE) atomic_fetch_add(&exit_refused, 1);
    atomic_fetch_add(&finished, 1);
    return 0;
}
static int32_t on_stop(void) { return 0; }
static int32_t on_cap(int32_t id, uint8_t **p, int32_t *n)
{
    (void)id;
    *p = NULL;
    *n = 0;
    return 0;
}
static int32_t on_res(uint8_t **p, int32_t e)
{
    (void)p;
    (void)e;
    return 0;
}

int main(void)
{
    if (fx_load_media(0) < 0 || fx_srv_start(plan_reply) < 0) return 1;
    ivcs_config_s cfg;
    ivcs_config_defaults(&cfg);
    snprintf(cfg.endpoint, sizeof cfg.endpoint, "http://127.0.0.1:%u", fx_srv_port);
    strcpy(cfg.bucket, "ivcs");
    strcpy(cfg.device_id, "seedrace");
    strcpy(cfg.access_key, "AK");
    strcpy(cfg.secret_key, "SK");
    EXPECT(ivcs_set_default_config(&cfg) == 0);
    iv_cs_init_parm_s p;
    memset(&p, 0, sizeof p);
    p.u32MaxGopSize = 1 << 20;
    p.av_fmt.eVideoType = IV_CM_VENC_TYPE_H264;
    p.av_fmt.eAudioType = IV_CM_AENC_TYPE_AAC;
    p.av_fmt.eAudioSampleRate = IV_CM_AENC_SAMPLE_RATE_48000;
    p.av_fmt.eAudioMode = IV_CM_AENC_MODE_STEREO;
    p.iv_cs_push_stream_start_cb = on_start;
    p.iv_cs_push_stream_stop_cb = on_stop;
    p.iv_cs_event_capture_picture_cb = on_cap;
    p.iv_cs_event_picture_result_cb = on_res;
    enum { ROUNDS = 5 };
    for (int r = 0; r < ROUNDS; r++) {
        int before = atomic_load(&starts);
        EXPECT(iv_cs_init(&p) == IV_ERR_NONE);
        /* wait for the callback's end, not its start: an exit here while
         * it runs would make its own iv_cs_exit find no module (a race of
         * the test, seen under load, not of the engine) */
        for (int w = 0; w < 1000 && atomic_load(&finished) == before; w++) fx_sleep_ms(5);
        EXPECT(atomic_load(&starts) == before + 1);
        EXPECT(atomic_load(&finished) == before + 1);
        (void)iv_cs_exit();
    }
    printf("starts %d, channel NULL in callback %d, exit refused %d, pushes ok %d\n",
           atomic_load(&starts), atomic_load(&saw_null), atomic_load(&exit_refused),
           atomic_load(&push_ok));
    EXPECT(atomic_load(&saw_null) == 0);
    EXPECT(atomic_load(&exit_refused) == ROUNDS);
    EXPECT(atomic_load(&push_ok) == ROUNDS);
    ivcs_set_default_config(NULL);
    fx_free_media();
    return failures ? 1 : 0;
}
