/*
 * channel.c - a channel's firmware-facing side: opening (the ring split),
 * the push path (copy into the ring, validate the copy, commit, wake only a
 * sleeping engine), the zero-copy reserve/commit, event calls validated on
 * the caller's thread, and stats.
 *
 * The push path takes no lock, allocates nothing and makes no syscall in
 * steady state: the engine picks frames up at its tick (engine.c), and a
 * push wakes a sleeping engine only when it must act promptly (must_wake:
 * the ring's unread part crossing 1/8 of it, its fill crossing 3/4, a full
 * ring). Every error returns before anything is published, so a bad frame
 * loses nothing accepted earlier.
 */
#include <string.h>
#include <sys/socket.h>

#include "engine/record/engine_internal.h"
#include "engine/layout/event_time.h"
#include "engine/codec/aac_enc.h"
#include "engine/codec/adts.h"
#include "engine/core/alloc.h"

static size_t round_up(size_t v, size_t a)
{
    return (v + a - 1) & ~(a - 1);
}

/* The largest video ring that leaves room for an audio ring of at least
 * audio_min bytes inside total; the audio ring gets the rest. */
static int split_rings(size_t total, int has_aac, size_t *vcap, size_t *acap)
{
    size_t amin = has_aac ? 16384 : IVCS_RING_MIN_CAPACITY;
    size_t a_mem_min = round_up(ivcs_ring_mem_size(amin), IVCS_RING_MEM_ALIGN);
    if (total <= a_mem_min) return -1;
    size_t v = ivcs_ring_capacity_for(total - a_mem_min);
    if (!v) return -1;
    size_t v_mem = round_up(ivcs_ring_mem_size(v), IVCS_RING_MEM_ALIGN);
    size_t a = ivcs_ring_capacity_for(total - v_mem);
    if (!a || a < amin) return -1;
    if (!has_aac) a = amin; /* audio is refused: keep its ring minimal */
    *vcap = v;
    *acap = a;
    return 0;
}

/* The smallest ring holding 8 frames of frame_bytes: the engine drains
 * the G.711/PCM input ring at every service (tick <= 100 ms), and 8 frames
 * of 1024 samples last >= 170 ms at 48 kHz. */
static size_t raw_ring_capacity(uint32_t frame_bytes)
{
    size_t want = 8 * (size_t)ivcs_ring_record_size(frame_bytes), cap = IVCS_RING_MIN_CAPACITY;
    while (cap < want) cap *= 2;
    return cap;
}

/* G.711A/G.711U/PCM: rate and channels the encoder takes, 16-bit PCM, and
 * the seed's 1024 samples per frame (a firmware may write 1024 per channel
 * or the interleaved count, 2048 for stereo; 0 means "not said"). */
static int transcode_check(const iv_cm_av_data_info_s *f)
{
    if (!ivcs_aac_enc_rate_ok((uint32_t)f->eAudioSampleRate)) return IV_ERR_CS_INIT_PRM_RANGE;
    if (f->eAudioMode != IV_CM_AENC_MODE_MONO && f->eAudioMode != IV_CM_AENC_MODE_STEREO)
        return IV_ERR_CS_INIT_PRM_RANGE;
    if (f->eAudioType == IV_CM_AENC_TYPE_PCM && f->eAudioBitWidth != IV_CM_AENC_BIT_WIDTH_16)
        return IV_ERR_CS_INIT_PRM_RANGE;
    uint32_t ch = f->eAudioMode == IV_CM_AENC_MODE_STEREO ? 2 : 1, n = f->u32SampleNumPerFrame;
    if (n && n != IVCS_AAC_ENC_FRAME_SAMPLES && n != IVCS_AAC_ENC_FRAME_SAMPLES * ch)
        return IV_ERR_CS_INIT_PRM_RANGE;
    return 0;
}

/* *has_aac: AAC is pushed; *raw_frame: bytes of a pushed G.711/PCM frame
 * the engine encodes (0: not such a channel). */
static int fmt_check(const ivcs_channel_config_s *cfg, int *has_aac, uint32_t *raw_frame)
{
    const iv_cm_av_data_info_s *f = &cfg->av_fmt;
    if (cfg->max_gop_size < 65536 || cfg->max_gop_size % 4096) return IV_ERR_CS_INIT_PRM_RANGE;
    if (f->eVideoType != IV_CM_VENC_TYPE_H264 && f->eVideoType != IV_CM_VENC_TYPE_H265)
        return IV_ERR_CS_INIT_PRM_RANGE;
    if (f->u32VideoWidth > 16384 || f->u32VideoHeight > 16384 || f->u32Framerate > 240)
        return IV_ERR_CS_INIT_PRM_RANGE;
    if ((unsigned)f->eAudioType >= (unsigned)IV_CM_AENC_TYPE_BUTT) return IV_ERR_CS_INIT_PRM_RANGE;
    *has_aac = f->eAudioType == IV_CM_AENC_TYPE_AAC;
    /* A zeroed av_fmt reads as PCM at 0 Hz: a video-only camera. It opens,
     * and an audio push gets IVCS_ERR_UNSUPPORTED. */
    if (f->eAudioType == IV_CM_AENC_TYPE_PCM && f->eAudioSampleRate == 0) return 0;
    if (ivcs_aac_enc_handles(f->eAudioType)) {
        int rc = transcode_check(f);
        if (rc == 0)
            *raw_frame = ivcs_aac_enc_frame_bytes(
                f->eAudioType, f->eAudioMode == IV_CM_AENC_MODE_STEREO ? 2 : 1);
        return rc;
    }
    if (*has_aac) {
        switch ((unsigned)f->eAudioSampleRate) {
        case 8000: case 11025: case 12000: case 16000: case 22050: case 24000:
        case 32000: case 44100: case 48000: case 64000: case 96000: break;
        default: return IV_ERR_CS_INIT_PRM_RANGE;
        }
        if (f->eAudioMode != IV_CM_AENC_MODE_MONO && f->eAudioMode != IV_CM_AENC_MODE_STEREO)
            return IV_ERR_CS_INIT_PRM_RANGE;
    }
    return 0;
}

int ivcs_channel_open(ivcs_engine_s *e, const ivcs_channel_config_s *cfg, ivcs_channel_s **out)
{
    if (!e || !out) return IVCS_ERR_INVALID_ARG;
    if (!cfg) return IV_ERR_CS_INIT_PRM_NULL;
    *out = NULL;
    if (!cfg->cb.stream_start || !cfg->cb.stream_stop) return IV_ERR_CS_INIT_CB_NULL;
    int has_aac = 0;
    uint32_t frame_bytes = 0;
    int rc = fmt_check(cfg, &has_aac, &frame_bytes);
    if (rc < 0) return rc;
    uint32_t idx = atomic_load(&e->n_ch);
    if (idx >= e->max_ch) return IVCS_ERR_BUFFER_FULL;

    const iv_cm_av_data_info_s *f = &cfg->av_fmt;
    unsigned chans = f->eAudioMode == IV_CM_AENC_MODE_STEREO ? 2 : 1;
    ivcs_aac_enc_s *enc = NULL;
    size_t raw_cap = 0, raw_mem = 0, extra = 0;
    if (frame_bytes) {
        /* G.711/PCM: the encoder and the input ring come out of the
         * u32MaxGopSize share, so the channel stays inside its budget */
        rc = ivcs_aac_enc_new(e->alloc, f->eAudioType, (uint32_t)f->eAudioSampleRate, chans, &enc);
        if (rc < 0) return rc == IVCS_ERR_INVALID_ARG ? IV_ERR_CS_INIT_PRM_RANGE : rc;
        has_aac = 1;
        raw_cap = raw_ring_capacity(frame_bytes);
        raw_mem = round_up(ivcs_ring_mem_size(raw_cap), IVCS_RING_MEM_ALIGN);
        extra = ivcs_aac_enc_bytes(enc) + raw_mem;
    }
    size_t vcap, acap;
    if (cfg->max_gop_size <= extra ||
        split_rings(cfg->max_gop_size - extra, has_aac, &vcap, &acap) < 0) {
        ivcs_aac_enc_free(enc);
        return IV_ERR_CS_INIT_PRM_RANGE;
    }

    ivcs_channel_s *c = ivcs_alloc(e->alloc, sizeof *c, 64);
    if (!c) {
        ivcs_aac_enc_free(enc);
        return IV_ERR_SYS_MALLOC_FAIL;
    }
    memset(c, 0, sizeof *c);
    c->eng = e;
    c->alloc = e->alloc;
    c->index = idx;
    c->cfg = *cfg;
    c->has_aac = has_aac;
    c->aenc = enc;
    c->rate_sleep_ms = INT64_MAX; /* no fill rate measured yet */
    c->aframe_bytes = frame_bytes;
    c->adelay_90k = ivcs_aac_enc_delay_90k(enc);
    c->adelay_ms = ivcs_aac_enc_delay_ms(enc);
    c->vcodec = cfg->av_fmt.eVideoType == IV_CM_VENC_TYPE_H265 ? IVCS_CODEC_H265 : IVCS_CODEC_H264;
    /* one block: [video ring][audio ring][G.711/PCM input ring] */
    size_t v_mem = round_up(ivcs_ring_mem_size(vcap), IVCS_RING_MEM_ALIGN);
    size_t a_mem = round_up(ivcs_ring_mem_size(acap), IVCS_RING_MEM_ALIGN);
    c->ring_mem_len = v_mem + a_mem + raw_mem;
    c->ring_mem = ivcs_alloc(e->alloc, c->ring_mem_len, IVCS_RING_MEM_ALIGN);
    if (!c->ring_mem) {
        ivcs_aac_enc_free(enc);
        ivcs_free(e->alloc, c, sizeof *c);
        return IV_ERR_SYS_MALLOC_FAIL;
    }
    uint8_t *m = c->ring_mem;
    rc = ivcs_ring_init(&c->ring[0], m, v_mem, vcap);
    if (rc == 0) rc = ivcs_ring_init(&c->ring[1], m + v_mem, a_mem, acap);
    if (rc == 0 && raw_cap) rc = ivcs_ring_init(&c->raw, m + v_mem + a_mem, raw_mem, raw_cap);
    if (rc == 0) rc = ivcs_up_channel_init(c);
    if (rc < 0) {
        ivcs_aac_enc_free(enc);
        ivcs_free(e->alloc, c->ring_mem, c->ring_mem_len);
        ivcs_free(e->alloc, c, sizeof *c);
        return rc == IVCS_ERR_INVALID_ARG ? IV_ERR_CS_INIT_PRM_RANGE : rc;
    }
    c->pring[0] = c->ring[0];
    c->pring[1] = c->raw ? c->raw : c->ring[1];
    c->max_frame = (uint32_t)ivcs_ring_max_payload(c->ring[0]);
    atomic_store(&c->need_idr, 1);
    e->ch[idx] = c;
    atomic_store_explicit(&e->n_ch, idx + 1, memory_order_release);
    ivcs_engine_wake(e);
    *out = c;
    return 0;
}

void ivcs_channel_free(ivcs_channel_s *c)
{
    if (!c) return;
    ivcs_up_channel_cleanup(c);
    ivcs_aac_enc_free(c->aenc);
    ivcs_free(c->alloc, c->ring_mem, c->ring_mem_len);
    const ivcs_allocator_s *a = c->alloc;
    ivcs_free(a, c, sizeof *c);
}

uint32_t ivcs_channel_index(const ivcs_channel_s *ch)
{
    return ch ? ch->index : 0;
}

uint32_t ivcs_channel_max_frame(const ivcs_channel_s *ch)
{
    return ch ? ch->max_frame : 0;
}

/* ---------------------------------------------------------------- push path */

static int gate(ivcs_channel_s *c)
{
    if (!atomic_load_explicit(&c->eng->accepting, RLX)) return IVCS_ERR_STATE;
    if (atomic_load_explicit(&c->eng->service, RLX) == IVCS_SERVICE_NONE)
        return IV_ERR_CS_APPLY_NO_SERVICE;
    return 0;
}

/* Video checks in the order a firmware engineer wants to hear about them. */
static int check_video(ivcs_channel_s *c, const uint8_t *p, uint32_t len, uint64_t pts,
                       int ftype, uint8_t *flags)
{
    if (!p || !len) return IVCS_ERR_EMPTY_FRAME;
    if (ftype != IV_CM_FRAME_TYPE_I && ftype != IV_CM_FRAME_TYPE_P) return IVCS_ERR_FRAME_TYPE;
    ivcs_frame_info_s fi;
    int rc = ivcs_nalu_frame_check(c->vcodec, p, len, &fi,
                                   c->vcodec == IVCS_CODEC_H264 ? &c->h264 : NULL);
    if (rc == 0 && (ftype == IV_CM_FRAME_TYPE_I) != (fi.is_key != 0)) rc = IVCS_ERR_FRAME_TYPE;
    if (rc < 0) {
        /* error path only: is it the other codec? (an H.265 IDR reads as
         * H.264 NAL types 0/2/4/6: some other error, often FRAME_TYPE) */
        ivcs_frame_info_s o;
        ivcs_vcodec_e other = c->vcodec == IVCS_CODEC_H264 ? IVCS_CODEC_H265 : IVCS_CODEC_H264;
        if (rc != IVCS_ERR_B_FRAME && ivcs_nalu_frame_info(other, p, len, &o) == 0 &&
            (ftype == IV_CM_FRAME_TYPE_I) == (o.is_key != 0))
            return IVCS_ERR_CODEC_MISMATCH;
        return rc;
    }
    const iv_cm_av_data_info_s *f = &c->cfg.av_fmt;
    if (fi.is_key && fi.width && f->u32VideoWidth &&
        (fi.width != f->u32VideoWidth || fi.height != f->u32VideoHeight))
        return IVCS_ERR_CODEC_MISMATCH;
    /* A key frame may go back in time: the encoder restarted; the engine
     * re-anchors. A P-frame may not. */
    if (c->pv.have_pts && pts < c->pv.last_pts && !fi.is_key) return IVCS_ERR_PTS_BACKWARDS;
    if (!fi.is_key && atomic_load_explicit(&c->need_idr, RLX)) return IV_ERR_CS_NEED_IDR_FRAME;
    /* every slice refers to a PPS of this frame or of an accepted earlier one */
    uint64_t unknown = 0;
    for (int i = 0; i < 4; i++)
        unknown |= fi.pps_used[i] & ~(fi.pps_def[i] | c->pv.pps_known[i]);
    if (unknown) return IVCS_ERR_NO_PARAMS;
    if (len > c->max_frame) return IVCS_ERR_FRAME_TOO_BIG;
    /* the frame is accepted (publish cannot fail after a reservation) */
    for (int i = 0; i < 4; i++)
        c->pv.pps_known[i] |= fi.pps_def[i];
    if (c->vcodec == IVCS_CODEC_H264 && (fi.has_sps || fi.has_pps))
        ivcs_nalu_h264_learn(&c->h264, p, len); /* key frames: rare */
    *flags = fi.is_key ? ENG_REC_KEY : 0;
    return 0;
}

static int check_audio(ivcs_channel_s *c, const uint8_t *p, uint32_t len, uint64_t pts)
{
    if (!p || !len) return IVCS_ERR_EMPTY_FRAME;
    if (!c->has_aac) return IVCS_ERR_UNSUPPORTED;
    if (c->aenc) {
        /* G.711/PCM: no header to check; the size is the format */
        if (len != c->aframe_bytes) return IVCS_ERR_AUDIO_FRAME_SIZE;
        if (c->pa.have_pts && pts < c->pa.last_pts) return IVCS_ERR_PTS_BACKWARDS;
        return 0;
    }
    ivcs_adts_hdr_s h;
    int n = ivcs_adts_validate(p, len, &h);
    if (n < 0) return IVCS_ERR_BAD_ADTS;
    const iv_cm_av_data_info_s *f = &c->cfg.av_fmt;
    unsigned chans = f->eAudioMode == IV_CM_AENC_MODE_STEREO ? 2 : 1;
    if (h.sample_rate != (uint32_t)f->eAudioSampleRate || h.channel_config != chans)
        return IVCS_ERR_CODEC_MISMATCH;
    if (c->pa.have_pts && pts < c->pa.last_pts) return IVCS_ERR_PTS_BACKWARDS;
    if (len > IVCS_TS_AUDIO_FRAME_MAX || len > ivcs_ring_max_payload(c->ring[1]))
        return IVCS_ERR_FRAME_TOO_BIG;
    return 0;
}

/* 1 when the engine should not wait for its tick to see this record.
 * Crossings, not levels: one nudge per episode, not one per frame while a
 * slow upload keeps the ring above a mark. Inputs written by the engine are
 * read relaxed: a stale value only costs a spurious wake or a tick of
 * latency, never a lost frame (the tick bounds everything). */
static int must_wake(ivcs_channel_s *c, int s, uint32_t len)
{
    ivcs_ring_s *r = c->pring[s];
    uint64_t rs = ivcs_ring_record_size(len);
    uint64_t cap = ivcs_ring_capacity(r);
    /* 32-bit difference (seen holds a position's low word): unseen <= cap */
    uint64_t unseen =
        (uint32_t)((uint32_t)ivcs_ring_pushed_pos(r) - atomic_load_explicit(&c->seen[s], RLX));
    if (unseen >= cap / 8 && unseen - rs < cap / 8) return 1;
    uint64_t used = ivcs_ring_used(r), mark = cap / 4 * 3;
    if (used >= mark && (used < rs || used - rs < mark)) return 1;
    /* Slice boundaries wake nobody: a wake-up syscall costs the pusher
     * 12-40 us on this class of machine (docs/PERF.md section 1), and the
     * engine polls on its own near the expected boundary instead
     * (ivcs_up_deadline). */
    return 0;
}

/* Publishes a record already written into the ring at the reservation. */
static int publish(ivcs_channel_s *c, int s, uint32_t len, uint64_t pts, uint8_t flags,
                   uint32_t seq)
{
    ivcs_ring_rec_s rec = {.len = len, .type = (uint8_t)s, .flags = flags, .pts = pts, .seq = seq};
    /* counted before the commit (release) publishes the record: whoever
     * sees the engine's accounting of it sees it pushed (stats: pushed >=
     * taken by the engine at every instant) */
    ivcs_ctr64_add(&c->st_pushed[s], 1);
    int rc = ivcs_ring_commit(c->pring[s], &rec);
    if (rc < 0) {
        ivcs_ctr64_add(&c->st_pushed[s], UINT64_MAX); /* not pushed after all: -1 */
        return rc;
    }
    if (rc == 1 || must_wake(c, s, len)) ivcs_eng_nudge(c->eng, c);
    if (s == ENG_STREAM_VIDEO) {
        c->pv.last_pts = pts;
        c->pv.have_pts = 1;
        if (flags & ENG_REC_KEY) atomic_store_explicit(&c->need_idr, 0, RLX);
    } else {
        c->pa.last_pts = pts;
        c->pa.have_pts = 1;
    }
    ivcs_ctr64_add(&c->st_bytes_pushed[s], len);
    return 0;
}

static int refuse(ivcs_channel_s *c, int s, int rc)
{
    ivcs_ctr64_add(&c->st_refused[s], 1);
    return rc;
}

/* Ring full: the frame is lost. Video must restart at an I-frame; the
 * engine is told (once per episode) to drop old slices to make room. */
static int full(ivcs_channel_s *c, int s)
{
    if (s == ENG_STREAM_AUDIO && c->raw) {
        /* the G.711/PCM input ring is drained at every engine service: full
         * means "not served yet", not "out of memory"; the engine itself
         * asks for room when the AAC ring cannot take its output */
        ivcs_eng_nudge(c->eng, c);
        return refuse(c, s, IVCS_ERR_BUFFER_FULL);
    }
    if (s == ENG_STREAM_VIDEO) atomic_store_explicit(&c->need_idr, 1, RLX);
    if (!atomic_exchange_explicit(&c->starved, 1, RLX)) ivcs_eng_nudge(c->eng, c);
    return refuse(c, s, IVCS_ERR_BUFFER_FULL);
}

static int check_frame(ivcs_channel_s *c, int s, const uint8_t *p, uint32_t len, uint64_t pts,
                       int ftype, uint8_t *flags)
{
    if (s == ENG_STREAM_VIDEO) return check_video(c, p, len, pts, ftype, flags);
    *flags = 0;
    return check_audio(c, p, len, pts);
}

/* Copy first, then judge the copy. The firmware's frame is usually cold:
 * read once by the copy, the checks then read the ring-resident copy from
 * cache (validating first read it from memory twice: ~25 % of a 20 KB
 * push, docs/PERF.md section 1), and they judge exactly the bytes that are
 * published. A frame refused after the copy leaves only a reservation the
 * next reserve forgets: no state changes. */
static int push(ivcs_channel_s *c, int s, const uint8_t *p, uint32_t len, uint64_t pts,
                int ftype, uint32_t seq)
{
    int rc = gate(c);
    if (rc < 0) return refuse(c, s, rc);
    if (!p || !len) return refuse(c, s, IVCS_ERR_EMPTY_FRAME);
    if (s == ENG_STREAM_VIDEO) c->pv.reserved = 0; /* reserve forgets a reservation */
    else c->pa.reserved = 0;
    void *dst;
    uint8_t flags = 0;
    rc = ivcs_ring_reserve(c->pring[s], len, &dst);
    if (rc < 0) {
        /* no room now (or ever): the frame's own faults are named first */
        int v = check_frame(c, s, p, len, pts, ftype, &flags);
        if (v < 0) return refuse(c, s, v);
        return rc == IVCS_ERR_BUFFER_FULL ? full(c, s) : refuse(c, s, rc);
    }
    memcpy(dst, p, len);
    rc = check_frame(c, s, dst, len, pts, ftype, &flags);
    if (rc < 0) return refuse(c, s, rc);
    return publish(c, s, len, pts, flags, seq);
}

int ivcs_channel_push_video(ivcs_channel_s *c, const iv_cm_venc_pack_s *pack)
{
    if (!c || !pack) return IVCS_ERR_INVALID_ARG;
    return push(c, ENG_STREAM_VIDEO, pack->pu8Addr, pack->u32Len, pack->u64PTS,
                (int)pack->eFrameType, pack->u32Seq);
}

int ivcs_channel_push_audio(ivcs_channel_s *c, const iv_cm_aenc_pack_s *pack)
{
    if (!c || !pack) return IVCS_ERR_INVALID_ARG;
    return push(c, ENG_STREAM_AUDIO, pack->pu8Addr, pack->u32Len, pack->u64PTS, 0,
                pack->u32Seq);
}

int ivcs_channel_reserve(ivcs_channel_s *c, iv_cm_stream_type_e stream, uint32_t max_len,
                         uint8_t **buf)
{
    if (!c || !buf) return IVCS_ERR_INVALID_ARG;
    *buf = NULL;
    int s = stream == IV_CM_STREAM_TYPE_VIDEO ? ENG_STREAM_VIDEO : ENG_STREAM_AUDIO;
    if (stream != IV_CM_STREAM_TYPE_VIDEO && stream != IV_CM_STREAM_TYPE_AUDIO)
        return IVCS_ERR_INVALID_ARG;
    int rc = gate(c);
    if (rc < 0) return rc;
    if (!max_len) return IVCS_ERR_EMPTY_FRAME;
    if (s == ENG_STREAM_VIDEO && max_len > c->max_frame) return IVCS_ERR_FRAME_TOO_BIG;
    void *p;
    rc = ivcs_ring_reserve(c->pring[s], max_len, &p);
    if (rc == IVCS_ERR_BUFFER_FULL) return full(c, s);
    if (rc < 0) return rc;
    if (s == ENG_STREAM_VIDEO) {
        c->pv.reserved = max_len;
        c->pv.rptr = p;
    } else {
        c->pa.reserved = max_len;
        c->pa.rptr = p;
    }
    *buf = p;
    return 0;
}

int ivcs_channel_commit(ivcs_channel_s *c, iv_cm_stream_type_e stream, uint32_t len,
                        uint64_t pts_ms, iv_cm_frame_type_e frame_type, uint32_t seq)
{
    if (!c) return IVCS_ERR_INVALID_ARG;
    int s = stream == IV_CM_STREAM_TYPE_VIDEO ? ENG_STREAM_VIDEO : ENG_STREAM_AUDIO;
    if (stream != IV_CM_STREAM_TYPE_VIDEO && stream != IV_CM_STREAM_TYPE_AUDIO)
        return IVCS_ERR_INVALID_ARG;
    uint32_t *res = s == ENG_STREAM_VIDEO ? &c->pv.reserved : &c->pa.reserved;
    if (!*res) return IVCS_ERR_STATE;
    if (len > *res) return IVCS_ERR_INVALID_ARG;
    const uint8_t *p = s == ENG_STREAM_VIDEO ? c->pv.rptr : c->pa.rptr;
    int rc = gate(c);
    uint8_t flags = 0;
    if (rc == 0) {
        rc = check_frame(c, s, p, len, pts_ms, (int)frame_type, &flags);
    }
    if (rc < 0) return refuse(c, s, rc);
    *res = 0;
    return publish(c, s, len, pts_ms, flags, seq);
}

/* ---------------------------------------------------------------- events */

/* The command queue (MPSC: any thread enqueues, the engine thread dequeues
 * in engine.c drain_cmds) is Vyukov's bounded queue. Slot i's seq says whose
 * turn it is: seq == pos, free for the producer that claims ticket pos;
 * seq == pos + 1, filled for the consumer at pos; seq == pos + ENG_CMD_Q,
 * freed for the producer one lap later. Memory orders:
 *  - cmd_enq: relaxed load and relaxed CAS. The counter only hands out
 *    tickets; no data is published through it (the slot's seq does that),
 *    and a stale read just fails the CAS or the seq test and retries.
 *  - seq load here: acquire, pairing with the consumer's release store of
 *    pos (as pos - ENG_CMD_Q + ENG_CMD_Q) when it freed the slot: the
 *    consumer's reads of the previous command happen before our writes.
 *  - seq store of pos + 1: release, pairing with the consumer's acquire
 *    load: the command fields written before it are visible to the engine.
 * Bounded: each failed round means another producer took the ticket, and a
 * full queue returns IVCS_ERR_BUFFER_FULL at once (never waits). */
static int enqueue(ivcs_engine_s *e, int kind, uint32_t ch, int32_t id, int64_t a, int64_t b)
{
    uint32_t pos = atomic_load_explicit(&e->cmd_enq, RLX);
    for (;;) {
        eng_cmd_s *s = &e->cmdq[pos & (ENG_CMD_Q - 1)];
        uint32_t seq = atomic_load_explicit(&s->seq, memory_order_acquire);
        int32_t diff = (int32_t)(seq - pos);
        if (diff == 0) {
            /* relaxed: the ticket publishes nothing (see above) */
            if (atomic_compare_exchange_weak_explicit(&e->cmd_enq, &pos, pos + 1, RLX, RLX)) {
                s->kind = kind;
                s->ch = ch;
                s->event_id = id;
                s->t_event_ms = a;
                s->t_stream_ms = b;
                atomic_store_explicit(&s->seq, pos + 1, memory_order_release);
                ivcs_eng_wake_producer(e);
                return 0;
            }
        } else if (diff < 0) {
            return IVCS_ERR_BUFFER_FULL;
        } else {
            pos = atomic_load_explicit(&e->cmd_enq, RLX);
        }
    }
}

int ivcs_channel_event_start(ivcs_channel_s *c, int32_t id, uint32_t event_start_s,
                             uint32_t stream_start_s)
{
    if (!c) return IVCS_ERR_INVALID_ARG;
    int rc = ivcs_event_id_check(id);
    if (rc < 0) return rc;
    if (!atomic_load(&c->eng->accepting)) return IVCS_ERR_STATE;
    if (atomic_load(&c->eng->service) == IVCS_SERVICE_NONE) return IV_ERR_CS_APPLY_NO_SERVICE;
    int64_t ev, st;
    rc = ivcs_event_time_start(event_start_s, stream_start_s, ivcs_eng_now(c->eng), &ev, &st);
    if (rc < 0) return rc;
    uint32_t bit = 1u << (id - 1);
    if (atomic_fetch_or(&c->open_mask, bit) & bit) return IVCS_ERR_EVENT_ACTIVE;
    rc = enqueue(c->eng, CMD_EVENT_START, c->index, id, ev, st);
    if (rc < 0) atomic_fetch_and(&c->open_mask, ~bit);
    return rc;
}

int ivcs_channel_event_stop(ivcs_channel_s *c, int32_t id, uint32_t event_stop_s,
                            uint32_t stream_stop_s)
{
    if (!c) return IVCS_ERR_INVALID_ARG;
    int rc = ivcs_event_id_check(id);
    if (rc < 0) return rc;
    int64_t ev, st;
    rc = ivcs_event_time_stop(event_stop_s, stream_stop_s, ivcs_eng_now(c->eng), &ev, &st);
    if (rc < 0) return rc;
    uint32_t bit = 1u << (id - 1);
    if (!(atomic_fetch_and(&c->open_mask, ~bit) & bit)) return IVCS_ERR_EVENT_NOT_STARTED;
    rc = enqueue(c->eng, CMD_EVENT_STOP, c->index, id, ev, st);
    if (rc < 0) atomic_fetch_or(&c->open_mask, bit);
    return rc;
}

int ivcs_eng_enqueue(ivcs_engine_s *e, int kind);
int ivcs_eng_enqueue(ivcs_engine_s *e, int kind)
{
    return enqueue(e, kind, 0, 0, 0, 0);
}

/* ---------------------------------------------------------------- stats */

void ivcs_channel_stats(ivcs_channel_s *c, ivcs_channel_stats_s *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    if (!c) return;
    /* the engine's frame accounting, one consistent instant (seqlock
     * reader; bounded: the writer's section is a few stores), then the
     * pushed counters, which are >= what the engine took (publish() counts
     * before it commits) */
    uint64_t sv = 0, sa = 0, up = 0, drop = 0, disc = 0, held = 0;
    for (int tries = 0; tries < 1000000; tries++) {
        uint32_t q = atomic_load_explicit(&c->acc_seq, memory_order_acquire);
        if (q & 1) continue;
        sv = ivcs_ctr64_get(&c->pub_scan_v);
        sa = ivcs_ctr64_get(&c->pub_scan_a);
        up = ivcs_ctr64_get(&c->pub_up);
        drop = ivcs_ctr64_get(&c->pub_drop);
        disc = ivcs_ctr64_get(&c->pub_disc);
        held = ivcs_ctr64_get(&c->pub_held);
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&c->acc_seq, RLX) == q) break;
    }
    o->video_frames_pushed = ivcs_ctr64_get(&c->st_pushed[ENG_STREAM_VIDEO]);
    o->audio_frames_pushed = ivcs_ctr64_get(&c->st_pushed[ENG_STREAM_AUDIO]);
    o->frames_uploaded = up;
    o->frames_dropped = drop;
    o->prerecord_discarded = disc;
    o->frames_held = held + (o->video_frames_pushed - sv) + (o->audio_frames_pushed - sa);
    o->bytes_pushed = ivcs_ctr64_get(&c->st_bytes_pushed[0]) +
                      ivcs_ctr64_get(&c->st_bytes_pushed[1]);
    o->frames_refused = ivcs_ctr64_get(&c->st_refused[0]) + ivcs_ctr64_get(&c->st_refused[1]) +
                        ivcs_ctr64_get(&c->st_refused[2]);
    o->bytes_uploaded = ivcs_ctr64_get(&c->st_bytes_up);
    o->slices_uploaded = ivcs_ctr64_get(&c->st_slices_up);
    o->slices_dropped = ivcs_ctr64_get(&c->st_sl_drop);
    o->bytes_dropped = ivcs_ctr64_get(&c->st_by_drop);
    o->retries = ivcs_ctr64_get(&c->st_retries);
    o->upload_failures = ivcs_ctr64_get(&c->st_fail);
    o->upload_latency_ms_last = ivcs_ctr64_get(&c->st_lat_last);
    o->upload_latency_ms_max = ivcs_ctr64_get(&c->st_lat_max);
    o->pauses = ivcs_ctr64_get(&c->st_pauses);
    o->reanchors = ivcs_ctr64_get(&c->st_reanchors);
    o->pictures_uploaded = ivcs_ctr64_get(&c->st_pics);
    o->event_records_written = ivcs_ctr64_get(&c->st_records);
    o->audio_frames_encoded = ivcs_ctr64_get(&c->st_aencoded);
    o->video_ring_fill_pct =
        (uint32_t)(ivcs_ring_used(c->ring[0]) * 100 / ivcs_ring_capacity(c->ring[0]));
    o->audio_ring_fill_pct =
        (uint32_t)(ivcs_ring_used(c->ring[1]) * 100 / ivcs_ring_capacity(c->ring[1]));
    if (c->raw) { /* the fuller of the encoder's input and output */
        uint32_t raw = (uint32_t)(ivcs_ring_used(c->raw) * 100 / ivcs_ring_capacity(c->raw));
        if (raw > o->audio_ring_fill_pct) o->audio_ring_fill_pct = raw;
    }
    o->slices_queued = atomic_load_explicit(&c->st_queued, RLX);
    o->events_open = atomic_load_explicit(&c->st_events_open, RLX);
    o->streaming = atomic_load_explicit(&c->st_streaming, RLX);
}
