/*
 * iv_cs.c - the seed API (iv_cs.h) as a thin layer over one default engine
 * with one channel (ch0). The cloud configuration comes from
 * ivcs_set_default_config() when called before iv_cs_init(), else from the
 * JSON file named by $IVCS_CONFIG.
 *
 * The seed's callbacks take no user pointer; the native callbacks adapt
 * them. iv_cs_init/iv_cs_exit must not race with other iv_cs_* calls (the
 * seed's contract); the push path reads the channel pointer without a lock.
 * The default engine and channel pointers are atomics (release/acquire):
 * the engine thread's callbacks (and what firmware threads they start
 * call) may read them while iv_cs_init is still returning, and the
 * channel is published by whichever comes first, iv_cs_init after the
 * open or the first callback of the channel (cb_start/cb_stop/...).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/alloc.h"
#include "engine/record/engine_internal.h"
#include "iv_cs.h"
#include "ivcs.h"

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static ivcs_config_s g_cfg;
static int g_cfg_set;
static _Atomic(ivcs_engine_s *) g_eng;
static _Atomic(ivcs_channel_s *) g_ch;
static iv_cs_init_parm_s g_parm;
static uint32_t g_up_ms = IVCS_DEFAULT_UPLOAD_TIMEOUT_MS,
                g_reply_ms = IVCS_DEFAULT_REPLY_TIMEOUT_MS;
static ivcs_channel_stats_s g_last_ch;
static ivcs_engine_stats_s g_last_eng;
static int g_have_last;

int ivcs_default_last_stats(ivcs_channel_stats_s *ch, ivcs_engine_stats_s *eng)
{
    if (!g_have_last) return IVCS_ERR_STATE;
    if (ch) *ch = g_last_ch;
    if (eng) *eng = g_last_eng;
    return 0;
}

int ivcs_set_default_config(const ivcs_config_s *cfg)
{
    pthread_mutex_lock(&g_mu);
    if (cfg) {
        g_cfg = *cfg;
        g_cfg_set = 1;
    } else {
        memset(&g_cfg, 0, sizeof g_cfg);
        g_cfg_set = 0;
    }
    pthread_mutex_unlock(&g_mu);
    return 0;
}

#define ACQ memory_order_acquire
#define REL memory_order_release

ivcs_engine_s *ivcs_default_engine(void)
{
    return atomic_load_explicit(&g_eng, ACQ);
}

ivcs_channel_s *ivcs_default_channel(void)
{
    return atomic_load_explicit(&g_ch, ACQ);
}

/* The engine thread's callbacks publish ch0 before the firmware's own
 * callback runs, so a push it triggers finds the channel even if
 * iv_cs_init has not stored it yet. u is the engine; the engine thread
 * read e->ch[0] after its n_ch acquire. */
static void publish_from_cb(void *u, uint32_t ch)
{
    ivcs_engine_s *e = u;
    /* not once iv_cs_exit took the engine away (its last callbacks) */
    if (atomic_load_explicit(&g_eng, ACQ) != e || atomic_load_explicit(&g_ch, ACQ) || ch != 0)
        return;
    ivcs_channel_s *expect = NULL;
    atomic_compare_exchange_strong_explicit(&g_ch, &expect, e->ch[0], REL, ACQ);
}

/* The configuration iv_cs_* uses: the one set, else $IVCS_CONFIG. */
static int default_config(ivcs_config_s *out)
{
    pthread_mutex_lock(&g_mu);
    int set = g_cfg_set;
    if (set) *out = g_cfg;
    pthread_mutex_unlock(&g_mu);
    if (set) return 0;
    const char *path = getenv("IVCS_CONFIG");
    if (!path || !*path) return IV_ERR_CS_UPLOAD_AUTH_NOT_AVAILABLE;
    char why[160];
    return ivcs_config_load(out, path, why, sizeof why) < 0 ? IV_ERR_CS_UPLOAD_AUTH_NOT_AVAILABLE
                                                            : 0;
}

/* The seed's nearest code for an engine failure: a bad config is missing
 * credentials to the seed; an I/O backend that cannot start (a forced
 * io_uring refused by seccomp, a kernel without it) is a communication
 * failure, and ivcs_io_backend_note() says why. The engine has one
 * out-of-memory code (IV_ERR_SYS_MALLOC_FAIL); the seed API says
 * IV_ERR_CS_PRM_MALLOC_FAIL. */
static int seed_code(int rc)
{
    if (rc == IVCS_ERR_CONFIG) return IV_ERR_CS_UPLOAD_AUTH_NOT_AVAILABLE;
    if (rc == IV_ERR_SYS_MALLOC_FAIL) return IV_ERR_CS_PRM_MALLOC_FAIL;
    if (rc == IVCS_ERR_IO_BACKEND) return IV_ERR_SYS_COMMUNICATE_FAIL;
    return rc;
}

static int32_t cb_start(void *u, uint32_t ch)
{
    publish_from_cb(u, ch);
    return g_parm.iv_cs_push_stream_start_cb();
}

static int32_t cb_stop(void *u, uint32_t ch)
{
    publish_from_cb(u, ch);
    return g_parm.iv_cs_push_stream_stop_cb();
}

static int32_t cb_capture(void *u, uint32_t ch, int32_t id, uint8_t **pic, int32_t *size)
{
    publish_from_cb(u, ch);
    return g_parm.iv_cs_event_capture_picture_cb(id, pic, size);
}

static int32_t cb_result(void *u, uint32_t ch, uint8_t **pic, int32_t err)
{
    publish_from_cb(u, ch);
    return g_parm.iv_cs_event_picture_result_cb(pic, err);
}

iv_err_code_e iv_cs_init(iv_cs_init_parm_s *p)
{
    if (!p) return IV_ERR_CS_INIT_PRM_NULL;
    if (!p->iv_cs_push_stream_start_cb || !p->iv_cs_push_stream_stop_cb ||
        !p->iv_cs_event_capture_picture_cb || !p->iv_cs_event_picture_result_cb)
        return IV_ERR_CS_INIT_CB_NULL;
    if (atomic_load_explicit(&g_eng, ACQ)) return IV_ERR_CS_INIT_REPEAT;
    if (p->u32MaxGopSize < 65536 || p->u32MaxGopSize % 4096) return IV_ERR_CS_INIT_PRM_RANGE;
    if ((p->av_fmt.eVideoType != IV_CM_VENC_TYPE_H264 &&
         p->av_fmt.eVideoType != IV_CM_VENC_TYPE_H265) ||
        (unsigned)p->av_fmt.eAudioType >= (unsigned)IV_CM_AENC_TYPE_BUTT)
        return IV_ERR_CS_INIT_PRM_RANGE;
    ivcs_engine_config_s ec;
    ivcs_engine_config_defaults(&ec);
    int rc = default_config(&ec.cloud);
    if (rc < 0) return (iv_err_code_e)rc;
    ec.max_channels = 1;
    ec.upload_timeout_ms = g_up_ms;
    ec.reply_timeout_ms = g_reply_ms;
    g_parm = *p;
    ivcs_channel_config_s cc = {.max_gop_size = p->u32MaxGopSize, .av_fmt = p->av_fmt};
    cc.cb.stream_start = cb_start;
    cc.cb.stream_stop = cb_stop;
    cc.cb.capture_picture = cb_capture;
    cc.cb.picture_result = cb_result;
    ivcs_engine_s *e;
    rc = ivcs_engine_new(&e, &ec);
    if (rc < 0) return (iv_err_code_e)seed_code(rc);
    /* published before the channel opens: its callbacks may run at once */
    atomic_store_explicit(&g_eng, e, REL);
    cc.cb.user = e;
    ivcs_channel_s *ch;
    rc = ivcs_channel_open(e, &cc, &ch);
    if (rc < 0) {
        atomic_store_explicit(&g_eng, NULL, REL);
        ivcs_engine_destroy(e);
        return (iv_err_code_e)seed_code(rc);
    }
    ivcs_channel_s *expect = NULL; /* or a callback stored the same pointer */
    atomic_compare_exchange_strong_explicit(&g_ch, &expect, ch, REL, ACQ);
    return IV_ERR_NONE;
}

iv_err_code_e iv_cs_exit(void)
{
    ivcs_engine_s *e = atomic_load_explicit(&g_eng, ACQ);
    if (!e) return IV_ERR_CS_PRM_NOT_AVAILABLE;
    /* from a callback: the engine thread cannot join and free itself */
    if (ivcs_eng_on_thread(e)) return (iv_err_code_e)IVCS_ERR_STATE;
    ivcs_channel_s *ch = atomic_load_explicit(&g_ch, ACQ);
    atomic_store_explicit(&g_eng, NULL, REL);
    atomic_store_explicit(&g_ch, NULL, REL);
    int rc = ivcs_engine_stop(e);
    ivcs_channel_stats(ch, &g_last_ch);
    ivcs_engine_stats(e, &g_last_eng);
    g_have_last = 1;
    ivcs_engine_destroy(e);
    /* the module is gone either way; IVCS_ERR_TIMEOUT says that data had to
     * be dropped (counted in ivcs_default_last_stats) */
    return rc < 0 ? (iv_err_code_e)rc : IV_ERR_NONE;
}

iv_err_code_e iv_cs_push_stream(iv_cm_stream_type_e type, void *pack)
{
    ivcs_channel_s *ch = atomic_load_explicit(&g_ch, ACQ);
    if (!ch) return IV_ERR_CS_PRM_NOT_AVAILABLE;
    if (!pack) return (iv_err_code_e)IVCS_ERR_INVALID_ARG;
    if (type == IV_CM_STREAM_TYPE_VIDEO)
        return (iv_err_code_e)ivcs_channel_push_video(ch, (const iv_cm_venc_pack_s *)pack);
    if (type == IV_CM_STREAM_TYPE_AUDIO)
        return (iv_err_code_e)ivcs_channel_push_audio(ch, (const iv_cm_aenc_pack_s *)pack);
    return (iv_err_code_e)IVCS_ERR_INVALID_ARG;
}

int iv_cs_event_start(int32_t event_id)
{
    return iv_cs_event_start_ext(event_id, 0, 0);
}

int iv_cs_event_stop(int32_t event_id)
{
    return iv_cs_event_stop_ext(event_id, 0, 0);
}

int iv_cs_event_start_ext(int32_t event_id, uint32_t event_start_time_s,
                          uint32_t stream_start_time_s)
{
    ivcs_channel_s *ch = atomic_load_explicit(&g_ch, ACQ);
    if (!ch) return IV_ERR_CS_PRM_NOT_AVAILABLE;
    return ivcs_channel_event_start(ch, event_id, event_start_time_s, stream_start_time_s);
}

int iv_cs_event_stop_ext(int32_t event_id, uint32_t event_stop_time_s, uint32_t stream_stop_time_s)
{
    ivcs_channel_s *ch = atomic_load_explicit(&g_ch, ACQ);
    if (!ch) return IV_ERR_CS_PRM_NOT_AVAILABLE;
    return ivcs_channel_event_stop(ch, event_id, event_stop_time_s, stream_stop_time_s);
}

/* Before iv_cs_init the cache is this module's: the last successful
 * blocking query (all zero = no plan until one succeeded). */
static iv_cs_balance_info_s g_bal;

int iv_cs_get_balance_info(iv_cs_balance_info_s *info, uint32_t timeout_s)
{
    if (!info) return IVCS_ERR_INVALID_ARG;
    ivcs_engine_s *e = atomic_load_explicit(&g_eng, ACQ);
    if (e) return ivcs_engine_get_balance_info(e, info, timeout_s);
    int rc = 0;
    if (timeout_s) {
        ivcs_config_s cfg;
        iv_cs_balance_info_s fresh;
        rc = default_config(&cfg);
        if (rc == 0) rc = seed_code(ivcs_query_balance_info(&cfg, &fresh, timeout_s));
        if (rc == 0) {
            pthread_mutex_lock(&g_mu);
            g_bal = fresh;
            pthread_mutex_unlock(&g_mu);
        }
    }
    pthread_mutex_lock(&g_mu);
    *info = g_bal;
    pthread_mutex_unlock(&g_mu);
    return rc;
}

int iv_cs_set_trans_time(uint32_t upload_timeout_ms, uint32_t reply_timeout_ms)
{
    if (!upload_timeout_ms || !reply_timeout_ms) return IVCS_ERR_INVALID_ARG;
    g_up_ms = upload_timeout_ms;
    g_reply_ms = reply_timeout_ms;
    ivcs_engine_s *e = atomic_load_explicit(&g_eng, ACQ);
    if (e) return ivcs_engine_set_trans_time(e, upload_timeout_ms, reply_timeout_ms);
    return 0;
}
