/*
 * fuzz_url.c - the S3 endpoint parser (engine/core/url.c), which both the
 * configuration's validation and the transport use. The input, cut at its
 * first NUL, is the endpoint string. Invariants:
 *   - accepted: the host is what was written (NUL-terminated, host_len
 *     long, bracketed iff IPv6), the port is 1..65535 and the scheme's
 *     default unless written; "scheme://host:port" rebuilt from the result
 *     parses to the same result;
 *   - refused: IVCS_ERR_CONFIG, a one-line "endpoint: ..." reason that
 *     does not quote user info (it may hold a password), *out untouched.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/url.h"
#include "ivcs_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) abort();
    memcpy(s, data, size);
    s[size] = 0;
    ivcs_url_s u, v;
    memset(&u, 0x5a, sizeof u);
    char err[160];
    int rc = ivcs_url_parse_endpoint(s, &u, err, sizeof err);
    if (rc != 0) {
        if (rc != IVCS_ERR_CONFIG || strncmp(err, "endpoint: ", 10) != 0) abort();
        for (const char *c = err; *c; c++)
            if ((unsigned char)*c < 0x20) abort();
        for (size_t i = 0; i < sizeof u; i++)
            if (((const unsigned char *)&u)[i] != 0x5a) abort();
        /* user info is never quoted: text around an '@' with a digit after
         * it cannot come from a fixed message (none has a digit after its
         * '@'), so finding it in err means the input was copied there */
        const char *at = strchr(s, '@');
        if (at && at > s && strpbrk(at, "0123456789") && strstr(err, at - 1)) abort();
        free(s);
        return 0;
    }
    if (u.host_len == 0 || u.host_len >= sizeof u.host || strlen(u.host) != u.host_len) abort();
    if (u.port == 0 || (!u.explicit_port && u.port != (u.tls ? 443 : 80))) abort();
    if ((u.host[0] == '[') != (u.host[u.host_len - 1] == ']')) abort();
    if (u.host[0] == '[' && !u.host_is_ip) abort();
    if (!strstr(s, u.host)) abort();
    char again[300];
    int n = snprintf(again, sizeof again, "%s://%s:%u/", u.tls ? "https" : "http", u.host,
                     (unsigned)u.port);
    if (n <= 0 || (size_t)n >= sizeof again) abort();
    if (ivcs_url_parse_endpoint(again, &v, NULL, 0) != 0) abort();
    if (v.tls != u.tls || v.port != u.port || v.host_len != u.host_len ||
        strcmp(v.host, u.host) != 0 || v.host_is_ip != u.host_is_ip || !v.explicit_port)
        abort();
    free(s);
    return 0;
}
