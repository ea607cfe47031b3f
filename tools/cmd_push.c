/*
 * cmd_push.c - `ivcs push`: a sample firmware loop. Splits raw Annex-B video
 * (and ADTS AAC, or raw G.711 A-law/mu-law or s16le PCM audio in frames of
 * exactly 1024 samples per channel, the firmware rule for those formats)
 * into frames, gives them the seed sample's timestamps (video i*1000/fps
 * ms, audio samples*1000/rate ms, continuing across --loop repetitions),
 * and pushes them, interleaved by time, through
 * iv_cs_* (one channel) or the native API (--channels N > 1), paced by
 * timestamp (--realtime, --speed X) or as fast as the engine takes them
 * (--speed max: the loop waits while a ring is more than half full, as a
 * firmware with a deep encoder queue would, so nothing is lost). Events
 * are started and stopped at media times (--event ID:START_S:STOP_S) with
 * an optional pre-record (--prerecord S) and --picture as the JPEG.
 *
 * Every callback is printed as "cb <name> ..." on stdout in the order it
 * ran; at the end one line "result {json}" says what landed. --dry-run
 * stops after the split: it prints the init format and every frame it
 * would push, touching neither the engine nor the network (no --config).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/viewer/catalog.h"
#include "engine/layout/layout.h"
#include "engine/layout/plan.h"
#include "iv_cs.h"
#include "ivcs.h"
#include "tools/cli_common.h"
#include "tools/commands.h"
#include "tools/media_split.h"

#define MAX_EVENTS 32

typedef struct {
    const uint8_t *p;
    uint32_t len;
    uint64_t pts; /* ms from clip start */
    int video, key;
} frame_t;

typedef struct {
    int id;
    double start_s, stop_s;
    int started, stopped;
} ev_t;

static uint8_t *g_pic;
static int32_t g_pic_len;
static pthread_mutex_t g_out = PTHREAD_MUTEX_INITIALIZER;
static volatile int g_streaming;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pthread_mutex_lock(&g_out);
    vprintf(fmt, ap);
    fflush(stdout);
    pthread_mutex_unlock(&g_out);
    va_end(ap);
}

static int32_t seed_start(void)
{
    g_streaming = 1;
    say("cb stream_start\n");
    return 0;
}
static int32_t seed_stop(void)
{
    g_streaming = 0;
    say("cb stream_stop\n");
    return 0;
}
static int32_t seed_capture(int32_t id, uint8_t **pic, int32_t *size)
{
    say("cb capture_picture %d\n", id);
    *pic = g_pic;
    *size = g_pic ? g_pic_len : 0;
    return 0;
}
static int32_t seed_result(uint8_t **pic, int32_t err)
{
    say("cb picture_result %d %s\n", err, pic && *pic == g_pic ? "same" : "other");
    return 0;
}
static int32_t nat_start(void *u, uint32_t ch)
{
    (void)u;
    say("cb stream_start ch%u\n", ch);
    g_streaming = 1;
    return 0;
}
static int32_t nat_stop(void *u, uint32_t ch)
{
    (void)u;
    say("cb stream_stop ch%u\n", ch);
    return 0;
}
static int32_t nat_capture(void *u, uint32_t ch, int32_t id, uint8_t **pic, int32_t *size)
{
    (void)u;
    say("cb capture_picture %d ch%u\n", id, ch);
    *pic = g_pic;
    *size = g_pic ? g_pic_len : 0;
    return 0;
}
static int32_t nat_result(void *u, uint32_t ch, uint8_t **pic, int32_t err)
{
    (void)u;
    (void)pic;
    say("cb picture_result %d ch%u\n", err, ch);
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_s(double s)
{
    if (s <= 0) return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

static void usage(FILE *o)
{
    fprintf(o,
            "usage: ivcs push --config FILE --video F.h264|F.h265 [--audio F] --fps N\n"
            "                 [--audio-format aac|alaw|ulaw|pcm] [--audio-rate HZ]\n"
            "                 [--audio-channels 1|2] [--codec h264|h265]\n"
            "                 [--realtime | --speed X | --speed max] [--loop K]\n"
            "                 [--event ID:START_S:STOP_S ...] [--prerecord S]\n"
            "                 [--picture F.jpg] [--channels N] [--gop-size BYTES]\n"
            "                 [--wait-plan S] [--dry-run]\n"
            "\n"
            "A sample firmware loop over iv_cs_* (the native API when --channels > 1).\n"
            "Callbacks print 'cb ...' lines; the last line is 'result {json}'.\n"
            "\n"
            "--fps N: video frame rate (1..1000); frame i gets PTS i*1000/N ms.\n"
            "--codec: the video codec when the extension (.h264 .264 / .h265 .265 .hevc)\n"
            "does not say it. Only I- and P-frames can be pushed: other access units\n"
            "(B-frames) are not pushed and are counted as refused.\n"
            "--realtime: push at the media's pace (the default, = --speed 1); --speed X:\n"
            "X times faster; --speed max: as fast as the engine takes frames (waits while\n"
            "a ring is over half full, as a firmware with a deep encoder queue would).\n"
            "--loop K: push the clip K times (default 1), timestamps continuing.\n"
            "--event ID:START_S:STOP_S: start event ID (1..16) at START_S and stop it at\n"
            "STOP_S seconds of media time (repeatable, up to 32). --prerecord S: seconds\n"
            "of recording before each event start (default 0). --picture F.jpg: the JPEG\n"
            "the capture-picture callback hands over for each event.\n"
            "--channels N: push the same media to N channels (1..256) of one engine.\n"
            "--gop-size BYTES: the ring budget per channel (default 4194304; a multiple\n"
            "of 4096, at least 65536).\n"
            "--wait-plan S: wait up to S seconds (default 20) for the device's plan\n"
            "before pushing. Without a plan then, plan.json is read once (at most 15 s):\n"
            "missing -> 'no plan: run `ivcs plan set`' (the push goes on, its frames are\n"
            "refused until a plan arrives); endpoint unreachable, TLS or credentials\n"
            "refused -> the reason, nothing is pushed, exit 1.\n"
            "--audio: ADTS AAC, or raw G.711 A-law / mu-law or s16le PCM pushed in frames\n"
            "of exactly 1024 samples per channel (a partial last frame is left out, with a\n"
            "note). The format comes from the extension (.aac .adts, .alaw, .ulaw .mulaw,\n"
            ".s16le .pcm) or --audio-format. Raw formats only: --audio-rate (default 8000;\n"
            "8000 11025 12000 16000 22050 24000 32000 44100 48000) and --audio-channels\n"
            "(default 1; 2 = interleaved L/R); AAC refuses them (its headers say both).\n"
            "--dry-run: split and print 'init ...' and one 'frame v|a SEQ PTS_MS LEN OFFSET'\n"
            "line per push (all loops), then 'result {json}'; no engine, no network, no\n"
            "--config needed.\n"
            "Every frame read is pushed or refused: 'refused' in the result counts the\n"
            "others, 'refused_by' gives their reasons (also on stderr).\n"
            "exit: 0 every frame pushed and nothing dropped; 1 error (files, config,\n"
            "engine, endpoint unreachable) or frames dropped; 2 usage; 3 frames refused\n"
            "(no plan, B-frames, ...: see refused_by).\n");
}

/* "--audio-rate"/"--audio-channels" values: a decimal number, nothing else. */
static int parse_u32(const char *s, uint32_t *out)
{
    if (!s || *s < '0' || *s > '9') return -1;
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || errno || v > UINT32_MAX) return -1;
    *out = (uint32_t)v;
    return 0;
}

/* The audio options, checked before anything is opened: the format
 * (--audio-format, else the extension) into *afmt, and for the raw formats
 * the rate and channels. 0, or 2 (usage error, printed). The raw-only
 * options are refused with AAC (its ADTS headers carry rate and channels,
 * so a value there would be silently ignored) and without --audio. */
static int audio_opts(const char *audio, const char *fmt_s, const char *rate_s, const char *ch_s,
                      int *afmt, uint32_t *rate, uint32_t *ch)
{
    if (!audio) {
        const char *o = fmt_s ? "--audio-format" : rate_s ? "--audio-rate" : "--audio-channels";
        if (!fmt_s && !rate_s && !ch_s) return 0;
        return ivcs_cli_usage_error("push", "%s needs --audio", o);
    }
    *afmt = fmt_s ? ivcs_media_afmt_parse(fmt_s) : ivcs_media_afmt_of_path(audio);
    if (*afmt < 0 && fmt_s) {
        return ivcs_cli_usage_error("push", "bad --audio-format %s (aac, alaw, ulaw or pcm)",
                                    fmt_s);
    }
    if (*afmt < 0) {
        return ivcs_cli_usage_error("push",
                                    "%s: cannot tell the audio format from the file name (.aac "
                                    ".adts .alaw .ulaw .mulaw .s16le .pcm); use --audio-format "
                                    "aac|alaw|ulaw|pcm",
                                    audio);
    }
    if (*afmt == IVCS_MEDIA_AFMT_AAC) {
        if (!rate_s && !ch_s) return 0;
        return ivcs_cli_usage_error("push",
                                    "%s is ADTS AAC: --audio-rate and --audio-channels are for "
                                    "raw G.711/PCM only (ADTS headers carry the rate and channels)",
                                    audio);
    }
    *rate = 8000;
    *ch = 1;
    if (rate_s && (parse_u32(rate_s, rate) < 0 || !ivcs_media_raw_rate_ok(*rate))) {
        return ivcs_cli_usage_error("push",
                                    "bad --audio-rate %s (G.711/PCM: 8000, 11025, 12000, 16000, "
                                    "22050, 24000, 32000, 44100 or 48000)",
                                    rate_s);
    }
    if (ch_s && (parse_u32(ch_s, ch) < 0 || (*ch != 1 && *ch != 2))) {
        return ivcs_cli_usage_error("push", "bad --audio-channels %s (1 or 2)", ch_s);
    }
    return 0;
}

static int by_time(const void *a, const void *b)
{
    const frame_t *x = a, *y = b;
    if (x->pts != y->pts) return x->pts < y->pts ? -1 : 1;
    if (x->video != y->video) return x->video ? 1 : -1; /* audio first on a tie */
    return x < y ? -1 : 1;
}

/* --dry-run: the init format, then every frame the push loop would push,
 * in its order and with its PTS (ms from the clip start, loops included),
 * length and byte offset in its file, then a result line. 0. */
static int dry_run_print(const iv_cm_av_data_info_s *fmt, const frame_t *fr, size_t n, int loops,
                         uint64_t clip_ms, const ivcs_media_file_s *vf, const ivcs_media_file_s *af,
                         uint64_t nv, uint64_t na, const char *aname, uint64_t refused)
{
    say("init video=%d size=%ux%u fps=%u audio=%d rate=%u mode=%d bitwidth=%d samples=%u\n",
        (int)fmt->eVideoType, fmt->u32VideoWidth, fmt->u32VideoHeight, fmt->u32Framerate,
        (int)fmt->eAudioType, (unsigned)fmt->eAudioSampleRate, (int)fmt->eAudioMode,
        (int)fmt->eAudioBitWidth, fmt->u32SampleNumPerFrame);
    for (int k = 0; k < loops; k++)
        for (size_t i = 0; i < n; i++)
            say("frame %c %zu %" PRIu64 " %u %zu\n", fr[i].video ? 'v' : 'a', i,
                (uint64_t)k * clip_ms + fr[i].pts, fr[i].len,
                (size_t)(fr[i].p - (fr[i].video ? vf->p : af->p)));
    say("result {\"dry_run\":true,\"video_frames\":%" PRIu64 ",\"audio_frames\":%" PRIu64
        ",\"audio_format\":\"%s\",\"clip_ms\":%" PRIu64 ",\"loops\":%d,\"refused\":%" PRIu64
        "}\n",
        nv * (uint64_t)loops, na * (uint64_t)loops, aname, clip_ms, loops, refused);
    return 0;
}

/* Why frames were not pushed: a code (engine or splitter) and how many. */
#define MAX_REASONS 16
typedef struct {
    int rc[MAX_REASONS];
    uint64_t n[MAX_REASONS];
    int count;
    uint64_t other; /* more distinct codes than the table holds */
} reasons_t;

static void refuse(reasons_t *r, int rc, uint64_t n)
{
    if (!n) return;
    for (int i = 0; i < r->count; i++)
        if (r->rc[i] == rc) {
            r->n[i] += n;
            return;
        }
    if (r->count == MAX_REASONS) {
        r->other += n;
        return;
    }
    r->rc[r->count] = rc;
    r->n[r->count++] = n;
}

/* No plan after the wait: one GET of plan.json (with its own
 * client) says why. 0: a plan that grants service is
 * there (the engine has not read it yet); 1: no plan, or one that grants no
 * service (hint printed); -1: the endpoint cannot be used (reason printed,
 * *why its code). Bounded: 3 s per attempt, IVCS_CATALOG_ATTEMPTS attempts
 * with at most 2 s between them. */
static int diagnose_plan(const char *config_path, int *why)
{
    ivcs_cli_s c;
    *why = IVCS_ERR_CONFIG;
    if (ivcs_cli_open(&c, "push", config_path) != 0) return -1;
    ivcs_s3_set_timeouts(c.s3, 3000, 3000);
    char key[IVCS_LAYOUT_KEY_MAX + 1];
    ivcs_s3_result err;
    memset(&err, 0, sizeof err);
    char *body = NULL;
    size_t len = 0;
    int rc = ivcs_layout_plan_key(&c.layout, key, sizeof key);
    if (rc >= 0) rc = ivcs_catalog_get_small(c.s3, key, 64 * 1024, &body, &len, &err);
    int ret;
    if (rc == IVCS_ERR_NOT_FOUND && strcmp(err.code, "NoSuchKey") &&
        strcmp(err.code, "NoSuchBucket")) {
        /* a 404 that is not S3's: something else answers at the endpoint */
        fprintf(stderr,
                "ivcs push: read the plan: %s answered HTTP %d%s%s for %s, not S3's NoSuchKey: "
                "is \"endpoint\" in %s an S3 endpoint?\n",
                c.cfg.endpoint, err.status, err.code[0] ? " " : "", err.code, key, config_path);
        *why = IVCS_ERR_S3;
        ret = -1;
    } else if (rc == IVCS_ERR_NOT_FOUND && !strcmp(err.code, "NoSuchKey")) {
        fprintf(stderr,
                "ivcs push: no plan: %s does not exist in bucket '%s', so the engine refuses "
                "every frame (IV_ERR_CS_APPLY_NO_SERVICE): run `ivcs plan set --config %s "
                "--type full_time`\n",
                key, c.cfg.bucket, config_path);
        ret = 1;
    } else if (rc < 0) {
        ivcs_cli_fail(&c, "read the plan", rc, &err);
        *why = rc;
        ret = -1;
    } else {
        ivcs_plan_s plan;
        int64_t now = (int64_t)time(NULL);
        if (ivcs_plan_parse(&plan, body, len, now) < 0) {
            fprintf(stderr, "ivcs push: no plan: %s is not a valid plan: run `ivcs plan set`\n",
                    key);
            ret = 1;
        } else if (ivcs_plan_service(&plan, now) == IVCS_SERVICE_NONE) {
            fprintf(stderr,
                    "ivcs push: the plan %s grants no service now (switched off, type none, "
                    "or expired): run `ivcs plan set`\n",
                    key);
            ret = 1;
        } else {
            ret = 0;
        }
    }
    free(body);
    ivcs_cli_close(&c);
    return ret;
}

#define PUSH_VALUED                                                                                \
    "--config --video --audio --audio-format --audio-rate --audio-channels --picture --codec "    \
    "--fps --loop --channels --gop-size --wait-plan --prerecord --speed --event"

/* "ID:START_S:STOP_S" -> *e. 0 or -1 (usage error printed). */
static int parse_event(const char *v, ev_t *e)
{
    int end = -1;
    if (sscanf(v, "%d:%lf:%lf%n", &e->id, &e->start_s, &e->stop_s, &end) != 3 ||
        end != (int)strlen(v) || e->id < IVCS_LAYOUT_EVENT_ID_MIN ||
        e->id > IVCS_LAYOUT_EVENT_ID_MAX || !(e->start_s >= 0) || !(e->stop_s >= e->start_s) ||
        e->stop_s > 1e9) {
        ivcs_cli_usage_error("push",
                             "bad --event '%s': expected ID:START_S:STOP_S (ID 1..16, 0 <= "
                             "START_S <= STOP_S)",
                             v);
        return -1;
    }
    e->started = e->stopped = 0;
    return 0;
}

int ivcs_cmd_push(int argc, char **argv)
{
    const char *config = NULL, *video = NULL, *audio = NULL, *picture = NULL, *codec = NULL;
    const char *afmt_s = NULL, *arate_s = NULL, *ach_s = NULL;
    double fps = 0, speed = 1.0, wait_plan = 20, prerecord = 0;
    int max_speed = 0, loops = 1, channels = 1, dry_run = 0;
    uint32_t gop = 4u << 20, n32;
    ev_t evs[MAX_EVENTS];
    int nev = 0;
    for (int i = 1; i < argc; i++) {
        if (ivcs_cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--realtime")) {
            speed = 1.0;
            max_speed = 0;
            continue;
        } else if (!strcmp(a, "--dry-run")) {
            dry_run = 1;
            continue;
        } else if (!v || a[0] != '-') {
            return ivcs_cli_bad_option("push", a, PUSH_VALUED);
        }
        i++;
        if (!strcmp(a, "--config")) config = v;
        else if (!strcmp(a, "--video")) video = v;
        else if (!strcmp(a, "--audio")) audio = v;
        else if (!strcmp(a, "--audio-format")) afmt_s = v;
        else if (!strcmp(a, "--audio-rate")) arate_s = v;
        else if (!strcmp(a, "--audio-channels")) ach_s = v;
        else if (!strcmp(a, "--picture")) picture = v;
        else if (!strcmp(a, "--codec")) {
            if (strcmp(v, "h264") && strcmp(v, "h265"))
                return ivcs_cli_usage_error("push", "bad --codec '%s' (h264 or h265)", v);
            codec = v;
        } else if (!strcmp(a, "--fps")) {
            if (ivcs_cli_number("push", a, v, 1, 1000, &fps) < 0) return IVCS_EXIT_USAGE;
        } else if (!strcmp(a, "--loop")) {
            if (ivcs_cli_u32("push", a, v, 1, 1000000, &n32) < 0) return IVCS_EXIT_USAGE;
            loops = (int)n32;
        } else if (!strcmp(a, "--channels")) {
            if (ivcs_cli_u32("push", a, v, 1, 256, &n32) < 0) return IVCS_EXIT_USAGE;
            channels = (int)n32;
        } else if (!strcmp(a, "--gop-size")) {
            if (ivcs_cli_u32("push", a, v, 65536, UINT32_MAX, &gop) < 0) return IVCS_EXIT_USAGE;
        } else if (!strcmp(a, "--wait-plan")) {
            if (ivcs_cli_number("push", a, v, 0, 3600, &wait_plan) < 0) return IVCS_EXIT_USAGE;
        } else if (!strcmp(a, "--prerecord")) {
            if (ivcs_cli_u32("push", a, v, 0, 3600, &n32) < 0) return IVCS_EXIT_USAGE;
            prerecord = n32;
        } else if (!strcmp(a, "--speed")) {
            if (!strcmp(v, "max")) {
                max_speed = 1;
            } else if (!v[0] || v[strspn(v, "0123456789.")]) {
                return ivcs_cli_usage_error(
                    "push", "bad --speed '%s': expected a number 0.01..1000 or 'max'", v);
            } else if (ivcs_cli_number("push", a, v, 0.01, 1000, &speed) < 0) {
                return IVCS_EXIT_USAGE;
            } else {
                max_speed = 0;
            }
        } else if (!strcmp(a, "--event")) {
            if (nev == MAX_EVENTS)
                return ivcs_cli_usage_error("push", "too many --event (at most %d)", MAX_EVENTS);
            if (parse_event(v, &evs[nev]) < 0) return IVCS_EXIT_USAGE;
            nev++;
        } else {
            return ivcs_cli_bad_option("push", a, PUSH_VALUED);
        }
    }
    if (!video) return ivcs_cli_usage_error("push", "--video FILE is required");
    if (fps <= 0) return ivcs_cli_usage_error("push", "--fps N is required");
    if (!config && !dry_run)
        return ivcs_cli_usage_error("push", "--config FILE is required (or --dry-run)");
    int afmt = IVCS_MEDIA_AFMT_AAC;
    uint32_t arate = 0, ach = 0;
    int u = audio_opts(audio, afmt_s, arate_s, ach_s, &afmt, &arate, &ach);
    if (u) return u;
    ivcs_config_s cfg;
    char cerr[200];
    if (!dry_run && ivcs_config_load(&cfg, config, cerr, sizeof cerr) < 0) {
        fprintf(stderr, "ivcs push: %s: %s\n", config, cerr);
        return 1;
    }
    ivcs_vcodec_e vc = IVCS_CODEC_H264;
    if ((codec && !strcmp(codec, "h265")) ||
        (!codec && (strstr(video, ".h265") || strstr(video, ".265") || strstr(video, ".hevc"))))
        vc = IVCS_CODEC_H265;
    ivcs_media_file_s vfile, afile = {0};
    if (ivcs_media_file_map(&vfile, "push", video) < 0) return 1;
    if (audio && ivcs_media_file_map(&afile, "push", audio) < 0) return 1;
    if (picture) {
        ivcs_media_file_s pf; /* mapped for the whole run */
        if (ivcs_media_file_map(&pf, "push", picture) < 0) return 1;
        g_pic = (uint8_t *)pf.p;
        g_pic_len = (int32_t)pf.len;
    }
    /* split: AUs without frame info are skipped, audio ends at the first bad
     * ADTS frame (a firmware pushes what it can); both are counted as
     * refused below */
    size_t cap = vfile.len / 64 + afile.len / 4 + 1024, n = 0;
    frame_t *fr = malloc(cap * sizeof *fr);
    if (!fr) return 1;
    ivcs_frame_info_s first = {0};
    ivcs_media_video_s vit;
    ivcs_media_vframe_s vf;
    (void)ivcs_media_video_begin(&vit, &vfile, vc, fps, 0);
    int r;
    while ((r = ivcs_media_video_next(&vit, &vf)) > 0) {
        if (!vf.index) first = vf.info;
        if (n == cap) fr = realloc(fr, (cap *= 2) * sizeof *fr);
        fr[n++] = (frame_t){vf.data, vf.len, vf.pts_ms, 1, vf.info.is_key};
    }
    if (r < 0) return 1;
    uint64_t nv = vit.n, nskip = vit.skipped;
    ivcs_media_audio_s ait = {0};
    ivcs_media_aframe_s af;
    uint64_t na, a_end_ms;
    int raw = audio && afmt != IVCS_MEDIA_AFMT_AAC;
    if (raw) {
        /* G.711/PCM: whole 1024-sample frames only, a short file is an error */
        ivcs_media_raw_s rit;
        if (ivcs_media_raw_begin(&rit, &afile, (ivcs_media_afmt_e)afmt, arate, ach) < 0) return 1;
        while (ivcs_media_raw_next(&rit, &af) > 0) {
            if (n == cap) fr = realloc(fr, (cap *= 2) * sizeof *fr);
            fr[n++] = (frame_t){af.data, af.len, af.pts_ms, 0, 0};
        }
        na = rit.n;
        a_end_ms = ivcs_media_raw_end_ms(&rit);
    } else {
        ivcs_media_audio_begin(&ait, audio ? &afile : NULL, 0);
        while (ivcs_media_audio_next(&ait, &af) > 0) {
            if (n == cap) fr = realloc(fr, (cap *= 2) * sizeof *fr);
            fr[n++] = (frame_t){af.data, af.len, af.pts_ms, 0, 0};
        }
        na = ait.n;
        a_end_ms = ivcs_media_audio_end_ms(&ait);
    }
    /* what the clip holds that cannot be pushed: per loop and channel */
    reasons_t why = {0};
    uint64_t per_run = (uint64_t)loops * (uint64_t)channels;
    if (nskip) {
        refuse(&why, vit.skip_rc, nskip * per_run);
        fprintf(stderr,
                "ivcs push: %s: %" PRIu64 " of %" PRIu64 " video frames cannot be pushed (%s, "
                "first: frame %" PRIu64 "): counted as refused\n",
                video, nskip, nv + nskip, ivcs_strerror(vit.skip_rc), vit.skip_first);
    }
    if (!raw && ait.tail_bytes) {
        /* the unparsable rest of the file counts as one refused frame */
        refuse(&why, ait.tail_rc, per_run);
        fprintf(stderr,
                "ivcs push: %s: the last %zu bytes are not ADTS frames (%s): not pushed, counted "
                "as one refused frame\n",
                audio, ait.tail_bytes, ivcs_strerror(ait.tail_rc));
    }
    qsort(fr, n, sizeof *fr, by_time);
    /* a loop starts after the longer of the two streams, so PTS never go back */
    uint64_t clip_ms = ivcs_media_video_pts_ms(nv, fps);
    if (na && a_end_ms + 1 > clip_ms) clip_ms = a_end_ms + 1;

    iv_cm_av_data_info_s fmt = {0};
    fmt.eVideoType = vc == IVCS_CODEC_H265 ? IV_CM_VENC_TYPE_H265 : IV_CM_VENC_TYPE_H264;
    fmt.u32VideoWidth = first.width;
    fmt.u32VideoHeight = first.height;
    fmt.u32Framerate = (uint32_t)fps;
    if (na && raw) {
        /* the engine transcodes these to AAC; rate and channels only from here */
        fmt.eAudioType = afmt == IVCS_MEDIA_AFMT_ALAW   ? IV_CM_AENC_TYPE_G711A
                         : afmt == IVCS_MEDIA_AFMT_ULAW ? IV_CM_AENC_TYPE_G711U
                                                        : IV_CM_AENC_TYPE_PCM;
        fmt.eAudioSampleRate = (iv_cm_aenc_sample_rate_e)arate;
        fmt.eAudioMode = ach == 2 ? IV_CM_AENC_MODE_STEREO : IV_CM_AENC_MODE_MONO;
        fmt.eAudioBitWidth = IV_CM_AENC_BIT_WIDTH_16;
        fmt.u32SampleNumPerFrame = IVCS_MEDIA_RAW_FRAME_SAMPLES;
    } else if (na) {
        ivcs_adts_hdr_s ah = ait.first;
        fmt.eAudioType = IV_CM_AENC_TYPE_AAC;
        fmt.u32AudioCodecOption = IV_CM_AAC_TYPE_LC;
        fmt.eAudioSampleRate = (iv_cm_aenc_sample_rate_e)ah.sample_rate;
        fmt.eAudioMode = ah.channel_config == 2 ? IV_CM_AENC_MODE_STEREO : IV_CM_AENC_MODE_MONO;
        fmt.eAudioBitWidth = IV_CM_AENC_BIT_WIDTH_16;
        fmt.u32SampleNumPerFrame = 1024;
    } else {
        /* no audio: the zeroed format (PCM at 0 Hz) is the engine's
         * video-only camera; any other G.711/PCM format needs a real rate */
        fmt.eAudioType = IV_CM_AENC_TYPE_PCM;
    }

    if (dry_run) {
        uint64_t nref = why.other;
        for (int k = 0; k < why.count; k++)
            nref += why.n[k];
        (void)dry_run_print(&fmt, fr, n, loops, clip_ms, &vfile, &afile, nv, na,
                            audio ? ivcs_media_afmt_name((ivcs_media_afmt_e)afmt) : "none", nref);
        free(fr);
        return nref ? 3 : 0;
    }

    ivcs_engine_s *eng = NULL;
    ivcs_channel_s *chs[256];
    if (channels > 256) channels = 256;
    int rc;
    if (channels == 1) {
        ivcs_set_default_config(&cfg);
        iv_cs_init_parm_s p = {.u32MaxGopSize = gop, .av_fmt = fmt,
                               .iv_cs_push_stream_start_cb = seed_start,
                               .iv_cs_push_stream_stop_cb = seed_stop,
                               .iv_cs_event_capture_picture_cb = seed_capture,
                               .iv_cs_event_picture_result_cb = seed_result};
        rc = iv_cs_init(&p);
        if (rc) {
            ivcs_cli_init_fail("push", "iv_cs_init", rc);
            return 1;
        }
        eng = ivcs_default_engine();
        chs[0] = ivcs_default_channel();
    } else {
        ivcs_engine_config_s ec;
        ivcs_engine_config_defaults(&ec);
        ec.cloud = cfg;
        ec.max_channels = (uint32_t)channels;
        rc = ivcs_engine_new(&eng, &ec);
        if (rc < 0) {
            ivcs_cli_init_fail("push", "engine", rc);
            return 1;
        }
        ivcs_channel_config_s cc = {.max_gop_size = gop, .av_fmt = fmt};
        cc.cb = (ivcs_channel_callbacks_s){nat_start, nat_stop, nat_capture, nat_result, NULL, NULL};
        for (int c = 0; c < channels; c++) {
            rc = ivcs_channel_open(eng, &cc, &chs[c]);
            if (rc < 0) {
                fprintf(stderr, "ivcs push: channel %d: %s\n", c, ivcs_strerror(rc));
                ivcs_engine_destroy(eng);
                return 1;
            }
        }
    }
    ivcs_engine_stats_s es0;
    ivcs_engine_stats(eng, &es0);
    ivcs_cli_io_backend("push", es0.io_backend, es0.io_note);
    /* wait for a plan: full-time starts the stream; an event plan allows events */
    double t0 = now_s();
    iv_cs_balance_info_s bal = {0};
    while (now_s() - t0 < wait_plan) {
        ivcs_engine_get_balance_info(eng, &bal, 0);
        if (g_streaming || (bal.cs_switch && (nev || bal.cs_type == CS_TYPE_EVENT))) break;
        sleep_s(0.05);
    }
    say("plan switch=%d type=%d streaming=%d\n", bal.cs_switch, (int)bal.cs_type, g_streaming);
    int no_plan = 0, unusable = 0, urc = 0;
    if (!g_streaming && !bal.cs_switch) {
        int d = diagnose_plan(config, &urc);
        no_plan = d == 1;
        unusable = d < 0;
    }

    uint64_t base = (uint64_t)time(NULL) * 1000; /* PTS like a firmware clock */
    uint64_t pushed = 0, refused = 0, full_waits = 0;
    double start = now_s();
    if (unusable) {
        /* nothing can be recorded: every frame is refused with the reason */
        refuse(&why, urc, (uint64_t)n * per_run);
        loops = 0;
    }
    for (int k = 0; k < loops; k++) {
        for (size_t i = 0; i < n; i++) {
            uint64_t t = (uint64_t)k * clip_ms + fr[i].pts;
            double ts = (double)t / 1000.0;
            for (int e = 0; e < nev; e++) {
                if (!evs[e].started && ts >= evs[e].start_s) {
                    evs[e].started = 1;
                    for (int c = 0; c < channels; c++) {
                        int r;
                        if (channels == 1)
                            r = prerecord > 0 ? iv_cs_event_start_ext(evs[e].id, 0, (uint32_t)prerecord)
                                              : iv_cs_event_start(evs[e].id);
                        else
                            r = ivcs_channel_event_start(chs[c], evs[e].id, 0, (uint32_t)prerecord);
                        say("event_start %d ch%d -> %d\n", evs[e].id, c, r);
                    }
                }
                if (evs[e].started && !evs[e].stopped && ts >= evs[e].stop_s) {
                    evs[e].stopped = 1;
                    for (int c = 0; c < channels; c++)
                        say("event_stop %d ch%d -> %d\n", evs[e].id, c,
                            channels == 1 ? iv_cs_event_stop(evs[e].id)
                                          : ivcs_channel_event_stop(chs[c], evs[e].id, 0, 0));
                }
            }
            if (!max_speed) sleep_s(start + ts / speed - now_s());
            for (int c = 0; c < channels; c++) {
                if (max_speed) {
                    ivcs_channel_stats_s st;
                    /* wait (at most 2 s per frame) while uploads free room */
                    for (double w0 = now_s(); now_s() - w0 < 2.0;) {
                        ivcs_channel_stats(chs[c], &st);
                        if (st.video_ring_fill_pct < 50 && st.audio_ring_fill_pct < 50) break;
                        full_waits++;
                        sleep_s(0.002);
                    }
                }
                if (fr[i].video) {
                    iv_cm_venc_pack_s pk = {(uint8_t *)fr[i].p, fr[i].len, base + t,
                                            fr[i].key ? IV_CM_FRAME_TYPE_I : IV_CM_FRAME_TYPE_P,
                                            (uint32_t)i};
                    rc = channels == 1 ? iv_cs_push_stream(IV_CM_STREAM_TYPE_VIDEO, &pk)
                                       : ivcs_channel_push_video(chs[c], &pk);
                } else {
                    iv_cm_aenc_pack_s pk = {.pu8Addr = (uint8_t *)fr[i].p, .u32Len = fr[i].len,
                                            .u64PTS = base + t, .u32Seq = (uint32_t)i};
                    rc = channels == 1 ? iv_cs_push_stream(IV_CM_STREAM_TYPE_AUDIO, &pk)
                                       : ivcs_channel_push_audio(chs[c], &pk);
                }
                if (rc == 0) {
                    pushed++;
                } else {
                    refuse(&why, rc, 1);
                    if (refused++ < 5) say("push refused: %s (%d)\n", ivcs_strerror_name(rc), rc);
                }
            }
        }
    }
    for (int e = 0; e < nev; e++)
        if (evs[e].started && !evs[e].stopped)
            for (int c = 0; c < channels; c++) (void)ivcs_channel_event_stop(chs[c], evs[e].id, 0, 0);
    double push_s = now_s() - start;

    ivcs_channel_stats_s tot, st;
    memset(&tot, 0, sizeof tot);
    ivcs_engine_stats_s es;
    ivcs_engine_stats(eng, &es);
    if (channels == 1) {
        iv_cs_exit();
        ivcs_default_last_stats(&tot, &es);
    } else {
        ivcs_engine_stop(eng);
        ivcs_engine_stats(eng, &es); /* the spool as the engine left it */
        for (int c = 0; c < channels; c++) {
            ivcs_channel_stats(chs[c], &st);
            tot.video_frames_pushed += st.video_frames_pushed;
            tot.audio_frames_pushed += st.audio_frames_pushed;
            tot.audio_frames_encoded += st.audio_frames_encoded;
            tot.frames_uploaded += st.frames_uploaded;
            tot.bytes_uploaded += st.bytes_uploaded;
            tot.slices_uploaded += st.slices_uploaded;
            tot.slices_dropped += st.slices_dropped;
            tot.frames_dropped += st.frames_dropped;
            tot.frames_held += st.frames_held;
            tot.frames_spooled += st.frames_spooled;
            tot.slices_spooled += st.slices_spooled;
            tot.prerecord_discarded += st.prerecord_discarded;
            tot.retries += st.retries;
            tot.pictures_uploaded += st.pictures_uploaded;
            tot.event_records_written += st.event_records_written;
        }
        ivcs_engine_destroy(eng);
    }
    ivcs_layout_s l;
    char pfx[IVCS_LAYOUT_KEY_MAX + 1] = "";
    if (ivcs_layout_init(&l, cfg.prefix, cfg.device_id) == 0)
        (void)!ivcs_layout_dir_prefix(&l, 0, IVCS_LAYOUT_REC, pfx, sizeof pfx);
    /* every frame read: pushed or refused, with its reason */
    refused = why.other;
    char by[MAX_REASONS * 48 + 32] = "";
    size_t bl = 0;
    for (int k = 0; k < why.count; k++) {
        refused += why.n[k];
        bl += (size_t)snprintf(by + bl, sizeof by - bl, "%s\"%s\":%" PRIu64, k ? "," : "",
                               ivcs_strerror_name(why.rc[k]), why.n[k]);
    }
    if (why.other)
        snprintf(by + bl, sizeof by - bl, "%s\"other\":%" PRIu64, why.count ? "," : "", why.other);
    uint64_t frames_read = ((uint64_t)n + nskip + (!raw && ait.tail_bytes)) * per_run;
    if (refused) {
        fprintf(stderr, "ivcs push: %" PRIu64 " of %" PRIu64 " frames not pushed:\n", refused,
                frames_read);
        for (int k = 0; k < why.count; k++)
            fprintf(stderr, "  %" PRIu64 " %s: %s\n", why.n[k], ivcs_strerror_name(why.rc[k]),
                    ivcs_strerror(why.rc[k]));
        if (why.other) fprintf(stderr, "  %" PRIu64 " for other reasons\n", why.other);
        if (no_plan)
            fprintf(stderr, "ivcs push: no plan: run `ivcs plan set --config %s --type "
                            "full_time` (see above)\n", config);
    }
    say("result {\"frames_pushed\":%" PRIu64 ",\"video_frames_pushed\":%" PRIu64
        ",\"audio_frames_pushed\":%" PRIu64 ",\"audio_frames_encoded\":%" PRIu64
        ",\"refused\":%" PRIu64 ",\"frames_uploaded\":%" PRIu64 ",\"bytes_uploaded\":%" PRIu64
        ",\"slices\":%" PRIu64 ",\"slices_dropped\":%" PRIu64 ",\"frames_dropped\":%" PRIu64
        ",\"frames_held\":%" PRIu64 ",\"prerecord_discarded\":%" PRIu64 ",\"retries\":%" PRIu64 ",\"pictures\":%" PRIu64
        ",\"event_records\":%" PRIu64 ",\"boot\":\"%08x\",\"prefix\":\"%s\",\"push_s\":%.3f"
        ",\"full_waits\":%" PRIu64 ",\"channels\":%d,\"frames_read\":%" PRIu64
        ",\"refused_by\":{%s},\"io_backend\":\"%s\""
        ",\"frames_spooled\":%" PRIu64 ",\"slices_spooled\":%" PRIu64 ",\"spool\":{\"on\":%d"
        ",\"fault\":%d,\"entries\":%" PRIu64 ",\"bytes\":%" PRIu64 ",\"oldest_ms\":%" PRId64
        ",\"recovered\":%" PRIu64 ",\"discarded_corrupt\":%" PRIu64 ",\"evicted\":%" PRIu64
        ",\"backfill_slices\":%" PRIu64 ",\"backfill_frames\":%" PRIu64
        ",\"backfill_events\":%" PRIu64 ",\"backfill_pictures\":%" PRIu64 ",\"plan_cached\":%d}"
        ",\"integrity\":\"%s\",\"integrity_note\":\"%s\",\"integrity_failures\":%" PRIu64 ",\"clock_skew_s\":%d}\n",
        pushed, tot.video_frames_pushed, tot.audio_frames_pushed, tot.audio_frames_encoded,
        refused, tot.frames_uploaded, tot.bytes_uploaded, tot.slices_uploaded, tot.slices_dropped,
        tot.frames_dropped, tot.frames_held, tot.prerecord_discarded, tot.retries, tot.pictures_uploaded,
        tot.event_records_written, es.boot, pfx, push_s, full_waits, channels, frames_read, by,
        ivcs_io_backend_name(es.io_backend), tot.frames_spooled, tot.slices_spooled, es.spool_on,
        es.spool_fault, es.spool_entries, es.spool_bytes, es.spool_oldest_ms, es.spool_recovered,
        es.spool_discarded_corrupt, es.spool_evicted, es.backfill_slices, es.backfill_frames,
        es.backfill_events, es.backfill_pictures, es.plan_cached, ivcs_integrity_name(es.integrity),
        es.integrity_note, es.integrity_failures, (int)es.clock_skew_s);
    free(fr);
    if (unusable || tot.slices_dropped || tot.frames_dropped || tot.frames_held) return 1;
    return refused ? 3 : 0;
}
