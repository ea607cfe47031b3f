/*
 * test_push_threads.c - one channel fed from two firmware threads at once
 * (video from one, audio from the other) through the native API while the
 * engine thread slices and uploads, under ThreadSanitizer. A third thread
 * reads the stats and the main thread starts and stops events meanwhile,
 * so every cross-thread path of the push side runs: the rings' SPSC
 * protocol, the lazy wake-up (urgent / sleeping Dekker pair), the shared
 * counters, the need-IDR flag, the command queue. Any data race report
 * fails the test (TSAN_OPTIONS=halt_on_error=1 from ctest; exit code 66
 * otherwise). Also checked: every accepted frame lands (uploaded = pushed,
 * nothing dropped with a 4 MiB budget).
 *
 * Uploads go to an in-process HTTP/1.1 sink on loopback; the plan is fixed
 * (full time). Media: $IVCS_MEDIA_DIR, else ../media next to this binary
 * (build/tests/.. -> build/media, written by the media.make test).
 */
#include <arpa/inet.h>
#include <libgen.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "engine/codec/nalu.h"
#include "ivcs.h"

static int failures;
#define EXPECT(c)                                                                                  \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "%s:%d: failed: %s\n", __FILE__, __LINE__, #c);                        \
            failures++;                                                                            \
        }                                                                                          \
    } while (0)

/* ---------------------------------------------------------------- sink */
static int srv_fd;
static uint16_t srv_port;

static void *conn_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    size_t cap = 65536, have = 0;
    char *buf = malloc(cap), *sink = malloc(cap);
    for (;;) {
        char *end;
        while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
            if (have == cap) goto out;
            ssize_t r = recv(fd, buf + have, cap - have, 0);
            if (r <= 0) goto out;
            have += (size_t)r;
        }
        size_t hlen = (size_t)(end - buf) + 4;
        buf[hlen - 1] = 0;
        long long clen = 0;
        char *cl = strcasestr(buf, "\r\ncontent-length:");
        if (cl) clen = atoll(cl + 17);
        int get = !strncmp(buf, "GET ", 4);
        long long inbuf = (long long)(have - hlen), take = inbuf < clen ? inbuf : clen;
        memmove(buf, buf + hlen + take, (size_t)(inbuf - take));
        have = (size_t)(inbuf - take);
        for (long long left = clen - take; left > 0;) {
            ssize_t r = recv(fd, sink, left < (long long)cap ? (size_t)left : cap, 0);
            if (r <= 0) goto out;
            left -= r;
        }
        const char *resp = get ? "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
                               : "HTTP/1.1 200 OK\r\nETag: \"x\"\r\nContent-Length: 0\r\n\r\n";
        if (send(fd, resp, strlen(resp), MSG_NOSIGNAL) < 0) goto out;
    }
out:
    close(fd);
    free(buf);
    free(sink);
    return NULL;
}

static void *srv_main(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept(srv_fd, NULL, NULL);
        if (c < 0) return NULL;
        pthread_t t;
        pthread_create(&t, NULL, conn_main, (void *)(intptr_t)c);
        pthread_detach(t);
    }
}

static int srv_start(void)
{
    srv_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (srv_fd < 0 || bind(srv_fd, (struct sockaddr *)&a, sizeof a) || listen(srv_fd, 64))
        return -1;
    socklen_t l = sizeof a;
    getsockname(srv_fd, (struct sockaddr *)&a, &l);
    srv_port = ntohs(a.sin_port);
    pthread_t t;
    pthread_create(&t, NULL, srv_main, NULL);
    pthread_detach(t);
    return 0;
}

/* ---------------------------------------------------------------- media */
typedef struct {
    const uint8_t *p;
    uint32_t len;
    int key;
} frame_t;
static frame_t vf[400], af[800];
static int n_vf, n_af;

static uint8_t *slurp(const char *dir, const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *b = malloc(4 << 20);
    *len = fread(b, 1, 4 << 20, f);
    fclose(f);
    return b;
}

static int load_media(void)
{
    char dir[1024];
    const char *env = getenv("IVCS_MEDIA_DIR");
    if (env && *env) {
        snprintf(dir, sizeof dir, "%s", env);
    } else {
        char exe[900];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n <= 0) return -1;
        exe[n] = 0;
        snprintf(dir, sizeof dir, "%s/../media", dirname(exe));
    }
    size_t vlen = 0, alen = 0;
    uint8_t *v = slurp(dir, "clip_h264.h264", &vlen), *a = slurp(dir, "clip_aac.aac", &alen);
    if (!v || !a) {
        fprintf(stderr, "no media in %s (run the media.make test first)\n", dir);
        return -1;
    }
    for (size_t off = 0; off < vlen && n_vf < 400;) {
        int64_t l = ivcs_nalu_next_au(IVCS_CODEC_H264, v + off, vlen - off, 1);
        if (l <= 0) break;
        ivcs_frame_info_s fi;
        if (ivcs_nalu_frame_info(IVCS_CODEC_H264, v + off, (size_t)l, &fi) == 0)
            vf[n_vf++] = (frame_t){v + off, (uint32_t)l, fi.is_key};
        off += (size_t)l;
    }
    /* ADTS: frame_length is 13 bits from byte 3 */
    for (size_t off = 0; off + 7 <= alen && n_af < 800;) {
        if (a[off] != 0xFF || (a[off + 1] & 0xF0) != 0xF0) break;
        uint32_t fl = ((uint32_t)(a[off + 3] & 3) << 11) | ((uint32_t)a[off + 4] << 3) |
                      (uint32_t)(a[off + 5] >> 5);
        if (fl < 7 || off + fl > alen) break;
        af[n_af++] = (frame_t){a + off, fl, 0};
        off += fl;
    }
    return n_vf > 100 && n_af > 100 && vf[0].key ? 0 : -1;
}

/* ---------------------------------------------------------------- threads */
static ivcs_channel_s *g_ch;
static _Atomic int done_pushing;
static _Atomic int video_ok, audio_ok, video_err, audio_err;
enum { NV = 300 };

static void us_sleep(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000L};
    nanosleep(&ts, NULL);
}

static void *video_main(void *arg)
{
    (void)arg;
    for (int i = 0; i < NV; i++) {
        const frame_t *f = &vf[i % n_vf];
        iv_cm_venc_pack_s pk = {.pu8Addr = (uint8_t *)f->p,
                                .u32Len = f->len,
                                .u64PTS = 1000 + (uint64_t)i * 40,
                                .eFrameType = f->key ? IV_CM_FRAME_TYPE_I : IV_CM_FRAME_TYPE_P,
                                .u32Seq = (uint32_t)i};
        int rc;
        if (i % 2) {
            rc = ivcs_channel_push_video(g_ch, &pk);
        } else { /* zero-copy half */
            uint8_t *p;
            rc = ivcs_channel_reserve(g_ch, IV_CM_STREAM_TYPE_VIDEO, f->len, &p);
            if (rc == 0) {
                memcpy(p, f->p, f->len);
                rc = ivcs_channel_commit(g_ch, IV_CM_STREAM_TYPE_VIDEO, f->len, pk.u64PTS,
                                         pk.eFrameType, pk.u32Seq);
            }
        }
        atomic_fetch_add(rc == 0 ? &video_ok : &video_err, 1);
        if (rc) fprintf(stderr, "video push %d: %s\n", i, ivcs_strerror(rc));
        us_sleep(2000);
    }
    return NULL;
}

static void *audio_main(void *arg)
{
    (void)arg;
    /* 1024 samples at 48 kHz = 21.33 ms: as many as cover NV video frames */
    int na = NV * 40 * 48 / 1024;
    for (int i = 0; i < na; i++) {
        const frame_t *f = &af[i % n_af];
        iv_cm_aenc_pack_s pk = {.pu8Addr = (uint8_t *)f->p,
                                .u32Len = f->len,
                                .u64PTS = 1000 + (uint64_t)i * 1024 / 48,
                                .u32Seq = (uint32_t)i};
        int rc = ivcs_channel_push_audio(g_ch, &pk);
        atomic_fetch_add(rc == 0 ? &audio_ok : &audio_err, 1);
        if (rc) fprintf(stderr, "audio push %d: %s\n", i, ivcs_strerror(rc));
        us_sleep(1000);
    }
    return NULL;
}

static void *stats_main(void *arg)
{
    ivcs_engine_s *e = arg;
    uint64_t last = 0;
    while (!atomic_load(&done_pushing)) {
        ivcs_channel_stats_s st;
        ivcs_engine_stats_s es;
        ivcs_channel_stats(g_ch, &st);
        ivcs_engine_stats(e, &es);
        EXPECT(st.video_frames_pushed >= last); /* monotonic */
        last = st.video_frames_pushed;
        us_sleep(3000);
    }
    return NULL;
}

static int32_t cb_nop(void *u, uint32_t ch)
{
    (void)u;
    (void)ch;
    return 0;
}

int main(void)
{
    if (load_media() < 0 || srv_start() < 0) return 1;
    ivcs_engine_config_s ec;
    ivcs_engine_config_defaults(&ec);
    snprintf(ec.cloud.endpoint, sizeof ec.cloud.endpoint, "http://127.0.0.1:%u", srv_port);
    strcpy(ec.cloud.bucket, "ivcs");
    strcpy(ec.cloud.device_id, "tsan");
    strcpy(ec.cloud.access_key, "AK");
    strcpy(ec.cloud.secret_key, "SK");
    iv_cs_balance_info_s plan = {.cs_switch = 1, .cs_type = CS_TYPE_FULL_TIME, .cs_days = 7};
    ec.fixed_plan = &plan;
    ivcs_engine_s *e;
    if (ivcs_engine_new(&e, &ec) != 0) return 1;
    ivcs_channel_config_s cc;
    memset(&cc, 0, sizeof cc);
    cc.max_gop_size = 4 << 20;
    cc.av_fmt.eVideoType = IV_CM_VENC_TYPE_H264;
    cc.av_fmt.u32Framerate = 25;
    cc.av_fmt.eAudioType = IV_CM_AENC_TYPE_AAC;
    cc.av_fmt.eAudioSampleRate = IV_CM_AENC_SAMPLE_RATE_48000;
    cc.av_fmt.eAudioMode = IV_CM_AENC_MODE_STEREO;
    cc.cb.stream_start = cb_nop;
    cc.cb.stream_stop = cb_nop;
    if (ivcs_channel_open(e, &cc, &g_ch) != 0) return 1;

    pthread_t tv, ta, ts;
    pthread_create(&tv, NULL, video_main, NULL);
    pthread_create(&ta, NULL, audio_main, NULL);
    pthread_create(&ts, NULL, stats_main, e);
    /* events from a third firmware thread (this one) meanwhile */
    for (int k = 0; k < 5; k++) {
        us_sleep(80000);
        EXPECT(ivcs_channel_event_start(g_ch, 1 + k % 3, 0, 0) == 0);
        us_sleep(40000);
        EXPECT(ivcs_channel_event_stop(g_ch, 1 + k % 3, 0, 0) == 0);
    }
    pthread_join(tv, NULL);
    pthread_join(ta, NULL);
    atomic_store(&done_pushing, 1);
    pthread_join(ts, NULL);

    EXPECT(ivcs_engine_stop(e) == 0);
    ivcs_channel_stats_s st;
    ivcs_channel_stats(g_ch, &st);
    ivcs_engine_stats_s es;
    ivcs_engine_stats(e, &es);
    printf("video %d ok / %d refused, audio %d ok / %d refused; uploaded %llu frames in %llu "
           "slices, dropped %llu; %llu wake-ups\n",
           atomic_load(&video_ok), atomic_load(&video_err), atomic_load(&audio_ok),
           atomic_load(&audio_err), (unsigned long long)st.frames_uploaded,
           (unsigned long long)st.slices_uploaded, (unsigned long long)st.frames_dropped,
           (unsigned long long)es.wakeups);
    EXPECT(atomic_load(&video_err) == 0 && atomic_load(&audio_err) == 0);
    EXPECT(st.video_frames_pushed == (uint64_t)atomic_load(&video_ok));
    EXPECT(st.audio_frames_pushed == (uint64_t)atomic_load(&audio_ok));
    EXPECT(st.frames_uploaded == st.video_frames_pushed + st.audio_frames_pushed);
    EXPECT(st.frames_dropped == 0);
    EXPECT(st.slices_uploaded >= 2);
    EXPECT(ivcs_engine_destroy(e) == 0);
    printf("%s\n", failures ? "FAILED" : "ok");
    return failures ? 1 : 0;
}
