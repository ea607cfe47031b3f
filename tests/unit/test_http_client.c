/*
 * test_http_client.c - fault cases of the transport that a real S3 server
 * does not produce on demand, against an in-process fake HTTP server: a
 * thread on a loopback ephemeral port, plain TCP or TLS (a throwaway CA
 * made with the openssl CLI, as in test_tls.c), answering each request as
 * the test's plan says. Requests go through the real client code
 * (ivcs_s3_start/ivcs_s3_run over http_client.c, tls.c and loop.c); nothing
 * of it is mocked.
 *
 * Cases: a pooled connection the server closed (request resent on a fresh
 * one, buffer and producer bodies rewound); a reply before the body was
 * sent (status and S3 code reported, no hang, connection not reused);
 * chunked responses with extensions and trailers cut at every framing byte,
 * 1xx before the final response; retry of 5xx/408/429 and not of 403/404,
 * backoff bounds; reply timeout; upload timeout; malformed responses;
 * refused connection, then the server comes up.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "engine/net/hash.h"
#include "engine/net/http_client.h"
#include "engine/net/loop.h"
#include "engine/net/retry.h"
#include "engine/net/s3.h"
#include "so_error_probe.h"
#include "tls_fixture.h"

static tls_fixture tf;

/* ---------------------------------------------------------------- fake server */

enum {
    SV_OK = 1,   /* read the body, answer `status` */
    SV_EARLY,    /* answer `status` right after the head, Connection: close, then `after` */
    SV_SILENT,   /* read the whole request, never answer, wait for the client to go */
    SV_STALL,    /* read the head and stall_bytes of the body, then stop reading */
    SV_RAW,      /* read the body, send `raw` in pieces (see write_split) */
    SV_CONTINUE, /* 100 Continue right after the head, then as SV_OK */
    SV_DROP,     /* close as soon as the head is read, no answer (an idle close
                    that crossed the request) */
};

enum { A_LINGER = 1, A_STALL, A_RST }; /* after an early answer */

enum {
    C_KEEP = 0, /* keep the connection for the next request */
    C_SILENT,   /* close after the answer without saying so (no close_notify) */
    C_NOTIFY,   /* the same with a TLS close_notify first */
    C_ANNOUNCE, /* "Connection: close" and close */
};

typedef struct {
    int mode;
    int status;
    int close;
    int after;       /* SV_EARLY */
    const char *raw; /* SV_RAW */
    size_t raw_len;
    const uint8_t *fine; /* SV_RAW: bytes to send in `split`-sized pieces (NULL: all) */
    size_t split;        /* SV_RAW: 0 = at once */
    unsigned pause_us;   /* SV_RAW: pause after each piece (0: 300 us) */
    size_t stall_bytes;  /* SV_STALL */
    const char *code;    /* SV_OK error answer: this S3 code (NULL: s3_code()) */
} plan_t;

#define MAXREQ 32
#define MAXCONN 32

typedef struct {
    int conn; /* connection index */
    char method[8];
    char target[128]; /* request-target: path and query */
    uint64_t clen; /* Content-Length */
    uint64_t got;  /* body bytes read */
    int md5;       /* 1 Content-MD5 matched the body, 0 none sent, -1 mismatch */
    char amz_date[24]; /* x-amz-date */
} reqlog_t;

typedef struct {
    int lfd;
    uint16_t port;
    int tls;
    SSL_CTX *ctx;
    const uint8_t *get_body; /* GET 200 body */
    size_t get_body_len;
    plan_t plan[MAXREQ];
    int nplan;
    pthread_t th;
    atomic_int stop, release;
    atomic_int conns, closed, nreq;
    atomic_int drop_below; /* requests on connections with a lower index: SV_DROP */
    const char *date;      /* a Date header on error answers (NULL: none) */
    reqlog_t log[MAXREQ];
    /* one thread per connection */
    pthread_mutex_t mu;
    pthread_t cth[MAXCONN];
    int cfd[MAXCONN]; /* -1 once closed */
} srv;

typedef struct {
    srv *s;
    int fd;
    SSL *ssl;
    int idx;
} sconn;

static int s_read(sconn *c, void *buf, size_t n)
{
    if (c->ssl) {
        int r = SSL_read(c->ssl, buf, (int)n);
        return r > 0 ? r : -1;
    }
    ssize_t r = recv(c->fd, buf, n, 0);
    return r > 0 ? (int)r : -1;
}

static int s_write(sconn *c, const void *buf, size_t n)
{
    const char *p = buf;
    while (n) {
        int w;
        if (c->ssl) {
            w = SSL_write(c->ssl, p, (int)n);
        } else {
            ssize_t r = send(c->fd, p, n, MSG_NOSIGNAL);
            w = r > 0 ? (int)r : -1;
        }
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Sends buf; bytes marked in fine[] go out `split` at a time, each in its
 * own TCP segment (TLS: its own record) with a pause so the client
 * receives them one by one; the others in large pieces. */
static int write_split(sconn *c, const char *buf, size_t len, const uint8_t *fine, size_t split,
                       unsigned pause_us)
{
    if (!split) return s_write(c, buf, len);
    if (!pause_us) pause_us = 300;
    size_t i = 0;
    while (i < len) {
        size_t n;
        int is_fine = !fine || fine[i];
        if (is_fine) {
            n = split;
            if (n > len - i) n = len - i;
        } else {
            n = 0;
            while (i + n < len && !fine[i + n] && n < 16384)
                n++;
        }
        if (s_write(c, buf + i, n) < 0) return -1;
        usleep(pause_us);
        i += n;
    }
    return 0;
}

/* Reads the request head byte by byte (never past it); its length or -1. */
static int read_head(sconn *c, char *head, size_t cap)
{
    size_t n = 0;
    while (n + 1 < cap) {
        if (s_read(c, head + n, 1) != 1) return -1;
        n++;
        if (n >= 4 && !memcmp(head + n - 4, "\r\n\r\n", 4)) {
            head[n] = 0;
            return (int)n;
        }
    }
    return -1;
}

/* Value of header `name` (lowercase) in head into out; 1 if present. */
static int header(const char *head, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *l = strstr(head, "\r\n"); l && l[2]; l = strstr(l + 2, "\r\n")) {
        const char *f = l + 2;
        if (!strncasecmp(f, name, nl) && f[nl] == ':') {
            const char *v = f + nl + 1;
            while (*v == ' ')
                v++;
            size_t vl = strcspn(v, "\r");
            if (vl >= cap) vl = cap - 1;
            memcpy(out, v, vl);
            out[vl] = 0;
            return 1;
        }
    }
    return 0;
}

static int read_body(sconn *c, reqlog_t *lg, const char *head, uint64_t limit)
{
    uint64_t want = lg->clen < limit ? lg->clen : limit;
    uint8_t *b = malloc(want ? want : 1);
    if (!b) return -1;
    while (lg->got < want) {
        int r = s_read(c, b + lg->got, want - lg->got);
        if (r <= 0) break;
        lg->got += (uint64_t)r;
    }
    char md5h[64];
    if (lg->got == lg->clen && header(head, "content-md5", md5h, sizeof md5h)) {
        uint8_t md[IVCS_MD5_LEN];
        char b64[32];
        lg->md5 = (ivcs_md5(b, lg->got, md) == 0 &&
                   ivcs_base64_encode(md, sizeof md, b64, sizeof b64) > 0 && !strcmp(b64, md5h))
                      ? 1
                      : -1;
    }
    free(b);
    return lg->got == want ? 0 : -1;
}

static const char *s3_code(int status)
{
    switch (status) {
    case 400:
        return "EntityTooLarge";
    case 403:
        return "AccessDenied";
    case 404:
        return "NoSuchKey";
    case 408:
        return "RequestTimeout";
    case 412:
        return "PreconditionFailed";
    case 429:
        return "TooManyRequests";
    case 500:
        return "InternalError";
    case 501:
        return "NotImplemented";
    case 503:
        return "SlowDown";
    default:
        return "Other";
    }
}

static int respond(sconn *c, const char *method, int status, int announce_close, const char *code)
{
    char head[1024], body[1024];
    size_t blen = 0;
    const char *conn = announce_close ? "Connection: close\r\n" : "";
    int n;
    if (status >= 200 && status < 300) {
        int get = !strcmp(method, "GET");
        n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d OK\r\nContent-Length: %zu\r\nETag: \"0123abcd\"\r\n"
                     "Content-Type: text/plain\r\nx-amz-request-id: tx-ok\r\n%s\r\n",
                     status, get ? c->s->get_body_len : 0, conn);
        if (s_write(c, head, (size_t)n) < 0) return -1;
        return get ? s_write(c, c->s->get_body, c->s->get_body_len) : 0;
    }
    if (!code) code = s3_code(status);
    blen = (size_t)snprintf(body, sizeof body,
                            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code>"
                            "<Message>fake server says %d</Message><RequestId>tx-%d</RequestId>"
                            "</Error>",
                            code, status, status);
    int has_body = strcmp(method, "HEAD") != 0;
    char date[64] = "";
    if (c->s->date) snprintf(date, sizeof date, "Date: %s\r\n", c->s->date);
    n = snprintf(head, sizeof head,
                 "HTTP/1.1 %d Whatever\r\nContent-Type: application/xml\r\nContent-Length: %zu\r\n"
                 "%s%s\r\n",
                 status, blen, date, conn);
    if (s_write(c, head, (size_t)n) < 0) return -1;
    return has_body ? s_write(c, body, blen) : 0;
}

/* Waits until the client closes (discarding what it sends) or the test
 * releases us; bounded. */
static void wait_gone(sconn *c, int read_too)
{
    for (int i = 0; i < 2000 && !c->s->release && !c->s->stop; i++) {
        struct pollfd p = {.fd = c->fd, .events = POLLIN};
        if (read_too && ((c->ssl && SSL_pending(c->ssl)) || poll(&p, 1, 10) > 0)) {
            char b[4096];
            if (s_read(c, b, sizeof b) <= 0) return;
        } else if (!read_too) {
            usleep(10000);
        }
    }
}

/* Serves one connection; returns 1 if it already closed the socket. */
static int serve(sconn *c)
{
    srv *s = c->s;
    char head[8192], val[64];
    for (;;) {
        if (read_head(c, head, sizeof head) < 0) return 0;
        int i = atomic_fetch_add(&s->nreq, 1);
        const plan_t *p = &s->plan[i < s->nplan ? i : s->nplan - 1];
        const plan_t drop = {.mode = SV_DROP};
        if (c->idx < s->drop_below) p = &drop;
        reqlog_t scratch, *lg = i < MAXREQ ? &s->log[i] : &scratch;
        memset(lg, 0, sizeof *lg);
        lg->conn = c->idx;
        snprintf(lg->method, sizeof lg->method, "%.*s", (int)strcspn(head, " "), head);
        const char *tg = head + strcspn(head, " ");
        if (*tg) tg++;
        snprintf(lg->target, sizeof lg->target, "%.*s", (int)strcspn(tg, " \r"), tg);
        if (header(head, "content-length", val, sizeof val)) lg->clen = strtoull(val, NULL, 10);
        (void)header(head, "x-amz-date", lg->amz_date, sizeof lg->amz_date);
        int announce = p->close == C_ANNOUNCE;
        switch (p->mode) {
        case SV_CONTINUE:
            if (s_write(c, "HTTP/1.1 100 Continue\r\n\r\n", 25) < 0) return 0;
            /* fall through */
        case SV_OK: {
            if (read_body(c, lg, head, UINT64_MAX) < 0) return 0;
            int st = lg->md5 < 0 ? 400 : p->status;
            if (respond(c, lg->method, st, announce, lg->md5 < 0 ? "BadDigest" : p->code) < 0)
                return 0;
            break;
        }
        case SV_EARLY:
            if (respond(c, lg->method, p->status, 1, NULL) < 0) return 0;
            if (p->after == A_RST) {
                /* Unread data in our receive buffer: close() sends a reset. */
                struct linger lin = {1, 0};
                setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lin, sizeof lin);
                if (c->ssl) SSL_free(c->ssl);
                c->ssl = NULL;
                close(c->fd);
                return 1;
            }
            if (p->after == A_LINGER) {
                /* What careful servers do: stop writing, drain the rest. */
                if (c->ssl) SSL_shutdown(c->ssl);
                shutdown(c->fd, SHUT_WR);
                wait_gone(c, 1);
            } else {
                wait_gone(c, 0);
            }
            return 0;
        case SV_SILENT:
            if (read_body(c, lg, head, UINT64_MAX) < 0) return 0;
            wait_gone(c, 1);
            return 0;
        case SV_STALL:
            (void)read_body(c, lg, head, p->stall_bytes);
            wait_gone(c, 0);
            return 0;
        case SV_RAW:
            if (read_body(c, lg, head, UINT64_MAX) < 0) return 0;
            if (write_split(c, p->raw, p->raw_len, p->fine, p->split, p->pause_us) < 0) return 0;
            break;
        case SV_DROP:
            return 0;
        default:
            return 0;
        }
        if (p->close == C_NOTIFY && c->ssl) SSL_shutdown(c->ssl);
        if (p->close != C_KEEP) return 0;
    }
}

static void *conn_main(void *arg)
{
    sconn *c = arg;
    srv *s = c->s;
    int closed = 0;
    if (s->tls) {
        c->ssl = SSL_new(s->ctx);
        SSL_set_fd(c->ssl, c->fd);
        if (SSL_accept(c->ssl) == 1) closed = serve(c);
    } else {
        closed = serve(c);
    }
    if (c->ssl) SSL_free(c->ssl);
    pthread_mutex_lock(&s->mu);
    if (!closed) close(c->fd);
    s->cfd[c->idx] = -1;
    pthread_mutex_unlock(&s->mu);
    ERR_clear_error();
    atomic_fetch_add(&s->closed, 1);
    free(c);
    return NULL;
}

static void *srv_main(void *arg)
{
    srv *s = arg;
    while (!s->stop) {
        struct pollfd p = {.fd = s->lfd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0) continue;
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0) continue;
        if (s->conns >= MAXCONN) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct timeval tv = {.tv_sec = 10};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        sconn *c = calloc(1, sizeof *c);
        c->s = s;
        c->fd = fd;
        c->idx = s->conns;
        s->cfd[c->idx] = fd;
        if (pthread_create(&s->cth[c->idx], NULL, conn_main, c) != 0) {
            s->cfd[c->idx] = -1;
            close(fd);
            free(c);
            continue;
        }
        atomic_fetch_add(&s->conns, 1);
    }
    return NULL;
}

static const uint8_t default_body[] = "hello from the fake server\n";

/* Starts s (plan already filled) on port (0: ephemeral). small_rcvbuf: a
 * 64 KiB receive buffer, so a server that stops reading stops the client
 * soon. */
static int srv_start(srv *s, int tls, uint16_t port, int small_rcvbuf)
{
    s->tls = tls;
    pthread_mutex_init(&s->mu, NULL);
    if (!s->get_body) {
        s->get_body = default_body;
        s->get_body_len = sizeof default_body - 1;
    }
    s->lfd = tls_fixture_listen(port, small_rcvbuf ? 65536 : 0, &s->port);
    if (s->lfd < 0) return -1;
    if (tls && !(s->ctx = tls_fixture_server_ctx(&tf))) return -1;
    return pthread_create(&s->th, NULL, srv_main, s);
}

static void srv_stop(srv *s)
{
    s->release = 1;
    s->stop = 1;
    pthread_join(s->th, NULL);
    /* Wake connection threads blocked in a read. */
    pthread_mutex_lock(&s->mu);
    for (int i = 0; i < s->conns; i++)
        if (s->cfd[i] >= 0) shutdown(s->cfd[i], SHUT_RDWR);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->conns; i++)
        pthread_join(s->cth[i], NULL);
    close(s->lfd);
    if (s->ctx) SSL_CTX_free(s->ctx);
    pthread_mutex_destroy(&s->mu);
}

/* Waits (bounded) until *v >= n; 1 if it got there. */
static int wait_atomic(atomic_int *v, int n, int ms)
{
    for (int i = 0; i < ms && *v < n; i++)
        usleep(1000);
    return *v >= n;
}

/* ---------------------------------------------------------------- client */

static ivcs_s3 *mk_s3(const srv *s, uint16_t port, int tls)
{
    ivcs_config_s cfg;
    ivcs_config_defaults(&cfg);
    snprintf(cfg.endpoint, sizeof cfg.endpoint, "%s://127.0.0.1:%u", tls ? "https" : "http",
             (unsigned)(s ? s->port : port));
    snprintf(cfg.bucket, sizeof cfg.bucket, "bkt");
    snprintf(cfg.access_key, sizeof cfg.access_key, "AKIDFAKE");
    snprintf(cfg.secret_key, sizeof cfg.secret_key, "fake-secret");
    snprintf(cfg.ca_file, sizeof cfg.ca_file, "%s", tf.ca_pem);
    cfg.verify_tls = 1;
    ivcs_s3 *s3 = NULL;
    if (ivcs_s3_new(&s3, &check_alloc, &cfg, NULL) < 0) return NULL;
    return s3;
}

/* issue 9: the transport takes exactly the endpoints the config accepts
 * (one parser, url.h): "HTTPS://..." validated and then failed here. */
TEST(endpoint_parse_agrees_with_config)
{
    static const char *eps[] = {
        "HTTPS://127.0.0.1:7443", "Http://localhost", "https://[::1]:7443/", "https://Example.COM",
        "https://user:pw@host", "https://host/path", "https://host:0", "ftp://host",
        "https://host:80x", "https://under_score.example", "hTTp://a-b.example:1/",
    };
    ivcs_loop *loop = NULL;
    CHECK_EQ(ivcs_loop_new(&loop, &check_alloc, 8), 0);
    if (!loop) return;
    for (size_t i = 0; i < sizeof eps / sizeof eps[0]; i++) {
        ivcs_config_s cfg;
        ivcs_config_defaults(&cfg);
        snprintf(cfg.endpoint, sizeof cfg.endpoint, "%s", eps[i]);
        snprintf(cfg.bucket, sizeof cfg.bucket, "bkt");
        snprintf(cfg.device_id, sizeof cfg.device_id, "cam");
        snprintf(cfg.access_key, sizeof cfg.access_key, "AKIDFAKE");
        snprintf(cfg.secret_key, sizeof cfg.secret_key, "fake-secret");
        char err[256];
        int valid = ivcs_config_validate(&cfg, err, sizeof err) == 0;
        ivcs_http_client *cl = NULL;
        int rc = ivcs_http_client_new(&cl, &check_alloc, loop, eps[i], tf.ca_pem, 1);
        if (valid != (rc == 0))
            fprintf(stderr, "  %s: config %s, transport %d\n", eps[i], valid ? "ok" : err, rc);
        CHECK_EQ(valid, rc == 0);
        if (rc != 0) CHECK_EQ(rc, IVCS_ERR_CONFIG);
        ivcs_http_client_destroy(cl);
        /* and a presigned URL keeps the scheme, whatever its case */
        ivcs_s3 *s3 = NULL;
        snprintf(cfg.ca_file, sizeof cfg.ca_file, "%s", tf.ca_pem);
        if (valid && ivcs_s3_new(&s3, &check_alloc, &cfg, NULL) == 0) {
            char url[2048];
            CHECK_EQ(ivcs_s3_presign_get(s3, "k", 60, url, sizeof url), 0);
            int tls = !strncasecmp(eps[i], "https", 5);
            CHECK(!strncmp(url, tls ? "https://" : "http://", tls ? 8 : 7));
            ivcs_s3_destroy(s3);
        } else {
            CHECK(!valid);
        }
    }
    ivcs_loop_destroy(loop);
}

/* Starts s (as srv_start) and a client of it; NULL (checks failed, server
 * stopped) if either could not be set up. */
static ivcs_s3 *start_pair(srv *s, int tls, int small_rcvbuf)
{
    int ok = srv_start(s, tls, 0, small_rcvbuf) == 0;
    CHECK(ok);
    ivcs_s3 *s3 = ok ? mk_s3(s, 0, tls) : NULL;
    CHECK(s3 != NULL);
    if (!s3 && ok) srv_stop(s);
    return s3;
}

static ivcs_http_stats stats_of(ivcs_s3 *s3)
{
    ivcs_http_stats st;
    ivcs_http_client_stats(ivcs_s3_http(s3), &st);
    return st;
}

/* One attempt through the async API with a wall-clock guard: a client that
 * hangs is cancelled after limit_ms and *hung set. *ms: time taken. */
static int run_guarded(ivcs_s3 *s3, ivcs_s3_op *op, uint32_t limit_ms, int *hung, uint64_t *ms)
{
    *hung = 0;
    uint64_t t0 = ivcs_loop_now_ms();
    int rc = ivcs_s3_start(s3, op);
    if (rc < 0) return rc;
    ivcs_loop *l = ivcs_s3_loop(s3);
    while (!op->done && ivcs_loop_now_ms() - t0 < limit_ms)
        ivcs_loop_run_once(l, 20);
    if (ms) *ms = ivcs_loop_now_ms() - t0;
    if (!op->done) {
        *hung = 1;
        fprintf(stderr, "  request still running after %u ms: cancelling it\n", limit_ms);
        ivcs_http_request_cancel(ivcs_s3_http(s3), &op->http);
        uint64_t t1 = ivcs_loop_now_ms();
        while (!op->done && ivcs_loop_now_ms() - t1 < 3000)
            ivcs_loop_run_once(l, 20);
        if (!op->done) {
            fprintf(stderr, "  request stuck even after cancel\n");
            abort();
        }
    }
    return op->result;
}

typedef struct {
    uint8_t *p;
    size_t len, cap;
} sinkbuf;

static int sink_data(void *arg, const uint8_t *d, size_t n)
{
    sinkbuf *s = arg;
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 4096;
        while (cap < s->len + n)
            cap *= 2;
        uint8_t *p = realloc(s->p, cap);
        if (!p) return IV_ERR_SYS_MALLOC_FAIL;
        s->p = p;
        s->cap = cap;
    }
    memcpy(s->p + s->len, d, n);
    s->len += n;
    return 0;
}

typedef struct {
    const uint8_t *data;
    uint64_t len;
    int from_zero; /* calls at offset 0 */
} producer;

/* Odd-sized pieces, so the client's staging sees partial fills. */
static int64_t produce(void *arg, uint64_t off, uint8_t *buf, size_t cap)
{
    producer *p = arg;
    if (off == 0) p->from_zero++;
    if (off >= p->len) return 0;
    uint64_t n = p->len - off;
    if (n > cap) n = cap;
    if (n > 7777) n = 7777;
    memcpy(buf, p->data + off, (size_t)n);
    return (int64_t)n;
}

static uint8_t *pattern(size_t n, unsigned seed)
{
    uint8_t *b = malloc(n ? n : 1);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        b[i] = (uint8_t)x;
    }
    return b;
}

static int get_ok(ivcs_s3 *s3, const srv *s)
{
    ivcs_s3_op op;
    ivcs_s3_op_init(&op, IVCS_S3_GET, "k/get");
    sinkbuf sk = {0};
    op.on_data = sink_data;
    op.arg = &sk;
    int hung;
    int rc = run_guarded(s3, &op, 5000, &hung, NULL);
    int ok = rc == 0 && !hung && op.res.status == 200 && sk.len == s->get_body_len &&
             !memcmp(sk.p, s->get_body, sk.len);
    if (!ok)
        fprintf(stderr, "  GET: rc %d (%s) status %d len %zu: %s\n", rc, ivcs_strerror(rc),
                op.res.status, sk.len, op.res.detail);
    free(sk.p);
    ivcs_s3_op_cleanup(&op);
    return ok;
}

/* ---------------------------------------------------------------- 1. stale pooled connection */

enum { V_GET, V_PUT_BUF, V_PUT_FN };

/* how: 0 the server closed the pooled connection after the previous
 * response (the client sees it is dead before using it); 1 the server
 * closes it as the next request arrives (the race with an idle timeout:
 * the request dies before any response byte and is resent). */
static void stale_case(int tls, int variant, int crossed)
{
    srv s = {0};
    s.plan[0] = (plan_t){.mode = SV_OK,
                         .status = 200,
                         .close = crossed                     ? C_KEEP
                                  : (tls && variant == V_GET) ? C_NOTIFY
                                                              : C_SILENT};
    s.plan[1] = (plan_t){.mode = crossed ? SV_DROP : SV_OK, .status = 200};
    s.plan[2] = (plan_t){.mode = SV_OK, .status = 200};
    s.nplan = 3;
    ivcs_s3 *s3 = start_pair(&s, tls, 0);
    if (!s3) return;
    CHECK(get_ok(s3, &s));
    if (!crossed) {
        /* The server has closed the connection the client keeps in its pool. */
        CHECK(wait_atomic(&s.closed, 1, 5000));
        usleep(20000);
    }

    const size_t blen = 300 * 1024 + 11; /* several sends, plain and TLS */
    uint8_t *body = pattern(blen, 7);
    producer pr = {.data = body, .len = blen};
    const int last = crossed ? 2 : 1; /* the request that got through */
    if (variant == V_GET) {
        CHECK(get_ok(s3, &s));
    } else {
        ivcs_s3_op op;
        ivcs_s3_op_init(&op, IVCS_S3_PUT, "k/put");
        char md5[32];
        CHECK(ivcs_s3_content_md5(body, blen, md5, sizeof md5) == 0);
        if (variant == V_PUT_BUF) {
            op.body = body;
        } else {
            op.body_fn = produce;
            op.body_arg = &pr;
            op.content_md5 = md5;
        }
        op.body_len = blen;
        int hung;
        int rc = run_guarded(s3, &op, 5000, &hung, NULL);
        CHECK(!hung);
        CHECK_EQ(rc, 0);
        CHECK_EQ(op.res.status, 200);
        if (rc) fprintf(stderr, "  PUT: %s: %s\n", ivcs_strerror(rc), op.res.detail);
        CHECK(!strcmp(op.res.etag, "\"0123abcd\""));
        ivcs_s3_op_cleanup(&op);
        /* The server got the whole body, Content-MD5 matching, on the new connection. */
        CHECK_EQ(s.log[last].got, blen);
        CHECK_EQ(s.log[last].md5, 1);
        /* Rewound for the resend. */
        if (variant == V_PUT_FN) CHECK_EQ(pr.from_zero, crossed ? 2 : 1);
    }
    CHECK_EQ(s.nreq, last + 1);
    CHECK_EQ(s.log[last].conn, 1);
    ivcs_http_stats st = stats_of(s3);
    CHECK_EQ(st.connects, 2);
    CHECK_EQ(st.reused, (uint64_t)crossed);
    CHECK_EQ(st.resent, (uint64_t)crossed);
    free(body);
    ivcs_s3_destroy(s3);
    srv_stop(&s);
}

TEST(stale_get_plain)
{
    stale_case(0, V_GET, 0);
}
TEST(stale_put_buffer_plain)
{
    stale_case(0, V_PUT_BUF, 0);
}
TEST(stale_put_producer_plain)
{
    stale_case(0, V_PUT_FN, 0);
}
TEST(stale_get_tls)
{
    stale_case(1, V_GET, 0);
}
TEST(stale_put_buffer_tls)
{
    stale_case(1, V_PUT_BUF, 0);
}
TEST(stale_put_producer_tls)
{
    stale_case(1, V_PUT_FN, 0);
}
TEST(resend_get_plain)
{
    stale_case(0, V_GET, 1);
}
TEST(resend_put_buffer_plain)
{
    stale_case(0, V_PUT_BUF, 1);
}
TEST(resend_put_producer_plain)
{
    stale_case(0, V_PUT_FN, 1);
}
TEST(resend_get_tls)
{
    stale_case(1, V_GET, 1);
}
TEST(resend_put_buffer_tls)
{
    stale_case(1, V_PUT_BUF, 1);
}
TEST(resend_put_producer_tls)
{
    stale_case(1, V_PUT_FN, 1);
}

/* Two pooled connections, both dropped by the server when a request
 * arrives: the resend must go on a new connection, not on the other stale
 * one. */
typedef struct {
    int done, result;
} async_done;

static void on_async_done(ivcs_s3_op *op, int result)
{
    async_done *d = op->arg;
    d->done = 1;
    d->result = result;
}

static void stale_two_case(int tls)
{
    srv s = {0};
    s.plan[0] = (plan_t){.mode = SV_OK, .status = 200};
    s.nplan = 1;
    ivcs_s3 *s3 = start_pair(&s, tls, 0);
    if (!s3) return;
    /* Two requests at once: two connections, both pooled afterwards. */
    ivcs_s3_op a, b;
    async_done da = {0}, db = {0};
    ivcs_s3_op_init(&a, IVCS_S3_HEAD, "k/a");
    ivcs_s3_op_init(&b, IVCS_S3_HEAD, "k/b");
    a.on_done = b.on_done = on_async_done;
    a.arg = &da;
    b.arg = &db;
    CHECK(ivcs_s3_start(s3, &a) == 0);
    CHECK(ivcs_s3_start(s3, &b) == 0);
    uint64_t t0 = ivcs_loop_now_ms();
    while ((!da.done || !db.done) && ivcs_loop_now_ms() - t0 < 5000)
        ivcs_loop_run_once(ivcs_s3_loop(s3), 20);
    CHECK(da.done && db.done);
    CHECK_EQ(da.result, 0);
    CHECK_EQ(db.result, 0);
    ivcs_s3_op_cleanup(&a);
    ivcs_s3_op_cleanup(&b);
    CHECK_EQ(stats_of(s3).connects, 2);
    s.drop_below = 2; /* both connections now die on their next request */
    /* One attempt only (async API): the transport's own resend must do. */
    CHECK(get_ok(s3, &s));
    ivcs_http_stats st = stats_of(s3);
    CHECK_EQ(st.reused, 1);
    CHECK_EQ(st.resent, 1);
    CHECK_EQ(st.connects, 3);
    ivcs_s3_destroy(s3);
    srv_stop(&s);
}

TEST(stale_two_pooled_plain)
{
    stale_two_case(0);
}
TEST(stale_two_pooled_tls)
{
    stale_two_case(1);
}

/* A response followed by more bytes than it announced, in a separate
 * write (TLS: a separate record): the connection must not be reused with
 * those bytes waiting, or the next request reads them as its answer. */
static void trailing_junk_case(int tls)
{
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst";
    static const char junk[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nWRONG";
    static char both[sizeof resp + sizeof junk];
    snprintf(both, sizeof both, "%s%s", resp, junk);
    static uint8_t fine[sizeof both];
    memset(fine, 0, sizeof fine);
    memset(fine + sizeof resp - 1, 1, sizeof junk - 1); /* the junk in its own write */
    srv s = {0};
    s.plan[0] = (plan_t){.mode = SV_RAW,
                         .raw = both,
                         .raw_len = strlen(both),
                         .fine = fine,
                         .split = sizeof junk - 1,
                         .pause_us = 50000};
    s.plan[1] = (plan_t){.mode = SV_OK, .status = 200};
    s.nplan = 2;
    ivcs_s3 *s3 = start_pair(&s, tls, 0);
    if (!s3) return;
    ivcs_s3_op op;
    ivcs_s3_op_init(&op, IVCS_S3_GET, "k/first");
    sinkbuf sk = {0};
    op.on_data = sink_data;
    op.arg = &sk;
    int hung;
    CHECK_EQ(run_guarded(s3, &op, 5000, &hung, NULL), 0);
    CHECK(sk.len == 5 && !memcmp(sk.p, "first", 5));
    free(sk.p);
    ivcs_s3_op_cleanup(&op);
    usleep(100000);        /* the junk has arrived by now */
    CHECK(get_ok(s3, &s)); /* the server's real answer, not "WRONG" */
    ivcs_s3_destroy(s3);
    srv_stop(&s);
}

TEST(trailing_junk_plain)
{
    trailing_junk_case(0);
}
TEST(trailing_junk_tls)
{
    trailing_junk_case(1);
}

/* ---------------------------------------------------------------- 2. early reply */

static void early_case(int tls, int status, int after)
{
    srv s = {0};
    s.plan[0] = (plan_t){.mode = SV_EARLY, .status = status, .after = after};
    s.plan[1] = (plan_t){.mode = SV_OK, .status = 200};
    s.nplan = 2;
    ivcs_s3 *s3 = start_pair(&s, tls, 1);
    if (!s3) return;
    /* No timeouts at all: only a correct client gets out of this. */
    ivcs_s3_set_timeouts(s3, 0, 0);
    const size_t blen = 16u << 20; /* far more than socket buffers hold */
    uint8_t *body = pattern(blen, 3);
    ivcs_s3_op op;
    ivcs_s3_op_init(&op, IVCS_S3_PUT, "k/early");
    op.body = body;
    op.body_len = blen;
    op.content_md5 = ""; /* no MD5 pass over 16 MiB */
    if (status == 412) op.if_none_match = "*";
    int hung;
    uint64_t ms;
    int rc = run_guarded(s3, &op, 5000, &hung, &ms);
    CHECK(!hung);
    CHECK_EQ(op.res.status, status);
    if (status == 412) {
        CHECK_EQ(rc, 0); /* an answer to a conditional PUT */
    } else {
        CHECK_EQ(rc, IVCS_ERR_S3);
        CHECK(!strcmp(op.res.code, s3_code(status)));
        CHECK(strstr(op.res.message, "fake server says") != NULL);
        CHECK(!strcmp(op.res.request_id, "tx-400"));
    }
    if (op.res.status != status || (status != 412 && rc != IVCS_ERR_S3))
        fprintf(stderr, "  early %d: rc %d (%s) status %d code '%s' detail '%s' (%llu ms)\n",
                status, rc, ivcs_strerror(rc), op.res.status, op.res.code, op.res.detail,
                (unsigned long long)ms);
    ivcs_s3_op_cleanup(&op);
    s.release = 1;
    /* The next request does not get that connection back. */
    CHECK(get_ok(s3, &s));
    ivcs_http_stats st = stats_of(s3);
    CHECK_EQ(st.connects, 2);
    CHECK_EQ(st.reused, 0);
    CHECK_EQ(st.resent, 0);
    CHECK_EQ(s.nreq, 2);
    free(body);
    ivcs_s3_destroy(s3);
    srv_stop(&s);
}

TEST(early_400_linger_plain)
{
    early_case(0, 400, A_LINGER);
}
TEST(early_400_stall_plain)
{
    early_case(0, 400, A_STALL);
}
TEST(early_400_reset_plain)
{
    early_case(0, 400, A_RST);
}
TEST(early_412_linger_plain)
{
    early_case(0, 412, A_LINGER);
}
TEST(early_400_linger_tls)
{
    early_case(1, 400, A_LINGER);
}
TEST(early_400_stall_tls)
{
    early_case(1, 400, A_STALL);
}
TEST(early_400_reset_tls)
{
    early_case(1, 400, A_RST);
}
TEST(early_412_stall_tls)
{
    early_case(1, 412, A_STALL);
}

/* ---------------------------------------------------------------- 3. chunked, 1xx */

typedef struct {
    char *buf;
    uint8_t *fine;
    size_t len, cap;
} rbuild;

static void rb_add(rbuild *r, const void *p, size_t n, int fine)
{
    if (r->len + n > r->cap) {
        r->cap = (r->len + n) * 2;
        r->buf = realloc(r->buf, r->cap);
        r->fine = realloc(r->fine, r->cap);
    }
    memcpy(r->buf + r->len, p, n);
    memset(r->fine + r->len, fine, n);
    r->len += n;
}

static void rb_str(rbuild *r, const char *s)
{
    rb_add(r, s, strlen(s), 1);
}

/* 1xx responses, then a chunked 200 whose framing (every byte that is not
 * chunk data, plus the first and last bytes of each chunk) is marked fine. */
static void build_chunked(rbuild *r, const uint8_t *body, size_t blen)
{
    rb_str(r, "HTTP/1.1 100 Continue\r\n\r\n");
    rb_str(r, "HTTP/1.1 102 Processing\r\nX-Progress: 1\r\n\r\n");
    rb_str(r, "HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\nTransfer-Encoding: chunked\r\n"
              "ETag: \"chunky\"\r\nTrailer: X-Checksum\r\n\r\n");
    static const size_t sizes[] = {1, 16, 4093, 65543, 3, 40000};
    static const char *ext[] = {"", ";a=b",    ";flag;x=\"quoted; \\\"value\\\"\"",
                                "", " ; sp=1", ";last=\"\""};
    size_t off = 0;
    for (size_t i = 0; off < blen; i++) {
        size_t n = i < sizeof sizes / sizeof sizes[0] ? sizes[i] : blen - off;
        if (n > blen - off) n = blen - off;
        char line[96];
        snprintf(line, sizeof line, i % 2 ? "%zX%s\r\n" : "%zx%s\r\n", n,
                 ext[i % (sizeof ext / sizeof ext[0])]);
        rb_str(r, line);
        if (n <= 8) {
            rb_add(r, body + off, n, 1);
        } else {
            rb_add(r, body + off, 4, 1);
            rb_add(r, body + off + 4, n - 8, 0);
            rb_add(r, body + off + n - 4, 4, 1);
        }
        rb_str(r, "\r\n");
        off += n;
    }
    rb_str(r, "0;end=1\r\nX-Checksum: deadbeef\r\nX-Other: a, b\r\n\r\n");
}

static void chunked_case(int tls)
{
    const size_t blen = 150000;
    uint8_t *body = pattern(blen, 11);
    rbuild r = {0};
    build_chunked(&r, body, blen);
    static const size_t splits[] = {1, 2, 3, 5, 7, 11, 0};
    const int n = (int)(sizeof splits / sizeof splits[0]);
    srv s = {0};
    for (int i = 0; i < n; i++)
        s.plan[i] = (plan_t){
            .mode = SV_RAW, .raw = r.buf, .raw_len = r.len, .fine = r.fine, .split = splits[i]};
    s.plan[n] = (plan_t){.mode = SV_CONTINUE, .status = 200};
    s.nplan = n + 1;
    CHECK(srv_start(&s, tls, 0, 0) == 0);
    ivcs_s3 *s3 = mk_s3(&s, 0, tls);
    CHECK(s3 != NULL);
    for (int i = 0; s3 && i < n; i++) {
        ivcs_s3_op op;
        ivcs_s3_op_init(&op, IVCS_S3_GET, "k/chunked");
        sinkbuf sk = {0};
        op.on_data = sink_data;
        op.arg = &sk;
        int hung;
        int rc = run_guarded(s3, &op, 10000, &hung, NULL);
        CHECK(!hung);
        CHECK_EQ(rc, 0);
        CHECK_EQ(op.res.status, 200);
        CHECK_EQ(sk.len, blen);
        CHECK(sk.len == blen && !memcmp(sk.p, body, blen));
        CHECK(!strcmp(op.res.etag, "\"chunky\""));
        CHECK(!strcmp(op.res.content_type, "video/mp2t"));
        if (rc || sk.len != blen)
            fprintf(stderr, "  split %zu: rc %d (%s) len %zu: %s\n", splits[i], rc,
                    ivcs_strerror(rc), sk.len, op.res.detail);
        free(sk.p);
        ivcs_s3_op_cleanup(&op);
    }
    /* A PUT answered with 100 Continue before the server reads the body. */
    const size_t plen = 200000;
    uint8_t *pbody = pattern(plen, 5);
    ivcs_s3_op op;
    ivcs_s3_op_init(&op, IVCS_S3_PUT, "k/continue");
    op.body = pbody;
    op.body_len = plen;
    int hung;
    int rc = s3 ? run_guarded(s3, &op, 5000, &hung, NULL) : -1;
    CHECK_EQ(rc, 0);
    CHECK_EQ(op.res.status, 200);
    CHECK_EQ(s.log[n].got, plen);
    CHECK_EQ(s.log[n].md5, 1);
    ivcs_s3_op_cleanup(&op);
    if (s3) {
        /* Every response ended exactly where the framing said: one connection. */
        ivcs_http_stats st = stats_of(s3);
        CHECK_EQ(st.connects, 1);
        CHECK_EQ(st.reused, (uint64_t)n);
        ivcs_s3_destroy(s3);
    }
    srv_stop(&s);
    free(pbody);
    free(body);
    free(r.buf);
    free(r.fine);
}

TEST(chunked_split_plain)
{
    chunked_case(0);
}
TEST(chunked_split_tls)
{
    chunked_case(1);
}

/* ---------------------------------------------------------------- 4. retry */

TEST(retry_classification)
{
    CHECK_EQ(ivcs_retry_should(IVCS_ERR_S3, 500), 1);
    CHECK_EQ(ivcs_retry_should(IVCS_ERR_S3, 503), 1);
    CHECK_EQ(ivcs_retry_should(IVCS_ERR_S3, 501), 0); /* NotImplemented is permanent */
    CHECK_EQ(ivcs_retry_should(IVCS_ERR_S3, 408), 1);
    CHECK_EQ(ivcs_retry_should(IVCS_ERR_S3, 429), 1);
    CHECK_EQ(ivcs_retry_should(IVCS_ERR_S3, 400), 0);
    CHECK_EQ(ivcs_retry_should(IVCS_ERR_S3, 403), 0);
    CHECK_EQ(ivcs_retry_should(IVCS_ERR_NOT_FOUND, 404), 0);
    CHECK_EQ(ivcs_retry_should(0, 412), 0);
    CHECK_EQ(ivcs_retry_should(0, 200), 0);
    CHECK_EQ(ivcs_retry_should(IVCS_ERR_CONNECT, 0), 1);
    CHECK_EQ(ivcs_retry_should(IVCS_ERR_CLOSED, 0), 1);
    CHECK_EQ(ivcs_retry_should(IVCS_ERR_TIMEOUT, 0), 1);
    CHECK_EQ(ivcs_retry_should(IVCS_ERR_TLS_VERIFY, 0), 0);
    CHECK_EQ(ivcs_retry_should(IVCS_ERR_HTTP_PARSE, 0), 0);
    CHECK_EQ(ivcs_retry_should(IVCS_ERR_INVALID_ARG, 0), 0);
}

TEST(retry_backoff_full_jitter)
{
    /* The caps: 0.5 s doubling, 16 s at most. */
    static const uint32_t caps[] = {500, 1000, 2000, 4000, 8000, 16000, 16000, 16000};
    for (unsigned a = 0; a < 8; a++)
        CHECK_EQ(ivcs_retry_backoff_cap_ms(a), caps[a]);
    CHECK_EQ(ivcs_retry_backoff_cap_ms(40), 16000);
    CHECK_EQ(ivcs_retry_backoff_cap_ms(1000), 16000);
    /* Each draw uniform in [0, cap]: bounds, spread and mean. */
    uint64_t rng = 12345;
    for (unsigned a = 0; a < 8; a++) {
        const int n = 20000;
        uint32_t lo = UINT32_MAX, hi = 0;
        double sum = 0;
        int low_quarter = 0;
        for (int i = 0; i < n; i++) {
            uint32_t d = ivcs_retry_backoff_ms(a, &rng);
            CHECK(d <= caps[a]);
            if (d < lo) lo = d;
            if (d > hi) hi = d;
            if (d < caps[a] / 4) low_quarter++;
            sum += d;
        }
        double mean = sum / n;
        CHECK(lo <= caps[a] / 100);
        CHECK(hi >= caps[a] - caps[a] / 100);
        CHECK(mean > caps[a] * 0.46 && mean < caps[a] * 0.54);
        CHECK(low_quarter > n / 5 && low_quarter < n * 3 / 10);
    }
    /* A refused connect retries under the 2 s cap at every attempt (a
     * restarting server's short windows); other failures keep the 16 s cap. */
    int over = 0;
    for (unsigned a = 0; a < 40; a++)
        for (int i = 0; i < 500; i++) {
            CHECK(ivcs_retry_delay_ms(IVCS_ERR_CONNECT, a, &rng) <= IVCS_RETRY_REFUSED_CAP_MS);
            over += ivcs_retry_delay_ms(IVCS_ERR_TIMEOUT, a, &rng) > IVCS_RETRY_REFUSED_CAP_MS;
        }
    CHECK(over > 500 * 30);
    /* A zero seed still draws. */
    uint64_t z = 0;
    uint32_t d1 = ivcs_retry_backoff_ms(3, &z), d2 = ivcs_retry_backoff_ms(3, &z);
    CHECK(z != 0);
    CHECK(d1 != d2 || ivcs_retry_backoff_ms(3, &z) != d1);
}

/* A device clock a day behind: the server answers 403 RequestTimeTooSkewed
 * with its Date; the client signs by the server's clock from then on (the
 * same request once more at once), and a Date it cannot parse is ignored. */
TEST(clock_skew_from_date)
{
    srv s = {0};
    s.plan[0] = (plan_t){.mode = SV_OK, .status = 403, .code = "RequestTimeTooSkewed"};
    s.plan[1] = (plan_t){.mode = SV_OK, .status = 200};
    s.nplan = 2;
    char date[40];
    time_t ahead = time(NULL) + 86400;
    struct tm tm;
    strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&ahead, &tm));
    s.date = date;
    ivcs_s3 *s3 = start_pair(&s, 0, 0);
    if (!s3) return;
    CHECK_EQ(ivcs_s3_clock_skew(s3), 0);
    uint8_t body[100] = {1};
    ivcs_s3_op op;
    ivcs_s3_op_init(&op, IVCS_S3_PUT, "k/skew");
    op.body = body;
    op.body_len = sizeof body;
    int rc = ivcs_s3_run(s3, &op); /* max_attempts 1: the skew retry is extra */
    CHECK_EQ(rc, 0);
    CHECK_EQ(op.res.attempts, 2);
    CHECK_EQ(s.nreq, 2);
    int64_t skew = ivcs_s3_clock_skew(s3);
    CHECK(skew >= 86400 - 5 && skew <= 86400 + 5);
    /* the second request is dated by the server's clock, the first by ours */
    char want[20];
    strftime(want, sizeof want, "%Y%m%d", gmtime_r(&ahead, &tm));
    CHECK(!strncmp(s.log[1].amz_date, want, 8));
    CHECK(strncmp(s.log[0].amz_date, want, 8) != 0);
    ivcs_s3_op_cleanup(&op);
    ivcs_s3_destroy(s3);
    srv_stop(&s);

    /* a 403 of another code, or a Date that is not an IMF-fixdate: no skew */
    srv t = {0};
    t.plan[0] = (plan_t){.mode = SV_OK, .status = 403, .code = "RequestTimeTooSkewed"};
    t.nplan = 1;
    t.date = "Sunday, 06-Nov-94 08:49:37 GMT";
    s3 = start_pair(&t, 0, 0);
    if (!s3) return;
    ivcs_s3_op_init(&op, IVCS_S3_PUT, "k/skew2");
    op.body = body;
    op.body_len = sizeof body;
    CHECK(ivcs_s3_run(s3, &op) < 0);
    CHECK_EQ(op.res.attempts, 1);
    CHECK_EQ(ivcs_s3_clock_skew(s3), 0);
    ivcs_s3_op_cleanup(&op);
    ivcs_s3_destroy(s3);
    srv_stop(&t);
}

/* s3_run with statuses[] as the server's answers in turn. */
static void retry_case(const int *statuses, int n, int kind, int want_rc, unsigned want_attempts)
{
    srv s = {0};
    for (int i = 0; i < n; i++)
        s.plan[i] = (plan_t){.mode = SV_OK,
                             .status = statuses[i],
                             .close = statuses[i] == 408 ? C_ANNOUNCE : C_KEEP};
    s.nplan = n;
    ivcs_s3 *s3 = start_pair(&s, 0, 0);
    if (!s3) return;
    const size_t blen = 100000;
    uint8_t *body = pattern(blen, 9);
    ivcs_s3_op op;
    ivcs_s3_op_init(&op, kind, "k/retry");
    if (kind == IVCS_S3_PUT) {
        op.body = body;
        op.body_len = blen;
    }
    op.max_attempts = 5;
    op.backoff_max_ms = 20; /* keep the test fast; the draw itself is tested above */
    uint64_t t0 = ivcs_loop_now_ms();
    int rc = ivcs_s3_run(s3, &op);
    uint64_t ms = ivcs_loop_now_ms() - t0;
    CHECK_EQ(rc, want_rc);
    CHECK_EQ(op.res.attempts, want_attempts);
    CHECK_EQ(s.nreq, (int)want_attempts);
    CHECK(ms < 5000);
    int last = statuses[(int)want_attempts < n ? want_attempts - 1 : (unsigned)n - 1];
    CHECK_EQ(op.res.status, last);
    if (last >= 400) CHECK(!strcmp(op.res.code, s3_code(last)));
    if (kind == IVCS_S3_PUT)
        for (unsigned i = 0; i < want_attempts && i < MAXREQ; i++) {
            CHECK_EQ(s.log[i].got, blen); /* the body was sent again in full */
            CHECK_EQ(s.log[i].md5, 1);
        }
    ivcs_s3_op_cleanup(&op);
    free(body);
    ivcs_s3_destroy(s3);
    srv_stop(&s);
}

TEST(retry_5xx_then_ok)
{
    static const int st[] = {503, 500, 200, 200};
    retry_case(st, 4, IVCS_S3_GET, 0, 3);
}

TEST(retry_408_429_then_ok)
{
    static const int st[] = {408, 429, 200, 200};
    retry_case(st, 4, IVCS_S3_GET, 0, 3);
}

TEST(retry_put_body_resent)
{
    static const int st[] = {500, 503, 200, 200};
    retry_case(st, 4, IVCS_S3_PUT, 0, 3);
}

TEST(no_retry_403)
{
    static const int st[] = {403, 200};
    retry_case(st, 2, IVCS_S3_GET, IVCS_ERR_S3, 1);
}

TEST(no_retry_404)
{
    static const int st[] = {404, 200};
    retry_case(st, 2, IVCS_S3_GET, IVCS_ERR_NOT_FOUND, 1);
}

/* 501: the server lacks the feature (Swift's s3api on If-None-Match: *). */
TEST(no_retry_501)
{
    static const int st[] = {501, 200};
    retry_case(st, 2, IVCS_S3_PUT, IVCS_ERR_S3, 1);
}

TEST(retry_gives_up)
{
    static const int st[] = {503};
    retry_case(st, 1, IVCS_S3_GET, IVCS_ERR_S3, 5);
}

/* GET and DELETE ?lifecycle: the bucket's subresource, the configuration
 * to on_data, and "none" told by its S3 code (not handed to on_data). */
TEST(lifecycle_get_delete)
{
    static const uint8_t xml[] = "<LifecycleConfiguration><Rule><ID>r</ID></Rule>"
                                 "</LifecycleConfiguration>";
    srv s = {0};
    s.get_body = xml;
    s.get_body_len = sizeof xml - 1;
    s.plan[0] = (plan_t){.mode = SV_OK, .status = 200};
    s.plan[1] = (plan_t){.mode = SV_OK, .status = 404, .code = "NoSuchLifecycleConfiguration"};
    s.plan[2] = (plan_t){.mode = SV_OK, .status = 204};
    s.nplan = 3;
    ivcs_s3 *s3 = start_pair(&s, 0, 0);
    if (!s3) return;
    for (int i = 0; i < 2; i++) {
        ivcs_s3_op op;
        ivcs_s3_op_init(&op, IVCS_S3_GET_LIFECYCLE, NULL);
        sinkbuf sk = {0};
        op.on_data = sink_data;
        op.arg = &sk;
        int rc = ivcs_s3_run(s3, &op);
        if (i == 0) {
            CHECK_EQ(rc, 0);
            CHECK_EQ(op.res.status, 200);
            CHECK(sk.len == sizeof xml - 1 && !memcmp(sk.p, xml, sk.len));
        } else {
            CHECK_EQ(rc, IVCS_ERR_NOT_FOUND);
            CHECK_EQ(op.res.status, 404);
            CHECK(!strcmp(op.res.code, "NoSuchLifecycleConfiguration"));
            CHECK_EQ(sk.len, 0); /* the error document is not the configuration */
        }
        CHECK(!strcmp(s.log[i].method, "GET"));
        CHECK(!strcmp(s.log[i].target, "/bkt?lifecycle="));
        free(sk.p);
        ivcs_s3_op_cleanup(&op);
    }
    ivcs_s3_op op;
    ivcs_s3_op_init(&op, IVCS_S3_DELETE_LIFECYCLE, NULL);
    CHECK_EQ(ivcs_s3_run(s3, &op), 0);
    CHECK_EQ(op.res.status, 204);
    CHECK(!strcmp(s.log[2].method, "DELETE"));
    CHECK(!strcmp(s.log[2].target, "/bkt?lifecycle="));
    CHECK_EQ(s.log[2].clen, 0);
    ivcs_s3_op_cleanup(&op);
    /* a body is refused before anything is sent */
    ivcs_s3_op_init(&op, IVCS_S3_DELETE_LIFECYCLE, NULL);
    op.body = xml;
    op.body_len = sizeof xml - 1;
    CHECK_EQ(ivcs_s3_start(s3, &op), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(s.nreq, 3);
    ivcs_s3_destroy(s3);
    srv_stop(&s);
}

/* ---------------------------------------------------------------- 5. reply timeout */

static void reply_timeout_case(int tls, size_t put_len)
{
    srv s = {0};
    s.plan[0] = (plan_t){.mode = SV_SILENT};
    s.plan[1] = (plan_t){.mode = SV_OK, .status = 200};
    s.nplan = 2;
    ivcs_s3 *s3 = start_pair(&s, tls, 0);
    if (!s3) return;
    ivcs_s3_set_timeouts(s3, 0, 200); /* no upload bound: only the reply bound can end it */
    uint8_t *body = put_len ? pattern(put_len, 1) : NULL;
    ivcs_s3_op op;
    ivcs_s3_op_init(&op, put_len ? IVCS_S3_PUT : IVCS_S3_GET, "k/silent");
    op.body = body;
    op.body_len = put_len;
    int hung;
    uint64_t ms = 0;
    int rc = run_guarded(s3, &op, 5000, &hung, &ms);
    CHECK(!hung);
    CHECK_EQ(rc, IVCS_ERR_TIMEOUT);
    CHECK_EQ(op.res.status, 0);
    CHECK(ms >= 150);
    CHECK(strstr(op.res.detail, "timed out") != NULL);
    if (put_len) CHECK_EQ(s.log[0].got, put_len); /* the request was all there */
    ivcs_s3_op_cleanup(&op);
    /* That connection is gone; the next request gets a new one. */
    s.release = 1;
    CHECK(get_ok(s3, &s));
    CHECK_EQ(stats_of(s3).connects, 2);
    free(body);
    ivcs_s3_destroy(s3);
    srv_stop(&s);
}

TEST(reply_timeout_get_plain)
{
    reply_timeout_case(0, 0);
}
TEST(reply_timeout_put_plain)
{
    reply_timeout_case(0, 1u << 20);
}
TEST(reply_timeout_get_tls)
{
    reply_timeout_case(1, 0);
}
TEST(reply_timeout_put_tls)
{
    reply_timeout_case(1, 1u << 20);
}

/* A TLS endpoint whose server accepts TCP and never answers the
 * handshake: bounded like the connect, not left hanging. */
TEST(handshake_stall_tls)
{
    srv s = {0};
    s.plan[0] = (plan_t){.mode = SV_SILENT};
    s.nplan = 1;
    CHECK(srv_start(&s, 0, 0, 0) == 0); /* a plain server: it waits for an HTTP head */
    ivcs_s3 *s3 = mk_s3(&s, 0, 1);
    CHECK(s3 != NULL);
    if (!s3) {
        srv_stop(&s);
        return;
    }
    ivcs_s3_set_timeouts(s3, 0, 200);
    ivcs_s3_op op;
    ivcs_s3_op_init(&op, IVCS_S3_GET, "k/hs");
    int hung;
    uint64_t ms = 0;
    int rc = run_guarded(s3, &op, 5000, &hung, &ms);
    CHECK(!hung);
    CHECK_EQ(rc, IVCS_ERR_TIMEOUT);
    CHECK(ms >= 150);
    ivcs_s3_op_cleanup(&op);
    ivcs_s3_destroy(s3);
    srv_stop(&s);
}

/* ---------------------------------------------------------------- 6. upload timeout */

static void upload_timeout_case(int tls, int use_producer)
{
    srv s = {0};
    s.plan[0] = (plan_t){.mode = SV_STALL, .stall_bytes = 100000};
    s.nplan = 1;
    ivcs_s3 *s3 = start_pair(&s, tls, 1);
    if (!s3) return;
    ivcs_s3_set_timeouts(s3, 300, 0);
    const size_t blen = 16u << 20;
    uint8_t *body = pattern(blen, 2);
    producer pr = {.data = body, .len = blen};
    ivcs_s3_op op;
    ivcs_s3_op_init(&op, IVCS_S3_PUT, "k/stall");
    if (use_producer) {
        op.body_fn = produce;
        op.body_arg = &pr;
    } else {
        op.body = body;
    }
    op.body_len = blen;
    op.content_md5 = "";
    int hung;
    uint64_t ms = 0;
    int rc = run_guarded(s3, &op, 5000, &hung, &ms);
    CHECK(!hung);
    CHECK_EQ(rc, IVCS_ERR_TIMEOUT);
    CHECK(ms >= 250);
    CHECK(strstr(op.res.detail, "timed out") != NULL);
    if (rc != IVCS_ERR_TIMEOUT)
        fprintf(stderr, "  rc %d (%s) status %d: %s\n", rc, ivcs_strerror(rc), op.res.status,
                op.res.detail);
    CHECK(s.log[0].got < blen);
    ivcs_s3_op_cleanup(&op);
    free(body);
    ivcs_s3_destroy(s3);
    srv_stop(&s);
}

TEST(upload_timeout_buffer_plain)
{
    upload_timeout_case(0, 0);
}
TEST(upload_timeout_producer_plain)
{
    upload_timeout_case(0, 1);
}
TEST(upload_timeout_buffer_tls)
{
    upload_timeout_case(1, 0);
}

/* ---------------------------------------------------------------- 7. malformed */

static const char *const malformed[] = {
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
    "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
    "HTTP/1.1 200 OK\nContent-Length: 0\n\n",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n folded: x\r\n\r\n",
    "SSH-2.0-OpenSSH_9.2\r\n\r\n",
};

static void malformed_case(int tls)
{
    for (size_t k = 0; k < sizeof malformed / sizeof malformed[0]; k++) {
        srv s = {0};
        s.plan[0] = (plan_t){.mode = SV_RAW, .raw = malformed[k], .raw_len = strlen(malformed[k])};
        s.plan[1] = (plan_t){.mode = SV_OK, .status = 200};
        s.nplan = 2;
        CHECK(srv_start(&s, tls, 0, 0) == 0);
        ivcs_s3 *s3 = mk_s3(&s, 0, tls);
        CHECK(s3 != NULL);
        if (!s3) {
            srv_stop(&s);
            continue;
        }
        ivcs_s3_op op;
        ivcs_s3_op_init(&op, IVCS_S3_GET, "k/bad");
        op.max_attempts = 3; /* a malformed answer is not retried */
        op.backoff_max_ms = 10;
        int rc = ivcs_s3_run(s3, &op);
        CHECK_EQ(rc, IVCS_ERR_HTTP_PARSE);
        CHECK_EQ(op.res.attempts, 1);
        if (rc != IVCS_ERR_HTTP_PARSE)
            fprintf(stderr, "  response %zu: rc %d (%s)\n", k, rc, ivcs_strerror(rc));
        ivcs_s3_op_cleanup(&op);
        /* The client dropped the connection (the server sees it go) and the
         * next request opens a new one. */
        CHECK(wait_atomic(&s.closed, 1, 3000));
        CHECK(get_ok(s3, &s));
        CHECK_EQ(stats_of(s3).connects, 2);
        CHECK_EQ(s.nreq, 2);
        ivcs_s3_destroy(s3);
        srv_stop(&s);
    }
}

/* Garbage from the first byte on a reused connection: not mistaken for a
 * stale connection (it answered), so not sent again. */
static void malformed_reused_case(int tls)
{
    static const char junk[] = "\x01\x02garbage\r\n\r\n";
    srv s = {0};
    s.plan[0] = (plan_t){.mode = SV_OK, .status = 200};
    s.plan[1] = (plan_t){.mode = SV_RAW, .raw = junk, .raw_len = sizeof junk - 1};
    s.plan[2] = (plan_t){.mode = SV_OK, .status = 200};
    s.nplan = 3;
    ivcs_s3 *s3 = start_pair(&s, tls, 0);
    if (!s3) return;
    CHECK(get_ok(s3, &s));
    ivcs_s3_op op;
    ivcs_s3_op_init(&op, IVCS_S3_GET, "k/junk");
    int hung;
    int rc = run_guarded(s3, &op, 5000, &hung, NULL);
    CHECK(!hung);
    CHECK_EQ(rc, IVCS_ERR_HTTP_PARSE);
    ivcs_s3_op_cleanup(&op);
    ivcs_http_stats st = stats_of(s3);
    CHECK_EQ(st.reused, 1);
    CHECK_EQ(st.resent, 0);
    CHECK_EQ(s.nreq, 2);
    CHECK(get_ok(s3, &s));
    CHECK_EQ(stats_of(s3).connects, 2);
    ivcs_s3_destroy(s3);
    srv_stop(&s);
}

TEST(malformed_plain)
{
    malformed_case(0);
}
TEST(malformed_tls)
{
    malformed_case(1);
}
TEST(malformed_reused_plain)
{
    malformed_reused_case(0);
}
TEST(malformed_reused_tls)
{
    malformed_reused_case(1);
}

/* ---------------------------------------------------------------- 8. refused, then up */

static void refused_case(int tls)
{
    /* A port nobody listens on: bind, note it, close. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    CHECK(bind(fd, (struct sockaddr *)&a, len) == 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    uint16_t port = ntohs(a.sin_port);
    close(fd);

    ivcs_s3 *s3 = mk_s3(NULL, port, tls);
    CHECK(s3 != NULL);
    if (!s3) return;
    ivcs_s3_op op;
    ivcs_s3_op_init(&op, IVCS_S3_GET, "k/refused");
    int hung;
    int rc = run_guarded(s3, &op, 5000, &hung, NULL);
    CHECK(!hung);
    CHECK_EQ(rc, IVCS_ERR_CONNECT);
    CHECK_EQ(op.res.status, 0);
    CHECK(strstr(op.res.detail, "refused") != NULL);
    ivcs_s3_op_cleanup(&op);

    srv s = {0};
    s.plan[0] = (plan_t){.mode = SV_OK, .status = 200};
    s.nplan = 1;
    CHECK(srv_start(&s, tls, port, 0) == 0);
    CHECK_EQ(s.port, port);
    CHECK(get_ok(s3, &s));
    CHECK_EQ(stats_of(s3).connects, 2);
    ivcs_s3_destroy(s3);
    srv_stop(&s);
}

/* A listener whose accept queue is full drops SYNs: the connect hangs
 * until the client's bound (the reply timeout) ends it. */
TEST(connect_timeout)
{
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    CHECK(bind(lfd, (struct sockaddr *)&a, len) == 0 && listen(lfd, 0) == 0);
    getsockname(lfd, (struct sockaddr *)&a, &len);
    /* Fill the queue (backlog 0 holds one) with connections never accepted. */
    int fill[3];
    for (int i = 0; i < 3; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        (void)connect(fill[i], (struct sockaddr *)&a, len);
    }
    usleep(50000);
    ivcs_s3 *s3 = mk_s3(NULL, ntohs(a.sin_port), 0);
    CHECK(s3 != NULL);
    if (s3) {
        ivcs_s3_set_timeouts(s3, 0, 300);
        ivcs_s3_op op;
        ivcs_s3_op_init(&op, IVCS_S3_GET, "k/syn");
        int hung;
        uint64_t ms = 0;
        int rc = run_guarded(s3, &op, 5000, &hung, &ms);
        CHECK(!hung);
        CHECK_EQ(rc, IVCS_ERR_TIMEOUT);
        CHECK(ms >= 250);
        CHECK(strstr(op.res.detail, "connect timed out") != NULL);
        ivcs_s3_op_cleanup(&op);
        ivcs_s3_destroy(s3);
    }
    for (int i = 0; i < 3; i++)
        close(fill[i]);
    close(lfd);
}

TEST(refused_then_up_plain)
{
    if (so_error_is_native("refused_then_up_plain")) refused_case(0);
}
TEST(refused_then_up_tls)
{
    if (so_error_is_native("refused_then_up_tls")) refused_case(1);
}

/* ---------------------------------------------------------------- main */

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    alarm(600); /* a hang must not outlive ctest's patience */
    if (tls_fixture_make(&tf, "http", 0) != 0) {
        fprintf(stderr, "cannot make test certificates (openssl CLI)\n");
        return 1;
    }
    RUN(stale_get_plain);
    RUN(stale_put_buffer_plain);
    RUN(stale_put_producer_plain);
    RUN(stale_get_tls);
    RUN(stale_put_buffer_tls);
    RUN(stale_put_producer_tls);
    RUN(resend_get_plain);
    RUN(resend_put_buffer_plain);
    RUN(resend_put_producer_plain);
    RUN(resend_get_tls);
    RUN(resend_put_buffer_tls);
    RUN(resend_put_producer_tls);
    RUN(stale_two_pooled_plain);
    RUN(stale_two_pooled_tls);
    RUN(trailing_junk_plain);
    RUN(trailing_junk_tls);
    RUN(early_400_linger_plain);
    RUN(early_400_stall_plain);
    RUN(early_400_reset_plain);
    RUN(early_412_linger_plain);
    RUN(early_400_linger_tls);
    RUN(early_400_stall_tls);
    RUN(early_400_reset_tls);
    RUN(early_412_stall_tls);
    RUN(chunked_split_plain);
    RUN(chunked_split_tls);
    RUN(endpoint_parse_agrees_with_config);
    RUN(retry_classification);
    RUN(retry_backoff_full_jitter);
    RUN(clock_skew_from_date);
    RUN(retry_5xx_then_ok);
    RUN(retry_408_429_then_ok);
    RUN(retry_put_body_resent);
    RUN(no_retry_403);
    RUN(no_retry_404);
    RUN(lifecycle_get_delete);
    RUN(no_retry_501);
    RUN(retry_gives_up);
    RUN(reply_timeout_get_plain);
    RUN(reply_timeout_put_plain);
    RUN(reply_timeout_get_tls);
    RUN(reply_timeout_put_tls);
    RUN(handshake_stall_tls);
    RUN(upload_timeout_buffer_plain);
    RUN(upload_timeout_producer_plain);
    RUN(upload_timeout_buffer_tls);
    RUN(malformed_plain);
    RUN(malformed_tls);
    RUN(malformed_reused_plain);
    RUN(malformed_reused_tls);
    RUN(connect_timeout);
    RUN(refused_then_up_plain);
    RUN(refused_then_up_tls);
    tls_fixture_remove(&tf);
    return check_done();
}
