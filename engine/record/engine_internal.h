/*
 * engine_internal.h - the state shared by the engine's files: engine.c
 * (thread, commands, plan effects, events, API), uploader.c (slices and
 * their uploads; the cuts come from slicer.c), events.c (event record and
 * picture uploads), poller.c (plan.json) and
 * channel.c (the push path, which runs on firmware threads).
 *
 * Ownership of fields: "producer-v" / "producer-a" fields are written only
 * by the thread pushing video / audio; "engine" fields only by the engine
 * thread; _Atomic fields are shared (relaxed unless said otherwise).
 */
#ifndef IVCS_CLOUD_ENGINE_INTERNAL_H
#define IVCS_CLOUD_ENGINE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "engine/layout/layout.h"
#include "engine/layout/plan.h"
#include "engine/spool/spool.h"
#include "engine/codec/aac_enc.h"
#include "engine/codec/nalu.h"
#include "engine/core/ctr64.h"
#include "engine/core/jemalloc_alloc.h"
#include "engine/mux/ts_mux.h"
#include "engine/net/hash.h"
#include "engine/net/loop.h"
#include "engine/net/s3.h"
#include "engine/ring/ring.h"
#include "engine/record/slicer.h"
#include "ivcs.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Relaxed, for counters and flags that publish nothing else. */
#define RLX memory_order_relaxed

/* A statistics counter with a single writer (ctr64.h: no lock on any
 * target; readers see some recent value). */
static inline void ivcs_eng_bump(ivcs_ctr64 *c, uint64_t n)
{
    ivcs_ctr64_add(c, n);
}

#define ENG_MAX_CHANNELS_DEFAULT 64
#define ENG_SLICE_Q 64 /* closed slices queued per channel */
#define ENG_CMD_Q 256  /* command slots (MPSC) */
#define ENG_EVENTS 16
#define ENG_PTS_JUMP_MS 10000       /* forward PTS jump that re-anchors */
#define ENG_PRERECORD_MAX_MS 300000 /* held pre-record slices older than this go */
#define ENG_PLAN_REFRESH_MS 3600000 /* plan cache refreshed at least hourly */
#define ENG_STREAM_VIDEO 0
#define ENG_STREAM_AUDIO 1
#define ENG_REC_KEY 1 /* ring record flag: video key frame */
#define ENG_REC_PAD 2 /* ring record flag: silence the encoder added (not a pushed frame) */
#define ENG_TICK_MS_DEFAULT 100 /* longest engine sleep while frames flow unannounced */

/* ---------------------------------------------------------------- commands */
typedef enum {
    CMD_NONE = 0,
    CMD_EVENT_START,
    CMD_EVENT_STOP,
    CMD_WAKE,
} cmd_kind_e;

typedef struct eng_cmd_s {
    _Atomic uint32_t seq; /* Vyukov bounded-queue sequence (32 bits: lock-free
                           * on 32-bit targets; compared as int32 differences) */
    int kind;
    uint32_t ch;
    int32_t event_id;
    int64_t t_event_ms, t_stream_ms;
} eng_cmd_s;

/* ---------------------------------------------------------------- slices */
typedef enum {
    SL_HELD = 1, /* pre-record: kept in case an event claims it */
    SL_READY,    /* to upload */
    SL_INFLIGHT, /* uploading (or waiting for a retry) */
    SL_DISCARD,  /* to free without upload (not needed / orphan) */
    SL_DROP,     /* to free, counted as a loss */
} slice_state_e;

typedef struct eng_slice_s {
    uint64_t v0, v1, a0, a1; /* ring positions [v0,v1) [a0,a1) */
    uint64_t pts0, pts1;     /* caller ms: first frame, end (cut pts) */
    int64_t utc0;            /* UTC ms of the first frame */
    uint32_t dur_ms;
    uint32_t frames_v, frames_a;
    uint64_t ring_bytes;
    int64_t closed_at; /* engine clock when closed (latency) */
    uint8_t key;       /* starts at an I-frame */
    uint8_t state;
    uint8_t tried;     /* dropped after a failed PUT: c->up.key is its key */
} eng_slice_s;

/* ---------------------------------------------------------------- events */
typedef struct eng_event_s {
    int state; /* 0 unused, 1 open, 2 closed */
    int32_t id;
    int64_t ev_start, ev_stop, st_start, st_stop; /* UTC ms; -1 = none */
    uint8_t *pic;                                 /* firmware's JPEG until picture_result */
    int32_t pic_len;
    int pic_pending; /* JPEG to upload */
    int pic_done;    /* uploaded: the record names it */
    int json_dirty;  /* the record needs (re)writing */
    int rec_written; /* the record was stored at least once */
    uint32_t gen;    /* bumped when the slot is (re)used: a late PUT result is stale */
    unsigned attempts;
    int64_t retry_at;
} eng_event_s;

/* ---------------------------------------------------------------- uploads */
typedef struct eng_upload_s {
    ivcs_s3_op op;
    ivcs_ts_slice_s ts;
    ivcs_ts_src_s src;
    /* source cursors */
    uint64_t vpos, apos, vend, aend;
    int have_v, have_a;
    ivcs_ring_view_s vv, av;
    uint64_t produced; /* body bytes produced in this attempt */
    uint64_t size;
    ivcs_ts_slice_s ts_first; /* integrity md5: the MD5 pass, read to its end: its CCs commit on 2xx */
    int integ;                /* the slice's integrity mode (ivcs_integrity_e) */
    eng_slice_s *slice;       /* the queue entry being uploaded */
    char key[IVCS_LAYOUT_KEY_MAX + 1];
    char md5[32];
    int active;  /* a request is running */
    int waiting; /* waiting for retry_at */
    unsigned attempt;
    int64_t retry_at;
    int failing; /* last attempt failed (for FAIL/RECOVER notices) */
    unsigned outage_n; /* consecutive failed attempts (any slice) */
    int64_t probe_at;  /* with a spool: no new slice is attempted before this */
    /* spooling the slice after a failed attempt (one write per channel) */
    int spooling;
    uint8_t *sp_buf; /* the slice's TS bytes while the spool writes them */
    size_t sp_cap;
    struct iovec sp_iov;
    uint8_t sp_md5[16];
    ivcs_spool_put_s sp_put;
} eng_upload_s;

typedef struct eng_aux_s { /* event JSON and JPEG uploads, one at a time */
    ivcs_s3_op op;
    char key[IVCS_LAYOUT_KEY_MAX + 1];
    char pic_key[IVCS_LAYOUT_KEY_MAX + 1];
    char json[1024];
    int active;
    int slot; /* event slot being written */
    uint32_t gen; /* the slot's gen when the PUT started */
    int is_pic;
    uint8_t *pic; /* the picture being PUT or spooled (its result is owed to the firmware) */
    /* a failed event record (final version) or picture being written to
     * the spool; no other event PUT starts meanwhile (a->json is its body) */
    int spooling;
    struct iovec sp_iov;
    uint8_t sp_md5[16];
    ivcs_spool_put_s sp_put;
} eng_aux_s;

/* ---------------------------------------------------------------- channel */
struct ivcs_channel_s {
    ivcs_engine_s *eng;
    const ivcs_allocator_s *alloc;
    uint32_t index;
    ivcs_channel_config_s cfg;
    ivcs_vcodec_e vcodec;
    int has_aac; /* the TS carries AAC (pushed, or encoded from G.711/PCM) */
    void *ring_mem;
    size_t ring_mem_len;
    ivcs_ring_s *ring[2]; /* what slices are cut from: video, AAC */
    /* Where the firmware's pushes go: ring[0] and ring[1], except that a
     * G.711/PCM channel pushes audio into `raw`, which the engine encodes
     * into ring[1] (aac_enc.h) at each service. */
    ivcs_ring_s *pring[2];
    ivcs_ring_s *raw;       /* G.711/PCM input ring, or NULL */
    ivcs_aac_enc_s *aenc;   /* engine: the encoder, or NULL */
    uint32_t aframe_bytes;  /* G.711/PCM: bytes of one pushed frame */
    uint64_t adelay_90k;    /* encoder delay subtracted from AAC PTS (0 for pushed AAC) */
    uint32_t adelay_ms;
    struct {                /* engine: encoder timeline */
        uint64_t next_pts;  /* input PTS expected next (ms) */
        uint64_t samples;   /* samples since next_pts was anchored */
        uint64_t anchor;    /* PTS of that anchor */
        int primed;         /* real frames went in since the last flush */
        int flush_left;     /* silent frames still to encode for a flush */
    } tx;
    uint32_t max_frame;
    ivcs_h264_ctx_s h264; /* producer-v: parameter sets of accepted frames */
    ivcs_ts_mux_s mux; /* engine: CCs committed by uploaded slices */

    /* producer-v */
    struct {
        uint64_t pps_known[4]; /* PPS ids of accepted frames (bit id) */
        uint64_t last_pts;
        int have_pts;
        uint32_t reserved;
        void *rptr;
    } pv;
    /* producer-a */
    struct {
        uint64_t last_pts;
        int have_pts;
        uint32_t reserved;
        void *rptr;
    } pa;
    _Atomic int need_idr; /* set by the producer on loss, by the engine after pause */
    _Atomic int starved;  /* a push found a ring full: the engine should make room */
    /* Lazy wake-up (engine.c): a producer sets urgent when the engine must
     * act before its next tick; seen[s] is the engine's scan position in
     * ring s, published after each service (relaxed: a heuristic input),
     * as the low 32 bits of the position: lock-free on 32-bit targets too. */
    _Alignas(64) _Atomic int urgent; /* own cache line: not next to producer counters */
    _Atomic uint32_t seen[2];
    /* engine: the longest sleep before a ring, at the fill rate measured
     * over >= 10 ms from rate_from at rate_at, reaches its 1/8 wake mark
     * (engine.c service_channel; INT64_MAX: no bound) */
    uint64_t rate_from[2];
    int64_t rate_at;
    int64_t rate_sleep_ms;
    /* push-path counters, one per writer (ctr64.h: no lock on any target):
     * [ENG_STREAM_*] by that stream's producer, st_refused[2] by the engine
     * (G.711/PCM frames the encoder could not take) */
    _Alignas(64) ivcs_ctr64 st_pushed[2], st_bytes_pushed[2], st_refused[3];

    /* engine */
    struct {
        ivcs_slicer_s s;    /* when slices open and close (slicer.h) */
        eng_slice_s cur;    /* what the open slice holds (valid while s.open) */
        uint64_t vscan, ascan; /* next unread record positions */
        uint64_t acut;         /* audio assigned to slices up to here */
    } sl;
    eng_slice_s q[ENG_SLICE_Q];
    uint32_t q_head, q_len;
    eng_upload_s up;
    eng_aux_s aux;
    eng_event_s ev[ENG_EVENTS];
    uint32_t seq; /* slice counter of this boot */
    int streaming;
    int buf_high;
    int drop_err; /* the err of SLICE_DROPPED notices (0: IVCS_ERR_BUFFER_FULL) */
    _Atomic uint32_t open_mask; /* bit id-1: event open (caller side check) */

    /* written by the engine thread only (ctr64.h) */
    ivcs_ctr64 st_bytes_up, st_slices_up;
    ivcs_ctr64 st_sl_drop, st_by_drop;
    /* Frame accounting (engine): every pushed frame the engine has taken
     * from a ring (scan_v/scan_a; G.711/PCM: from the input ring) is in
     * exactly one of up, drop, disc or held, held being computed from the
     * slice queue, the open slice and a_uncut (AAC read, not yet in a
     * slice). Published together under acc_seq (a seqlock: odd while the
     * engine writes) so ivcs_channel_stats reads one consistent instant;
     * frames pushed but not yet taken are pushed - scan (channel.c counts
     * pushed before the commit, so pushed >= scan in any snapshot). The
     * published words are ctr64s so that no access takes a lock on 32-bit
     * MIPS either. */
    struct {
        uint64_t scan_v, scan_a, a_uncut, up, drop, disc;
        uint64_t spooled; /* in spool entries (part of held) */
    } acc;
    _Atomic uint32_t acc_seq;
    ivcs_ctr64 pub_scan_v, pub_scan_a, pub_up, pub_drop, pub_disc, pub_held;
    ivcs_ctr64 pub_spooled, st_sl_spooled;
    ivcs_ctr64 st_retries, st_fail, st_lat_last, st_lat_max;
    ivcs_ctr64 st_pauses, st_reanchors, st_pics, st_records, st_aencoded;
    _Atomic uint32_t st_queued, st_events_open;
    _Atomic int st_streaming;
};

/* ---------------------------------------------------------------- engine */
struct ivcs_engine_s {
    const ivcs_allocator_s *alloc;
    ivcs_jemalloc_allocator_s *ja; /* the default arena, or NULL */
    ivcs_engine_config_s cfg;
    ivcs_layout_s layout;
    uint32_t boot;
    ivcs_loop *loop;
    ivcs_s3 *s3;
    ivcs_digest_s md5;
    uint8_t *scratch; /* MD5 first pass buffer (integrity md5) */
    /* integrity mode of slice PUTs (ivcs_integrity_e): the config's, or what
     * the probe chose for auto (md5 for the slices sent while it runs) */
    _Atomic int integrity;
    /* The probe runs on a thread of its own (probe_th, while probe_running:
     * engine thread only), so the engine thread goes on servicing the rings;
     * it writes probe_mode/probe_answered/probe_note, then sets probe_done
     * (release); the engine thread joins it and applies them. */
    pthread_t probe_th;
    int probe_running;
    _Atomic int probe_done;
    int probe_mode, probe_answered;
    char probe_note[192];
    char integrity_note[192];  /* the probe's finding; written before integ_ready */
    _Atomic int integ_ready;   /* 1 once integrity_note is set (plan_mu) */
    /* auto, and the start-up probe got no answer at all: probe again once
     * a slice or backfill PUT succeeded (reprobe_due), never sooner than
     * reprobe_at (engine thread) */
    int integ_reprobe, integ_reprobe_due;
    int64_t integ_reprobe_at;
    _Atomic uint64_t st_integ_fail; /* slice PUTs the integrity check refused */
    _Atomic int32_t st_skew;        /* ivcs_s3_clock_skew of s3, published by the engine thread */
    size_t scratch_len;
    int wake_fd[2]; /* socketpair: [0] engine recv, [1] producers send */
    ivcs_loop_op wake_op;
    uint8_t wake_buf[64];
    int wake_armed;
    uint32_t tick_ms;       /* longest sleep (cfg.wake_tick_ms or the default) */
    _Atomic int sleeping;   /* the engine is (about to be) blocked: Dekker with ch->urgent */
    _Atomic uint64_t st_wakes; /* wake-up syscalls sent */
    pthread_t thread;
    int thread_started;
    _Atomic int stopping;  /* destroy requested */
    _Atomic int accepting; /* 0 while stopping */
    uint64_t abandoned;    /* engine, read after the join: frames dropped at exit */
    _Atomic uint32_t up_ms, reply_ms;

    ivcs_channel_s **ch;
    uint32_t max_ch;
    _Atomic uint32_t n_ch;

    eng_cmd_s *cmdq;
    _Atomic uint32_t cmd_enq, cmd_deq_pub;
    uint32_t cmd_deq;

    /* plan (engine thread; the balance copy under plan_mu for readers) */
    ivcs_plan_s plan;
    int have_plan;
    int fixed;
    _Atomic int service; /* ivcs_service_e in force */
    pthread_mutex_t plan_mu;
    iv_cs_balance_info_s balance;
    /* a plan fetched by a blocking ivcs_engine_get_balance_info, for the
     * engine thread to adopt (under plan_mu), so its own stale plan does
     * not overwrite the fresher answer in `balance` */
    ivcs_plan_s adopt_plan;
    int adopt;
    struct {
        ivcs_s3_op op;
        char key[IVCS_LAYOUT_KEY_MAX + 1];
        char etag[80];
        char body[1024];
        size_t body_len;
        int overflow;
        int active;
        int64_t next_at;
        int64_t last_ok_at;
        _Atomic int force;
    } poll;
    _Atomic uint64_t st_polls, st_plan_changes, st_not_modified, st_iter;
    /* local spool (engine/spool/spool.h), NULL when spool_dir is empty or
     * it could not be opened; engine thread after init */
    struct ivcs_spool *spool;
    int plan_cached; /* the plan in force came from the spool's cache */
    _Atomic int st_plan_cached, st_spool_on, st_spool_fault;
    _Atomic uint64_t st_spool_entries, st_spool_bytes, st_spool_recovered, st_spool_discarded;
    _Atomic int64_t st_spool_oldest_ms;
    _Atomic uint64_t st_bf_slices, st_bf_frames, st_spool_evicted;
    _Atomic uint64_t st_bf_events, st_bf_pictures; /* event records / pictures backfilled */
    uint64_t own_seq0;       /* spool entries from seq own_seq0 on are this engine's */
    int64_t spool_retry_at;  /* after a fault: no spool writes before this */
    int spool_fault_shown;   /* SPOOL_FAULT notified for the fault in force */
    unsigned spool_attempt;  /* faults in a row: the next delay's exponent */
    struct {                 /* backfill: one spooled entry's PUT at a time */
        ivcs_s3_op op;
        uint8_t *buf;
        size_t cap;
        const uint8_t *body;
        uint64_t body_len;
        char key[IVCS_SPOOL_KEY_MAX + 1];
        char md5[32];
        uint64_t seq;
        uint32_t frames, channel, kind;
        int64_t utc0;
        int have, active, waiting, lost;
        unsigned attempt;
        int64_t retry_at, started_at, since, used_ms;
        /* the entry being read (reading): through the loop, rd_got of
         * rd_size bytes of rd_fd in buf so far */
        int reading, rd_fd;
        ivcs_spool_entry_s rx;
        uint64_t rd_size, rd_got;
        struct iovec rd_iov;
        ivcs_loop_op rd_op;
    } bf;
    int64_t rng;
    uint64_t rng_state;
};

/* engine.c */
int64_t ivcs_eng_now(const ivcs_engine_s *e);
/* A slice or backfill PUT succeeded: if the integrity probe of "auto" got
 * no answer, it runs again (engine thread). */
void ivcs_eng_server_answered(ivcs_engine_s *e);
/* 1 when called on e's engine thread (from one of its callbacks). */
int ivcs_eng_on_thread(const ivcs_engine_s *e);
void ivcs_eng_notify(ivcs_channel_s *c, const ivcs_notify_s *n);
void ivcs_eng_wake_producer(ivcs_engine_s *e);
/* Producer side of the lazy wake-up: marks the channel urgent and wakes the
 * engine only if it announced sleep (one syscall per sleep at most). */
void ivcs_eng_nudge(ivcs_engine_s *e, ivcs_channel_s *c);
void ivcs_eng_apply_service(ivcs_engine_s *e);

/* uploader.c (engine thread) */
int ivcs_up_channel_init(ivcs_channel_s *c);
void ivcs_up_channel_cleanup(ivcs_channel_s *c);
/* Scans new ring records, closes slices, decides, uploads. Returns 1 if it
 * did something (call again before sleeping). */
int ivcs_up_service(ivcs_channel_s *c, int64_t now, int flushing);
/* Earliest engine-clock time this channel needs attention (INT64_MAX). */
int64_t ivcs_up_deadline(const ivcs_channel_s *c);
/* 1 while an upload request of the channel is running. */
int ivcs_up_busy(const ivcs_channel_s *c);
/* Cancels running requests (exit past its budget). */
void ivcs_up_cancel(ivcs_channel_s *c);
/* Re-evaluates held slices after an event window changed. */
void ivcs_up_reconsider(ivcs_channel_s *c);
/* uploader.c: frees the front slice's ring space and advances the queue;
 * uploaded: 1 uploaded, 2 spooled (still held, on disk), 0 dropped or
 * discarded (by the slice's state). */
void ivcs_up_release_front(ivcs_channel_s *c, int uploaded);
/* The slice's bytes are stored (uploaded or spooled): its continuity
 * counters become the muxer's, from ts (u->ts or u->ts_first), which has
 * produced every byte of the slice. */
void ivcs_up_commit_cc(ivcs_channel_s *c, ivcs_ts_slice_s *ts);
/* spool_up.c: writes slice s (a failed upload) to the spool; 0 when it was
 * queued for writing, < 0 when the spool cannot take it. */
int ivcs_up_spool_slice(ivcs_channel_s *c, eng_slice_s *s, int64_t now);
/* After a failed event PUT (aux: a->is_pic, body of len bytes): write it to
 * the spool under its key. 0 when queued (a->spooling), -1 when the spool
 * cannot take it now (the PUT retries from RAM go on). */
int ivcs_up_spool_aux(ivcs_channel_s *c, const uint8_t *body, size_t len, int64_t now);
/* The pause after the attempt-th spool fault in a row: 1 s doubling, at
 * most 60 s. */
uint32_t ivcs_up_spool_retry_ms(unsigned attempt);
void ivcs_up_aux_retry(ivcs_channel_s *c, eng_event_s *x, int is_pic, int64_t now);
/* Hands a picture the engine still holds back to the firmware: one
 * picture_result(err) (unless its PUT is running: on_aux_done owes it). */
void ivcs_up_pic_give_back(ivcs_channel_s *c, eng_event_s *x, int err);
/* Number of slices not yet uploaded or freed (+ the open one). */
uint32_t ivcs_up_pending(const ivcs_channel_s *c);
/* Starts event JSON / JPEG uploads when due. */
int ivcs_up_aux_service(ivcs_channel_s *c, int64_t now);
/* Publishes the frame accounting (engine thread, after each service). */
void ivcs_up_publish_acc(ivcs_channel_s *c);
/* At exit, once nothing runs: every frame still in the channel is dropped
 * (counted, notified), every picture still held gets its result. Returns
 * the number of frames dropped. */
uint64_t ivcs_up_abandon(ivcs_channel_s *c);

/* poller.c (engine thread) */
int ivcs_poll_init(ivcs_engine_s *e);
/* Opens cfg.cloud.spool_dir (scan, verify, recovery) and takes the cached
 * plan from it when it has not expired by its own dates (before the engine
 * thread starts). A spool that cannot be opened leaves e->spool NULL and
 * its fault in the stats. */
void ivcs_poll_spool_init(ivcs_engine_s *e);
/* Publishes the spool's numbers for ivcs_engine_stats. */
void ivcs_eng_spool_publish(ivcs_engine_s *e);

/* spool_up.c: backfill of spooled slices (engine thread). Returns 1 if it
 * did something. */
int ivcs_bf_service(ivcs_engine_s *e, int64_t now);
int ivcs_bf_busy(const ivcs_engine_s *e);
/* 1 while spooled slices wait and uploads work (exit flushes them too). */
int ivcs_bf_pending(const ivcs_engine_s *e);
void ivcs_bf_cancel(ivcs_engine_s *e);
/* At exit: an entry evicted while it was being backfilled, whose PUT will
 * not run now, is reported as dropped. */
void ivcs_bf_abandon(ivcs_engine_s *e);
/* The spool's callback for entries it evicts or finds corrupt. */
void ivcs_bf_lost(void *ctx, const ivcs_spool_entry_s *x, int why);
int ivcs_poll_service(ivcs_engine_s *e, int64_t now);
int64_t ivcs_poll_deadline(const ivcs_engine_s *e);
void ivcs_poll_cancel(ivcs_engine_s *e);
int ivcs_poll_busy(const ivcs_engine_s *e);

/* channel.c */
void ivcs_channel_free(ivcs_channel_s *c);

#ifdef __cplusplus
}
#endif
#endif
