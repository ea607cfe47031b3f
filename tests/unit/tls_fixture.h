/*
 * tls_fixture.h - what the TLS tests share (header-only, like check.h): a
 * throwaway CA and a server certificate for 127.0.0.1 and "localhost" made
 * with the openssl CLI, a loopback listener and a server SSL_CTX that
 * presents that certificate.
 *
 *   static tls_fixture tf;
 *   if (tls_fixture_make(&tf, "http", 0) != 0) return 1;
 *   ... tf.ca_pem (trust it), tls_fixture_listen(0, &port), tls_fixture_server_ctx(&tf) ...
 *   tls_fixture_remove(&tf);
 */
#ifndef IVCS_TEST_TLS_FIXTURE_H
#define IVCS_TEST_TLS_FIXTURE_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    char dir[64];
    char ca_pem[128];  /* the CA that signed srv_pem */
    char ca2_pem[128]; /* an unrelated CA (only with other_ca) */
    char srv_pem[128]; /* CN=localhost, SAN IP:127.0.0.1 DNS:localhost */
    char srv_key[128];
} tls_fixture;

/* Makes the certificates in a fresh /tmp/ivcs-test-NAME-XXXXXX; other_ca:
 * also a second CA that did not sign anything. 0, or -1 (the openssl CLI
 * failed or is missing). */
static int tls_fixture_make(tls_fixture *f, const char *name, int other_ca)
{
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/ivcs-test-%s-XXXXXX", name);
    if (!mkdtemp(f->dir)) return -1;
#define TLS_FIXTURE_KEY "openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd %s && "
             "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ext.cnf && "
             TLS_FIXTURE_KEY "-x509 -keyout ca.key -out ca.pem -days 2 -subj /CN=ivcs-test-ca "
             "2>/dev/null && %s"
             TLS_FIXTURE_KEY "-keyout srv.key -out srv.csr -subj /CN=localhost 2>/dev/null && "
             "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-out srv.pem -days 2 -extfile ext.cnf 2>/dev/null",
             f->dir,
             other_ca ? TLS_FIXTURE_KEY "-x509 -keyout ca2.key -out ca2.pem -days 2 "
                                        "-subj /CN=ivcs-other-ca 2>/dev/null && "
                      : "");
#undef TLS_FIXTURE_KEY
    if (system(cmd) != 0) return -1;
    snprintf(f->ca_pem, sizeof f->ca_pem, "%s/ca.pem", f->dir);
    if (other_ca) snprintf(f->ca2_pem, sizeof f->ca2_pem, "%s/ca2.pem", f->dir);
    snprintf(f->srv_pem, sizeof f->srv_pem, "%s/srv.pem", f->dir);
    snprintf(f->srv_key, sizeof f->srv_key, "%s/srv.key", f->dir);
    return 0;
}

/* Removes the certificate directory (a failure is printed, not fatal). */
static void tls_fixture_remove(const tls_fixture *f)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", f->dir);
}

/* A listening TCP socket on 127.0.0.1:port (0: ephemeral); *bound gets the
 * port. rcvbuf > 0 sets SO_RCVBUF before listen (inherited by accepted
 * sockets). Returns the fd, or -1. */
static int tls_fixture_listen(uint16_t port, int rcvbuf, uint16_t *bound)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in a = {
        .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = htons(port)};
    socklen_t len = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, len) < 0 || listen(fd, 8) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        close(fd);
        return -1;
    }
    *bound = ntohs(a.sin_port);
    return fd;
}

/* A server SSL_CTX presenting srv_pem/srv_key, or NULL. The caller frees it. */
static SSL_CTX *tls_fixture_server_ctx(const tls_fixture *f)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx && (SSL_CTX_use_certificate_chain_file(ctx, f->srv_pem) != 1 ||
                SSL_CTX_use_PrivateKey_file(ctx, f->srv_key, SSL_FILETYPE_PEM) != 1)) {
        SSL_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

#endif
