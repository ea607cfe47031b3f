/*
 * tls.h - OpenSSL 3 client TLS over a BIO pair: the TLS engine never touches
 * a socket. The owner (the HTTP client) moves ciphertext between the pair's
 * network side and io_uring: ivcs_tls_out_peek/consume give the ciphertext
 * to send in place (no copy), ivcs_tls_in_space/commit give the place to
 * receive into.
 *
 * Certificate and host are verified unless the context was made with
 * verify = 0: against ca_file, or the system store when ca_file is empty;
 * the expected host is checked as a DNS name (SSL_set1_host, with SNI) or,
 * for a numeric address, as an IP (X509_VERIFY_PARAM_set1_ip_asc, no SNI).
 *
 * Sessions are resumed per endpoint: a connection made with a
 * ivcs_tls_session slot stores the server's newest session there and the
 * next connection made with the same slot offers it.
 *
 * Single-threaded: one connection is used by one thread; a context may be
 * shared by the connections of one thread.
 */
#ifndef IVCS_NET_TLS_H
#define IVCS_NET_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "ivcs_base.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ivcs_tls_ctx ivcs_tls_ctx;
typedef struct ivcs_tls ivcs_tls;

/* A per-endpoint session slot; zero-initialise, release with
 * ivcs_tls_session_clear. */
typedef struct ivcs_tls_session {
    void *sess; /* SSL_SESSION * */
} ivcs_tls_session;

void ivcs_tls_session_clear(ivcs_tls_session *slot);

/* Creates a client context. ca_file NULL or "": system store. verify 0
 * disables all verification (never used by tests or defaults).
 * IVCS_ERR_TLS if the CA file cannot be loaded. */
IVCS_MUST_CHECK int ivcs_tls_ctx_new(ivcs_tls_ctx **out, const ivcs_allocator_s *alloc,
                                     const char *ca_file, int verify);
void ivcs_tls_ctx_destroy(ivcs_tls_ctx *ctx);

/* Why ca_file cannot serve as the CA store, in words for one line (e.g.
 * "cannot open it: No such file or directory", "is a directory", "not PEM:
 * no -----BEGIN CERTIFICATE----- in it"), written to why. 0 when it reads
 * as PEM with at least one certificate (*why then says how many), else
 * IVCS_ERR_TLS. Reads at most 16 MiB. */
int ivcs_tls_ca_file_check(const char *ca_file, char *why, size_t cap);

/* Creates a connection that expects the server `host` (a DNS name or an
 * IPv4/IPv6 literal, brackets allowed). slot may be NULL; else it must
 * outlive the connection. */
IVCS_MUST_CHECK int ivcs_tls_new(ivcs_tls **out, ivcs_tls_ctx *ctx, const char *host,
                                 ivcs_tls_session *slot);
void ivcs_tls_destroy(ivcs_tls *tls);

/* Advances the handshake: 0 when complete, IVCS_ERR_INCOMPLETE when it
 * needs ciphertext moved (send what out_peek shows, then receive), or
 * IVCS_ERR_TLS_VERIFY / IVCS_ERR_TLS (see ivcs_tls_error). */
IVCS_MUST_CHECK int ivcs_tls_handshake(ivcs_tls *tls);

/* Encrypts up to len plaintext bytes; returns bytes taken (> 0),
 * IVCS_ERR_INCOMPLETE when the outgoing buffer is full (send, then retry)
 * or IVCS_ERR_TLS. */
IVCS_MUST_CHECK int ivcs_tls_write(ivcs_tls *tls, const void *buf, size_t len);

/* Decrypts into buf; returns bytes (> 0), 0 at a clean close_notify,
 * IVCS_ERR_INCOMPLETE when more ciphertext is needed, IVCS_ERR_CLOSED if
 * the peer closed without close_notify, or IVCS_ERR_TLS. */
IVCS_MUST_CHECK int ivcs_tls_read(ivcs_tls *tls, void *buf, size_t len);

/* Ciphertext waiting to be sent: sets *p and returns its contiguous length
 * (0: none). The bytes stay put until ivcs_tls_out_consume(n). */
size_t ivcs_tls_out_peek(ivcs_tls *tls, const uint8_t **p);
void ivcs_tls_out_consume(ivcs_tls *tls, size_t n);
/* Total ciphertext waiting (may exceed one peek). */
size_t ivcs_tls_out_pending(ivcs_tls *tls);

/* Room for received ciphertext: sets *p and returns its size. Call it only
 * when no receive is in flight; the region stays valid (the TLS engine may
 * read meanwhile) until ivcs_tls_in_commit.
 * After receiving n bytes there, ivcs_tls_in_commit(n); after EOF,
 * ivcs_tls_in_eof(). */
size_t ivcs_tls_in_space(ivcs_tls *tls, uint8_t **p);
void ivcs_tls_in_commit(ivcs_tls *tls, size_t n);
void ivcs_tls_in_eof(ivcs_tls *tls);

/* 1 if the handshake resumed a session. */
int ivcs_tls_resumed(const ivcs_tls *tls);

/* Reason of the last failure (the certificate verify reason for
 * IVCS_ERR_TLS_VERIFY, the OpenSSL reason otherwise); "" if none. */
const char *ivcs_tls_error(const ivcs_tls *tls);

#ifdef __cplusplus
}
#endif
#endif
