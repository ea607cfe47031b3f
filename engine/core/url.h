/*
 * url.h - the one parser of an S3 endpoint URL, used by the config's
 * validation (config.c) and by the transport (http_client.c), so what
 * validates is what connects:
 *
 *   endpoint = scheme "://" host [":" port] ["/"]
 *   scheme   = "http" | "https"          (any letter case: HTTPS:// is https)
 *   host     = DNS name | IPv4 address | "[" IPv6 address "]"
 *   port     = 1..65535 (default 443 / 80)
 *
 * Nothing else: no user info ("user:pass@host" is refused as such: keys go
 * in access_key/secret_key), no path, query or fragment (object keys are
 * appended to the endpoint). Messages name what is wrong and never quote
 * the URL (it may hold a password).
 *
 * Pure functions, thread-safe, no allocation.
 */
#ifndef IVCS_CORE_URL_H
#define IVCS_CORE_URL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ivcs_url_s {
    int tls;             /* https */
    char host[256];      /* as written, brackets kept for IPv6 */
    size_t host_len;
    uint16_t port;       /* the explicit port, or the scheme's default */
    int explicit_port;
    int host_is_ip;      /* IPv4 or IPv6 address, not a DNS name */
} ivcs_url_s;

/* Parses an endpoint. 0, or IVCS_ERR_CONFIG with "endpoint: reason" in err
 * (err may be NULL). */
int ivcs_url_parse_endpoint(const char *s, ivcs_url_s *out, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif
#endif
