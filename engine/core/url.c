/* url.c - the S3 endpoint URL (see url.h). */
#include "engine/core/url.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "ivcs_err.h"

static int fail(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t err_len, const char *fmt, ...)
{
    if (err && err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, err_len, fmt, ap);
        va_end(ap);
    }
    return IVCS_ERR_CONFIG;
}

static int is_dns_char(char c)
{
    return isalnum((unsigned char)c) || c == '-' || c == '.';
}

/* A DNS name (labels of 1..63 [A-Za-z0-9-], not starting or ending with
 * '-', 253 bytes at most) or a dotted IPv4 address. */
static int valid_host(const char *host, size_t n, int *is_ip)
{
    if (n == 0 || n > 253) return 0;
    int all_digits_dots = 1;
    for (size_t i = 0; i < n; i++) {
        if (!is_dns_char(host[i])) return 0;
        if (!isdigit((unsigned char)host[i]) && host[i] != '.') all_digits_dots = 0;
    }
    if (all_digits_dots) {
        char buf[16];
        struct in_addr a;
        if (n >= sizeof buf) return 0;
        memcpy(buf, host, n);
        buf[n] = '\0';
        *is_ip = 1;
        return inet_pton(AF_INET, buf, &a) == 1;
    }
    size_t label = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i == n || host[i] == '.') {
            if (label == 0 || label > 63) return 0;
            if (host[i - 1] == '-' || host[i - label] == '-') return 0;
            label = 0;
        } else {
            label++;
        }
    }
    return 1;
}

int ivcs_url_parse_endpoint(const char *s, ivcs_url_s *out, char *err, size_t err_len)
{
    ivcs_url_s u;
    memset(&u, 0, sizeof u);
    if (!s || !s[0]) return fail(err, err_len, "endpoint: missing (e.g. \"https://s3.example.com\")");
    const char *p;
    if (!strncasecmp(s, "https://", 8)) {
        u.tls = 1;
        p = s + 8;
    } else if (!strncasecmp(s, "http://", 7)) {
        p = s + 7;
    } else {
        return fail(err, err_len, "endpoint: must start with http:// or https://");
    }
    size_t auth_len = strcspn(p, "/?#");
    if (memchr(p, '@', auth_len))
        return fail(err, err_len,
                    "endpoint: user info (user:password@) is not allowed; the credentials go "
                    "in access_key and secret_key");
    const char *host = p;
    if (*p == '[') {
        const char *close = memchr(p, ']', auth_len);
        if (!close) return fail(err, err_len, "endpoint: IPv6 address without closing ']'");
        size_t n = (size_t)(close - p - 1);
        char buf[INET6_ADDRSTRLEN];
        struct in6_addr a6;
        if (n == 0 || n >= sizeof buf) return fail(err, err_len, "endpoint: invalid IPv6 address");
        memcpy(buf, p + 1, n);
        buf[n] = '\0';
        if (inet_pton(AF_INET6, buf, &a6) != 1)
            return fail(err, err_len, "endpoint: invalid IPv6 address");
        u.host_len = (size_t)(close + 1 - p);
        u.host_is_ip = 1;
        p = close + 1;
    } else {
        while (*p && *p != ':' && *p != '/' && *p != '?' && *p != '#') p++;
        u.host_len = (size_t)(p - host);
        if (u.host_len == 0) return fail(err, err_len, "endpoint: missing host");
        if (!valid_host(host, u.host_len, &u.host_is_ip))
            return fail(err, err_len,
                        "endpoint: invalid host (a DNS name, IPv4 address or [IPv6] address)");
    }
    if (u.host_len >= sizeof u.host) return fail(err, err_len, "endpoint: host too long");
    memcpy(u.host, host, u.host_len);
    u.host[u.host_len] = '\0';
    u.port = u.tls ? 443 : 80;
    if (*p == ':') {
        p++;
        unsigned long port = 0;
        int digits = 0;
        while (isdigit((unsigned char)*p) && digits < 6) {
            port = port * 10 + (unsigned long)(*p - '0');
            p++;
            digits++;
        }
        if (digits == 0 || digits > 5 || port == 0 || port > 65535)
            return fail(err, err_len, "endpoint: port must be 1..65535");
        u.port = (uint16_t)port;
        u.explicit_port = 1;
    }
    if (*p == '/') p++;
    if (*p)
        return fail(err, err_len,
                    "endpoint: only scheme://host[:port] is allowed (no path, query or fragment)");
    if (out) *out = u;
    return 0;
}
