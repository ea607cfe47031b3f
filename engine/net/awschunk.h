/*
 * awschunk.h - the aws-chunked request body of S3's streaming uploads, made
 * in one pass as the payload is produced (docs/TRANSPORT.md, "Integrity").
 *
 *   SIGNED   x-amz-content-sha256: STREAMING-AWS4-HMAC-SHA256-PAYLOAD
 *            <hex size>;chunk-signature=<64 hex>\r\n<data>\r\n ...
 *            0;chunk-signature=<64 hex>\r\n\r\n
 *            each signature chained from the seed (the request's own
 *            signature) over the SHA-256 of the chunk's data (sigv4.h
 *            ivcs_sigv4_chunk_sign); the server checks every chunk.
 *   TRAILER  x-amz-content-sha256: STREAMING-UNSIGNED-PAYLOAD-TRAILER,
 *            x-amz-trailer: x-amz-checksum-crc32c
 *            <hex size>\r\n<data>\r\n ... 0\r\n
 *            x-amz-checksum-crc32c:<base64 of the big-endian CRC32C>\r\n\r\n
 *
 * The encoder is an http_client.h body producer over another producer (or a
 * buffer): per call it asks the inner producer for one chunk's data straight
 * into the caller's buffer, behind room left for the chunk's header, hashes
 * it there (SHA-256 or CRC32C), then writes the header in front: the payload
 * is produced once and not copied. Chunks hold `chunk` data bytes except the
 * last, so the encoded length (the Content-Length) is known before the first
 * byte; each call needs cap >= ivcs_awschunk_frame_max (http_client gives
 * min(rest, IVCS_HTTP_STAGE_SIZE)). Offset 0 starts over (a resend); any
 * other offset must be where the last call ended.
 */
#ifndef IVCS_NET_AWSCHUNK_H
#define IVCS_NET_AWSCHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "engine/net/hash.h"
#include "engine/net/http_client.h"
#include "engine/net/sigv4.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IVCS_STREAMING_SIGNED "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
#define IVCS_STREAMING_TRAILER "STREAMING-UNSIGNED-PAYLOAD-TRAILER"

typedef enum {
    IVCS_AWSCHUNK_SIGNED = 1,
    IVCS_AWSCHUNK_TRAILER_CRC32C = 2,
} ivcs_awschunk_kind_e;

typedef struct ivcs_awschunk_s {
    /* in */
    ivcs_awschunk_kind_e kind;
    uint64_t data_len;        /* the decoded length (x-amz-decoded-content-length) */
    uint32_t chunk;           /* data bytes per chunk but the last, >= 1 */
    const uint8_t *data;      /* the payload in memory, or NULL: */
    ivcs_http_body_fn inner;  /* its producer */
    void *inner_arg;
    ivcs_sigv4_s *sig;        /* SIGNED: the signer (its digest is the HMAC scratch) */
    ivcs_sigv4_chunk_s ch;    /* SIGNED: from ivcs_sigv4_sign_stream */
    uint64_t flip;            /* test: 1 + the offset of a data byte to flip once
                                 hashed (corruption in flight); 0: none */
    /* state */
    uint64_t data_off, enc_off;
    uint32_t crc;
    int finished;
    ivcs_hash_state_s hs;
} ivcs_awschunk_s;

/* The encoded length of data_len bytes in chunks of chunk bytes. */
uint64_t ivcs_awschunk_len(ivcs_awschunk_kind_e kind, uint64_t data_len, uint32_t chunk);

/* The biggest single frame (a full chunk with its framing, or the end). */
size_t ivcs_awschunk_frame_max(ivcs_awschunk_kind_e kind, uint32_t chunk);

/* The producer (ivcs_http_body_fn) over an ivcs_awschunk_s. */
int64_t ivcs_awschunk_body(void *arg, uint64_t offset, uint8_t *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
