/*
 * test_tls.c - TLS over BIO pairs driven by the io_uring loop, against an
 * in-process OpenSSL server (a thread with a plain socket BIO) using a
 * throwaway CA made with the openssl CLI: verification by IP and by name,
 * wrong CA, wrong host, SNI, session resumption, bulk transfer both ways.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "engine/net/loop.h"
#include "engine/net/tls.h"
#include "tls_fixture.h"

static tls_fixture tf;

/* ---------------------------------------------------------------- server */
typedef struct {
    int lfd;
    uint16_t port;
    int conns;         /* connections to serve */
    int ok;            /* sessions completed */
    char sni[64];      /* SNI of the last good session */
    pthread_t th;
} server;

static int ssl_read_full(SSL *s, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        int r = SSL_read(s, (char *)buf + got, (int)(n - got));
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    return 0;
}

/* Per connection: reads an 8-byte length L and L bytes, answers the byte sum
 * (8 bytes) followed by L bytes of pattern. */
static void *server_main(void *arg)
{
    server *s = arg;
    SSL_CTX *ctx = tls_fixture_server_ctx(&tf);
    if (!ctx) return NULL;
    for (int i = 0; i < s->conns; i++) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0) break;
        SSL *ssl = SSL_new(ctx);
        SSL_set_fd(ssl, fd);
        if (SSL_accept(ssl) == 1) {
            uint64_t len = 0, sum = 0;
            if (ssl_read_full(ssl, &len, 8) == 0 && len < (64u << 20)) {
                uint8_t *buf = malloc(len + 1);
                if (ssl_read_full(ssl, buf, len) == 0) {
                    for (uint64_t k = 0; k < len; k++) sum += buf[k];
                    for (uint64_t k = 0; k < len; k++) buf[k] = (uint8_t)(k * 31 + 7);
                    SSL_write(ssl, &sum, 8);
                    size_t off = 0;
                    while (off < len) {
                        int w = SSL_write(ssl, buf + off, (int)(len - off));
                        if (w <= 0) break;
                        off += (size_t)w;
                    }
                    const char *sn = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
                    snprintf(s->sni, sizeof s->sni, "%s", sn ? sn : "");
                    s->ok++;
                }
                free(buf);
            }
            SSL_shutdown(ssl);
        }
        SSL_free(ssl);
        close(fd);
        ERR_clear_error();
    }
    SSL_CTX_free(ctx);
    return NULL;
}

static int server_start(server *s, int conns)
{
    memset(s, 0, sizeof *s);
    s->conns = conns;
    s->lfd = tls_fixture_listen(0, 0, &s->port);
    if (s->lfd < 0) return -1;
    return pthread_create(&s->th, NULL, server_main, s);
}

static void server_stop(server *s)
{
    shutdown(s->lfd, SHUT_RDWR);
    pthread_join(s->th, NULL);
    close(s->lfd);
}

/* ---------------------------------------------------------------- client */
typedef struct {
    int done, res;
} result;

static void on_done(ivcs_loop_op *op, int res)
{
    result *r = op->arg;
    r->done = 1;
    r->res = res;
}

static int wait_op(ivcs_loop *l, result *r)
{
    while (!r->done) ivcs_loop_run_once(l, -1);
    return r->res;
}

static int flush(ivcs_loop *l, int fd, ivcs_tls *t)
{
    const uint8_t *p;
    size_t n;
    while ((n = ivcs_tls_out_peek(t, &p)) > 0) {
        result r = {0, 0};
        ivcs_loop_op op = {.cb = on_done, .arg = &r};
        if (ivcs_loop_send(l, &op, fd, p, n, 5000) != 0) return -1;
        int res = wait_op(l, &r);
        if (res <= 0) return res < 0 ? res : IVCS_ERR_CLOSED;
        ivcs_tls_out_consume(t, (size_t)res);
    }
    return 0;
}

static int fill(ivcs_loop *l, int fd, ivcs_tls *t)
{
    uint8_t *p;
    size_t n = ivcs_tls_in_space(t, &p);
    if (n == 0) return 0;
    result r = {0, 0};
    ivcs_loop_op op = {.cb = on_done, .arg = &r};
    if (ivcs_loop_recv(l, &op, fd, p, n, 5000) != 0) return -1;
    int res = wait_op(l, &r);
    if (res < 0) return res;
    if (res == 0) ivcs_tls_in_eof(t);
    else ivcs_tls_in_commit(t, (size_t)res);
    return 0;
}

static int handshake(ivcs_loop *l, int fd, ivcs_tls *t)
{
    for (;;) {
        int r = ivcs_tls_handshake(t);
        int f = flush(l, fd, t);
        if (r == 0) return f;
        if (r != IVCS_ERR_INCOMPLETE) return r;
        if (f < 0) return f;
        if ((f = fill(l, fd, t)) < 0) return f;
    }
}

static int write_all(ivcs_loop *l, int fd, ivcs_tls *t, const uint8_t *buf, size_t len)
{
    while (len) {
        int n = ivcs_tls_write(t, buf, len);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
        } else if (n == IVCS_ERR_INCOMPLETE) {
            if (flush(l, fd, t) < 0) return -1;
        } else {
            return n;
        }
    }
    return flush(l, fd, t);
}

static int read_full(ivcs_loop *l, int fd, ivcs_tls *t, uint8_t *buf, size_t len)
{
    while (len) {
        int n = ivcs_tls_read(t, buf, len);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
        } else if (n == IVCS_ERR_INCOMPLETE) {
            if (flush(l, fd, t) < 0 || fill(l, fd, t) < 0) return -1;
        } else {
            return n == 0 ? IVCS_ERR_CLOSED : n;
        }
    }
    return 0;
}

/* One connection: handshake as `host` then a transfer of len bytes each way.
 * Returns 0 or the first failure; *resumed tells whether the session was. */
static int session(ivcs_loop *l, ivcs_tls_ctx *ctx, uint16_t port, const char *host,
                   ivcs_tls_session *slot, size_t len, int *resumed, char *why, size_t why_len)
{
    struct sockaddr_storage a;
    socklen_t alen;
    if (ivcs_loop_resolve("127.0.0.1", port, &a, &alen) != 0) return -1;
    int fd = ivcs_loop_socket(&a);
    result r = {0, 0};
    ivcs_loop_op op = {.cb = on_done, .arg = &r};
    if (ivcs_loop_connect(l, &op, fd, &a, alen, 2000) != 0 || wait_op(l, &r) != 0) {
        close(fd);
        return IVCS_ERR_CONNECT;
    }
    ivcs_tls *t;
    int rc = ivcs_tls_new(&t, ctx, host, slot);
    if (rc != 0) {
        close(fd);
        return rc;
    }
    rc = handshake(l, fd, t);
    if (why) snprintf(why, why_len, "%s", ivcs_tls_error(t));
    if (rc == 0) {
        uint8_t *buf = malloc(len + 8);
        uint64_t l64 = len, sum = 0, got_sum = 0;
        for (size_t k = 0; k < len; k++) {
            buf[k] = (uint8_t)(k * 13 + 1);
            sum += buf[k];
        }
        rc = write_all(l, fd, t, (const uint8_t *)&l64, 8);
        if (rc == 0) rc = write_all(l, fd, t, buf, len);
        if (rc == 0) rc = read_full(l, fd, t, (uint8_t *)&got_sum, 8);
        if (rc == 0 && got_sum != sum) rc = -1;
        memset(buf, 0, len);
        if (rc == 0) rc = read_full(l, fd, t, buf, len);
        for (size_t k = 0; rc == 0 && k < len; k++)
            if (buf[k] != (uint8_t)(k * 31 + 7)) rc = -2;
        /* Drain to the server's close_notify so TLS 1.3 tickets are read. */
        uint8_t tail[64];
        while (rc == 0) {
            int n = ivcs_tls_read(t, tail, sizeof tail);
            if (n == IVCS_ERR_INCOMPLETE) {
                if (fill(l, fd, t) < 0) break;
            } else if (n <= 0) {
                break;
            }
        }
        if (resumed) *resumed = ivcs_tls_resumed(t);
        free(buf);
    }
    ivcs_tls_destroy(t);
    close(fd);
    return rc;
}

TEST(verified_by_ip_bulk_both_ways)
{
    server s;
    CHECK_EQ(server_start(&s, 1), 0);
    ivcs_loop *l;
    ivcs_tls_ctx *ctx;
    CHECK_EQ(ivcs_loop_new(&l, &check_alloc, 0), 0);
    CHECK_EQ(ivcs_tls_ctx_new(&ctx, &check_alloc, tf.ca_pem, 1), 0);
    /* 3 MiB: several wraps of both BIO rings. */
    CHECK_EQ(session(l, ctx, s.port, "127.0.0.1", NULL, 3u << 20, NULL, NULL, 0), 0);
    server_stop(&s);
    CHECK_EQ(s.ok, 1);
    CHECK_EQ(s.sni[0], 0); /* no SNI for an IP literal */
    ivcs_tls_ctx_destroy(ctx);
    ivcs_loop_destroy(l);
}

TEST(verified_by_name_sends_sni_and_resumes)
{
    server s;
    CHECK_EQ(server_start(&s, 2), 0);
    ivcs_loop *l;
    ivcs_tls_ctx *ctx;
    CHECK_EQ(ivcs_loop_new(&l, &check_alloc, 0), 0);
    CHECK_EQ(ivcs_tls_ctx_new(&ctx, &check_alloc, tf.ca_pem, 1), 0);
    ivcs_tls_session slot = {0};
    int resumed = -1;
    CHECK_EQ(session(l, ctx, s.port, "localhost", &slot, 1000, &resumed, NULL, 0), 0);
    CHECK_EQ(resumed, 0);
    CHECK(slot.sess != NULL);
    CHECK_EQ(session(l, ctx, s.port, "localhost", &slot, 1000, &resumed, NULL, 0), 0);
    CHECK_EQ(resumed, 1);
    server_stop(&s);
    CHECK_EQ(s.ok, 2);
    CHECK(!strcmp(s.sni, "localhost"));
    ivcs_tls_session_clear(&slot);
    ivcs_tls_ctx_destroy(ctx);
    ivcs_loop_destroy(l);
}

TEST(untrusted_ca_fails_verification_with_reason)
{
    server s;
    CHECK_EQ(server_start(&s, 1), 0);
    ivcs_loop *l;
    ivcs_tls_ctx *ctx;
    CHECK_EQ(ivcs_loop_new(&l, &check_alloc, 0), 0);
    CHECK_EQ(ivcs_tls_ctx_new(&ctx, &check_alloc, tf.ca2_pem, 1), 0);
    char why[256] = "";
    CHECK_EQ(session(l, ctx, s.port, "127.0.0.1", NULL, 10, NULL, why, sizeof why),
             IVCS_ERR_TLS_VERIFY);
    fprintf(stderr, "  reason: %s\n", why);
    CHECK(strstr(why, "certificate verify failed: ") == why);
    CHECK(strstr(why, "issuer") != NULL);
    server_stop(&s);
    CHECK_EQ(s.ok, 0);
    ivcs_tls_ctx_destroy(ctx);
    ivcs_loop_destroy(l);
}

TEST(system_store_does_not_trust_test_ca)
{
    server s;
    CHECK_EQ(server_start(&s, 1), 0);
    ivcs_loop *l;
    ivcs_tls_ctx *ctx;
    CHECK_EQ(ivcs_loop_new(&l, &check_alloc, 0), 0);
    CHECK_EQ(ivcs_tls_ctx_new(&ctx, &check_alloc, "", 1), 0);
    CHECK_EQ(session(l, ctx, s.port, "localhost", NULL, 10, NULL, NULL, 0), IVCS_ERR_TLS_VERIFY);
    server_stop(&s);
    ivcs_tls_ctx_destroy(ctx);
    ivcs_loop_destroy(l);
}

TEST(wrong_host_or_ip_fails_verification)
{
    server s;
    CHECK_EQ(server_start(&s, 2), 0);
    ivcs_loop *l;
    ivcs_tls_ctx *ctx;
    CHECK_EQ(ivcs_loop_new(&l, &check_alloc, 0), 0);
    CHECK_EQ(ivcs_tls_ctx_new(&ctx, &check_alloc, tf.ca_pem, 1), 0);
    char why[256] = "";
    CHECK_EQ(session(l, ctx, s.port, "example.com", NULL, 10, NULL, why, sizeof why),
             IVCS_ERR_TLS_VERIFY);
    CHECK(strstr(why, "hostname mismatch") != NULL);
    CHECK_EQ(session(l, ctx, s.port, "127.0.0.2", NULL, 10, NULL, why, sizeof why),
             IVCS_ERR_TLS_VERIFY);
    CHECK(strstr(why, "IP address mismatch") != NULL);
    server_stop(&s);
    ivcs_tls_ctx_destroy(ctx);
    ivcs_loop_destroy(l);
}

TEST(verify_off_accepts_anything)
{
    server s;
    CHECK_EQ(server_start(&s, 1), 0);
    ivcs_loop *l;
    ivcs_tls_ctx *ctx;
    CHECK_EQ(ivcs_loop_new(&l, &check_alloc, 0), 0);
    CHECK_EQ(ivcs_tls_ctx_new(&ctx, &check_alloc, NULL, 0), 0);
    CHECK_EQ(session(l, ctx, s.port, "example.com", NULL, 100, NULL, NULL, 0), 0);
    server_stop(&s);
    ivcs_tls_ctx_destroy(ctx);
    ivcs_loop_destroy(l);
}

TEST(missing_ca_file_is_an_error)
{
    ivcs_tls_ctx *ctx = NULL;
    CHECK_EQ(ivcs_tls_ctx_new(&ctx, &check_alloc, "/nonexistent/ca.pem", 1), IVCS_ERR_TLS);
    CHECK(ctx == NULL);
    /* and why, in words (issue 9) */
    char why[160];
    CHECK_EQ(ivcs_tls_ca_file_check("/nonexistent/ca.pem", why, sizeof why), IVCS_ERR_TLS);
    CHECK(strstr(why, "No such file") != NULL);
    CHECK_EQ(ivcs_tls_ca_file_check("/", why, sizeof why), IVCS_ERR_TLS);
    CHECK(strstr(why, "directory") != NULL);
    CHECK_EQ(ivcs_tls_ca_file_check("/etc/hostname", why, sizeof why), IVCS_ERR_TLS);
    CHECK(strstr(why, "not PEM") != NULL || strstr(why, "empty") != NULL);
    CHECK_EQ(ivcs_tls_ca_file_check(tf.ca_pem, why, sizeof why), 0);
    CHECK(!strcmp(why, "1 certificate"));
}

int main(void)
{
    if (tls_fixture_make(&tf, "tls", 1) != 0) {
        fprintf(stderr, "cannot make test certificates with the openssl CLI\n");
        return 1;
    }
    RUN(verified_by_ip_bulk_both_ways);
    RUN(verified_by_name_sends_sni_and_resumes);
    RUN(untrusted_ca_fails_verification_with_reason);
    RUN(system_store_does_not_trust_test_ca);
    RUN(wrong_host_or_ip_fails_verification);
    RUN(verify_off_accepts_anything);
    RUN(missing_ca_file_is_an_error);
    tls_fixture_remove(&tf);
    return check_done();
}
