/*
 * uri.h - percent-encoding as AWS SigV4 and S3 want it.
 *
 * AWS's rule (RFC 3986 section 2.3): the unreserved bytes A-Z a-z 0-9 '-'
 * '.' '_' '~' are kept, every other byte (UTF-8 bytes of non-ASCII text
 * included) becomes "%XX" with UPPER-case hex. ' ' is "%20", never '+'.
 * In an S3 object path '/' is also kept, so each segment is encoded once.
 *
 * Nothing here allocates; every function is thread-safe (no state).
 */
#ifndef IVCS_NET_URI_H
#define IVCS_NET_URI_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Non-zero for the bytes SigV4 leaves unencoded: A-Z a-z 0-9 - . _ ~ */
static inline int ivcs_uri_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '.' || c == '_' || c == '~';
}

/* Length (no NUL) that ivcs_uri_encode() would write for in[0..len). */
size_t ivcs_uri_encoded_len(const char *in, size_t len, int keep_slash);

/* Percent-encodes in[0..len) into out (cap bytes, NUL-terminated). With
 * keep_slash != 0 '/' stays as is (an S3 key / URI path), else it is "%2F"
 * (a query name or value). Returns the length written without the NUL, or
 * IVCS_ERR_TOO_LONG if out cannot hold it and the NUL (out then holds "" if
 * cap > 0), or IVCS_ERR_INVALID_ARG for NULL pointers. */
int ivcs_uri_encode(const char *in, size_t len, int keep_slash, char *out, size_t cap);

/* Compares the ENCODED forms (keep_slash = 0) of a[0..alen) and b[0..blen)
 * bytewise, without building them: <0, 0 or >0 like memcmp. SigV4 sorts
 * query parameters by their encoded names and values, and encoding does not
 * preserve order: '-' < '[' but "-" > "%5B". */
int ivcs_uri_encoded_cmp(const char *a, size_t alen, const char *b, size_t blen);

#ifdef __cplusplus
}
#endif
#endif
