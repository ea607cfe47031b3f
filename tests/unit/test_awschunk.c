/*
 * test_awschunk.c - the aws-chunked encoder (engine/net/awschunk.h), the
 * streaming SigV4 chunk signer (sigv4.h ivcs_sigv4_sign_stream /
 * _chunk_sign), CRC32C (engine/core/crc32c.h) and the plain-memory hash
 * states (hash.h ivcs_hash_*).
 *
 * The expected signatures are AWS's published example of a chunked upload
 * ("Signature Calculations for the Authorization Header: Transferring
 * Payload in Multiple Chunks", Example: PUT Object): 66,560 bytes of 'a'
 * sent to examplebucket/chunkObject.txt on 2013-05-24 with
 * AKIAIOSFODNN7EXAMPLE, in a 65,536-byte chunk, a 1,024-byte chunk and the
 * empty last one; Content-Length 66,824.
 */
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "engine/core/crc32c.h"
#include "engine/net/awschunk.h"
#include "engine/net/hash.h"
#include "engine/net/sigv4.h"
#include "ivcs_err.h"

#define S3_AK "AKIAIOSFODNN7EXAMPLE"
#define S3_SK "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define S3_TIME 1369353600 /* 2013-05-24T00:00:00Z */

#define SEED "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
#define SIG1 "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
#define SIG2 "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
#define SIG3 "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"

#define EX_LEN 66560
#define EX_WIRE 66824

static uint8_t ex_data[EX_LEN];
static uint8_t expected[EX_WIRE];
static uint8_t got[EX_WIRE + 1024];

static size_t build_expected(void)
{
    size_t n = 0;
    memcpy(expected + n, "10000;chunk-signature=" SIG1 "\r\n", 22 + 64 + 2);
    n += 88;
    memset(expected + n, 'a', 65536);
    n += 65536;
    memcpy(expected + n, "\r\n400;chunk-signature=" SIG2 "\r\n", 2 + 20 + 64 + 2);
    n += 88;
    memset(expected + n, 'a', 1024);
    n += 1024;
    memcpy(expected + n, "\r\n0;chunk-signature=" SIG3 "\r\n\r\n", 2 + 18 + 64 + 4);
    n += 88;
    return n;
}

/* The example's request, signed for streaming: the seed is AWS's. */
static int sign_example(ivcs_sigv4_s *s, ivcs_awschunk_s *a)
{
    ivcs_sigv4_config_s cfg = {.access_key = S3_AK, .secret_key = S3_SK, .region = "us-east-1",
                               .service = "s3"};
    if (ivcs_sigv4_init(s, &cfg) < 0) return -1;
    ivcs_sigv4_pair_s h[] = {{"Host", "s3.amazonaws.com"},
                             {"Content-Encoding", "aws-chunked"},
                             {"Content-Length", "66824"},
                             {"x-amz-decoded-content-length", "66560"},
                             {"x-amz-storage-class", "REDUCED_REDUNDANCY"}};
    ivcs_sigv4_request_s r = {.method = "PUT", .path = "/examplebucket/chunkObject.txt",
                              .headers = h, .n_headers = 5,
                              .payload_hash = IVCS_STREAMING_SIGNED, .time = S3_TIME};
    char date[IVCS_SIGV4_DATE_LEN + 1], auth[512];
    memset(a, 0, sizeof *a);
    if (ivcs_sigv4_sign_stream(s, &r, date, auth, sizeof auth, &a->ch) <= 0) return -2;
    const char *sig = strstr(auth, "Signature=");
    if (!sig || strcmp(sig + 10, SEED)) return -3;
    if (!strstr(auth, "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;"
                      "x-amz-date;x-amz-decoded-content-length;x-amz-storage-class"))
        return -4;
    a->kind = IVCS_AWSCHUNK_SIGNED;
    a->data_len = EX_LEN;
    a->chunk = 65536;
    a->sig = s;
    return 0;
}

/* Runs the encoder to its end with calls of at most cap bytes. */
static int64_t encode_all(ivcs_awschunk_s *a, size_t cap, uint64_t wire)
{
    uint64_t off = 0;
    for (int i = 0; off < wire && i < 1000; i++) {
        size_t c = wire - off < cap ? (size_t)(wire - off) : cap;
        int64_t r = ivcs_awschunk_body(a, off, got + off, c);
        if (r <= 0) return r < 0 ? r : -1;
        off += (uint64_t)r;
    }
    return (int64_t)off;
}

TEST(chunk_signatures_match_the_aws_example)
{
    ivcs_sigv4_s s;
    ivcs_awschunk_s a;
    memset(ex_data, 'a', sizeof ex_data);
    CHECK_EQ(sign_example(&s, &a), 0);
    /* the chain alone, from the published seed */
    uint8_t sha[IVCS_SHA256_LEN];
    char sig[IVCS_SHA256_HEX_LEN + 1];
    CHECK_EQ(ivcs_sha256(ex_data, 65536, sha), 0);
    CHECK_EQ(ivcs_sigv4_chunk_sign(&s, &a.ch, sha, sig), 0);
    CHECK(strcmp(sig, SIG1) == 0);
    CHECK_EQ(ivcs_sha256(ex_data, 1024, sha), 0);
    CHECK_EQ(ivcs_sigv4_chunk_sign(&s, &a.ch, sha, sig), 0);
    CHECK(strcmp(sig, SIG2) == 0);
    CHECK_EQ(ivcs_sha256("", 0, sha), 0);
    CHECK_EQ(ivcs_sigv4_chunk_sign(&s, &a.ch, sha, sig), 0);
    CHECK(strcmp(sig, SIG3) == 0);
    ivcs_sigv4_chunk_rewind(&a.ch);
    CHECK(strcmp(a.ch.prev, SEED) == 0);
    ivcs_sigv4_chunk_wipe(&a.ch);
    ivcs_sigv4_cleanup(&s);
}

TEST(signed_body_is_the_aws_example_byte_for_byte)
{
    ivcs_sigv4_s s;
    ivcs_awschunk_s a;
    memset(ex_data, 'a', sizeof ex_data);
    size_t n = build_expected();
    CHECK_EQ(n, EX_WIRE);
    CHECK_EQ(ivcs_awschunk_len(IVCS_AWSCHUNK_SIGNED, EX_LEN, 65536), EX_WIRE);
    CHECK_EQ(sign_example(&s, &a), 0);
    a.data = ex_data;
    CHECK_EQ(encode_all(&a, 70000, EX_WIRE), EX_WIRE);
    CHECK(memcmp(got, expected, EX_WIRE) == 0);
    /* a resend from offset 0 restarts the chain at the seed: same bytes */
    memset(got, 0, sizeof got);
    CHECK_EQ(encode_all(&a, 70000, EX_WIRE), EX_WIRE);
    CHECK(memcmp(got, expected, EX_WIRE) == 0);
    /* nothing past the end, no offset but where the last call ended */
    CHECK_EQ(ivcs_awschunk_body(&a, EX_WIRE, got, 100), IVCS_ERR_STATE);
    CHECK_EQ(ivcs_awschunk_body(&a, 0, got, 1000), IVCS_ERR_TOO_LONG); /* a chunk needs room */
    ivcs_sigv4_chunk_wipe(&a.ch);
    ivcs_sigv4_cleanup(&s);
}

/* A producer that hands out at most `step` bytes a call, at its offsets. */
typedef struct {
    const uint8_t *p;
    uint64_t len;
    size_t step;
    unsigned calls;
} drip_s;

static int64_t drip(void *arg, uint64_t off, uint8_t *buf, size_t cap)
{
    drip_s *d = arg;
    d->calls++;
    if (off >= d->len) return IVCS_ERR_STATE;
    size_t n = cap < d->step ? cap : d->step;
    if (n > d->len - off) n = (size_t)(d->len - off);
    memcpy(buf, d->p + off, n);
    return (int64_t)n;
}

TEST(signed_body_from_a_producer_is_the_same)
{
    ivcs_sigv4_s s;
    ivcs_awschunk_s a;
    memset(ex_data, 'a', sizeof ex_data);
    build_expected();
    CHECK_EQ(sign_example(&s, &a), 0);
    drip_s d = {.p = ex_data, .len = EX_LEN, .step = 1000};
    a.inner = drip;
    a.inner_arg = &d;
    /* calls as big as the biggest frame: one chunk each */
    size_t fmax = ivcs_awschunk_frame_max(IVCS_AWSCHUNK_SIGNED, 65536);
    CHECK_EQ(fmax, 88 + 65536 + 2);
    CHECK_EQ(encode_all(&a, fmax, EX_WIRE), EX_WIRE);
    CHECK(memcmp(got, expected, EX_WIRE) == 0);
    CHECK(d.calls >= 67);
    /* a producer failing fails the body */
    d.len = 10;
    CHECK(ivcs_awschunk_body(&a, 0, got, fmax) < 0);
    ivcs_sigv4_chunk_wipe(&a.ch);
    ivcs_sigv4_cleanup(&s);
}

TEST(trailer_body_carries_the_crc32c)
{
    /* CRC-32C("123456789") = 0xE3069283 (the check value of the
     * Castagnoli CRC), big-endian bytes e3 06 92 83 in base64: 4waSgw== */
    const char *msg = "123456789";
    ivcs_awschunk_s a;
    memset(&a, 0, sizeof a);
    a.kind = IVCS_AWSCHUNK_TRAILER_CRC32C;
    a.data = (const uint8_t *)msg;
    a.data_len = 9;
    a.chunk = 4;
    const char *want = "4\r\n1234\r\n4\r\n5678\r\n1\r\n9\r\n0\r\nx-amz-checksum-crc32c:4waSgw==\r\n\r\n";
    uint64_t wire = ivcs_awschunk_len(a.kind, 9, 4);
    CHECK_EQ(wire, strlen(want));
    CHECK_EQ(encode_all(&a, 64, wire), (int64_t)wire);
    CHECK(memcmp(got, want, strlen(want)) == 0);
    /* the empty body: just the end */
    a.data_len = 0;
    wire = ivcs_awschunk_len(a.kind, 0, 4);
    CHECK_EQ(encode_all(&a, 64, wire), (int64_t)wire);
    CHECK(memcmp(got, "0\r\nx-amz-checksum-crc32c:AAAAAA==\r\n\r\n", (size_t)wire) == 0);
}

TEST(crc32c_hardware_agrees_with_the_tables)
{
    static uint8_t buf[4096 + 16];
    uint64_t x = 0x243f6a8885a308d3ull;
    for (size_t i = 0; i < sizeof buf; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        buf[i] = (uint8_t)x;
    }
    CHECK_EQ(ivcs_crc32c(0, "123456789", 9), 0xE3069283u);
    CHECK_EQ(ivcs_crc32c_sw(0, "123456789", 9), 0xE3069283u);
    for (size_t off = 0; off < 9; off++)
        for (size_t n = 0; n < 300; n += 7)
            CHECK_EQ(ivcs_crc32c(0, buf + off, n), ivcs_crc32c_sw(0, buf + off, n));
    /* chained = whole */
    CHECK_EQ(ivcs_crc32c(ivcs_crc32c(0, buf, 1000), buf + 1000, 3000), ivcs_crc32c(0, buf, 4000));
    fprintf(stderr, "crc32c implementation: %s\n", ivcs_crc32c_impl());
}

TEST(hash_states_match_the_one_shot_digests)
{
    static uint8_t buf[100000];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)(i * 131 + 7);
    uint8_t a[32], b[32];
    ivcs_hash_state_s h;
    ivcs_hash_begin(&h, IVCS_DIGEST_SHA256);
    ivcs_hash_update(&h, buf, 1);
    ivcs_hash_update(&h, buf + 1, 65535);
    ivcs_hash_update(&h, buf + 65536, sizeof buf - 65536);
    ivcs_hash_final(&h, a);
    CHECK_EQ(ivcs_sha256(buf, sizeof buf, b), 0);
    CHECK(memcmp(a, b, 32) == 0);
    ivcs_hash_begin(&h, IVCS_DIGEST_MD5);
    ivcs_hash_update(&h, buf, 777);
    ivcs_hash_update(&h, buf + 777, sizeof buf - 777);
    ivcs_hash_final(&h, a);
    CHECK_EQ(ivcs_md5(buf, sizeof buf, b), 0);
    CHECK(memcmp(a, b, 16) == 0);
}

int main(void)
{
    RUN(chunk_signatures_match_the_aws_example);
    RUN(signed_body_is_the_aws_example_byte_for_byte);
    RUN(signed_body_from_a_producer_is_the_same);
    RUN(trailer_body_carries_the_crc32c);
    RUN(crc32c_hardware_agrees_with_the_tables);
    RUN(hash_states_match_the_one_shot_digests);
    return check_done();
}
