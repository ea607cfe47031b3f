/*
 * media_split.c - raw Annex-B / ADTS files to frames with the engine's own
 * parsers, and raw G.711/PCM files to 1024-sample frames, for `ivcs mux`
 * and `ivcs push` (see media_split.h).
 */
#include "tools/media_split.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ivcs.h"

int ivcs_media_file_map(ivcs_media_file_s *f, const char *cmd, const char *path)
{
    memset(f, 0, sizeof *f);
    f->cmd = cmd;
    f->path = path;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "ivcs %s: %s: cannot open: %s\n", cmd, path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        fprintf(stderr, "ivcs %s: %s: not a regular file\n", cmd, path);
        close(fd);
        return -1;
    }
    if (st.st_size == 0) {
        fprintf(stderr, "ivcs %s: %s: file is empty\n", cmd, path);
        close(fd);
        return -1;
    }
    /* MAP_POPULATE: one call maps the page-cache pages instead of a fault
     * per 4 KiB while parsing. */
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        fprintf(stderr, "ivcs %s: %s: mmap: %s\n", cmd, path, strerror(errno));
        return -1;
    }
    f->p = m;
    f->len = (size_t)st.st_size;
    return 0;
}

void ivcs_media_file_unmap(ivcs_media_file_s *f)
{
    if (f->p) munmap((void *)f->p, f->len);
    f->p = NULL;
    f->len = 0;
}

uint64_t ivcs_media_video_pts_ms(uint64_t i, double fps)
{
    /* exact for integer fps: i*1000/fps is never within 2^-53 of an integer
     * it does not equal, so this truncates like integer division */
    return (uint64_t)((double)i * 1000.0 / fps);
}

static void report(const ivcs_media_file_s *f, const char *what, uint64_t index, size_t off,
                   int err)
{
    fprintf(stderr, "ivcs %s: %s: %s %" PRIu64 " (byte offset %zu): %s (%s)\n", f->cmd, f->path,
            what, index, off, ivcs_strerror(err), ivcs_strerror_name(err));
}

static const char *codec_name(ivcs_vcodec_e c)
{
    return c == IVCS_CODEC_H264 ? "H.264" : "H.265";
}

/* NAL unit types that can appear in a stream of the given codec (base
 * layer); used only to tell "this is the other codec" from "broken". */
static int nal_plausible(ivcs_vcodec_e c, const uint8_t *d, uint32_t len)
{
    if (d[0] & 0x80) return 0;
    if (c == IVCS_CODEC_H264) {
        uint8_t t = d[0] & 0x1F;
        return t >= 1 && t <= 21 && !(t >= 16 && t <= 18);
    }
    if (len < 2 || (d[1] & 7) == 0) return 0; /* nuh_temporal_id_plus1 */
    uint8_t t = (d[0] >> 1) & 0x3F;
    return t <= 9 || (t >= 16 && t <= 21) || (t >= 32 && t <= 40);
}

/* Looks at the first NAL units: a stream that is implausible as the codec
 * asked for but plausible as the other one gets IVCS_ERR_CODEC_MISMATCH. */
static int sniff_codec(ivcs_vcodec_e c, const ivcs_media_file_s *f)
{
    int bad[2] = {0, 0};
    size_t pos = 0;
    ivcs_nalu_s nal;
    size_t len = f->len < 65536 ? f->len : 65536;
    for (int i = 0; i < 8 && ivcs_nalu_next(c, f->p, len, &pos, &nal) == 1; i++) {
        if (nal.len < 2) continue;
        bad[0] += !nal_plausible(IVCS_CODEC_H264, nal.data, nal.len);
        bad[1] += !nal_plausible(IVCS_CODEC_H265, nal.data, nal.len);
    }
    if (bad[c] && !bad[!c]) return IVCS_ERR_CODEC_MISMATCH;
    return 0;
}

int ivcs_media_video_begin(ivcs_media_video_s *v, const ivcs_media_file_s *f,
                           ivcs_vcodec_e codec, double fps, int strict)
{
    *v = (ivcs_media_video_s){.f = f, .codec = codec, .fps = fps, .strict = strict};
    int r = strict ? sniff_codec(codec, f) : 0;
    if (r < 0) {
        fprintf(stderr,
                "ivcs %s: %s: frame 0 (byte offset 0): %s (%s): this looks like %s, not %s "
                "(use --codec)\n",
                f->cmd, f->path, ivcs_strerror(r), ivcs_strerror_name(r),
                codec_name(codec == IVCS_CODEC_H264 ? IVCS_CODEC_H265 : IVCS_CODEC_H264),
                codec_name(codec));
        return -1;
    }
    return 0;
}

int ivcs_media_video_next(ivcs_media_video_s *v, ivcs_media_vframe_s *fr)
{
    const ivcs_media_file_s *f = v->f;
    while (v->off < f->len) {
        size_t off = v->off;
        int64_t l = ivcs_nalu_next_au(v->codec, f->p + off, f->len - off, 1);
        if (l <= 0) {
            report(f, "frame", v->n, off, l < 0 ? (int)l : IVCS_ERR_BAD_ANNEXB);
            if (v->n == 0 && off == 0)
                fprintf(stderr, "ivcs %s: %s: not an Annex-B %s byte stream\n", f->cmd, f->path,
                        codec_name(v->codec));
            return -1;
        }
        if ((uint64_t)l > UINT32_MAX - 64) {
            report(f, "frame", v->n, off, IVCS_ERR_FRAME_TOO_BIG);
            return -1;
        }
        v->off += (size_t)l;
        int r = ivcs_nalu_frame_info(v->codec, f->p + off, (size_t)l, &fr->info);
        if (r < 0) {
            if (!v->strict) {
                if (!v->skipped++) {
                    v->skip_rc = r;
                    v->skip_first = v->n + v->skipped - 1;
                }
                continue;
            }
            report(f, "frame", v->n, off, r);
            return -1;
        }
        fr->data = f->p + off;
        fr->len = (uint32_t)l;
        fr->index = v->n++;
        fr->pts_ms = ivcs_media_video_pts_ms(fr->index, v->fps);
        return 1;
    }
    return 0;
}

void ivcs_media_audio_begin(ivcs_media_audio_s *a, const ivcs_media_file_s *f, int strict)
{
    *a = (ivcs_media_audio_s){.f = f, .strict = strict};
}

int ivcs_media_audio_next(ivcs_media_audio_s *a, ivcs_media_aframe_s *fr)
{
    const ivcs_media_file_s *f = a->f;
    if (!f || a->off >= f->len) return 0;
    ivcs_adts_hdr_s h;
    int r = ivcs_adts_parse(f->p + a->off, f->len - a->off, &h);
    if (r < 0) {
        if (!a->strict) {
            a->tail_bytes = f->len - a->off;
            a->tail_rc = r;
            a->off = f->len; /* the stream ends here */
            return 0;
        }
        report(f, "ADTS frame", a->n, a->off, r);
        if (r == IVCS_ERR_INCOMPLETE)
            fprintf(stderr,
                    "ivcs %s: %s: the file ends inside ADTS frame %" PRIu64 " (truncated)\n",
                    f->cmd, f->path, a->n);
        return -1;
    }
    if (a->n == 0) {
        a->first = h;
    } else if (a->strict && (h.sr_index != a->first.sr_index ||
                             h.channel_config != a->first.channel_config ||
                             h.profile != a->first.profile)) {
        fprintf(stderr,
                "ivcs %s: %s: ADTS frame %" PRIu64 " (byte offset %zu): format changes "
                "mid-stream (%u Hz %u ch -> %u Hz %u ch)\n",
                f->cmd, f->path, a->n, a->off, a->first.sample_rate, a->first.channel_config,
                h.sample_rate, h.channel_config);
        return -1;
    }
    *fr = (ivcs_media_aframe_s){f->p + a->off, (uint32_t)r, a->n,
                                a->samples * 1000 / h.sample_rate, h};
    a->n++;
    a->samples += h.samples;
    a->off += (size_t)r;
    return 1;
}

uint64_t ivcs_media_audio_end_ms(const ivcs_media_audio_s *a)
{
    return a->n ? a->samples * 1000 / a->first.sample_rate : 0;
}

static const char *const afmt_names[] = {"aac", "alaw", "ulaw", "pcm"};

int ivcs_media_afmt_parse(const char *name)
{
    for (int i = 0; i < (int)(sizeof afmt_names / sizeof afmt_names[0]); i++)
        if (!strcmp(name, afmt_names[i])) return i;
    return -1;
}

int ivcs_media_afmt_of_path(const char *path)
{
    static const struct {
        const char *ext;
        ivcs_media_afmt_e fmt;
    } exts[] = {{"aac", IVCS_MEDIA_AFMT_AAC},    {"adts", IVCS_MEDIA_AFMT_AAC},
                {"alaw", IVCS_MEDIA_AFMT_ALAW},  {"ulaw", IVCS_MEDIA_AFMT_ULAW},
                {"mulaw", IVCS_MEDIA_AFMT_ULAW}, {"s16le", IVCS_MEDIA_AFMT_PCM},
                {"pcm", IVCS_MEDIA_AFMT_PCM}};
    const char *base = strrchr(path, '/');
    const char *dot = strrchr(base ? base + 1 : path, '.');
    if (!dot) return -1;
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (!strcasecmp(dot + 1, exts[i].ext)) return (int)exts[i].fmt;
    return -1;
}

const char *ivcs_media_afmt_name(ivcs_media_afmt_e fmt)
{
    return (unsigned)fmt < sizeof afmt_names / sizeof afmt_names[0] ? afmt_names[fmt] : "?";
}

int ivcs_media_raw_rate_ok(uint32_t rate)
{
    switch (rate) {
    case 8000: case 11025: case 12000: case 16000: case 22050: case 24000:
    case 32000: case 44100: case 48000: return 1;
    default: return 0;
    }
}

int ivcs_media_raw_begin(ivcs_media_raw_s *r, const ivcs_media_file_s *f, ivcs_media_afmt_e fmt,
                         uint32_t rate, uint32_t channels)
{
    *r = (ivcs_media_raw_s){.f = f, .fmt = fmt, .rate = rate, .channels = channels};
    if (fmt == IVCS_MEDIA_AFMT_AAC || (unsigned)fmt > IVCS_MEDIA_AFMT_PCM ||
        !ivcs_media_raw_rate_ok(rate) || (channels != 1 && channels != 2)) {
        fprintf(stderr, "ivcs %s: %s: no raw audio format %s at %u Hz, %u channel(s)\n", f->cmd,
                f->path, ivcs_media_afmt_name(fmt), rate, channels);
        return -1;
    }
    uint32_t sample_bytes = (fmt == IVCS_MEDIA_AFMT_PCM ? 2u : 1u) * channels;
    r->frame_bytes = IVCS_MEDIA_RAW_FRAME_SAMPLES * sample_bytes;
    if (f->len < r->frame_bytes) {
        fprintf(stderr,
                "ivcs %s: %s: %zu bytes is shorter than one %s frame (%u samples x %u "
                "channel(s) = %u bytes)\n",
                f->cmd, f->path, f->len, ivcs_media_afmt_name(fmt), IVCS_MEDIA_RAW_FRAME_SAMPLES,
                channels, r->frame_bytes);
        return -1;
    }
    /* the firmware rule is whole 1024-sample frames: the tail is left out,
     * said once here rather than silently */
    size_t tail = f->len % r->frame_bytes;
    if (tail)
        fprintf(stderr,
                "ivcs %s: %s: note: the last %zu samples per channel (%zu bytes%s) are left "
                "out: not a whole %u-sample frame\n",
                f->cmd, f->path, tail / sample_bytes, tail,
                tail % sample_bytes ? ", ending in a partial sample" : "",
                IVCS_MEDIA_RAW_FRAME_SAMPLES);
    return 0;
}

int ivcs_media_raw_next(ivcs_media_raw_s *r, ivcs_media_aframe_s *fr)
{
    if (!r->f || !r->frame_bytes || r->f->len - r->off < r->frame_bytes) return 0;
    *fr = (ivcs_media_aframe_s){.data = r->f->p + r->off, .len = r->frame_bytes, .index = r->n,
                                .pts_ms = r->n * IVCS_MEDIA_RAW_FRAME_SAMPLES * 1000 / r->rate};
    r->n++;
    r->off += r->frame_bytes;
    return 1;
}

uint64_t ivcs_media_raw_end_ms(const ivcs_media_raw_s *r)
{
    return r->n * IVCS_MEDIA_RAW_FRAME_SAMPLES * 1000 / r->rate;
}
