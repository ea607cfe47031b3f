/*
 * uploader.c - the engine-thread side of a channel: ring records fed to the
 * slicer (slicer.h decides the cuts; here the slices get their frames and
 * audio), the decision per slice (upload, hold as pre-record, discard),
 * the slice PUT streamed from the ring through the TS muxer, drops under
 * memory pressure, the pause (event record / JPEG uploads: events.c;
 * spooling a slice that cannot be uploaded and the backfill: spool_up.c).
 *
 * Slices live in a FIFO of ENG_SLICE_Q descriptors holding ring positions;
 * the ring is freed strictly in order, only when the front slice got a 2xx
 * or is dropped/discarded. One slice PUT per channel is in flight.
 */
#include <string.h>

#include "engine/record/engine_internal.h"
#include "engine/layout/event_record.h"
#include "engine/core/alloc.h"
#include "engine/net/retry.h"

/* ---------------------------------------------------------------- source */

static int src_next(void *ctx, ivcs_ts_frame_s *f)
{
    ivcs_channel_s *c = ctx;
    eng_upload_s *u = &c->up;
    if (!u->have_v && u->vpos < u->vend) {
        if (ivcs_ring_peek(c->ring[0], u->vpos, &u->vv) != 1) return IVCS_ERR_STATE;
        u->have_v = 1;
    }
    if (!u->have_a && u->apos < u->aend) {
        if (ivcs_ring_peek(c->ring[1], u->apos, &u->av) != 1) return IVCS_ERR_STATE;
        u->have_a = 1;
    }
    const ivcs_ring_view_s *v;
    /* in presentation order: encoded audio plays adelay earlier than stamped */
    if (u->have_a &&
        (!u->have_v || u->av.rec->pts * 90u <= u->vv.rec->pts * 90u + c->adelay_90k)) {
        v = &u->av;
        u->apos = v->next;
        u->have_a = 0;
        f->stream = IVCS_TS_AUDIO;
        f->key = 0;
    } else if (u->have_v) {
        v = &u->vv;
        u->vpos = v->next;
        u->have_v = 0;
        f->stream = IVCS_TS_VIDEO;
        f->key = (v->rec->flags & ENG_REC_KEY) != 0;
    } else {
        return 0;
    }
    f->data = v->data;
    f->len = v->rec->len;
    f->pts = v->rec->pts * 90u;
    if (f->stream == IVCS_TS_AUDIO) f->pts -= c->adelay_90k; /* modulo 2^33 in the muxer */
    return 1;
}

static void src_rewind(void *ctx)
{
    ivcs_channel_s *c = ctx;
    eng_upload_s *u = &c->up;
    u->vpos = u->slice->v0;
    u->apos = u->slice->a0;
    u->vend = u->slice->v1;
    u->aend = u->slice->a1;
    u->have_v = u->have_a = 0;
}

/* The slicer's rules for channel c (slicer.h), set once at channel init. */
static void slicer_rules(const ivcs_channel_s *c, ivcs_slicer_rules_s *r)
{
    uint32_t fps = c->cfg.av_fmt.u32Framerate;
    uint64_t quarter = ivcs_ring_capacity(c->ring[0]) / 4;
    uint32_t m = c->eng->cfg.slice_max_bytes;
    *r = (ivcs_slicer_rules_s){.slice_ms = c->eng->cfg.cloud.slice_ms,
                               /* at most a quarter of the video ring */
                               .max_bytes = m && m < quarter ? m : quarter,
                               .gop_cut_bytes = quarter,
                               .frame_ms = fps ? 1000 / fps : 40,
                               .pause_ms = c->eng->cfg.pause_ms,
                               .jump_ms = ENG_PTS_JUMP_MS};
}

int ivcs_up_channel_init(ivcs_channel_s *c)
{
    int rc = ivcs_ts_mux_init(&c->mux, c->vcodec, c->has_aac ? IVCS_ACODEC_AAC : IVCS_ACODEC_NONE);
    if (rc < 0) return rc;
    ivcs_slicer_rules_s r;
    slicer_rules(c, &r);
    ivcs_slicer_init(&c->sl.s, &r);
    c->up.src.next = src_next;
    c->up.src.rewind = src_rewind;
    c->up.src.ctx = c;
    return 0;
}

void ivcs_up_channel_cleanup(ivcs_channel_s *c)
{
    ivcs_free(c->eng->alloc, c->up.sp_buf, c->up.sp_cap);
    c->up.sp_buf = NULL;
    c->up.sp_cap = 0;
    ivcs_s3_op_cleanup(&c->up.op);
    ivcs_s3_op_cleanup(&c->aux.op);
}

/* ---------------------------------------------------------------- queue */

static eng_slice_s *q_at(ivcs_channel_s *c, uint32_t i)
{
    return &c->q[(c->q_head + i) % ENG_SLICE_Q];
}

static int overlaps_event(const ivcs_channel_s *c, int64_t t0, int64_t t1)
{
    for (int i = 0; i < ENG_EVENTS; i++) {
        const eng_event_s *x = &c->ev[i];
        if (!x->state) continue;
        if (x->st_start <= t1 && (x->st_stop < 0 || x->st_stop >= t0)) return 1;
    }
    return 0;
}

static int decide(const ivcs_channel_s *c, const eng_slice_s *s)
{
    int svc = atomic_load_explicit(&c->eng->service, RLX);
    if (svc == IVCS_SERVICE_FULL_TIME) return SL_READY;
    if (svc == IVCS_SERVICE_NONE) return SL_DISCARD;
    if (overlaps_event(c, s->utc0, s->utc0 + s->dur_ms)) return SL_READY;
    return SL_HELD;
}

void ivcs_up_reconsider(ivcs_channel_s *c)
{
    for (uint32_t i = 0; i < c->q_len; i++) {
        eng_slice_s *s = q_at(c, i);
        if (s->state == SL_HELD || s->state == SL_READY) s->state = (uint8_t)decide(c, s);
    }
}

void ivcs_up_release_front(ivcs_channel_s *c, int uploaded)
{
    eng_slice_s *s = q_at(c, 0);
    (void)!ivcs_ring_release(c->ring[0], s->v1);
    (void)!ivcs_ring_release(c->ring[1], s->a1);
    uint32_t frames = s->frames_v + s->frames_a;
    if (uploaded == 2) {
        c->acc.spooled += frames; /* still held, on disk */
    } else if (uploaded) {
        c->acc.up += frames;
    } else {
        if (s->state == SL_DROP) {
            ivcs_eng_bump(&c->st_sl_drop, 1);
            c->acc.drop += frames;
            ivcs_eng_bump(&c->st_by_drop, s->ring_bytes);
            /* a slice dropped after a failed PUT: the failure may have
             * come after the server stored it (a connection lost before
             * the answer), so the key is given and value is 1 */
            ivcs_notify_s n = {.kind = IVCS_NOTIFY_SLICE_DROPPED,
                               .err = c->drop_err ? c->drop_err : IVCS_ERR_BUFFER_FULL,
                               .key = s->tried ? c->up.key : NULL,
                               .value = s->tried,
                               .start_ms = (uint64_t)s->utc0,
                               .dur_ms = s->dur_ms,
                               .frames = frames,
                               .bytes = s->ring_bytes};
            ivcs_eng_notify(c, &n);
        } else {
            c->acc.disc += frames;
        }
    }
    c->q_head = (c->q_head + 1) % ENG_SLICE_Q;
    c->q_len--;
    atomic_store_explicit(&c->st_queued, c->q_len, RLX);
}

/* ---------------------------------------------------------------- slicer */

/* Queues the slice the slicer closed (cl): audio with pts < its cut (all
 * audio seen when all_audio) joins it; it gets its decision. */
static void close_slice(ivcs_channel_s *c, const ivcs_slicer_close_s *cl, int all_audio,
                        int64_t now)
{
    if (cl->why == IVCS_CUT_NONE) return;
    eng_slice_s *s = &c->sl.cur;
    uint64_t cut_pts = cl->cut_pts;
    uint64_t pos = c->sl.acut, end = ivcs_ring_read_pos(c->ring[1]);
    ivcs_ring_view_s v;
    while (pos < end && ivcs_ring_peek(c->ring[1], pos, &v) == 1) {
        if (!all_audio && v.rec->pts >= cut_pts + c->adelay_ms) break;
        if (!(v.rec->flags & ENG_REC_PAD)) { /* encoder padding is no pushed frame */
            s->frames_a++;
            c->acc.a_uncut--;
        }
        s->ring_bytes += ivcs_ring_record_size(v.rec->len);
        pos = v.next;
    }
    s->a1 = pos;
    c->sl.acut = pos;
    s->pts1 = cut_pts;
    s->dur_ms = cut_pts > s->pts0 ? (uint32_t)(cut_pts - s->pts0) : 0;
    s->closed_at = now;
    s->state = (uint8_t)(cl->orphan ? SL_DISCARD : decide(c, s));
    if (cl->orphan && c->streaming) s->state = SL_DROP; /* lost data, say so */
    /* the queue always has room: service() frees the front first, and the
     * slicer stops reading while it is full */
    *q_at(c, c->q_len) = *s;
    c->q_len++;
    atomic_store_explicit(&c->st_queued, c->q_len, RLX);
}

/* Closes the open slice with every audio frame read (pause, exit). */
static void close_all(ivcs_channel_s *c, ivcs_slicer_cut_e why, int64_t now)
{
    ivcs_slicer_close_s cl;
    ivcs_slicer_close(&c->sl.s, why, &cl);
    close_slice(c, &cl, 1, now);
}

static void on_video(ivcs_channel_s *c, const ivcs_ring_view_s *v, int64_t now)
{
    int key = (v->rec->flags & ENG_REC_KEY) != 0;
    uint64_t size = ivcs_ring_record_size(v->rec->len);
    ivcs_slicer_step_s st;
    ivcs_slicer_frame(&c->sl.s, key, v->rec->pts, size, now, &st);
    close_slice(c, &st.before, 0, now);
    if (st.reanchored) ivcs_eng_bump(&c->st_reanchors, 1);
    eng_slice_s *s = &c->sl.cur;
    if (st.opened) {
        memset(s, 0, sizeof *s);
        s->v0 = v->pos;
        s->a0 = c->sl.acut;
        s->pts0 = c->sl.s.pts0;
        s->utc0 = c->sl.s.utc0;
        s->key = (uint8_t)c->sl.s.key;
    }
    s->v1 = v->next;
    s->frames_v++;
    s->ring_bytes += size;
    close_slice(c, &st.after, 0, now);
}

/* ---------------------------------------------------------------- G.711/PCM */

/* Frames lost outside a slice (an encoder error, input never encoded at
 * exit): counted and notified like a dropped slice. */
static void drop_frames(ivcs_channel_s *c, uint64_t frames, uint64_t bytes, int err)
{
    if (!frames) return;
    c->acc.drop += frames;
    ivcs_eng_bump(&c->st_sl_drop, 1);
    ivcs_eng_bump(&c->st_by_drop, bytes);
    ivcs_notify_s n = {.kind = IVCS_NOTIFY_SLICE_DROPPED, .err = err, .frames = (uint32_t)frames,
                       .bytes = bytes};
    ivcs_eng_notify(c, &n);
}

/* Encodes one input frame (NULL: silence) stamped pts into the AAC ring.
 * 1 done, 0 no room now (the engine makes room, the caller retries), < 0
 * the encoder failed. */
static int encode_one(ivcs_channel_s *c, const uint8_t *in, uint64_t pts, uint32_t seq)
{
    void *dst;
    size_t cap = IVCS_AAC_ENC_MAX_FRAME(2);
    int rc = ivcs_ring_reserve(c->ring[1], cap, &dst);
    if (rc == IVCS_ERR_BUFFER_FULL) {
        atomic_store_explicit(&c->starved, 1, RLX);
        return 0;
    }
    if (rc == 0) rc = ivcs_aac_enc_encode(c->aenc, in, dst, cap);
    if (rc < 0) return rc;
    ivcs_ring_rec_s rec = {.len = (uint32_t)rc,
                           .type = ENG_STREAM_AUDIO,
                           .flags = in ? 0 : ENG_REC_PAD,
                           .pts = pts,
                           .seq = seq};
    rc = ivcs_ring_commit(c->ring[1], &rec);
    if (rc < 0) return rc;
    ivcs_eng_bump(&c->st_aencoded, 1);
    c->tx.samples += IVCS_AAC_ENC_FRAME_SAMPLES;
    uint32_t rate = (uint32_t)c->cfg.av_fmt.eAudioSampleRate;
    c->tx.next_pts = c->tx.anchor + c->tx.samples * 1000u / rate;
    return 1;
}

/* Encodes the silent frames of a flush still due. 1 done, 0 no room yet. */
static int flush_pending(ivcs_channel_s *c)
{
    while (c->tx.flush_left) {
        int rc = encode_one(c, NULL, c->tx.next_pts, 0);
        if (rc == 0) return 0;
        c->tx.flush_left--; /* an encoder error: the silence is not needed */
    }
    return 1;
}

/* Pushes the encoder's delay (1600 samples) out with two frames of silence
 * that continue the timeline, so the last real samples play before a gap
 * or the end. 1 done (or nothing to do), 0 no room yet (call again). */
static int flush_encoder(ivcs_channel_s *c)
{
    if (c->tx.primed) {
        c->tx.primed = 0;
        c->tx.flush_left = 2;
    }
    return flush_pending(c);
}

/* Drains the G.711/PCM input ring through the encoder into the AAC ring.
 * Each AAC frame carries its input frame's PTS (src_next and close_slice
 * subtract the encoder delay). */
static int transcode(ivcs_channel_s *c)
{
    int did = 0;
    ivcs_ring_view_s v;
    while (ivcs_ring_peek(c->raw, ivcs_ring_read_pos(c->raw), &v) == 1) {
        uint64_t pts = v.rec->pts;
        if (c->tx.primed && pts + 1000 < c->tx.next_pts)
            c->tx.primed = 0; /* the clock went back: new timeline, no flush */
        /* more than a second of silence from the firmware: let the old
         * audio out on its own timeline first */
        if (c->tx.primed && pts > c->tx.next_pts + 1000 && flush_encoder(c) == 0) break;
        if (flush_pending(c) == 0) break;
        if (!c->tx.primed) {
            c->tx.anchor = pts;
            c->tx.samples = 0;
        }
        int rc = encode_one(c, v.data, pts, v.rec->seq);
        if (rc == 0) break;
        c->acc.scan_a++; /* a pushed frame taken: in the AAC ring, or lost */
        if (rc < 0)
            drop_frames(c, 1, v.rec->len, rc); /* the encoder failed: lost, said so */
        else
            c->tx.primed = 1;
        (void)!ivcs_ring_release(c->raw, v.next);
        did = 1;
    }
    return did;
}

/* Reads the new AAC records (not yet cut into a slice: a_uncut). */
static int scan_audio(ivcs_channel_s *c, int64_t now)
{
    int did = 0;
    ivcs_ring_view_s v;
    while (ivcs_ring_next(c->ring[1], &v) == 1) {
        ivcs_slicer_saw_data(&c->sl.s, now);
        did = 1;
        if (v.rec->flags & ENG_REC_PAD) continue;
        if (!c->raw) c->acc.scan_a++; /* G.711/PCM: counted when encoded */
        c->acc.a_uncut++;
    }
    return did;
}

/* Before a pause or the exit closes the slice: the encoder's tail joins it. */
static void flush_audio(ivcs_channel_s *c, int64_t now)
{
    if (!c->aenc) return;
    (void)transcode(c);
    if (!c->tx.primed && !c->tx.flush_left) return;
    (void)flush_encoder(c);
    (void)scan_audio(c, now);
}

/* Reads new records. Returns 1 if any was seen. */
static int scan(ivcs_channel_s *c, int64_t now)
{
    int did = 0;
    ivcs_ring_view_s v;
    if (c->raw && transcode(c)) {
        ivcs_slicer_saw_data(&c->sl.s, now);
        did = 1;
    }
    did |= scan_audio(c, now);
    /* one free queue entry is needed for a close */
    while (c->q_len < ENG_SLICE_Q - 1 && ivcs_ring_next(c->ring[0], &v) == 1) {
        c->acc.scan_v++;
        ivcs_slicer_saw_data(&c->sl.s, now);
        on_video(c, &v, now);
        did = 1;
    }
    return did;
}

/* ---------------------------------------------------------------- upload */

static int64_t body_fn(void *arg, uint64_t offset, uint8_t *buf, size_t cap)
{
    ivcs_channel_s *c = arg;
    eng_upload_s *u = &c->up;
    if (offset != u->produced) {
        if (offset != 0) return IVCS_ERR_STATE;
        int rc = ivcs_ts_slice_begin(&c->mux, &u->ts, &u->src);
        if (rc < 0) return rc;
        u->produced = 0;
    }
    cap -= cap % IVCS_TS_PACKET;
    if (!cap) return IVCS_ERR_INVALID_ARG;
    int64_t n = ivcs_ts_slice_read(&u->ts, buf, cap);
    if (n <= 0) return n < 0 ? n : IVCS_ERR_STATE;
    u->produced += (uint64_t)n;
    return n;
}

static void on_slice_done(ivcs_s3_op *op, int result);

void ivcs_up_commit_cc(ivcs_channel_s *c, ivcs_ts_slice_s *ts)
{
    /* A producer stops at the last byte; the read that finds nothing more
     * is what marks the slice complete. */
    uint8_t tail[IVCS_TS_PACKET];
    if (ivcs_ts_slice_read(ts, tail, sizeof tail) == 0) (void)!ivcs_ts_slice_end(&c->mux, ts);
}

static void attempt(ivcs_channel_s *c)
{
    eng_upload_s *u = &c->up;
    ivcs_s3_op_cleanup(&u->op);
    ivcs_s3_op_init(&u->op, IVCS_S3_PUT, u->key);
    u->op.body_fn = body_fn;
    u->op.body_arg = c;
    u->op.body_len = u->size;
    u->op.content_md5 = u->integ == IVCS_INTEGRITY_MD5 ? u->md5 : "";
    u->op.integrity = u->integ;
    u->op.content_type = "video/mp2t";
    u->op.on_done = on_slice_done;
    u->op.arg = c;
    u->waiting = 0;
    u->produced = 0;
    int rc = ivcs_ts_slice_begin(&c->mux, &u->ts, &u->src);
    if (rc == 0) rc = ivcs_s3_start(c->eng->s3, &u->op);
    if (rc < 0) {
        /* could not even start (local problem): retry later */
        u->waiting = 1;
        u->retry_at = ivcs_eng_now(c->eng) + ivcs_retry_backoff_cap_ms(u->attempt++);
        return;
    }
    u->active = 1;
}

/* The size, then the PUT. Integrity md5 takes the Content-MD5 in a first
 * pass over the ring; the other modes check the bytes as they are sent
 * (engine/net/s3.h), so the slice is muxed once. */
static void start_upload(ivcs_channel_s *c, eng_slice_s *s)
{
    ivcs_engine_s *e = c->eng;
    eng_upload_s *u = &c->up;
    u->slice = s;
    s->state = SL_INFLIGHT;
    u->attempt = 0;
    ivcs_slice_name_s nm = {.start_ms = s->utc0,
                            .dur_ms = s->dur_ms,
                            .boot = e->boot,
                            .seq = c->seq++,
                            .keyframe = s->key};
    int rc = ivcs_layout_slice_key(&e->layout, c->index, &nm, u->key, sizeof u->key);
    int64_t size = rc < 0 ? rc : ivcs_ts_slice_size(&c->mux, &u->src);
    u->integ = atomic_load_explicit(&e->integrity, memory_order_relaxed);
    if (u->integ == IVCS_INTEGRITY_AUTO) u->integ = IVCS_INTEGRITY_MD5; /* not probed (yet) */
    if (size > 0 && u->integ != IVCS_INTEGRITY_MD5) {
        u->size = (uint64_t)size;
        attempt(c);
        return;
    }
    if (size > 0)
        rc = ivcs_ts_slice_begin(&c->mux, &u->ts_first, &u->src);
    else
        rc = size < 0 ? (int)size : IVCS_ERR_STATE;
    if (rc == 0) rc = ivcs_digest_begin(&e->md5);
    int64_t n = 0;
    uint64_t total = 0;
    while (rc == 0 && (n = ivcs_ts_slice_read(&u->ts_first, e->scratch, e->scratch_len)) > 0) {
        rc = ivcs_digest_update(&e->md5, e->scratch, (size_t)n);
        total += (uint64_t)n;
    }
    if (rc == 0 && (n < 0 || total != (uint64_t)size)) rc = n < 0 ? (int)n : IVCS_ERR_STATE;
    uint8_t d[IVCS_MD5_LEN];
    if (rc == 0) rc = ivcs_digest_final(&e->md5, d);
    if (rc == 0)
        rc = ivcs_base64_encode(d, sizeof d, u->md5, sizeof u->md5) < 0 ? IVCS_ERR_STATE : 0;
    if (rc < 0) {
        s->state = SL_DROP; /* cannot be muxed: a bug or corrupt record; never retried */
        return;
    }
    u->size = (uint64_t)size;
    /* Outage: the last PUT failed and the probe time has not come: no
     * attempt for this slice (each could wait a reply timeout while the
     * ring fills); it goes straight to the spool (ivcs_up_service). The
     * first slice after probe_at, or a backfill PUT, probes the server. */
    if (u->failing && e->spool && ivcs_eng_now(e) < u->probe_at) {
        u->waiting = 1;
        u->retry_at = u->probe_at;
        return;
    }
    attempt(c);
}

/* The failure is the integrity check at work: the body was damaged on the
 * way (the slice is sent again, as after any failure). */
static int integrity_refused(const ivcs_s3_op *op, int result, int integ)
{
    if (result == IVCS_ERR_INTEGRITY) return 1; /* md5-etag: ETag is not the MD5 */
    if (result != IVCS_ERR_S3) return 0;
    const char *code = op->res.code;
    if (!strcmp(code, "BadDigest") || !strcmp(code, "XAmzContentSHA256Mismatch") ||
        !strcmp(code, "InvalidChunkSizeError"))
        return 1;
    /* a chunk signature that does not match what was sent */
    return integ == IVCS_INTEGRITY_SHA256_CHUNKED && !strcmp(code, "SignatureDoesNotMatch");
}

static void on_slice_done(ivcs_s3_op *op, int result)
{
    ivcs_channel_s *c = op->arg;
    eng_upload_s *u = &c->up;
    u->active = 0;
    int64_t now = ivcs_eng_now(c->eng);
    eng_slice_s *s = u->slice;
    if (result == 0) {
        /* the CCs of a slice read to its end: the MD5 pass, or the PUT */
        ivcs_up_commit_cc(c, u->integ == IVCS_INTEGRITY_MD5 ? &u->ts_first : &u->ts);
        uint32_t frames = s->frames_v + s->frames_a;
        ivcs_eng_bump(&c->st_bytes_up, u->size);
        ivcs_eng_bump(&c->st_slices_up, 1);
        uint64_t lat = now > s->closed_at ? (uint64_t)(now - s->closed_at) : 0;
        ivcs_ctr64_set(&c->st_lat_last, lat);
        if (lat > ivcs_ctr64_get(&c->st_lat_max)) ivcs_ctr64_set(&c->st_lat_max, lat);
        if (u->failing) {
            ivcs_notify_s r = {.kind = IVCS_NOTIFY_UPLOAD_RECOVER};
            ivcs_eng_notify(c, &r);
            u->failing = 0;
            /* the server is back: backfill need not wait out its backoff */
            c->eng->bf.waiting = 0;
            c->eng->bf.attempt = 0;
        }
        u->outage_n = 0;
        ivcs_eng_server_answered(c->eng);
        ivcs_notify_s n = {.kind = IVCS_NOTIFY_SLICE_UPLOADED,
                           .key = u->key,
                           .start_ms = (uint64_t)s->utc0,
                           .dur_ms = s->dur_ms,
                           .frames = frames,
                           .bytes = u->size};
        ivcs_eng_notify(c, &n);
        u->slice = NULL;
        ivcs_up_release_front(c, 1);
        return;
    }
    ivcs_eng_bump(&c->st_fail, 1);
    if (integrity_refused(op, result, u->integ))
        atomic_fetch_add_explicit(&c->eng->st_integ_fail, 1, memory_order_relaxed);
    if (!u->failing) {
        ivcs_notify_s n = {.kind = IVCS_NOTIFY_UPLOAD_FAIL, .err = result, .key = u->key};
        ivcs_eng_notify(c, &n);
        u->failing = 1;
    }
    /* Every failure is retried, also the ones retry.h calls permanent: a
     * restarting radosgw answers 404 NoSuchBucket / 403 for a while, and a
     * slice must never be lost to that. A slice leaves the ring only when
     * it landed or must be dropped for space (counted, reported), which is
     * also where a really permanent error ends up. */
    (void)ivcs_retry_should;
    ivcs_eng_bump(&c->st_retries, 1);
    u->waiting = 1;
    u->retry_at = now + ivcs_retry_delay_ms(result, u->attempt++, &c->eng->rng_state);
    if (u->retry_at == now) u->retry_at = now + 1;
    /* with a spool, the next slices skip their attempts until probe_at:
     * 0.5 s, 1 s, 2 s ... after consecutive failures, at most slice_ms */
    uint32_t sms = c->eng->cfg.cloud.slice_ms ? c->eng->cfg.cloud.slice_ms : 4000;
    uint32_t gap = ivcs_retry_backoff_cap_ms(u->outage_n);
    if (u->outage_n < 64) u->outage_n++;
    u->probe_at = now + (gap < sms ? gap : sms);
    (void)s;
}


/* Drops the AAC read but in no slice (audio with no video to go with it):
 * counted and notified as a slice of no duration. */
static void drop_uncut_audio(ivcs_channel_s *c, int err)
{
    uint64_t end = ivcs_ring_read_pos(c->ring[1]), bytes = end - c->sl.acut;
    (void)!ivcs_ring_release(c->ring[1], end);
    c->sl.acut = end;
    uint64_t n = c->acc.a_uncut;
    c->acc.a_uncut = 0;
    drop_frames(c, n, bytes, err);
}

/* Makes room when a producer found a ring full: drop the oldest slice that
 * is not being transmitted (and the 'p' slices continuing it). */
static int make_room(ivcs_channel_s *c, int64_t now)
{
    if (!atomic_load_explicit(&c->starved, RLX)) return 0;
    if (c->q_len) {
        eng_slice_s *s = q_at(c, 0);
        if (s->state == SL_INFLIGHT && (c->up.active || c->up.spooling))
            return 0; /* wait for it */
        /* a slice that failed goes to the spool rather than being dropped */
        if (s->state == SL_INFLIGHT && c->up.waiting && ivcs_up_spool_slice(c, s, now) == 0) return 1;
        if (s->state == SL_INFLIGHT) {
            c->up.waiting = 0;
            c->up.slice = NULL;
            s->tried = 1; /* its key stays in c->up.key until the next upload */
        }
        s->state = s->state == SL_HELD ? SL_DISCARD : SL_DROP;
        uint32_t i = 1;
        for (; i < c->q_len && !q_at(c, i)->key; i++)
            q_at(c, i)->state = q_at(c, i)->state == SL_HELD ? SL_DISCARD : SL_DROP;
        /* the next P-frame has no head; an open 'p' slice continues what
         * was dropped: it has no head either */
        if (i == c->q_len && ivcs_slicer_lose_head(&c->sl.s))
            atomic_store_explicit(&c->need_idr, 1, RLX);
    } else if (c->sl.s.open) {
        close_all(c, IVCS_CUT_FLUSH, now);
        q_at(c, c->q_len - 1)->state = SL_DROP;
        atomic_store_explicit(&c->need_idr, 1, RLX);
    } else {
        /* audio without video: nothing will ever take it (lost, counted) */
        drop_uncut_audio(c, IVCS_ERR_BUFFER_FULL);
    }
    atomic_store_explicit(&c->starved, 0, RLX);
    return 1;
}

static void watermarks(ivcs_channel_s *c)
{
    uint32_t pct = (uint32_t)(ivcs_ring_used(c->ring[0]) * 100 / ivcs_ring_capacity(c->ring[0]));
    if (!c->buf_high && pct >= 75) {
        c->buf_high = 1;
        ivcs_notify_s n = {.kind = IVCS_NOTIFY_BUFFER_HIGH, .value = pct};
        ivcs_eng_notify(c, &n);
    } else if (c->buf_high && pct < 50) {
        c->buf_high = 0;
        ivcs_notify_s n = {.kind = IVCS_NOTIFY_BUFFER_LOW, .value = pct};
        ivcs_eng_notify(c, &n);
    }
}

int ivcs_up_service(ivcs_channel_s *c, int64_t now, int flushing)
{
    int did = scan(c, now);
    /* pause: no data for pause_ms closes the slice; the next frame re-anchors */
    if (ivcs_slicer_pause_due(&c->sl.s, now)) {
        int64_t last = c->sl.s.last_data_at;
        flush_audio(c, now);
        c->sl.s.last_data_at = last;
        ivcs_slicer_close_s cl;
        ivcs_slicer_pause(&c->sl.s, &cl);
        close_slice(c, &cl, 1, now);
        atomic_store_explicit(&c->need_idr, 1, RLX);
        ivcs_eng_bump(&c->st_pauses, 1);
        ivcs_notify_s n = {.kind = IVCS_NOTIFY_PAUSED};
        ivcs_eng_notify(c, &n);
        did = 1;
    }
    if (flushing) {
        flush_audio(c, now);
        close_all(c, IVCS_CUT_FLUSH, now);
    }
    did |= make_room(c, now);
    /* pre-record: keep the ring from filling up with held slices */
    int held_pressure = ivcs_ring_used(c->ring[0]) * 4 > ivcs_ring_capacity(c->ring[0]) * 3 ||
                        ivcs_ring_used(c->ring[1]) * 4 > ivcs_ring_capacity(c->ring[1]) * 3;
    while (c->q_len) {
        eng_slice_s *s = q_at(c, 0);
        if (s->state == SL_HELD) {
            int later_ready = 0;
            for (uint32_t i = 1; i < c->q_len; i++)
                if (q_at(c, i)->state == SL_READY) later_ready = 1;
            if (flushing || held_pressure || later_ready || now - s->utc0 > ENG_PRERECORD_MAX_MS) {
                s->state = SL_DISCARD;
                held_pressure = 0; /* one per pass: re-measure */
            } else {
                break;
            }
        }
        if (s->state == SL_DISCARD || s->state == SL_DROP) {
            ivcs_up_release_front(c, 0);
            did = 1;
            continue;
        }
        if (s->state == SL_READY) {
            if (!c->up.active && !c->up.waiting) {
                start_upload(c, s);
                did = 1;
                if (s->state == SL_DROP) continue;
            }
            break;
        }
        if (s->state == SL_INFLIGHT) {
            if (c->up.spooling) break;
            if (c->up.waiting && ivcs_up_spool_slice(c, s, now) == 0) {
                did = 1;
                break;
            }
            if (c->up.waiting && now >= c->up.retry_at) {
                attempt(c);
                did = 1;
            }
            break;
        }
        break;
    }
    watermarks(c);
    return did;
}

/* Pushes do not wake the engine for the key frame that closes a slice
 * (channel.c must_wake), so the engine looks for it itself: from the
 * moment it is due at real-time pace (the slice's first frame + slice_ms,
 * rounded up to whole GOPs when the GOP is known) it polls every
 * ENG_BOUNDARY_POLL_MS for ENG_BOUNDARY_WINDOW_MS; later the tick (100 ms)
 * bounds the wait. Returns the next poll time, or INT64_MAX. */
#define ENG_BOUNDARY_POLL_MS 10
#define ENG_BOUNDARY_WINDOW_MS 250
static int64_t boundary_poll(const ivcs_channel_s *c)
{
    if (!c->sl.s.open) return INT64_MAX;
    uint64_t sms = c->eng->cfg.cloud.slice_ms ? c->eng->cfg.cloud.slice_ms : 4000;
    uint64_t g = c->sl.s.gop_ms;
    uint64_t due_ms = g ? (sms + g - 1) / g * g : sms;
    int64_t due = c->sl.cur.utc0 + (int64_t)due_ms, now = ivcs_eng_now(c->eng);
    if (now < due) return due;
    if (now >= due + ENG_BOUNDARY_WINDOW_MS) return INT64_MAX;
    return now + ENG_BOUNDARY_POLL_MS;
}

int64_t ivcs_up_deadline(const ivcs_channel_s *c)
{
    int64_t d = INT64_MAX;
    if (c->up.waiting) d = c->up.retry_at;
    if (c->sl.s.open) {
        int64_t p = c->sl.s.last_data_at + (int64_t)c->eng->cfg.pause_ms;
        if (p < d) d = p;
        p = boundary_poll(c);
        if (p < d) d = p;
    }
    /* an event PUT or spool write under way wakes the loop when it ends:
     * until then a retry time in the past is no reason to spin */
    if (!c->aux.active && !c->aux.spooling)
        for (int i = 0; i < ENG_EVENTS; i++)
            if (c->ev[i].json_dirty || c->ev[i].pic_pending)
                if (c->ev[i].retry_at < d) d = c->ev[i].retry_at;
    const eng_slice_s *f = &c->q[c->q_head];
    if (c->q_len && f->state == SL_HELD) {
        int64_t h = f->utc0 + ENG_PRERECORD_MAX_MS;
        if (h < d) d = h;
    }
    return d;
}

int ivcs_up_busy(const ivcs_channel_s *c)
{
    return c->up.active || c->aux.active;
}

void ivcs_up_cancel(ivcs_channel_s *c)
{
    ivcs_http_client *h = ivcs_s3_http(c->eng->s3);
    if (c->up.active) ivcs_http_request_cancel(h, &c->up.op.http);
    if (c->aux.active) ivcs_http_request_cancel(h, &c->aux.op.http);
    c->up.waiting = 0;
}

uint32_t ivcs_up_pending(const ivcs_channel_s *c)
{
    uint32_t n = c->sl.s.open ? 1 : 0;
    for (uint32_t i = 0; i < c->q_len; i++) {
        uint8_t st = c->q[(c->q_head + i) % ENG_SLICE_Q].state;
        if (st == SL_READY || st == SL_INFLIGHT) n++;
    }
    for (int i = 0; i < ENG_EVENTS; i++)
        if (c->ev[i].json_dirty || c->ev[i].pic_pending) n++;
    return n + (uint32_t)c->aux.active;
}

/* ---------------------------------------------------------------- accounting */

void ivcs_up_publish_acc(ivcs_channel_s *c)
{
    uint64_t held = c->acc.a_uncut;
    for (uint32_t i = 0; i < c->q_len; i++)
        held += q_at(c, i)->frames_v + q_at(c, i)->frames_a;
    if (c->sl.s.open) held += c->sl.cur.frames_v + c->sl.cur.frames_a;
    held += c->acc.spooled;
    /* seqlock writer (single): odd, fence, data, even (release) */
    uint32_t q = atomic_load_explicit(&c->acc_seq, RLX);
    atomic_store_explicit(&c->acc_seq, q + 1, RLX);
    atomic_thread_fence(memory_order_release);
    ivcs_ctr64_set(&c->pub_scan_v, c->acc.scan_v);
    ivcs_ctr64_set(&c->pub_scan_a, c->acc.scan_a);
    ivcs_ctr64_set(&c->pub_up, c->acc.up);
    ivcs_ctr64_set(&c->pub_drop, c->acc.drop);
    ivcs_ctr64_set(&c->pub_disc, c->acc.disc);
    ivcs_ctr64_set(&c->pub_held, held);
    ivcs_ctr64_set(&c->pub_spooled, c->acc.spooled);
    atomic_store_explicit(&c->acc_seq, q + 2, memory_order_release);
}

uint64_t ivcs_up_abandon(ivcs_channel_s *c)
{
    uint64_t before = c->acc.drop;
    int64_t now = ivcs_eng_now(c->eng);
    c->drop_err = IVCS_ERR_TIMEOUT;
    /* what the producers committed and the engine has not read yet */
    for (int guard = 0; guard < 1 << 20; guard++) {
        (void)scan(c, now);
        close_all(c, IVCS_CUT_FLUSH, now);
        if (c->q_len) {
            uint8_t st = q_at(c, 0)->state;
            /* the slice whose PUT failed (or was cut at exit): it may have
             * been stored, so its drop names its key */
            if (st == SL_INFLIGHT && c->up.slice == q_at(c, 0)) q_at(c, 0)->tried = 1;
            q_at(c, 0)->state = st == SL_HELD || st == SL_DISCARD ? SL_DISCARD : SL_DROP;
            ivcs_up_release_front(c, 0);
            continue;
        }
        if (ivcs_ring_read_pos(c->ring[0]) == ivcs_ring_head_pos(c->ring[0]) &&
            (!c->raw || ivcs_ring_read_pos(c->raw) == ivcs_ring_head_pos(c->raw)))
            break;
        if (c->raw) { /* the encoder's input the engine never reached */
            ivcs_ring_view_s v;
            uint64_t n = 0, bytes = 0;
            while (ivcs_ring_peek(c->raw, ivcs_ring_read_pos(c->raw), &v) == 1) {
                c->acc.scan_a++;
                n++;
                bytes += v.rec->len;
                (void)!ivcs_ring_release(c->raw, v.next);
            }
            drop_frames(c, n, bytes, IVCS_ERR_TIMEOUT);
        }
    }
    drop_uncut_audio(c, IVCS_ERR_TIMEOUT);
    c->up.slice = NULL;
    c->up.waiting = 0;
    /* pictures the firmware handed over and never got back */
    for (int i = 0; i < ENG_EVENTS; i++)
        ivcs_up_pic_give_back(c, &c->ev[i], IV_ERR_CS_HTTP_DATA_FAIL);
    c->drop_err = 0;
    ivcs_up_publish_acc(c);
    return c->acc.drop - before;
}
