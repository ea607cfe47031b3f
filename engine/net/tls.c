/* tls.c - OpenSSL client TLS over a BIO pair (no sockets here). */
#include "engine/net/tls.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "engine/core/alloc.h"

/* Outgoing ciphertext buffer: large so one send carries many records
 * (fewer syscalls per byte); incoming: enough for a few full records. */
#define TLS_OUT_BUF (256 * 1024)
#define TLS_IN_BUF (64 * 1024)

struct ivcs_tls_ctx {
    SSL_CTX *ssl_ctx;
    const ivcs_allocator_s *alloc;
    int verify;
};

struct ivcs_tls {
    ivcs_tls_ctx *ctx;
    SSL *ssl;
    BIO *net; /* our side of the pair; the SSL owns the other */
    ivcs_tls_session *slot;
    int failed;
    int eof_pending;
    /* Received ciphertext waits here until the pair takes it. Receiving
     * straight into the pair is unsafe: the pair rewinds its write position
     * whenever SSL drains it, which can happen while a receive is in
     * flight. */
    size_t rx_off, rx_len;
    char err[256];
    uint8_t rx[TLS_IN_BUF];
};

void ivcs_tls_session_clear(ivcs_tls_session *slot)
{
    if (slot && slot->sess) {
        SSL_SESSION_free(slot->sess);
        slot->sess = NULL;
    }
}

static int new_session_cb(SSL *ssl, SSL_SESSION *sess)
{
    ivcs_tls *t = SSL_get_app_data(ssl);
    if (!t || !t->slot) return 0;
    /* Keep the newest ticket: TLS 1.3 servers send several, each usable once. */
    ivcs_tls_session_clear(t->slot);
    t->slot->sess = sess;
    return 1; /* we own the reference now */
}

int ivcs_tls_ca_file_check(const char *ca_file, char *why, size_t cap)
{
    if (!why || !cap) return IVCS_ERR_INVALID_ARG;
    why[0] = 0;
    if (!ca_file || !ca_file[0]) {
        snprintf(why, cap, "no file named");
        return IVCS_ERR_TLS;
    }
    FILE *f = fopen(ca_file, "rb");
    if (!f) {
        snprintf(why, cap, "cannot open it: %s", strerror(errno));
        return IVCS_ERR_TLS;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || S_ISDIR(st.st_mode) || !S_ISREG(st.st_mode) ||
        st.st_size > (16 << 20)) {
        snprintf(why, cap, "%s",
                 S_ISDIR(st.st_mode) ? "is a directory, not a PEM file"
                 : !S_ISREG(st.st_mode) ? "is not a regular file"
                                        : "larger than 16 MiB: not a CA bundle");
        fclose(f);
        return IVCS_ERR_TLS;
    }
    if (st.st_size == 0) {
        snprintf(why, cap, "is empty: no certificate in it");
        fclose(f);
        return IVCS_ERR_TLS;
    }
    ERR_clear_error();
    unsigned n = 0;
    X509 *x;
    while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
        X509_free(x);
        n++;
    }
    unsigned long e = ERR_peek_last_error();
    int clean_end = ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE;
    ERR_clear_error();
    fclose(f);
    if (n == 0) {
        snprintf(why, cap, "not PEM: no -----BEGIN CERTIFICATE----- in it%s",
                 clean_end ? "" : " (or a damaged one)");
        return IVCS_ERR_TLS;
    }
    if (!clean_end) {
        snprintf(why, cap, "certificate %u cannot be read (damaged PEM)", n + 1);
        return IVCS_ERR_TLS;
    }
    snprintf(why, cap, "%u certificate%s", n, n == 1 ? "" : "s");
    return 0;
}

int ivcs_tls_ctx_new(ivcs_tls_ctx **out, const ivcs_allocator_s *alloc, const char *ca_file,
                     int verify)
{
    if (!out) return IVCS_ERR_INVALID_ARG;
    alloc = ivcs_allocator_or_default(alloc);
    ivcs_tls_ctx *c = ivcs_alloc(alloc, sizeof *c, _Alignof(ivcs_tls_ctx));
    if (!c) return IV_ERR_SYS_MALLOC_FAIL;
    memset(c, 0, sizeof *c);
    c->alloc = alloc;
    c->verify = verify;
    c->ssl_ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ssl_ctx) goto fail;
    SSL_CTX_set_min_proto_version(c->ssl_ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(c->ssl_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                     SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
                                     SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_session_cache_mode(c->ssl_ctx,
                                   SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(c->ssl_ctx, new_session_cb);
    if (verify) {
        SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_PEER, NULL);
        int ok = (ca_file && ca_file[0])
                     ? SSL_CTX_load_verify_locations(c->ssl_ctx, ca_file, NULL)
                     : SSL_CTX_set_default_verify_paths(c->ssl_ctx);
        if (ok != 1) goto fail;
    } else {
        SSL_CTX_set_verify(c->ssl_ctx, SSL_VERIFY_NONE, NULL);
    }
    *out = c;
    return 0;
fail:
    ERR_clear_error();
    if (c->ssl_ctx) SSL_CTX_free(c->ssl_ctx);
    ivcs_free(alloc, c, sizeof *c);
    return IVCS_ERR_TLS;
}

void ivcs_tls_ctx_destroy(ivcs_tls_ctx *c)
{
    if (!c) return;
    SSL_CTX_free(c->ssl_ctx);
    ivcs_free(c->alloc, c, sizeof *c);
}

int ivcs_tls_new(ivcs_tls **out, ivcs_tls_ctx *ctx, const char *host, ivcs_tls_session *slot)
{
    if (!out || !ctx || !host) return IVCS_ERR_INVALID_ARG;
    char h[256];
    size_t n = strlen(host);
    if (n >= sizeof h) return IVCS_ERR_TOO_LONG;
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        memcpy(h, host + 1, n - 2);
        h[n - 2] = 0;
    } else {
        memcpy(h, host, n + 1);
    }
    ivcs_tls *t = ivcs_alloc(ctx->alloc, sizeof *t, _Alignof(ivcs_tls));
    if (!t) return IV_ERR_SYS_MALLOC_FAIL;
    memset(t, 0, sizeof *t);
    t->ctx = ctx;
    t->slot = slot;
    BIO *inner = NULL;
    t->ssl = SSL_new(ctx->ssl_ctx);
    if (!t->ssl) goto fail;
    if (!BIO_new_bio_pair(&inner, TLS_OUT_BUF, &t->net, TLS_IN_BUF)) goto fail;
    SSL_set_bio(t->ssl, inner, inner);
    SSL_set_app_data(t->ssl, t);
    SSL_set_connect_state(t->ssl);

    unsigned char bin[16];
    int is_ip = inet_pton(AF_INET, h, bin) == 1 || inet_pton(AF_INET6, h, bin) == 1;
    if (ctx->verify) {
        if (is_ip) {
            if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), h) != 1) goto fail;
        } else if (SSL_set1_host(t->ssl, h) != 1) {
            goto fail;
        }
    }
    /* RFC 6066: SNI carries names only, never literal addresses. */
    if (!is_ip && SSL_set_tlsext_host_name(t->ssl, h) != 1) goto fail;
    if (slot && slot->sess) (void)SSL_set_session(t->ssl, slot->sess);
    *out = t;
    return 0;
fail:
    ERR_clear_error();
    if (t->ssl) SSL_free(t->ssl);
    if (t->net) BIO_free(t->net);
    ivcs_free(ctx->alloc, t, sizeof *t);
    return IVCS_ERR_TLS;
}

void ivcs_tls_destroy(ivcs_tls *t)
{
    if (!t) return;
    /* SSL_free drops the session from resumption unless a shutdown was
     * seen; an idle keep-alive connection is closed without one, and its
     * session is still good unless the connection failed. */
    if (!t->failed && SSL_is_init_finished(t->ssl))
        SSL_set_shutdown(t->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(t->ssl); /* frees the inner BIO */
    BIO_free(t->net);
    ivcs_free(t->ctx->alloc, t, sizeof *t);
}

/* Moves received ciphertext into the pair as far as it has room. */
static void rx_drain(ivcs_tls *t)
{
    while (t->rx_len > 0) {
        int n = BIO_write(t->net, t->rx + t->rx_off, (int)t->rx_len);
        if (n <= 0) break;
        t->rx_off += (size_t)n;
        t->rx_len -= (size_t)n;
    }
    if (t->rx_len == 0 && t->eof_pending) {
        t->eof_pending = 0;
        (void)BIO_shutdown_wr(t->net);
    }
}

/* Turns an OpenSSL failure into a code and a message in t->err. */
static int fail_code(ivcs_tls *t, int ret)
{
    int e = SSL_get_error(t->ssl, ret);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) return IVCS_ERR_INCOMPLETE;
    if (e == SSL_ERROR_ZERO_RETURN) return 0;
    t->failed = 1;
    long vr = SSL_get_verify_result(t->ssl);
    unsigned long ec = ERR_peek_last_error();
    if (vr != X509_V_OK && !SSL_is_init_finished(t->ssl)) {
        snprintf(t->err, sizeof t->err, "certificate verify failed: %s",
                 X509_verify_cert_error_string(vr));
        ERR_clear_error();
        return IVCS_ERR_TLS_VERIFY;
    }
    if (e == SSL_ERROR_SYSCALL ||
        (ec && ERR_GET_REASON(ec) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
        snprintf(t->err, sizeof t->err, "connection closed by peer");
        ERR_clear_error();
        return IVCS_ERR_CLOSED;
    }
    const char *why = ec ? ERR_reason_error_string(ec) : NULL;
    snprintf(t->err, sizeof t->err, "%s", why ? why : "TLS failure");
    ERR_clear_error();
    return IVCS_ERR_TLS;
}

int ivcs_tls_handshake(ivcs_tls *t)
{
    rx_drain(t);
    int r = SSL_do_handshake(t->ssl);
    if (r == 1) return 0;
    r = fail_code(t, r);
    return r == 0 ? IVCS_ERR_CLOSED : r;
}

int ivcs_tls_write(ivcs_tls *t, const void *buf, size_t len)
{
    if (len == 0) return 0;
    if (len > 1u << 30) len = 1u << 30;
    int r = SSL_write(t->ssl, buf, (int)len);
    if (r > 0) return r;
    r = fail_code(t, r);
    return r == 0 ? IVCS_ERR_CLOSED : r;
}

int ivcs_tls_read(ivcs_tls *t, void *buf, size_t len)
{
    if (len > 1u << 30) len = 1u << 30;
    rx_drain(t);
    int r = SSL_read(t->ssl, buf, (int)len);
    if (r <= 0 && t->rx_len > 0 && SSL_get_error(t->ssl, r) == SSL_ERROR_WANT_READ) {
        /* SSL made room in the pair: hand it the rest and try again. */
        rx_drain(t);
        r = SSL_read(t->ssl, buf, (int)len);
    }
    if (r > 0) return r;
    return fail_code(t, r);
}

size_t ivcs_tls_out_peek(ivcs_tls *t, const uint8_t **p)
{
    char *q = NULL;
    int n = BIO_nread0(t->net, &q);
    if (n <= 0) return 0;
    *p = (const uint8_t *)q;
    return (size_t)n;
}

void ivcs_tls_out_consume(ivcs_tls *t, size_t n)
{
    char *q = NULL;
    (void)BIO_nread(t->net, &q, (int)n);
}

size_t ivcs_tls_out_pending(ivcs_tls *t)
{
    return BIO_ctrl_pending(t->net);
}

size_t ivcs_tls_in_space(ivcs_tls *t, uint8_t **p)
{
    /* The contract says no receive is in flight now: compacting is safe. */
    if (t->rx_len == 0) {
        t->rx_off = 0;
    } else if (t->rx_off > 0 && t->rx_off + t->rx_len == sizeof t->rx) {
        memmove(t->rx, t->rx + t->rx_off, t->rx_len);
        t->rx_off = 0;
    }
    *p = t->rx + t->rx_off + t->rx_len;
    return sizeof t->rx - t->rx_off - t->rx_len;
}

void ivcs_tls_in_commit(ivcs_tls *t, size_t n)
{
    t->rx_len += n;
    rx_drain(t);
}

void ivcs_tls_in_eof(ivcs_tls *t)
{
    t->eof_pending = 1;
    rx_drain(t);
}

int ivcs_tls_resumed(const ivcs_tls *t)
{
    return SSL_session_reused(t->ssl) == 1;
}

const char *ivcs_tls_error(const ivcs_tls *t)
{
    return t ? t->err : "";
}
