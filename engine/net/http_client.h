/*
 * http_client.h - asynchronous HTTP/1.1 client over the io_uring loop, with
 * TLS (tls.h) or plain TCP, and a keep-alive pool for one endpoint.
 *
 * A client talks to one endpoint (scheme, host, port) and keeps up to
 * IVCS_HTTP_POOL_MAX idle connections to it; a request takes an idle one or
 * opens a new one (resolve on the control path, connect, TLS handshake with
 * session resumption). The caller writes the whole request head (request
 * line and header fields, Host and Content-Length included, ending with the
 * empty line: SigV4 signs them, so they are the caller's) and gives the body
 * as a buffer or as a producer callback. The response is parsed by
 * http_parse.h and reported through the request's callbacks.
 *
 * A request that fails on a reused keep-alive connection before the server
 * sent any byte (it had closed the idle connection) is sent again once on a
 * new connection: the body producer must therefore be able to produce any
 * offset again. Other failures are reported, not retried: retry.h decides.
 *
 * Timeouts: upload_ms bounds the whole request from start to the last body
 * byte of the response; reply_ms bounds the wait for the response header
 * after the last request byte was sent. 0 means none.
 *
 * Threads: the loop's thread only. All structs are caller-owned and must
 * stay valid until on_done has run.
 */
#ifndef IVCS_NET_HTTP_CLIENT_H
#define IVCS_NET_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "engine/net/loop.h"
#include "engine/net/tls.h"
#include "ivcs_base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IVCS_HTTP_POOL_MAX 4
/* A body producer is called with cap = min(bytes left, IVCS_HTTP_STAGE_SIZE). */
#define IVCS_HTTP_STAGE_SIZE (64 * 1024)

typedef struct ivcs_http_client ivcs_http_client;
typedef struct ivcs_http_conn ivcs_http_conn;
typedef struct ivcs_http_request ivcs_http_request;

/* Body producer (pull): writes up to cap bytes of the body, starting at
 * byte offset, into buf; returns the number written (> 0 unless the body is
 * over) or a negative code, which fails the request. The client calls it
 * with increasing offsets, and again from 0 if the request is resent. */
typedef int64_t (*ivcs_http_body_fn)(void *arg, uint64_t offset, uint8_t *buf, size_t cap);

struct ivcs_http_request {
    /* in */
    const char *head;      /* request line + fields + "\r\n" */
    size_t head_len;
    const uint8_t *body;   /* body in memory, or NULL */
    ivcs_http_body_fn body_fn; /* or a producer (when body is NULL) */
    void *body_arg;
    uint64_t body_len;     /* the Content-Length the head announces */
    int is_head;           /* a HEAD request: the response has no body */
    uint32_t upload_ms;    /* see above; 0: none */
    uint32_t reply_ms;
    /* response callbacks (any may be NULL); a non-zero return from
     * on_header/on_body fails the request with that code */
    int (*on_header)(void *arg, int status, const char *name, size_t name_len,
                     const char *value, size_t value_len);
    int (*on_body)(void *arg, int status, const uint8_t *data, size_t len);
    /* result: 0 with the final status, or a negative code (status 0 if no
     * response was read). Runs exactly once per started request. */
    void (*on_done)(void *arg, int result, int status);
    void *arg;
    /* out */
    int status;
    int resumed;      /* 1 if its connection's TLS session was resumed */
    int reused;       /* 1 if it ran on a pooled keep-alive connection */
    char error[256];  /* detail of a failure (TLS verify reason, errno), "" */
    /* private */
    ivcs_http_conn *conn;
    int resent;
};

/* Creates a client for url's endpoint ("https://host[:port]" or
 * "http://host[:port]", parsed by url.h as the config's validation does). ca_file/verify as for
 * ivcs_tls_ctx_new. IVCS_ERR_CONFIG for a URL it cannot use. */
IVCS_MUST_CHECK int ivcs_http_client_new(ivcs_http_client **out, const ivcs_allocator_s *alloc,
                                         ivcs_loop *loop, const char *url, const char *ca_file,
                                         int verify);
/* Closes idle connections and frees the client. No request may be active. */
void ivcs_http_client_destroy(ivcs_http_client *cl);

/* Host header value for the endpoint ("host" or "host:port" when the port
 * is not the scheme's default). */
const char *ivcs_http_client_host(const ivcs_http_client *cl);

/* Starts a request. Returns 0 (on_done will run from the loop) or a
 * negative code (it will not). */
IVCS_MUST_CHECK int ivcs_http_request_start(ivcs_http_client *cl, ivcs_http_request *req);

/* Aborts a started request: on_done runs with IVCS_ERR_CANCELLED. */
void ivcs_http_request_cancel(ivcs_http_client *cl, ivcs_http_request *req);

/* Closes every idle pooled connection (e.g. after the server restarted). */
void ivcs_http_client_drop_idle(ivcs_http_client *cl);

/* Counters for tests and stats. */
typedef struct ivcs_http_stats {
    uint64_t connects;   /* TCP connections opened */
    uint64_t handshakes; /* full TLS handshakes */
    uint64_t resumed;    /* resumed TLS handshakes */
    uint64_t reused;     /* requests served on a pooled connection */
    uint64_t resent;     /* requests resent after a stale connection */
} ivcs_http_stats;
void ivcs_http_client_stats(const ivcs_http_client *cl, ivcs_http_stats *out);

#ifdef __cplusplus
}
#endif
#endif
