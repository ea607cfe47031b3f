/* http_client.c - HTTP/1.1 over TLS (or TCP) on the io_uring loop, keep-alive pool. */
#include "engine/net/http_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/core/alloc.h"
#include "engine/net/http_parse.h"
#include "engine/core/url.h"

#define RBUF_SIZE (16 * 1024)     /* decrypted response bytes per parser feed */
#define STAGE_SIZE IVCS_HTTP_STAGE_SIZE /* producer output per SSL_write */
#define PLAIN_OUT (64 * 1024)
#define PLAIN_IN (64 * 1024)
#define CONNECT_MS_DEFAULT 30000u

enum { PH_CONNECT = 1, PH_HANDSHAKE, PH_WRITE, PH_READ, PH_DONE, PH_IDLE };

struct ivcs_http_conn {
    ivcs_http_client *cl;
    ivcs_http_request *req;
    int fd;
    ivcs_tls *tls; /* NULL: plain TCP */
    ivcs_loop_op op_send, op_recv;
    int send_busy, recv_busy;
    int phase;
    int err;       /* sticky failure of the current request */
    int eof;       /* peer closed its side */
    int reusable;  /* may go back to the pool after DONE */
    int reused;
    int over;      /* the request is out or can go no further: the reply clock runs */
    int sent;      /* the whole request is out (in the kernel) */
    int wclosed;   /* a send failed: the peer stopped reading; still read its answer */
    int rearm;     /* op_recv cancelled only to re-arm it with the reply deadline */
    uint64_t head_off, body_off;
    uint64_t deadline_total, deadline_reply; /* ms, 0: none */
    uint64_t deadline_setup; /* connect + TLS handshake, 0: none */
    uint64_t recv_dl;        /* deadline the pending receive was armed with, 0: none */
    int headers_done;
    size_t stage_off, stage_len;
    size_t pout_off, pout_len, pin_off, pin_len;
    uint8_t *pout, *pin; /* plain mode only */
    ivcs_http_parser parser;
    uint8_t rbuf[RBUF_SIZE];
    uint8_t stage[STAGE_SIZE];
};

struct ivcs_http_client {
    ivcs_loop *loop;
    const ivcs_allocator_s *alloc;
    ivcs_tls_ctx *tls_ctx; /* NULL: plain http */
    ivcs_tls_session session;
    char host[256];     /* as in the URL, brackets kept for IPv6 */
    char hostport[272]; /* Host header */
    uint16_t port;
    struct sockaddr_storage addr;
    socklen_t addr_len; /* 0: not resolved yet */
    ivcs_http_conn *idle[IVCS_HTTP_POOL_MAX];
    int nidle;
    ivcs_http_stats stats;
};

static void step(ivcs_http_conn *c);
static int conn_attach(ivcs_http_client *cl, ivcs_http_request *req, int fresh);

/* ---------------------------------------------------------------- client */

int ivcs_http_client_new(ivcs_http_client **out, const ivcs_allocator_s *alloc, ivcs_loop *loop,
                         const char *url, const char *ca_file, int verify)
{
    if (!out || !loop || !url) return IVCS_ERR_INVALID_ARG;
    ivcs_url_s u;
    if (ivcs_url_parse_endpoint(url, &u, NULL, 0) < 0) return IVCS_ERR_CONFIG;
    int tls = u.tls;
    unsigned long port = u.port;
    int explicit_port = u.explicit_port;
    alloc = ivcs_allocator_or_default(alloc);
    ivcs_http_client *cl = ivcs_alloc(alloc, sizeof *cl, _Alignof(ivcs_http_client));
    if (!cl) return IV_ERR_SYS_MALLOC_FAIL;
    memset(cl, 0, sizeof *cl);
    cl->loop = loop;
    cl->alloc = alloc;
    memcpy(cl->host, u.host, u.host_len + 1);
    cl->port = (uint16_t)port;
    if (explicit_port && port != (tls ? 443u : 80u))
        snprintf(cl->hostport, sizeof cl->hostport, "%s:%lu", cl->host, port);
    else
        snprintf(cl->hostport, sizeof cl->hostport, "%s", cl->host);
    if (tls) {
        int rc = ivcs_tls_ctx_new(&cl->tls_ctx, alloc, ca_file, verify);
        if (rc < 0) {
            ivcs_free(alloc, cl, sizeof *cl);
            return rc;
        }
    }
    *out = cl;
    return 0;
}

static void conn_free(ivcs_http_conn *c)
{
    const ivcs_allocator_s *a = c->cl->alloc;
    if (c->fd >= 0) close(c->fd);
    ivcs_tls_destroy(c->tls);
    ivcs_free(a, c->pout, PLAIN_OUT);
    ivcs_free(a, c->pin, PLAIN_IN);
    ivcs_free(a, c, sizeof *c);
}

void ivcs_http_client_drop_idle(ivcs_http_client *cl)
{
    while (cl->nidle > 0) conn_free(cl->idle[--cl->nidle]);
}

void ivcs_http_client_destroy(ivcs_http_client *cl)
{
    if (!cl) return;
    ivcs_http_client_drop_idle(cl);
    ivcs_tls_session_clear(&cl->session);
    ivcs_tls_ctx_destroy(cl->tls_ctx);
    ivcs_free(cl->alloc, cl, sizeof *cl);
}

const char *ivcs_http_client_host(const ivcs_http_client *cl)
{
    return cl->hostport;
}

void ivcs_http_client_stats(const ivcs_http_client *cl, ivcs_http_stats *out)
{
    *out = cl->stats;
}

/* ---------------------------------------------------------------- transport
 * The same few operations over TLS (ciphertext in the BIO pair) or plain
 * TCP (two linear buffers). */

static int xp_write(ivcs_http_conn *c, const uint8_t *src, size_t n)
{
    if (c->tls) return ivcs_tls_write(c->tls, src, n);
    if (c->pout_len == 0) c->pout_off = 0;
    size_t room = PLAIN_OUT - c->pout_off - c->pout_len;
    if (room == 0) return IVCS_ERR_INCOMPLETE;
    if (n > room) n = room;
    memcpy(c->pout + c->pout_off + c->pout_len, src, n);
    c->pout_len += n;
    return (int)n;
}

static size_t xp_out_peek(ivcs_http_conn *c, const uint8_t **p)
{
    if (c->tls) return ivcs_tls_out_peek(c->tls, p);
    *p = c->pout + c->pout_off;
    return c->pout_len;
}

static void xp_out_consume(ivcs_http_conn *c, size_t n)
{
    if (c->tls) {
        ivcs_tls_out_consume(c->tls, n);
        return;
    }
    c->pout_off += n;
    c->pout_len -= n;
}

static size_t xp_out_pending(ivcs_http_conn *c)
{
    return c->tls ? ivcs_tls_out_pending(c->tls) : c->pout_len;
}

static size_t xp_in_space(ivcs_http_conn *c, uint8_t **p)
{
    if (c->tls) return ivcs_tls_in_space(c->tls, p);
    if (c->pin_len == 0) c->pin_off = 0;
    *p = c->pin + c->pin_off + c->pin_len;
    return PLAIN_IN - c->pin_off - c->pin_len;
}

static void xp_in_commit(ivcs_http_conn *c, size_t n)
{
    if (c->tls) ivcs_tls_in_commit(c->tls, n);
    else c->pin_len += n;
}

/* ---------------------------------------------------------------- failure */

static void fail(ivcs_http_conn *c, int code, const char *detail)
{
    if (c->err) return;
    c->err = code;
    if (c->req && detail && detail[0] && !c->req->error[0])
        snprintf(c->req->error, sizeof c->req->error, "%s", detail);
    /* Outstanding operations must complete (cancelled) before the socket
     * and buffers they use go away. */
    if (c->send_busy) ivcs_loop_cancel(c->cl->loop, &c->op_send);
    if (c->recv_busy) ivcs_loop_cancel(c->cl->loop, &c->op_recv);
}

static void fail_errno(ivcs_http_conn *c, int code, int sys_errno, const char *what)
{
    char msg[160];
    if (sys_errno) snprintf(msg, sizeof msg, "%s: %s", what, strerror(sys_errno));
    else snprintf(msg, sizeof msg, "%s", what);
    fail(c, code, msg);
}

/* Ends the request on c: back to the pool or closed, then on_done. */
static void finish(ivcs_http_conn *c)
{
    ivcs_http_client *cl = c->cl;
    ivcs_http_request *req = c->req;
    int err = c->err;
    req->conn = NULL;
    c->req = NULL;
    if (!err && c->reusable && !c->eof && cl->nidle < IVCS_HTTP_POOL_MAX) {
        c->phase = PH_IDLE;
        cl->idle[cl->nidle++] = c;
    } else {
        /* A request whose reused connection was closed before any response
         * byte most likely met a server-side idle close: send it again, on a
         * new connection (the other idle ones may be just as stale). Only a
         * close: a timeout or garbage means the server got the request. */
        int stale = err == IVCS_ERR_CLOSED && c->reused && c->parser.nread == 0 && !req->resent;
        conn_free(c);
        if (stale) {
            req->resent = 1;
            req->error[0] = 0;
            cl->stats.resent++;
            if (conn_attach(cl, req, 1) == 0) return;
        }
    }
    if (req->on_done) req->on_done(req->arg, err, req->status);
}

/* ---------------------------------------------------------------- parser glue */

static int on_event(void *user, const ivcs_http_event *ev)
{
    ivcs_http_conn *c = user;
    ivcs_http_request *req = c->req;
    if (ev->informational) return 0; /* 100 Continue and friends: ignored */
    switch (ev->type) {
    case IVCS_HTTP_EV_STATUS:
        req->status = ev->status;
        return 0;
    case IVCS_HTTP_EV_HEADER:
        return req->on_header ? req->on_header(req->arg, ev->status, ev->name, ev->name_len,
                                               ev->value, ev->value_len)
                              : 0;
    case IVCS_HTTP_EV_HEADERS_DONE:
        c->headers_done = 1;
        return 0;
    case IVCS_HTTP_EV_BODY:
        return req->on_body ? req->on_body(req->arg, ev->status, ev->data, ev->len) : 0;
    default:
        return 0;
    }
}

static void feed(ivcs_http_conn *c, const uint8_t *data, size_t len)
{
    int64_t n = ivcs_http_parser_feed(&c->parser, data, len);
    if (n < 0) {
        fail(c, (int)n, n == IVCS_ERR_HTTP_PARSE ? "malformed HTTP response" : NULL);
        return;
    }
    if (ivcs_http_parser_done(&c->parser)) {
        /* Bytes after the response mean the server is out of step with us;
         * an answer before the whole request went out (an early error)
         * leaves the rest of the request unsent on the connection. */
        c->reusable = (size_t)n == len && c->parser.keep_alive && c->phase == PH_READ && c->sent;
        if (c->reusable && c->tls) {
            /* The same for plaintext (or a close_notify) already decrypted
             * or waiting in the pair behind the response. */
            uint8_t probe[1];
            if (ivcs_tls_read(c->tls, probe, sizeof probe) != IVCS_ERR_INCOMPLETE) c->reusable = 0;
        }
        c->phase = PH_DONE;
    }
}

/* The response is read while the request is still being written: a server
 * may answer early (an error before the body) and stop reading. */
static int receiving(const ivcs_http_conn *c)
{
    return c->phase == PH_WRITE || c->phase == PH_READ;
}

static void on_eof(ivcs_http_conn *c)
{
    c->eof = 1;
    if (!receiving(c)) {
        fail(c, IVCS_ERR_CLOSED, "connection closed by the server");
        return;
    }
    int rc = ivcs_http_parser_eof(&c->parser);
    if (rc < 0) {
        fail(c, rc, "connection closed by the server");
    } else if (ivcs_http_parser_done(&c->parser)) {
        c->reusable = 0;
        c->phase = PH_DONE;
    }
}

/* Decrypts and parses what has arrived. */
static void pull(ivcs_http_conn *c)
{
    while (!c->err && receiving(c)) {
        if (c->tls) {
            int r = ivcs_tls_read(c->tls, c->rbuf, sizeof c->rbuf);
            if (r > 0) {
                feed(c, c->rbuf, (size_t)r);
            } else if (r == IVCS_ERR_INCOMPLETE) {
                return;
            } else if (r == 0 || r == IVCS_ERR_CLOSED) {
                on_eof(c);
            } else {
                fail(c, r, ivcs_tls_error(c->tls));
            }
        } else {
            if (c->pin_len == 0) {
                if (c->eof) on_eof(c);
                return;
            }
            size_t n = c->pin_len;
            const uint8_t *d = c->pin + c->pin_off;
            c->pin_off += n;
            c->pin_len = 0;
            feed(c, d, n);
        }
    }
}

/* Encrypts as much of the request as the outgoing buffer takes. */
static void push(ivcs_http_conn *c)
{
    ivcs_http_request *req = c->req;
    while (!c->err && !c->wclosed && c->phase == PH_WRITE) {
        const uint8_t *src;
        size_t n;
        int in_head = c->head_off < req->head_len;
        if (in_head) {
            src = (const uint8_t *)req->head + c->head_off;
            n = req->head_len - c->head_off;
        } else if (c->body_off >= req->body_len) {
            c->phase = PH_READ; /* the reply deadline starts once it is sent */
            return;
        } else if (req->body) {
            src = req->body + c->body_off;
            n = (size_t)(req->body_len - c->body_off);
        } else {
            if (c->stage_off == c->stage_len) {
                uint64_t left = req->body_len - c->body_off;
                size_t cap = left < STAGE_SIZE ? (size_t)left : STAGE_SIZE;
                int64_t r = req->body_fn ? req->body_fn(req->body_arg, c->body_off, c->stage, cap)
                                         : IVCS_ERR_INVALID_ARG;
                if (r <= 0 || (uint64_t)r > cap) {
                    fail(c, r < 0 ? (int)r : IVCS_ERR_WRITE, "request body producer failed");
                    return;
                }
                c->stage_off = 0;
                c->stage_len = (size_t)r;
            }
            src = c->stage + c->stage_off;
            n = c->stage_len - c->stage_off;
        }
        int w = xp_write(c, src, n);
        if (w == IVCS_ERR_INCOMPLETE) return;
        if (w < 0) {
            fail(c, w, c->tls ? ivcs_tls_error(c->tls) : NULL);
            return;
        }
        if (in_head) {
            c->head_off += (uint64_t)w;
        } else {
            c->body_off += (uint64_t)w;
            if (!req->body) c->stage_off += (size_t)w;
        }
    }
}

/* The deadline a receive posted now must keep, 0 for none. */
static uint64_t recv_deadline(const ivcs_http_conn *c)
{
    uint64_t dl = c->deadline_total;
    if (c->phase == PH_HANDSHAKE && c->deadline_setup && (!dl || c->deadline_setup < dl))
        dl = c->deadline_setup;
    if (!c->headers_done && c->deadline_reply && (!dl || c->deadline_reply < dl))
        dl = c->deadline_reply;
    return dl;
}

static uint32_t op_timeout(ivcs_http_conn *c, int for_recv)
{
    uint64_t now = ivcs_loop_now_ms(), dl = c->deadline_total;
    if (for_recv) dl = recv_deadline(c);
    else if (c->phase == PH_HANDSHAKE && c->deadline_setup && (!dl || c->deadline_setup < dl))
        dl = c->deadline_setup;
    if (!dl) return 0;
    return dl > now ? (uint32_t)(dl - now) : 1;
}

static void on_send(ivcs_loop_op *op, int res)
{
    ivcs_http_conn *c = op->arg;
    c->send_busy = 0;
    if (c->phase == PH_DONE && !c->err) {
        /* Cancelled after an early answer: the rest of the request is moot. */
    } else if (res == IVCS_ERR_CLOSED && !c->err && receiving(c) && !c->eof) {
        /* The server stopped reading (reset): it may have answered first,
         * and that answer is still readable. The receive tells. */
        c->wclosed = 1;
        if (c->req && !c->req->error[0])
            snprintf(c->req->error, sizeof c->req->error, "send: %s", strerror(op->sys_errno));
    } else if (res < 0) {
        fail_errno(c, res, op->sys_errno, res == IVCS_ERR_TIMEOUT ? "upload timed out" : "send");
    } else if (!c->err) {
        xp_out_consume(c, (size_t)res);
    }
    step(c);
}

static void on_recv(ivcs_loop_op *op, int res)
{
    ivcs_http_conn *c = op->arg;
    c->recv_busy = 0;
    int rearm = c->rearm;
    c->rearm = 0;
    if ((rearm && res == IVCS_ERR_CANCELLED) || (c->phase == PH_DONE && !c->err)) {
        /* Cancelled to be re-armed with the reply deadline, or after the
         * response was complete: nothing to report. */
    } else if (res < 0) {
        fail_errno(c, res, op->sys_errno,
                   res == IVCS_ERR_TIMEOUT ? "timed out waiting for the server" : "recv");
    } else if (!c->err) {
        if (res == 0) {
            if (c->tls) ivcs_tls_in_eof(c->tls);
            c->eof = 1;
            if (!c->tls && !receiving(c)) on_eof(c);
        } else {
            xp_in_commit(c, (size_t)res);
        }
    }
    step(c);
}

static void on_connect(ivcs_loop_op *op, int res)
{
    ivcs_http_conn *c = op->arg;
    c->send_busy = 0;
    op->cb = on_send;
    if (res < 0) {
        /* The address may have changed: resolve again next time. */
        c->cl->addr_len = 0;
        fail_errno(c, res == IVCS_ERR_TIMEOUT ? IVCS_ERR_TIMEOUT : IVCS_ERR_CONNECT, op->sys_errno,
                   res == IVCS_ERR_TIMEOUT ? "connect timed out" : "connect");
    } else if (!c->err) {
        c->phase = c->tls ? PH_HANDSHAKE : PH_WRITE;
    }
    step(c);
}

/* Does all the CPU work possible, then queues the I/O the state needs. */
static void step(ivcs_http_conn *c)
{
    if (!c->err) {
        if (c->phase == PH_HANDSHAKE) {
            int r = ivcs_tls_handshake(c->tls);
            if (r == 0) {
                c->phase = PH_WRITE;
                c->req->resumed = ivcs_tls_resumed(c->tls);
                if (c->req->resumed) c->cl->stats.resumed++;
                else c->cl->stats.handshakes++;
            } else if (r != IVCS_ERR_INCOMPLETE) {
                fail(c, r, ivcs_tls_error(c->tls));
            }
        }
        if (c->phase == PH_WRITE) push(c);
        if (receiving(c)) pull(c);
        if (!c->err && receiving(c) && c->eof && !c->recv_busy) {
            /* EOF seen while writing (TLS: may still hold the response). */
            pull(c);
            if (!c->err && receiving(c)) on_eof(c);
        }
    }
    if (c->err || c->phase == PH_DONE) {
        if (c->phase == PH_DONE && !c->err && (c->recv_busy || c->send_busy)) {
            /* The response is complete while I/O is still out (an early
             * answer): stop it; this connection cannot be pooled. */
            c->reusable = 0;
            if (c->recv_busy) ivcs_loop_cancel(c->cl->loop, &c->op_recv);
            if (c->send_busy) ivcs_loop_cancel(c->cl->loop, &c->op_send);
        }
        if (!c->send_busy && !c->recv_busy) finish(c);
        return;
    }
    ivcs_loop *l = c->cl->loop;
    if (!c->over && (c->wclosed || (c->phase == PH_READ && !c->send_busy &&
                                     xp_out_pending(c) == 0))) {
        /* The request is out (or can go no further): from now on the reply
         * deadline runs. A receive posted while writing was armed without
         * it: re-arm it. */
        c->over = 1;
        c->sent = !c->wclosed;
        if (c->req->reply_ms) {
            c->deadline_reply = ivcs_loop_now_ms() + c->req->reply_ms;
            if (c->recv_busy && !c->rearm && !c->headers_done &&
                (!c->recv_dl || c->recv_dl > c->deadline_reply)) {
                c->rearm = 1;
                ivcs_loop_cancel(l, &c->op_recv);
            }
        }
    }
    if (!c->send_busy && !c->wclosed && c->phase >= PH_HANDSHAKE) {
        const uint8_t *p;
        size_t n = xp_out_peek(c, &p);
        if (n > 0) {
            c->send_busy = 1;
            int rc = ivcs_loop_send(l, &c->op_send, c->fd, p, n, op_timeout(c, 0));
            if (rc < 0) {
                c->send_busy = 0;
                fail(c, rc, "send");
            }
        }
    }
    if (!c->err && !c->recv_busy && !c->eof && c->phase >= PH_HANDSHAKE) {
        uint8_t *p;
        size_t n = xp_in_space(c, &p);
        if (n > 0) {
            c->recv_busy = 1;
            c->recv_dl = recv_deadline(c);
            int rc = ivcs_loop_recv(l, &c->op_recv, c->fd, p, n, op_timeout(c, 1));
            if (rc < 0) {
                c->recv_busy = 0;
                fail(c, rc, "recv");
            }
        }
    }
    if (c->err && !c->send_busy && !c->recv_busy) finish(c);
}

/* ---------------------------------------------------------------- requests */

static int conn_new(ivcs_http_client *cl, ivcs_http_conn **out)
{
    ivcs_http_conn *c = ivcs_alloc(cl->alloc, sizeof *c, _Alignof(ivcs_http_conn));
    if (!c) return IV_ERR_SYS_MALLOC_FAIL;
    memset(c, 0, offsetof(ivcs_http_conn, parser));
    c->cl = cl;
    c->fd = -1;
    int rc = 0;
    if (cl->tls_ctx) {
        rc = ivcs_tls_new(&c->tls, cl->tls_ctx, cl->host, &cl->session);
    } else {
        c->pout = ivcs_alloc(cl->alloc, PLAIN_OUT, 64);
        c->pin = ivcs_alloc(cl->alloc, PLAIN_IN, 64);
        if (!c->pout || !c->pin) rc = IV_ERR_SYS_MALLOC_FAIL;
    }
    if (rc == 0 && !cl->addr_len)
        rc = ivcs_loop_resolve(cl->host, cl->port, &cl->addr, &cl->addr_len);
    if (rc == 0) {
        c->fd = ivcs_loop_socket(&cl->addr);
        if (c->fd < 0) rc = c->fd;
    }
    if (rc == 0) rc = ivcs_http_parser_init(&c->parser, 0, on_event, c);
    if (rc < 0) {
        if (rc == IVCS_ERR_RESOLVE) cl->addr_len = 0;
        conn_free(c);
        return rc;
    }
    c->op_send.arg = c;
    c->op_recv.arg = c;
    c->op_recv.cb = on_recv;
    *out = c;
    return 0;
}

/* 1 if an idle pooled connection still looks usable: nothing to read on
 * it. EOF means the server closed it; bytes mean it sent something we did
 * not ask for (or, over TLS, a close_notify): either way not reusable. */
static int idle_alive(const ivcs_http_conn *c)
{
    uint8_t b;
    ssize_t r = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* Gives req a connection: a pooled one, or (fresh, or none pooled) a new one. */
static int conn_attach(ivcs_http_client *cl, ivcs_http_request *req, int fresh)
{
    ivcs_http_conn *c = NULL;
    int reused = 0;
    while (!fresh && cl->nidle > 0) {
        c = cl->idle[--cl->nidle];
        if (idle_alive(c)) break;
        conn_free(c);
        c = NULL;
    }
    if (c) {
        reused = 1;
        cl->stats.reused++;
    } else {
        int rc = conn_new(cl, &c);
        if (rc < 0) {
            snprintf(req->error, sizeof req->error, "%s %.200s",
                     rc == IVCS_ERR_RESOLVE ? "cannot resolve" : "cannot set up connection to",
                     cl->host);
            return rc;
        }
    }
    c->req = req;
    req->conn = c;
    req->reused = reused;
    c->reused = reused;
    c->err = 0;
    c->eof = 0;
    c->reusable = 0;
    c->over = 0;
    c->sent = 0;
    c->wclosed = 0;
    c->rearm = 0;
    c->recv_dl = 0;
    c->deadline_setup = 0;
    c->head_off = c->body_off = 0;
    c->stage_off = c->stage_len = 0;
    c->headers_done = 0;
    c->deadline_reply = 0;
    c->deadline_total = req->upload_ms ? ivcs_loop_now_ms() + req->upload_ms : 0;
    ivcs_http_parser_reset(&c->parser, req->is_head ? IVCS_HTTP_REQ_HEAD : 0);
    if (reused) {
        c->phase = PH_WRITE;
        step(c);
        return 0;
    }
    cl->stats.connects++;
    c->phase = PH_CONNECT;
    c->op_send.cb = on_connect;
    uint32_t cms = req->reply_ms ? req->reply_ms : CONNECT_MS_DEFAULT;
    if (req->upload_ms && req->upload_ms < cms) cms = req->upload_ms;
    /* The TLS handshake gets what the connect leaves of the same bound: a
     * server that accepts and never answers must not hold us forever. */
    c->deadline_setup = ivcs_loop_now_ms() + cms;
    c->send_busy = 1;
    int rc = ivcs_loop_connect(cl->loop, &c->op_send, c->fd, &cl->addr, cl->addr_len, cms);
    if (rc < 0) {
        req->conn = NULL;
        conn_free(c);
        return rc;
    }
    return 0;
}

int ivcs_http_request_start(ivcs_http_client *cl, ivcs_http_request *req)
{
    if (!cl || !req || !req->head || !req->head_len) return IVCS_ERR_INVALID_ARG;
    if (req->body_len && !req->body && !req->body_fn) return IVCS_ERR_INVALID_ARG;
    req->status = 0;
    req->resumed = 0;
    req->reused = 0;
    req->error[0] = 0;
    req->resent = 0;
    req->conn = NULL;
    return conn_attach(cl, req, 0);
}

void ivcs_http_request_cancel(ivcs_http_client *cl, ivcs_http_request *req)
{
    (void)cl;
    if (!req || !req->conn) return;
    ivcs_http_conn *c = req->conn;
    fail(c, IVCS_ERR_CANCELLED, "cancelled");
    if (!c->send_busy && !c->recv_busy) finish(c);
}
