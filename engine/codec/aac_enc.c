/*
 * aac_enc.c - G.711/PCM -> AAC-LC ADTS through libvo-aacenc (see aac_enc.h).
 */
#include "engine/codec/aac_enc.h"

#include <string.h>
#include <vo-aacenc/voAAC.h>

#include "engine/codec/g711.h"
#include "engine/core/alloc.h"
#include "iv_err.h"
#include "ivcs_err.h"

#define MAX_BLOCKS 32 /* the library makes 8 allocations; room to spare */

struct ivcs_aac_enc_s {
    const ivcs_allocator_s *alloc;
    VO_AUDIO_CODECAPI api;
    VO_HANDLE h;
    iv_cm_aenc_type_e type;
    uint32_t rate;
    unsigned channels;
    uint64_t frames;
    size_t held; /* bytes from alloc, this struct included */
    int failed;  /* an allocation inside Init failed */
    struct {
        void *p;
        size_t size;
    } blk[MAX_BLOCKS];
    _Alignas(32) int16_t pcm[2 * IVCS_AAC_ENC_FRAME_SAMPLES];
};

/* ------------------------------------------------- memory operator
 * The library's callbacks carry no user pointer: the encoder being set up
 * or torn down is named by a thread-local, set only around Init/Uninit on
 * the calling thread. Any allocation outside that window fails. */
static _Thread_local ivcs_aac_enc_s *tl_enc;

static VO_U32 VO_API mem_alloc(VO_S32 id, VO_MEM_INFO *mi)
{
    (void)id;
    ivcs_aac_enc_s *e = tl_enc;
    if (!mi) return VO_ERR_INVALID_ARG;
    mi->VBuffer = NULL;
    if (!e || mi->Size <= 0) return VO_ERR_OUTOF_MEMORY;
    int slot = -1;
    for (int i = 0; i < MAX_BLOCKS && slot < 0; i++)
        if (!e->blk[i].p) slot = i;
    void *p = slot < 0 ? NULL : ivcs_alloc(e->alloc, (size_t)mi->Size, 64);
    if (!p) {
        e->failed = 1;
        return VO_ERR_OUTOF_MEMORY;
    }
    e->blk[slot].p = p;
    e->blk[slot].size = (size_t)mi->Size;
    e->held += (size_t)mi->Size;
    mi->VBuffer = p;
    return VO_ERR_NONE;
}

static VO_U32 VO_API mem_free(VO_S32 id, VO_PTR p)
{
    (void)id;
    ivcs_aac_enc_s *e = tl_enc;
    if (!e || !p) return VO_ERR_NONE;
    for (int i = 0; i < MAX_BLOCKS; i++)
        if (e->blk[i].p == p) {
            ivcs_free(e->alloc, p, e->blk[i].size);
            e->held -= e->blk[i].size;
            e->blk[i].p = NULL;
            return VO_ERR_NONE;
        }
    return VO_ERR_INVALID_ARG;
}

static VO_U32 VO_API mem_set(VO_S32 id, VO_PTR p, VO_U8 v, VO_U32 n)
{
    (void)id;
    memset(p, v, n);
    return VO_ERR_NONE;
}

static VO_U32 VO_API mem_copy(VO_S32 id, VO_PTR d, VO_PTR s, VO_U32 n)
{
    (void)id;
    memcpy(d, s, n);
    return VO_ERR_NONE;
}

static VO_U32 VO_API mem_check(VO_S32 id, VO_PTR p, VO_U32 n)
{
    (void)id;
    (void)p;
    (void)n;
    return VO_ERR_NONE;
}

static VO_S32 VO_API mem_compare(VO_S32 id, VO_PTR a, VO_PTR b, VO_U32 n)
{
    (void)id;
    return memcmp(a, b, n);
}

static VO_U32 VO_API mem_move(VO_S32 id, VO_PTR d, VO_PTR s, VO_U32 n)
{
    (void)id;
    memmove(d, s, n);
    return VO_ERR_NONE;
}

/* The library keeps a pointer to this: it must live forever. */
static VO_MEM_OPERATOR mem_op = {mem_alloc, mem_free, mem_set, mem_copy,
                                 mem_check, mem_compare, mem_move};

/* ------------------------------------------------- parameters */

int ivcs_aac_enc_handles(iv_cm_aenc_type_e type)
{
    return type == IV_CM_AENC_TYPE_PCM || type == IV_CM_AENC_TYPE_G711A ||
           type == IV_CM_AENC_TYPE_G711U;
}

uint32_t ivcs_aac_enc_frame_bytes(iv_cm_aenc_type_e type, unsigned channels)
{
    if (!ivcs_aac_enc_handles(type) || channels < 1 || channels > 2) return 0;
    uint32_t per = type == IV_CM_AENC_TYPE_PCM ? 2 : 1;
    return IVCS_AAC_ENC_FRAME_SAMPLES * channels * per;
}

int ivcs_aac_enc_rate_ok(uint32_t rate)
{
    switch (rate) {
    case 8000: case 11025: case 12000: case 16000: case 22050:
    case 24000: case 32000: case 44100: case 48000:
        return 1;
    default:
        return 0;
    }
}

uint32_t ivcs_aac_enc_bitrate(uint32_t rate, unsigned channels)
{
    uint32_t per = rate * 2;
    if (per < 16000) per = 16000;
    if (per > 64000) per = 64000;
    return per * channels;
}

/* Runs the library's Uninit with e's allocator in reach; frees e. */
static void destroy(ivcs_aac_enc_s *e)
{
    ivcs_aac_enc_s *saved = tl_enc;
    tl_enc = e;
    if (e->h) e->api.Uninit(e->h);
    /* anything the library did not give back (it gives back all) */
    for (int i = 0; i < MAX_BLOCKS; i++)
        if (e->blk[i].p) ivcs_free(e->alloc, e->blk[i].p, e->blk[i].size);
    tl_enc = saved;
    ivcs_free(e->alloc, e, sizeof *e);
}

int ivcs_aac_enc_new(const ivcs_allocator_s *a, iv_cm_aenc_type_e type, uint32_t rate,
                     unsigned channels, ivcs_aac_enc_s **out)
{
    if (!a || !out) return IVCS_ERR_INVALID_ARG;
    *out = NULL;
    if (!ivcs_aac_enc_frame_bytes(type, channels) || !ivcs_aac_enc_rate_ok(rate))
        return IVCS_ERR_INVALID_ARG;
    ivcs_aac_enc_s *e = ivcs_alloc(a, sizeof *e, 64);
    if (!e) return IV_ERR_SYS_MALLOC_FAIL;
    memset(e, 0, sizeof *e);
    e->alloc = a;
    e->type = type;
    e->rate = rate;
    e->channels = channels;
    e->held = sizeof *e;
    if (voGetAACEncAPI(&e->api) != VO_ERR_NONE) {
        ivcs_free(a, e, sizeof *e);
        return IVCS_ERR_UNSUPPORTED;
    }
    VO_CODEC_INIT_USERDATA ud = {.memflag = VO_IMF_USERMEMOPERATOR, .memData = &mem_op};
    ivcs_aac_enc_s *saved = tl_enc;
    tl_enc = e;
    VO_U32 rc = e->api.Init(&e->h, VO_AUDIO_CodingAAC, &ud);
    tl_enc = saved;
    if (rc != VO_ERR_NONE || !e->h) {
        int fail = e->failed;
        e->h = NULL;
        destroy(e);
        return fail ? IV_ERR_SYS_MALLOC_FAIL : IVCS_ERR_UNSUPPORTED;
    }
    AACENC_PARAM p = {.sampleRate = (int)rate,
                      .bitRate = (int)ivcs_aac_enc_bitrate(rate, channels),
                      .nChannels = (short)channels,
                      .adtsUsed = 1};
    tl_enc = e; /* SetParam allocates nothing today; keep it inside the window */
    rc = e->api.SetParam(e->h, VO_PID_AAC_ENCPARAM, &p);
    tl_enc = saved;
    if (rc != VO_ERR_NONE || e->failed) {
        int fail = e->failed;
        destroy(e);
        return fail ? IV_ERR_SYS_MALLOC_FAIL : IVCS_ERR_UNSUPPORTED;
    }
    *out = e;
    return 0;
}

size_t ivcs_aac_enc_bytes(const ivcs_aac_enc_s *e)
{
    return e ? e->held : 0;
}

int ivcs_aac_enc_encode(ivcs_aac_enc_s *e, const uint8_t *in, uint8_t *out, size_t cap)
{
    if (!e || !out || cap < IVCS_AAC_ENC_MAX_FRAME(e->channels)) return IVCS_ERR_INVALID_ARG;
    size_t n = (size_t)IVCS_AAC_ENC_FRAME_SAMPLES * e->channels;
    if (!in)
        memset(e->pcm, 0, n * sizeof e->pcm[0]);
    else if (e->type == IV_CM_AENC_TYPE_G711A)
        ivcs_g711_alaw_expand(in, e->pcm, n);
    else if (e->type == IV_CM_AENC_TYPE_G711U)
        ivcs_g711_ulaw_expand(in, e->pcm, n);
    else
        memcpy(e->pcm, in, n * sizeof e->pcm[0]); /* s16le on a little-endian host */
    VO_CODECBUFFER ib = {.Buffer = (VO_PBYTE)e->pcm, .Length = (VO_U32)(n * sizeof e->pcm[0])};
    if (e->api.SetInputData(e->h, &ib) != VO_ERR_NONE) return IVCS_ERR_STATE;
    VO_CODECBUFFER ob = {.Buffer = out, .Length = (VO_U32)cap};
    VO_AUDIO_OUTPUTINFO oi;
    memset(&oi, 0, sizeof oi);
    if (e->api.GetOutputData(e->h, &ob, &oi) != VO_ERR_NONE || !ob.Length || ob.Length > cap)
        return IVCS_ERR_STATE;
    e->frames++;
    return (int)ob.Length;
}

uint64_t ivcs_aac_enc_frames(const ivcs_aac_enc_s *e)
{
    return e ? e->frames : 0;
}

uint64_t ivcs_aac_enc_delay_90k(const ivcs_aac_enc_s *e)
{
    return e ? ((uint64_t)IVCS_AAC_ENC_DELAY * 90000u + e->rate / 2) / e->rate : 0;
}

uint32_t ivcs_aac_enc_delay_ms(const ivcs_aac_enc_s *e)
{
    return e ? (uint32_t)(((uint64_t)IVCS_AAC_ENC_DELAY * 1000u + e->rate / 2) / e->rate) : 0;
}

void ivcs_aac_enc_free(ivcs_aac_enc_s *e)
{
    if (e) destroy(e);
}
