/*
 * iv_cs.h - the cloud-storage module API (seed-compatible, single channel).
 *
 * ivcs implements these functions on top of one default engine with one
 * channel (see ivcs.h for the multi-channel native API). The engine takes its
 * cloud configuration from ivcs_set_default_config() when that is called
 * before iv_cs_init(), else from the JSON file named by $IVCS_CONFIG.
 *
 * Threading contract:
 *  - iv_cs_push_stream() never blocks, never allocates and takes no lock.
 *    Video and audio each have their own single-producer ring: at any time at
 *    most ONE thread may push video and at most ONE thread may push audio
 *    (the two may be different threads). The caller orders frames by time.
 *  - Callbacks run on the engine thread. iv_cs_exit() called from one is
 *    refused with IVCS_ERR_STATE (-684) and changes nothing. The channel
 *    is usable from the first callback on (even before iv_cs_init returns).
 *  - iv_cs_init()/iv_cs_exit() must not race with any other iv_cs_* call.
 *
 * Behaviour (docs/ENGINE.md has the details):
 *  - No plan: pushes and event starts return IV_ERR_CS_APPLY_NO_SERVICE.
 *    Full-time plan: iv_cs_push_stream_start_cb, every frame is uploaded.
 *    Event plan: no callback; pushes are still accepted and kept in the ring
 *    as a rolling pre-record buffer (uploaded only when an event's stream
 *    window covers them, else discarded silently).
 *  - Event start, callback order: capture_picture_cb, push_stream_start_cb
 *    (if the stream was not running), the event record is written, the JPEG
 *    is uploaded (or, with a spool_dir, stored there after a failed upload,
 *    to be backfilled), then picture_result_cb(pic, 0). A NULL/0 picture gets no
 *    result callback; a buffer that is not a JPEG (FFD8 ... FFD9) gets
 *    picture_result_cb(pic, IV_ERR_CS_UPLOAD_OPEN_FILE_FAIL) at once.
 *    Event stop: the record is rewritten, push_stream_stop_cb when no other
 *    event is open and no full-time plan runs.
 *  - After a frame was lost (ring full) P-frames get IV_ERR_CS_NEED_IDR_FRAME
 *    until an I-frame; the first frame must be an I-frame. 120 s without
 *    data pauses the recording; the next frame must be an I-frame.
 */
#ifndef IV_CS_H
#define IV_CS_H

#include <stdint.h>

#include "iv_cm.h"
#include "iv_err.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef IVCS_API
#define IVCS_API __attribute__((visibility("default")))
#endif

typedef enum {
    CS_TYPE_NONE = 0,
    CS_TYPE_FULL_TIME = 1,
    CS_TYPE_EVENT = 2,
    CS_TYPE_FREE_TRIAL = 3
} iv_cs_type_e;

typedef struct iv_cs_balance_info_s {
    int cs_switch;                /* 1: the plan is on */
    int cs_days;                  /* retention in days */
    iv_cs_type_e cs_type;         /* kind of plan */
    int free_trial_remaining_sec; /* seconds left of a free trial */
} iv_cs_balance_info_s;

typedef struct iv_cs_init_parm_s {
    /* Ring budget in bytes for video + audio, a multiple of 4 KiB and not
     * smaller than an I-frame. Guidance: one GOP of video plus its audio. */
    uint32_t u32MaxGopSize;
    iv_cm_av_data_info_s av_fmt;
    /* Start pushing: a full-time plan became active or an event started. */
    int32_t (*iv_cs_push_stream_start_cb)(void);
    /* Stop pushing: the plan ended or the last open event stopped. */
    int32_t (*iv_cs_push_stream_stop_cb)(void);
    /* Asked at event start for a JPEG; set *pic = NULL, *size = 0 for none.
     * The picture must stay valid until iv_cs_event_picture_result_cb. */
    int32_t (*iv_cs_event_capture_picture_cb)(int32_t event_id, uint8_t **pic, int32_t *size);
    /* The picture was uploaded (err_code 0) or given up (err_code < 0). */
    int32_t (*iv_cs_event_picture_result_cb)(uint8_t **pic, int32_t err_code);
} iv_cs_init_parm_s;

/* Registers callbacks and allocates everything the module needs.
 * -600 NULL param, -601 NULL callback, -602 bad size/format, -610 twice,
 * -603 no usable cloud configuration, -109 the event loop cannot start
 * (io_backend "io_uring" forced where io_uring is refused or missing:
 * ivcs_io_backend_note() in ivcs.h gives the cause). */
IVCS_API iv_err_code_e iv_cs_init(iv_cs_init_parm_s *pstInitParm);

/* Stops, flushes what it can within the upload timeout, frees everything.
 * Data still not uploaded after the upload timeout is dropped (counted in
 * ivcs_default_last_stats, notified): the module is exited all the same,
 * and the return is then IVCS_ERR_TIMEOUT (-675) instead of 0. -605 when
 * not initialised; IVCS_ERR_STATE (-684, nothing done) from a callback. */
IVCS_API iv_err_code_e iv_cs_exit(void);

/* Copies one frame into its ring. pstCsPack is an iv_cm_venc_pack_s for
 * IV_CM_STREAM_TYPE_VIDEO and an iv_cm_aenc_pack_s for _AUDIO. */
IVCS_API iv_err_code_e iv_cs_push_stream(iv_cm_stream_type_e eCsStreamType, void *pstCsPack);

/* Event ids are 1..16. See the documentation for the time rules of _ext:
 * a value < 300 is relative (seconds before now), else absolute UTC seconds. */
IVCS_API int iv_cs_event_start(int32_t event_id);
IVCS_API int iv_cs_event_stop(int32_t event_id);
IVCS_API int iv_cs_event_start_ext(int32_t event_id, uint32_t event_start_time_s,
                                   uint32_t stream_start_time_s);
IVCS_API int iv_cs_event_stop_ext(int32_t event_id, uint32_t event_stop_time_s,
                                  uint32_t stream_stop_time_s);

/* timeout_s > 0: ask the cloud (blocking); on failure the cached info and
 * IV_ERR_CS_QUERY_SERVICE_TIMEOUT. timeout_s == 0: cached info, no I/O.
 * May be called before iv_cs_init(). */
IVCS_API int iv_cs_get_balance_info(iv_cs_balance_info_s *pstBalanceInfo, uint32_t timeout_s);

/* upload_timeout_ms bounds one object upload, reply_timeout_ms the wait for
 * response headers. Neither may be 0. */
IVCS_API int iv_cs_set_trans_time(uint32_t upload_timeout_ms, uint32_t reply_timeout_ms);

#ifdef __cplusplus
}
#endif
#endif /* IV_CS_H */
