/*
 * engine_fixture.h - what the engine tests share (test_engine*.c and
 * tests/tsan/test_push_threads.c): a tiny HTTP/1.1 "S3" sink on loopback,
 * the test clip split into access units, a no-op stream callback and
 * sleeps. Header-only, static functions, like check.h.
 *
 *   fx_srv_start(NULL)   GET -> 404, PUT -> 200 (500 while fx_srv_fail);
 *   fx_srv_start(fn)     fn builds every answer (e.g. a plan server);
 *   fx_load_media(a)     fx_vf[] from clip_h264.h264, with a != 0 also
 *                        fx_af[] from clip_aac.aac (ADTS frames).
 */
#ifndef IVCS_TEST_ENGINE_FIXTURE_H
#define IVCS_TEST_ENGINE_FIXTURE_H

#include <arpa/inet.h>
#include <libgen.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "engine/codec/nalu.h"
#include "ivcs.h"

/* ---------------------------------------------------------------- sink */
/* Builds the answer to one request into resp (cap bytes) and returns its
 * length. head is the request line and headers, NUL-terminated; the body
 * (Content-Length bytes) has already been read and discarded. */
typedef int (*fx_reply_fn)(const char *head, char *resp, size_t cap);

static int fx_srv_fd;
static uint16_t fx_srv_port;
static fx_reply_fn fx_srv_reply;  /* set before the accept thread starts */
static _Atomic int fx_srv_fail;   /* default reply: 1 = every PUT gets a 500 */
static _Atomic int fx_srv_puts_ok; /* default reply: PUTs answered 200 */

static inline int fx_default_reply(const char *head, char *resp, size_t cap)
{
    const char *r;
    if (!strncmp(head, "GET ", 4)) {
        r = "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n";
    } else if (atomic_load(&fx_srv_fail)) {
        r = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n";
    } else {
        atomic_fetch_add(&fx_srv_puts_ok, 1);
        r = "HTTP/1.1 200 OK\r\nETag: \"x\"\r\nContent-Length: 0\r\n\r\n";
    }
    return snprintf(resp, cap, "%s", r);
}

static inline void *fx_conn_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    /* heap, not stack: TSan threads get small stacks */
    size_t cap = 65536, have = 0;
    char *buf = malloc(cap), *sink = malloc(cap);
    char resp[1024];
    if (!buf || !sink) goto out;
    for (;;) {
        char *end;
        while (!(end = memmem(buf, have, "\r\n\r\n", 4))) {
            if (have == cap) goto out;
            ssize_t r = recv(fd, buf + have, cap - have, 0);
            if (r <= 0) goto out;
            have += (size_t)r;
        }
        size_t hlen = (size_t)(end - buf) + 4;
        buf[hlen - 1] = 0; /* the head stays a string ending in "\r\n\r" */
        long long clen = 0;
        char *cl = strcasestr(buf, "\r\ncontent-length:");
        if (cl) clen = atoll(cl + 17);
        int n = (fx_srv_reply ? fx_srv_reply : fx_default_reply)(buf, resp, sizeof resp);
        if (n < 0 || (size_t)n >= sizeof resp) goto out;
        long long inbuf = (long long)(have - hlen), take = inbuf < clen ? inbuf : clen;
        memmove(buf, buf + hlen + take, (size_t)(inbuf - take));
        have = (size_t)(inbuf - take);
        for (long long left = clen - take; left > 0;) {
            ssize_t r = recv(fd, sink, left < (long long)cap ? (size_t)left : cap, 0);
            if (r <= 0) goto out;
            left -= r;
        }
        if (send(fd, resp, (size_t)n, MSG_NOSIGNAL) != n) goto out;
    }
out:
    close(fd);
    free(buf);
    free(sink);
    return NULL;
}

static inline void *fx_srv_main(void *arg)
{
    (void)arg;
    for (;;) {
        int c = accept(fx_srv_fd, NULL, NULL);
        if (c < 0) return NULL;
        pthread_t t;
        pthread_create(&t, NULL, fx_conn_main, (void *)(intptr_t)c);
        pthread_detach(t);
    }
}

/* Starts the sink on a free loopback port (fx_srv_port); reply NULL = the
 * default reply. 0, or -1 if no socket could be bound. */
static inline int fx_srv_start(fx_reply_fn reply)
{
    fx_srv_reply = reply;
    fx_srv_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (fx_srv_fd < 0 || bind(fx_srv_fd, (struct sockaddr *)&a, sizeof a) ||
        listen(fx_srv_fd, 64))
        return -1;
    socklen_t l = sizeof a;
    getsockname(fx_srv_fd, (struct sockaddr *)&a, &l);
    fx_srv_port = ntohs(a.sin_port);
    pthread_t t;
    pthread_create(&t, NULL, fx_srv_main, NULL);
    pthread_detach(t);
    return 0;
}

/* ---------------------------------------------------------------- media */
typedef struct {
    const uint8_t *p;
    uint32_t len;
    int key;
} fx_frame_t;
static fx_frame_t fx_vf[400], fx_af[800];
static int fx_n_vf, fx_n_af;
static uint8_t *fx_video, *fx_audio;

static inline uint8_t *fx_slurp(const char *dir, const char *name, size_t *len)
{
    char path[1100];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    uint8_t *b = malloc(4 << 20);
    if (b) *len = fread(b, 1, 4 << 20, f);
    fclose(f);
    return b;
}

/* Loads $IVCS_MEDIA_DIR (else ../media next to this binary, where the
 * media.make test writes it): > 100 video access units into fx_vf and,
 * with with_audio, > 100 ADTS frames into fx_af. 0 or -1. */
static inline int fx_load_media(int with_audio)
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
    fx_video = fx_slurp(dir, "clip_h264.h264", &vlen);
    if (with_audio) fx_audio = fx_slurp(dir, "clip_aac.aac", &alen);
    if (!fx_video || (with_audio && !fx_audio)) {
        fprintf(stderr, "no media in %s (run the media.make test first)\n", dir);
        return -1;
    }
    const uint8_t *v = fx_video, *a = fx_audio;
    for (size_t off = 0; off < vlen && fx_n_vf < 400;) {
        int64_t l = ivcs_nalu_next_au(IVCS_CODEC_H264, v + off, vlen - off, 1);
        if (l <= 0) break;
        ivcs_frame_info_s fi;
        if (ivcs_nalu_frame_info(IVCS_CODEC_H264, v + off, (size_t)l, &fi) == 0)
            fx_vf[fx_n_vf++] = (fx_frame_t){v + off, (uint32_t)l, fi.is_key};
        off += (size_t)l;
    }
    /* ADTS: frame_length is 13 bits from byte 3 */
    for (size_t off = 0; a && off + 7 <= alen && fx_n_af < 800;) {
        if (a[off] != 0xFF || (a[off + 1] & 0xF0) != 0xF0) break;
        uint32_t fl = ((uint32_t)(a[off + 3] & 3) << 11) | ((uint32_t)a[off + 4] << 3) |
                      (uint32_t)(a[off + 5] >> 5);
        if (fl < 7 || off + fl > alen) break;
        fx_af[fx_n_af++] = (fx_frame_t){a + off, fl, 0};
        off += fl;
    }
    return fx_n_vf > 100 && (!with_audio || fx_n_af > 100) ? 0 : -1;
}

static inline void fx_free_media(void)
{
    free(fx_video);
    free(fx_audio);
    fx_video = fx_audio = NULL;
}

/* ---------------------------------------------------------------- misc */
static inline int32_t fx_cb_nop(void *u, uint32_t ch)
{
    (void)u;
    (void)ch;
    return 0;
}

static inline void fx_sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000L};
    nanosleep(&ts, NULL);
}

static inline void fx_sleep_ms(int ms)
{
    fx_sleep_us((long)ms * 1000);
}

#endif
