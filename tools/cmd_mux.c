/*
 * cmd_mux.c - `ivcs mux`: raw elementary streams to MPEG-TS slices.
 *
 * Splits a raw Annex-B video file (and optionally an ADTS AAC file) into
 * frames with the engine's own parsers, gives them the seed sample's
 * timestamps (video i*1000/fps ms, audio samples*1000/rate ms), interleaves
 * them by time (audio first on a tie), cuts slices at the first I-frame at
 * or after --slice-ms since the slice start, and writes each slice with the
 * engine's muxer into DIR as {start_ms}_{dur_ms}_{boot}_{seq}{k|p}.ts, the
 * object name of docs/ARCHITECTURE.md section 5. Every slice's size is predicted
 * by ivcs_ts_slice_size() first and checked against the bytes written.
 *
 * Fast on purpose (it is benchmarked against ffmpeg -c copy): inputs are
 * mmap'ed, frames are described by pointers into the mapping, and slices go
 * to disk through one reusable buffer.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/mux/ts_mux.h"
#include "ivcs.h"
#include "tools/cli_common.h"
#include "tools/commands.h"
#include "tools/media_split.h"

#define OUT_BUF (IVCS_TS_PACKET * 1024) /* 188 KiB: stays in L2 between write()s */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ivcs mux --video FILE.h264|FILE.h265 [--audio FILE.aac] --fps N --out DIR\n"
            "                [--slice-ms 4000] [--codec h264|h265] [--start-ms MS]\n"
            "                [--boot HEX]"
 " [--manifest FILE] [--quiet]\n"
            "\n"
            "Splits raw Annex-B video (+ ADTS AAC audio) into MPEG-TS slices named\n"
            "{start_ms}_{dur_ms}_{boot}_{seq}{k|p}.ts in DIR. Video PTS is i*1000/fps ms,\n"
            "audio PTS samples*1000/rate ms; a slice is cut at the first I-frame at or after\n"
            "--slice-ms since its start. --codec overrides the file extension (.h264 .264\n"
            ".avc / .h265 .265 .hevc). --manifest writes one line per frame:\n"
            "'stream pts_ms len md5' of the bytes muxed into the PES (for H.264 without an\n"
            "AUD that is the AUD the muxer adds + the frame).\n"
            "--start-ms: UTC ms of the first frame in the slice names (default 0); --boot:\n"
            "the boot id of the names, 1..8 hex digits (default random); --quiet (-q): no\n"
            "summary line. mux is strict: a frame it cannot slice (e.g. a B-frame), a bad\n"
            "ADTS frame or a codec mismatch stops it with the frame's number and offset.\n"
            "exit: 0 ok, 1 input or write error (the frame and reason are printed), 2 usage\n");
}

typedef struct {
    ivcs_ts_frame_s *f; /* interleaved frames */
    uint64_t *ms;       /* their PTS in milliseconds */
    size_t n, cap;
} frames;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int frames_grow(frames *fs, size_t want)
{
    if (want <= fs->cap) return 0;
    size_t cap = fs->cap ? fs->cap : 4096;
    while (cap < want)
        cap *= 2;
    ivcs_ts_frame_s *f = realloc(fs->f, cap * sizeof *f);
    if (!f) return -1;
    fs->f = f;
    uint64_t *ms = realloc(fs->ms, cap * sizeof *ms);
    if (!ms) return -1;
    fs->ms = ms;
    fs->cap = cap;
    return 0;
}

/* Appends frame f at ms, growing the arrays as needed. */
static int frames_add(frames *fs, ivcs_ts_frame_s f, uint64_t ms)
{
    if (frames_grow(fs, fs->n + 1) != 0) return -1;
    fs->f[fs->n] = f;
    fs->ms[fs->n++] = ms;
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int mkdir_p(const char *dir)
{
    char path[4096];
    size_t n = strlen(dir);
    if (n == 0 || n >= sizeof path) return -1;
    memcpy(path, dir, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (path[i] != '/' && path[i] != 0) continue;
        char c = path[i];
        path[i] = 0;
        if (mkdir(path, 0755) != 0 && errno != EEXIST) return -1;
        path[i] = c;
    }
    struct stat st;
    return stat(dir, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -1;
}

static int write_manifest(const char *path, const frames *fs, ivcs_vcodec_e vc)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "ivcs mux: %s: cannot create: %s\n", path, strerror(errno));
        return -1;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL;
    for (size_t i = 0; ok && i < fs->n; i++) {
        const ivcs_ts_frame_s *fr = &fs->f[i];
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned int mdlen = 0;
        int aud = fr->stream == IVCS_TS_VIDEO && ivcs_ts_needs_aud(vc, fr->data, fr->len);
        ok = EVP_DigestInit_ex(ctx, EVP_md5(), NULL) == 1 &&
             (!aud || EVP_DigestUpdate(ctx, ivcs_ts_h264_aud, IVCS_TS_H264_AUD_LEN) == 1) &&
             EVP_DigestUpdate(ctx, fr->data, fr->len) == 1 &&
             EVP_DigestFinal_ex(ctx, md, &mdlen) == 1;
        if (!ok) break;
        fprintf(f, "%s %" PRIu64 " %u ", fr->stream == IVCS_TS_VIDEO ? "video" : "audio", fs->ms[i],
                fr->len + (aud ? IVCS_TS_H264_AUD_LEN : 0));
        for (unsigned j = 0; j < mdlen; j++)
            fprintf(f, "%02x", md[j]);
        fputc('\n', f);
    }
    EVP_MD_CTX_free(ctx);
    if (fclose(f) != 0) ok = 0;
    if (!ok) fprintf(stderr, "ivcs mux: %s: writing the manifest failed\n", path);
    return ok ? 0 : -1;
}

static int parse_u64(const char *s, uint64_t *v, int base)
{
    if (!s || !*s || *s == '-') return -1;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, base);
    if (errno || *end) return -1;
    *v = x;
    return 0;
}

static int codec_from_name(const char *s, ivcs_vcodec_e *c)
{
    if (!strcmp(s, "h264") || !strcmp(s, "264") || !strcmp(s, "avc")) {
        *c = IVCS_CODEC_H264;
        return 0;
    }
    if (!strcmp(s, "h265") || !strcmp(s, "265") || !strcmp(s, "hevc")) {
        *c = IVCS_CODEC_H265;
        return 0;
    }
    return -1;
}

typedef struct {
    const char *video, *audio, *out, *manifest, *codec;
    uint64_t fps, slice_ms, start_ms, boot;
    int have_boot, quiet;
} options;

#define MUX_VALUED "--video --audio --out --manifest --codec --fps --slice-ms --start-ms --boot"

/* 0, or IVCS_EXIT_USAGE (printed). */
static int parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    o->slice_ms = 4000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (ivcs_cli_is_help(a)) {
            usage(stdout);
            exit(0);
        }
        if (!strcmp(a, "--quiet") || !strcmp(a, "-q")) {
            o->quiet = 1;
            continue;
        }
        if (i + 1 >= argc || a[0] != '-') return ivcs_cli_bad_option("mux", a, MUX_VALUED);
        const char *v = argv[++i];
        if (!strcmp(a, "--video")) {
            o->video = v;
        } else if (!strcmp(a, "--audio")) {
            o->audio = v;
        } else if (!strcmp(a, "--out")) {
            o->out = v;
        } else if (!strcmp(a, "--manifest")) {
            o->manifest = v;
        } else if (!strcmp(a, "--codec")) {
            o->codec = v;
        } else if (!strcmp(a, "--fps")) {
            if (parse_u64(v, &o->fps, 10) || o->fps < 1 || o->fps > 1000) {
                return ivcs_cli_usage_error("mux", "bad --fps '%s': expected an integer 1..1000", v);
            }
        } else if (!strcmp(a, "--slice-ms")) {
            if (parse_u64(v, &o->slice_ms, 10) || o->slice_ms < 1 || o->slice_ms > 86400000) {
                return ivcs_cli_usage_error("mux", "bad --slice-ms '%s': expected 1..86400000", v);
            }
        } else if (!strcmp(a, "--start-ms")) {
            if (parse_u64(v, &o->start_ms, 10) || o->start_ms > 9999999999999ull) {
                return ivcs_cli_usage_error("mux", "bad --start-ms '%s': expected 0..9999999999999",
                                            v);
            }
        } else if (!strcmp(a, "--boot")) {
            if (strlen(v) > 8 || parse_u64(v, &o->boot, 16)) {
                return ivcs_cli_usage_error("mux", "bad --boot '%s': expected 1..8 hex digits", v);
            }
            o->have_boot = 1;
        } else {
            return ivcs_cli_bad_option("mux", a, MUX_VALUED);
        }
    }
    if (!o->video) return ivcs_cli_usage_error("mux", "--video FILE is required");
    if (!o->fps) return ivcs_cli_usage_error("mux", "--fps N is required");
    if (!o->out) return ivcs_cli_usage_error("mux", "--out DIR is required");
    return 0;
}

int ivcs_cmd_mux(int argc, char **argv)
{
    double t0 = now_s();
    options o;
    if (parse_args(argc, argv, &o) != 0) return IVCS_EXIT_USAGE;
    ivcs_vcodec_e vc;
    const char *name = o.codec;
    if (!name) {
        const char *dot = strrchr(o.video, '.');
        name = dot ? dot + 1 : "";
    }
    if (codec_from_name(name, &vc) != 0) {
        if (o.codec) return ivcs_cli_usage_error("mux", "bad --codec '%s' (h264 or h265)", o.codec);
        return ivcs_cli_usage_error("mux", "cannot tell the codec from '%s': use --codec", o.video);
    }

    int rc = 1;
    ivcs_media_file_s vin = {0}, ain = {0};
    ivcs_media_video_s vit;
    ivcs_media_audio_s ait;
    frames fs = {0};
    uint8_t *buf = NULL;
    int dirfd = -1;

    if (ivcs_media_file_map(&vin, "mux", o.video) != 0) goto done;
    if (o.audio && ivcs_media_file_map(&ain, "mux", o.audio) != 0) goto done;
    if (ivcs_media_video_begin(&vit, &vin, vc, (double)o.fps, 1) != 0) goto done;
    ivcs_media_audio_begin(&ait, o.audio ? &ain : NULL, 1);

    /* Interleave by PTS, audio first when equal (as the seed's sample). */
    ivcs_media_vframe_s vf;
    ivcs_media_aframe_s af;
    int hv = ivcs_media_video_next(&vit, &vf), ha = ivcs_media_audio_next(&ait, &af);
    while ((hv > 0 || ha > 0) && hv >= 0 && ha >= 0) {
        if (ha > 0 && (hv <= 0 || af.pts_ms <= vf.pts_ms)) {
            if (frames_add(&fs, (ivcs_ts_frame_s){af.data, af.len, IVCS_TS_AUDIO, 0, af.pts_ms * 90},
                           af.pts_ms) != 0)
                goto oom;
            ha = ivcs_media_audio_next(&ait, &af);
        } else {
            if (frames_add(&fs,
                           (ivcs_ts_frame_s){vf.data, vf.len, IVCS_TS_VIDEO, vf.info.is_key,
                                             vf.pts_ms * 90},
                           vf.pts_ms) != 0)
                goto oom;
            hv = ivcs_media_video_next(&vit, &vf);
        }
    }
    if (hv < 0 || ha < 0) goto done;
    size_t nv = (size_t)vit.n, na = (size_t)ait.n;
    /* Where the stream ends: the next frame's PTS, for whichever stream
     * ends later (the last slice's duration runs to it). */
    uint64_t end_ms = ivcs_media_video_pts_ms(nv, (double)o.fps);
    if (ivcs_media_audio_end_ms(&ait) > end_ms) end_ms = ivcs_media_audio_end_ms(&ait);

    if (o.manifest && write_manifest(o.manifest, &fs, vc) != 0) goto done;

    if (mkdir_p(o.out) != 0) {
        fprintf(stderr, "ivcs mux: %s: cannot create directory: %s\n", o.out, strerror(errno));
        goto done;
    }
    dirfd = open(o.out, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        fprintf(stderr, "ivcs mux: %s: %s\n", o.out, strerror(errno));
        goto done;
    }
    if (!o.have_boot) {
        uint32_t b;
        if (getrandom(&b, sizeof b, 0) != (ssize_t)sizeof b)
            b = (uint32_t)time(NULL) ^ (uint32_t)getpid();
        o.boot = b;
    }
    buf = malloc(OUT_BUF);
    if (!buf) goto oom;

    ivcs_ts_mux_s mux;
    if (ivcs_ts_mux_init(&mux, vc, na ? IVCS_ACODEC_AAC : IVCS_ACODEC_NONE) != 0) goto done;
    uint64_t total_bytes = 0, in_bytes = 0, seq = 0;
    size_t start = 0;
    while (start < fs.n) {
        /* The slice runs to the first video I-frame at or after start +
         * slice_ms; audio frames just before it with the same PTS (they
         * sort first on a tie) move along, so a slice holds [start, next). */
        size_t end = start + 1;
        for (; end < fs.n; end++) {
            const ivcs_ts_frame_s *f = &fs.f[end];
            if (f->stream == IVCS_TS_VIDEO && f->key && fs.ms[end] >= fs.ms[start] + o.slice_ms)
                break;
        }
        if (end < fs.n) {
            size_t cut = end;
            while (cut - 1 > start && fs.f[cut - 1].stream == IVCS_TS_AUDIO &&
                   fs.ms[cut - 1] >= fs.ms[end])
                cut--;
            end = cut;
        }
        uint64_t s_ms = fs.ms[start];
        uint64_t e_ms = end < fs.n ? fs.ms[end] : end_ms;
        int key = 0;
        for (size_t i = start; i < end; i++)
            if (fs.f[i].stream == IVCS_TS_VIDEO) {
                key = fs.f[i].key;
                break;
            }
        char fname[128];
        snprintf(fname, sizeof fname, "%013" PRIu64 "_%" PRIu64 "_%08" PRIx64 "_%" PRIu64 "%c.ts",
                 s_ms + o.start_ms, e_ms - s_ms, o.boot, seq, key ? 'k' : 'p');

        ivcs_ts_array_src_s arr;
        ivcs_ts_src_s src;
        ivcs_ts_array_src_init(&src, &arr, fs.f + start, end - start);
        int64_t predicted = ivcs_ts_slice_size(&mux, &src);
        if (predicted < 0) {
            fprintf(stderr, "ivcs mux: slice %" PRIu64 ": %s\n", seq,
                    ivcs_strerror((int)predicted));
            goto done;
        }
        int fd = openat(dirfd, fname, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0) {
            fprintf(stderr, "ivcs mux: %s/%s: cannot create: %s\n", o.out, fname, strerror(errno));
            goto done;
        }
        ivcs_ts_slice_s sl;
        int64_t got, written = 0;
        if (ivcs_ts_slice_begin(&mux, &sl, &src) != 0) {
            close(fd);
            goto done;
        }
        while ((got = ivcs_ts_slice_read(&sl, buf, OUT_BUF)) > 0) {
            if (write_all(fd, buf, (size_t)got) != 0) {
                fprintf(stderr, "ivcs mux: %s/%s: write: %s\n", o.out, fname, strerror(errno));
                close(fd);
                goto done;
            }
            written += got;
        }
        if (close(fd) != 0) {
            fprintf(stderr, "ivcs mux: %s/%s: close: %s\n", o.out, fname, strerror(errno));
            goto done;
        }
        if (got < 0) {
            fprintf(stderr, "ivcs mux: %s/%s: %s\n", o.out, fname, ivcs_strerror((int)got));
            goto done;
        }
        if (written != predicted) {
            fprintf(stderr,
                    "ivcs mux: BUG: %s/%s: predicted %" PRId64 " bytes but wrote %" PRId64 "\n",
                    o.out, fname, predicted, written);
            goto done;
        }
        if (ivcs_ts_slice_end(&mux, &sl) != 0) goto done;
        for (size_t i = start; i < end; i++)
            in_bytes += fs.f[i].len;
        total_bytes += (uint64_t)written;
        seq++;
        start = end;
    }
    double dt = now_s() - t0;
    if (!o.quiet)
        printf("muxed %zu video + %zu audio frames (%" PRIu64 " bytes) into %" PRIu64
               " slices, %" PRIu64 " bytes, in %s, %.1f ms (%.0f MB/s of input)\n",
               nv, na, in_bytes, seq, total_bytes, o.out, dt * 1e3,
               dt > 0 ? (double)in_bytes / dt / 1e6 : 0.0);
    rc = 0;
    goto done;
oom:
    fprintf(stderr, "ivcs mux: out of memory\n");
done:
    if (dirfd >= 0) close(dirfd);
    free(buf);
    free(fs.f);
    free(fs.ms);
    ivcs_media_file_unmap(&vin);
    ivcs_media_file_unmap(&ain);
    return rc;
}
