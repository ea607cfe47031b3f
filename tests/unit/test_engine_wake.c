/*
 * test_engine_wake.c - the lazy wake-up of the engine thread (engine.c,
 * channel.c): pushing N frames at a steady pace makes far fewer than N
 * wake-up syscalls (<= N/10), and nothing pushed is lost for it: after the
 * flush every frame was uploaded. Uploads go to a tiny in-process HTTP/1.1
 * sink on loopback (no cloud); the plan is fixed (full time).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "engine/codec/nalu.h"
#include "ivcs.h"

/* ---------------------------------------------------------------- sink */
static int srv_fd;
static uint16_t srv_port;

static void *conn_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    static _Thread_local char buf[65536];
    size_t have = 0;
    for (;;) {
        char *end;
        while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
            if (have == sizeof buf) goto out;
            ssize_t r = recv(fd, buf + have, sizeof buf - have, 0);
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
            char sink[65536];
            ssize_t r =
                recv(fd, sink, left < (long long)sizeof sink ? (size_t)left : sizeof sink, 0);
            if (r <= 0) goto out;
            left -= r;
        }
        const char *resp = get ? "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
                               : "HTTP/1.1 200 OK\r\nETag: \"x\"\r\nContent-Length: 0\r\n\r\n";
        if (send(fd, resp, strlen(resp), MSG_NOSIGNAL) < 0) goto out;
    }
out:
    close(fd);
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

static void srv_start(void)
{
    srv_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(srv_fd, (struct sockaddr *)&a, sizeof a) || listen(srv_fd, 64)) abort();
    socklen_t l = sizeof a;
    getsockname(srv_fd, (struct sockaddr *)&a, &l);
    srv_port = ntohs(a.sin_port);
    pthread_t t;
    pthread_create(&t, NULL, srv_main, NULL);
    pthread_detach(t);
}

/* ---------------------------------------------------------------- media */
typedef struct {
    const uint8_t *p;
    uint32_t len;
    int key;
} au_t;
static uint8_t *media;
static au_t aus[400];
static int n_aus;

static int load_media(void)
{
    const char *dir = getenv("IVCS_MEDIA_DIR");
    char path[512];
    snprintf(path, sizeof path, "%s/clip_h264.h264", dir ? dir : ".");
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    media = malloc(4 << 20);
    size_t len = fread(media, 1, 4 << 20, f);
    fclose(f);
    for (size_t off = 0; off < len && n_aus < 400;) {
        int64_t l = ivcs_nalu_next_au(IVCS_CODEC_H264, media + off, len - off, 1);
        if (l <= 0) break;
        ivcs_frame_info_s fi;
        if (ivcs_nalu_frame_info(IVCS_CODEC_H264, media + off, (size_t)l, &fi) == 0)
            aus[n_aus++] = (au_t){media + off, (uint32_t)l, fi.is_key};
        off += (size_t)l;
    }
    return n_aus > 100 ? 0 : -1;
}

static int32_t cb_nop(void *u, uint32_t ch)
{
    (void)u;
    (void)ch;
    return 0;
}

static void ms_sleep(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------------- tests */

TEST(steady_pushing_makes_few_wakeups)
{
    ivcs_engine_config_s ec;
    ivcs_engine_config_defaults(&ec);
    snprintf(ec.cloud.endpoint, sizeof ec.cloud.endpoint, "http://127.0.0.1:%u", srv_port);
    strcpy(ec.cloud.bucket, "ivcs");
    strcpy(ec.cloud.device_id, "wake");
    strcpy(ec.cloud.access_key, "AK");
    strcpy(ec.cloud.secret_key, "SK");
    iv_cs_balance_info_s plan = {.cs_switch = 1, .cs_type = CS_TYPE_FULL_TIME, .cs_days = 7};
    ec.fixed_plan = &plan;
    ivcs_engine_s *e;
    CHECK_EQ(ivcs_engine_new(&e, &ec), 0);
    ivcs_channel_config_s cc;
    memset(&cc, 0, sizeof cc);
    cc.max_gop_size = 8 << 20;
    cc.av_fmt.eVideoType = IV_CM_VENC_TYPE_H264;
    cc.av_fmt.u32Framerate = 25;
    cc.cb.stream_start = cb_nop;
    cc.cb.stream_stop = cb_nop;
    ivcs_channel_s *ch;
    CHECK_EQ(ivcs_channel_open(e, &cc, &ch), 0);
    ms_sleep(300); /* the engine settles: channel open, plan applied */

    /* 2 ms between frames (the engine sleeps between them, as at 25 fps),
     * PTS at 25 fps: 400 frames = 16 s of video = 4 slices of 4 s. */
    enum { N = 400 };
    ivcs_engine_stats_s es0, es1;
    ivcs_engine_stats(e, &es0);
    int ok = 0;
    for (int i = 0; i < N; i++) {
        const au_t *a = &aus[i % n_aus];
        iv_cm_venc_pack_s pk = {.pu8Addr = (uint8_t *)a->p,
                                .u32Len = a->len,
                                .u64PTS = 1000 + (uint64_t)i * 40,
                                .eFrameType = a->key ? IV_CM_FRAME_TYPE_I : IV_CM_FRAME_TYPE_P,
                                .u32Seq = (uint32_t)i};
        if (ivcs_channel_push_video(ch, &pk) == 0) ok++;
        ms_sleep(2);
    }
    ivcs_engine_stats(e, &es1);
    uint64_t wakes = es1.wakeups - es0.wakeups;
    printf("  %d frames pushed at 2 ms intervals: %llu wake-up syscalls\n", N,
           (unsigned long long)wakes);
    CHECK_EQ(ok, N);
    CHECK(wakes <= N / 10);
    CHECK(wakes >= 1); /* slice boundaries do wake it */

    /* nothing was lost for it: every frame lands after the flush */
    CHECK_EQ(ivcs_engine_stop(e), 0);
    ivcs_channel_stats_s st;
    ivcs_channel_stats(ch, &st);
    CHECK_EQ(st.video_frames_pushed, (uint64_t)N);
    CHECK_EQ(st.frames_uploaded, (uint64_t)N);
    CHECK_EQ(st.slices_dropped, 0);
    ivcs_engine_destroy(e);
}

int main(void)
{
    if (load_media() < 0) {
        printf("no $IVCS_MEDIA_DIR/clip_h264.h264\n");
        return 1;
    }
    srv_start();
    RUN(steady_pushing_makes_few_wakeups);
    return check_done();
}
