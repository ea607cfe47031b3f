/*
 * ivcs.h - the native ivcs API: the recording engine and its channels
 * (docs/ARCHITECTURE.md section 1); configuration in ivcs_config.h, errors,
 * allocator and version in ivcs_base.h, the viewer in ivcs_viewer.h.
 *
 * Conventions: functions return 0 or a negative error code (iv_err.h,
 * ivcs_err.h); the caller owns the structs it passes; nothing here keeps a
 * pointer to caller memory after returning unless it says so.
 */
#ifndef IVCS_H
#define IVCS_H

#include <stddef.h>
#include <stdint.h>

#include "iv_cs.h"
#include "ivcs_base.h"
#include "ivcs_config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ================================================================ engine
 * The recording engine (docs/ARCHITECTURE.md sections 3-8): one engine thread
 * owning an io_uring loop and one S3 connection pool, serving up to
 * max_channels channels. Each channel has its own format, ring budget,
 * callbacks (with a user pointer and the channel index) and statistics.
 *
 * Threads: a channel's video push functions may be called from one thread
 * at a time and its audio push functions from one (possibly other) thread
 * at a time; they never block, allocate or take a lock. Event, stats,
 * balance and trans-time calls are thread-safe. Callbacks run on the engine
 * thread; ivcs_engine_stop/destroy of their own engine called from one
 * return IVCS_ERR_STATE and do nothing. ivcs_engine_new/destroy
 * and ivcs_channel_open must not race with other calls on the same engine.
 */

typedef struct ivcs_engine_s ivcs_engine_s;
typedef struct ivcs_channel_s ivcs_channel_s;

/* Notifications (ivcs_channel_callbacks_s.notify). */
typedef enum {
    IVCS_NOTIFY_SLICE_UPLOADED = 1, /* key, start_ms, dur_ms, bytes, frames */
    IVCS_NOTIFY_SLICE_DROPPED = 2,  /* a whole slice dropped for space (err says why);
                                     * after a failed PUT of it: key and value 1, since
                                     * the failure may have come after the server stored
                                     * it (a connection lost before the answer) */
    IVCS_NOTIFY_UPLOAD_FAIL = 3,    /* first failed attempt after a success (err) */
    IVCS_NOTIFY_UPLOAD_RECOVER = 4, /* first success after failures */
    IVCS_NOTIFY_BUFFER_HIGH = 5,    /* ring use crossed 75 % (value = percent) */
    IVCS_NOTIFY_BUFFER_LOW = 6,     /* back under 50 % after a HIGH */
    IVCS_NOTIFY_PAUSED = 7,         /* no data for pause_ms: recording paused */
    IVCS_NOTIFY_EVENT_WRITTEN = 8,  /* an event record was stored (key) */
    IVCS_NOTIFY_SLICE_SPOOLED = 9,  /* a slice that could not be uploaded is safe in
                                     * spool_dir (key, start_ms, dur_ms, frames, bytes);
                                     * SLICE_UPLOADED follows when backfill lands it */
    IVCS_NOTIFY_SPOOL_FAULT = 10,   /* the spool failed (value = 1 full, 2 read-only,
                                     * 3 I/O error, 4 missing; err): RAM only, retried
                                     * every 30 s; once per fault */
} ivcs_notify_e;

typedef struct ivcs_notify_s {
    ivcs_notify_e kind;
    int err;             /* 0 or the error behind the notification */
    const char *key;     /* object key, or NULL */
    uint64_t start_ms;   /* UTC ms of the slice start */
    uint32_t dur_ms;
    uint32_t frames;
    uint64_t bytes;      /* TS bytes uploaded / ring bytes dropped */
    uint32_t value;      /* BUFFER_*: ring fill in percent; SLICE_DROPPED: 1 when
                          * a PUT of it was attempted (key set: it may exist) */
} ivcs_notify_s;

typedef struct ivcs_channel_callbacks_s {
    /* As the seed's callbacks, plus the user pointer and channel index.
     * stream_start/stream_stop are required; the picture callbacks may be
     * NULL (no picture is asked for). */
    int32_t (*stream_start)(void *user, uint32_t ch);
    int32_t (*stream_stop)(void *user, uint32_t ch);
    int32_t (*capture_picture)(void *user, uint32_t ch, int32_t event_id, uint8_t **pic,
                               int32_t *size);
    int32_t (*picture_result)(void *user, uint32_t ch, uint8_t **pic, int32_t err_code);
    void (*notify)(void *user, uint32_t ch, const ivcs_notify_s *n); /* may be NULL */
    void *user;
} ivcs_channel_callbacks_s;

typedef struct ivcs_channel_config_s {
    /* Ring budget: the video and audio rings together, bytes, a multiple of
     * 4 KiB, >= 64 KiB. The video ring is the largest power of two that
     * leaves room for the audio ring; the largest accepted video frame is
     * half the video ring (ivcs_channel_max_frame), bigger ones get
     * IVCS_ERR_FRAME_TOO_BIG. */
    uint32_t max_gop_size;
    iv_cm_av_data_info_s av_fmt;
    ivcs_channel_callbacks_s cb;
} ivcs_channel_config_s;

/* The engine's defaults (ivcs_engine_config_defaults, and a 0 field). */
#define IVCS_DEFAULT_UPLOAD_TIMEOUT_MS 20000u
#define IVCS_DEFAULT_REPLY_TIMEOUT_MS 10000u
#define IVCS_DEFAULT_PAUSE_MS 120000u

typedef struct ivcs_engine_config_s {
    ivcs_config_s cloud;
    /* NULL: a private jemalloc arena; else the firmware's allocator (it
     * must stay valid until ivcs_engine_destroy returns). */
    const ivcs_allocator_s *alloc;
    uint32_t max_channels;      /* 0: 64 */
    uint32_t upload_timeout_ms; /* 0: 20000; also the exit flush budget */
    uint32_t reply_timeout_ms;  /* 0: 10000 */
    uint32_t pause_ms;          /* 0: 120000: no data this long pauses */
    /* A slice closes at the next I-frame once this big; 0 (or more than a
     * quarter of the video ring): a quarter of the video ring. */
    uint32_t slice_max_bytes;
    /* NULL: poll {device}/plan.json. Else this plan is used and never
     * polled (offline use, tests). */
    const iv_cs_balance_info_s *fixed_plan;
    /* The clock, UTC milliseconds; NULL: CLOCK_REALTIME. Every timer of the
     * engine (pause, plan poll/refresh, retry backoff, slice length of
     * wall-clock anchoring) reads it, so tests can move time. */
    uint64_t (*now_ms)(void *ctx);
    void *clock_ctx;
    /* Longest engine sleep in ms (0: 100). Pushes do not wake the engine
     * unless it must act promptly (a key frame at a slice boundary, the
     * ring's unread part past 1/8 or its fill past 3/4, a full ring); other
     * frames are picked up within this tick, which bounds push -> upload
     * start when the slice boundary guess misses. */
    uint32_t wake_tick_ms;
} ivcs_engine_config_s;

/* Defaults for everything but cloud (left as ivcs_config_defaults). */
IVCS_API void ivcs_engine_config_defaults(ivcs_engine_config_s *cfg);

/* Creates an engine and starts its thread. IVCS_ERR_CONFIG (cloud config
 * invalid), IVCS_ERR_IO_BACKEND (a forced io_uring cannot start:
 * ivcs_io_backend_note() says why), IV_ERR_SYS_MALLOC_FAIL,
 * IVCS_ERR_INVALID_ARG. */
IVCS_API IVCS_MUST_CHECK int ivcs_engine_new(ivcs_engine_s **out, const ivcs_engine_config_s *cfg);

/* Stops accepting frames, closes the open slices and uploads what is
 * queued for at most upload_timeout_ms, then stops the thread and frees
 * every channel and the engine. Returns 0, or IVCS_ERR_TIMEOUT if data had
 * to be abandoned (counted in the stats before they are gone).
 * IVCS_ERR_STATE (nothing done) when called on the engine's own thread. */
IVCS_API int ivcs_engine_destroy(ivcs_engine_s *e);

/* The first half of destroy: stop accepting, flush (as above) and stop the
 * thread; stats stay readable until ivcs_engine_destroy. Idempotent.
 * Returns what destroy would. */
IVCS_API int ivcs_engine_stop(ivcs_engine_s *e);

/* Neither may be 0 (IVCS_ERR_INVALID_ARG). Applies to the next request. */
IVCS_API int ivcs_engine_set_trans_time(ivcs_engine_s *e, uint32_t upload_timeout_ms,
                                        uint32_t reply_timeout_ms);

/* timeout_s > 0: fetches plan.json now (own short-lived connection,
 * blocking up to timeout_s), updates the engine's cache and returns it; on
 * failure the cached info and IV_ERR_CS_QUERY_SERVICE_TIMEOUT. 0: the
 * cache, no I/O. */
IVCS_API int ivcs_engine_get_balance_info(ivcs_engine_s *e, iv_cs_balance_info_s *out,
                                          uint32_t timeout_s);

/* Blocking plan query without an engine (iv_cs_get_balance_info before
 * iv_cs_init). 0, IVCS_ERR_NOT_FOUND -> *out is "no plan" and 0 is
 * returned, IV_ERR_CS_QUERY_SERVICE_TIMEOUT, or IVCS_ERR_IO_BACKEND (the
 * io_backend asked for cannot start: ivcs_io_backend_note says why). */
IVCS_API int ivcs_query_balance_info(const ivcs_config_s *cfg, iv_cs_balance_info_s *out,
                                     uint32_t timeout_s);

/* Makes the engine thread re-evaluate its timers now (e.g. after a test
 * moved the injected clock). Thread-safe. */
IVCS_API void ivcs_engine_wake(ivcs_engine_s *e);

typedef struct ivcs_engine_stats_s {
    uint64_t plan_polls;      /* plan.json GETs completed (any result) */
    uint64_t plan_changes;    /* a new plan body (200 with a new ETag or 404 change) */
    uint64_t plan_not_modified; /* 304 answers */
    uint64_t loop_iterations;
    uint32_t channels;
    uint32_t boot;            /* the {boot} field of this engine's slice keys */
    int service;              /* ivcs_service: 0 none, 1 event, 2 full time */
    uint64_t wakeups;         /* wake-up syscalls sent to the engine thread (any cause) */
    int io_backend;           /* the loop's backend: IVCS_IO_URING or IVCS_IO_EPOLL */
    char io_note[IVCS_IO_NOTE_MAX]; /* why that one ("" : io_uring as asked) */
    /* 1 while the plan in force is the one cached in spool_dir (the server
     * has not answered since the engine started) */
    int plan_cached;
    /* Local spool (spool_dir): spool_on 1 when it is open; spool_fault the
     * last storage error (1 full, 2 read-only, 3 I/O error, 4 missing),
     * 0 none; entries and bytes in it now, the recording time of the oldest
     * (UTC ms, 0 if empty); entries found valid at open and entries found
     * broken (torn, corrupt, an unfinished write) and discarded. */
    int spool_on;
    int spool_fault;
    uint64_t spool_entries;
    uint64_t spool_bytes;
    int64_t spool_oldest_ms;
    uint64_t spool_recovered;
    uint64_t spool_discarded_corrupt;
    /* Backfill: spooled slices uploaded (under their original keys) and
     * their frames, including those a previous engine left in spool_dir;
     * spooled slices evicted for spool_max_mb (oldest first). */
    uint64_t backfill_slices;
    uint64_t backfill_frames;
    uint64_t spool_evicted;
    /* Integrity of slice uploads (config "integrity", docs/TRANSPORT.md):
     * the mode in force (ivcs_integrity_e; IVCS_INTEGRITY_AUTO while the
     * start-up probe runs), what the probe saw ("" without a probe), and
     * slice PUTs refused or caught by the check (corruption in flight, the
     * slice sent again: BadDigest, a chunk signature or CRC refused, an ETag
     * that is not the MD5). */
    int integrity;
    char integrity_note[192];
    uint64_t integrity_failures;
    /* Event records and event pictures whose PUT failed are spooled too
     * (a record only in its final version) and backfilled under their keys:
     * how many landed that way. */
    uint64_t backfill_events;
    uint64_t backfill_pictures;
    /* Seconds the S3 signing clock runs ahead of this host's clock: 0 until
     * the server answered 403 RequestTimeTooSkewed (a device clock more than
     * 15 minutes off, e.g. no RTC and no NTP yet); then requests are signed
     * by the server's clock (its Date header). Object keys and recording
     * times stay on the device's clock. */
    int32_t clock_skew_s;
    /* The engine's private jemalloc arena (engine config alloc NULL and
     * jemalloc in the process, ivcs_base.h): bytes in live allocations
     * (each rounded up to its size class) and bytes of the arena resident
     * in RAM, from jemalloc's per-arena statistics. Flat after
     * ivcs_channel_open: the engine allocates at init. Both 0 when the
     * engine allocates through libc or the firmware's allocator. Reading
     * them takes jemalloc's control lock: for monitoring, not hot paths. */
    uint64_t mem_allocated;
    uint64_t mem_resident;
} ivcs_engine_stats_s;
IVCS_API void ivcs_engine_stats(ivcs_engine_s *e, ivcs_engine_stats_s *out);

/* Adds a channel (index = number of channels opened before it). -602
 * (IV_ERR_CS_INIT_PRM_RANGE) for a bad budget or format, -601 for a
 * missing required callback, IVCS_ERR_BUFFER_FULL when max_channels are
 * open, IV_ERR_SYS_MALLOC_FAIL. The channel lives until the engine is
 * destroyed. */
IVCS_API IVCS_MUST_CHECK int ivcs_channel_open(ivcs_engine_s *e, const ivcs_channel_config_s *cfg,
                                               ivcs_channel_s **out);

IVCS_API uint32_t ivcs_channel_index(const ivcs_channel_s *ch);
/* Largest video frame (bytes) the channel accepts. */
IVCS_API uint32_t ivcs_channel_max_frame(const ivcs_channel_s *ch);

/* Push one frame (copied). 0, or: IV_ERR_CS_APPLY_NO_SERVICE (no plan),
 * IV_ERR_CS_NEED_IDR_FRAME (P-frame after a loss, or first frame),
 * IVCS_ERR_FRAME_TOO_BIG, IVCS_ERR_BUFFER_FULL, IVCS_ERR_BAD_ANNEXB,
 * IVCS_ERR_B_FRAME, IVCS_ERR_NO_PARAMS, IVCS_ERR_FRAME_TYPE,
 * IVCS_ERR_CODEC_MISMATCH, IVCS_ERR_BAD_ADTS, IVCS_ERR_PTS_BACKWARDS,
 * IVCS_ERR_EMPTY_FRAME, IVCS_ERR_UNSUPPORTED (audio format ivcs cannot
 * mux), IVCS_ERR_STATE (engine stopping). An error changes no state. */
IVCS_API int ivcs_channel_push_video(ivcs_channel_s *ch, const iv_cm_venc_pack_s *pack);
IVCS_API int ivcs_channel_push_audio(ivcs_channel_s *ch, const iv_cm_aenc_pack_s *pack);

/* Zero-copy push: reserve room for up to max_len bytes in the stream's
 * ring, write the frame there, then commit it with its real length; the
 * commit validates exactly like the push functions (an invalid frame is
 * not published). A reservation not committed is forgotten by the next
 * reserve. stream: IV_CM_STREAM_TYPE_VIDEO or _AUDIO. */
IVCS_API int ivcs_channel_reserve(ivcs_channel_s *ch, iv_cm_stream_type_e stream, uint32_t max_len,
                                  uint8_t **buf);
IVCS_API int ivcs_channel_commit(ivcs_channel_s *ch, iv_cm_stream_type_e stream, uint32_t len,
                                 uint64_t pts_ms, iv_cm_frame_type_e frame_type, uint32_t seq);

/* Events, as iv_cs_event_*: ids 1..16, IVCS_ERR_EVENT_ID_RANGE,
 * IVCS_ERR_EVENT_ACTIVE (start of an open id), IVCS_ERR_EVENT_NOT_STARTED,
 * IVCS_ERR_EVENT_TIME_MIX / IVCS_ERR_INVALID_ARG (times),
 * IV_ERR_CS_APPLY_NO_SERVICE (no plan). */
IVCS_API int ivcs_channel_event_start(ivcs_channel_s *ch, int32_t id, uint32_t event_start_s,
                                      uint32_t stream_start_s);
IVCS_API int ivcs_channel_event_stop(ivcs_channel_s *ch, int32_t id, uint32_t event_stop_s,
                                     uint32_t stream_stop_s);

typedef struct ivcs_channel_stats_s {
    uint64_t video_frames_pushed, audio_frames_pushed, bytes_pushed;
    uint64_t frames_refused;        /* pushes that returned an error */
    uint64_t frames_uploaded, bytes_uploaded, slices_uploaded; /* TS bytes */
    uint64_t slices_dropped, frames_dropped, bytes_dropped; /* for space, audio with no
                                    * video, encoder errors, left at exit */
    uint64_t prerecord_discarded;   /* frames of the rolling pre-record buffer not needed */
    uint64_t retries, upload_failures;
    uint64_t upload_latency_ms_last, upload_latency_ms_max; /* slice close -> 2xx */
    uint64_t pauses, reanchors;
    uint64_t pictures_uploaded, event_records_written;
    uint32_t video_ring_fill_pct, audio_ring_fill_pct;
    uint32_t slices_queued;
    uint32_t events_open;
    int streaming;                  /* the stream_start callback is in force */
    /* G.711A/G.711U/PCM channels: AAC frames the engine encoded from the
     * pushed audio (one per pushed frame, plus two of silence at each
     * flush, e.g. exit, that push out the encoder's 1600-sample delay).
     * frames_uploaded/dropped count pushed frames, not these: the silence
     * the engine adds is in no count. 0 for AAC channels. */
    uint64_t audio_frames_encoded;
    /* Frames accepted and not yet uploaded, dropped or discarded: in the
     * rings, in a queued slice or in the one being collected. At every
     * instant (one consistent reading):
     *   video_frames_pushed + audio_frames_pushed ==
     *       frames_uploaded + frames_dropped + prerecord_discarded + frames_held
     * After ivcs_engine_stop frames_held is 0 (what could not be uploaded
     * was dropped: counted and notified). */
    uint64_t frames_held;
    /* Frames of this channel's slices written to spool_dir and not yet
     * uploaded (they are part of frames_held; after ivcs_engine_stop they
     * are the only frames held: they wait on disk for the next engine),
     * and the slices spooled so far. */
    uint64_t frames_spooled;
    uint64_t slices_spooled;
} ivcs_channel_stats_s;
IVCS_API void ivcs_channel_stats(ivcs_channel_s *ch, ivcs_channel_stats_s *out);

/* The seed API's configuration: used by iv_cs_init() when set (copied),
 * else the JSON file named by $IVCS_CONFIG. NULL clears it. */
IVCS_API int ivcs_set_default_config(const ivcs_config_s *cfg);
/* Native access to the default engine of iv_cs_* (NULL before iv_cs_init). */
IVCS_API ivcs_engine_s *ivcs_default_engine(void);
IVCS_API ivcs_channel_s *ivcs_default_channel(void);
/* ch0's stats and the engine's stats as they were at the end of the last
 * iv_cs_exit() (after its flush). IVCS_ERR_STATE if there was none. */
IVCS_API int ivcs_default_last_stats(ivcs_channel_stats_s *ch, ivcs_engine_stats_s *eng);

#ifdef __cplusplus
}
#endif
#endif /* IVCS_H */
