/*
 * retry.h - which transport failures are retried, and when (docs/ARCHITECTURE.md
 * section 6): connect failures, resets, timeouts, 5xx, 408 and 429 are
 * retried (except 501 NotImplemented: a missing feature, permanent) with
 * exponential backoff and full jitter, 0.5 s doubling up to a
 * 16 s cap; other 4xx and local errors (bad arguments, TLS verification)
 * never are. Pure functions, no state beyond the caller's PRNG word.
 */
#ifndef IVCS_NET_RETRY_H
#define IVCS_NET_RETRY_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IVCS_RETRY_BASE_MS 500u
#define IVCS_RETRY_CAP_MS 16000u

/* 1 if a request that ended with code err (0 or negative) and HTTP status
 * (0 if no response was read) should be tried again, else 0. A 2xx/3xx/
 * 304/412 status is an answer, not a failure: 0. */
int ivcs_retry_should(int err, int status);

/* The delay before retry number attempt (0 for the first retry): uniform in
 * [0, min(cap, base * 2^attempt)] ("full jitter"), drawn from *rng
 * (xorshift; seed it with any non-zero value). */
uint32_t ivcs_retry_backoff_ms(unsigned attempt, uint64_t *rng);

/* The upper bound of that draw, min(cap, base * 2^attempt). */
uint32_t ivcs_retry_backoff_cap_ms(unsigned attempt);

/* A refused connect (IVCS_ERR_CONNECT: nothing listens, e.g. a server
 * restarting) costs a SYN and a RST, no TLS handshake and no body: its
 * retries are drawn under this smaller cap, so the short windows of a
 * restarting server are not slept through with a 16 s draw. */
#define IVCS_RETRY_REFUSED_CAP_MS 2000u

/* The delay before retry number attempt of a request that failed with err:
 * ivcs_retry_backoff_ms, with the cap IVCS_RETRY_REFUSED_CAP_MS when err is
 * IVCS_ERR_CONNECT. */
uint32_t ivcs_retry_delay_ms(int err, unsigned attempt, uint64_t *rng);

#ifdef __cplusplus
}
#endif
#endif
