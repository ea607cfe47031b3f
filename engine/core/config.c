/* config.c - ivcs_config_s: defaults, validation, and the JSON file (cJSON).
 *
 * Every error names the offending key and never quotes a value: a value may
 * be a secret (keys, session token, or a password pasted into a URL), so
 * messages say what is wrong, not what was there. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "engine/core/url.h"
#include "ivcs_config.h"

/* A config file is a few hundred bytes; refuse anything absurd before
 * reading it into memory. */
#define CONFIG_FILE_MAX (1u << 20)

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

static void clear_err(char *err, size_t err_len)
{
    if (err && err_len) err[0] = '\0';
}

#define INTEGRITY_EXPECTED \
    "expected \"auto\", \"md5\", \"sha256-chunked\", \"crc32c-trailer\" or \"md5-etag\""

const char *ivcs_integrity_name(int mode)
{
    switch (mode) {
    case IVCS_INTEGRITY_AUTO: return "auto";
    case IVCS_INTEGRITY_MD5: return "md5";
    case IVCS_INTEGRITY_SHA256_CHUNKED: return "sha256-chunked";
    case IVCS_INTEGRITY_CRC32C_TRAILER: return "crc32c-trailer";
    case IVCS_INTEGRITY_MD5_ETAG: return "md5-etag";
    }
    return "?";
}

void ivcs_config_defaults(ivcs_config_s *cfg)
{
    if (!cfg) return;
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->region, sizeof cfg->region, "%s", "us-east-1");
    cfg->verify_tls = 1;
    cfg->virtual_host = 0;
    cfg->plan_poll_s = 60;
    cfg->slice_ms = 4000;
    cfg->io_backend = IVCS_IO_AUTO;
    cfg->spool_max_mb = 1024;
    cfg->backfill_share = 50;
}

/* ---------------------------------------------------------------- validation */

/* Length of a fixed-size string field, or -1 when it has no NUL inside its
 * buffer (a struct filled by hand may overrun). */
static long field_len(const char *s, size_t size)
{
    const char *nul = memchr(s, '\0', size);
    return nul ? (long)(nul - s) : -1;
}

/* S3 bucket naming rules for general purpose buckets. */
static int check_bucket(const char *b, size_t n, bool virtual_host, bool https, char *err,
                        size_t err_len)
{
    if (n == 0) return fail(err, err_len, "bucket: missing");
    if (n < 3 || n > 63) return fail(err, err_len, "bucket: must be 3..63 characters long");
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        if (!(islower((unsigned char)c) || isdigit((unsigned char)c) || c == '.' || c == '-'))
            return fail(err, err_len,
                        "bucket: only lowercase letters, digits, '.' and '-' are allowed");
    }
    if (!isalnum((unsigned char)b[0]) || !isalnum((unsigned char)b[n - 1]))
        return fail(err, err_len, "bucket: must begin and end with a letter or digit");
    if (strstr(b, "..")) return fail(err, err_len, "bucket: must not contain \"..\"");
    struct in_addr a;
    if (inet_pton(AF_INET, b, &a) == 1)
        return fail(err, err_len, "bucket: must not be formatted as an IP address");
    if (!strncmp(b, "xn--", 4) || !strncmp(b, "sthree-", 7))
        return fail(err, err_len, "bucket: reserved prefix (xn--, sthree-)");
    if ((n >= 8 && !strcmp(b + n - 8, "-s3alias")) || (n >= 7 && !strcmp(b + n - 7, "--ol-s3")))
        return fail(err, err_len, "bucket: reserved suffix (-s3alias, --ol-s3)");
    /* bucket.host would not match a wildcard certificate. */
    if (virtual_host && https && strchr(b, '.'))
        return fail(err, err_len,
                    "bucket: a '.' breaks TLS with virtual-hosted style; use path style");
    return 0;
}

/* Printable ASCII without spaces: what may go into an HTTP header. */
static bool is_token(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f) return false;
    return true;
}

static bool has_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f) return true;
    return false;
}

#define FIELD_LEN(cfg, name, var)                                                                \
    long var = field_len((cfg)->name, sizeof((cfg)->name));                                      \
    if (var < 0)                                                                                 \
        return fail(err, err_len, #name ": longer than %zu bytes", sizeof((cfg)->name) - 1);

int ivcs_config_validate(const ivcs_config_s *cfg, char *err, size_t err_len)
{
    clear_err(err, err_len);
    if (!cfg) {
        fail(err, err_len, "config: NULL");
        return IVCS_ERR_INVALID_ARG;
    }
    FIELD_LEN(cfg, endpoint, ep_len);
    FIELD_LEN(cfg, region, region_len);
    FIELD_LEN(cfg, bucket, bucket_len);
    FIELD_LEN(cfg, prefix, prefix_len);
    FIELD_LEN(cfg, device_id, dev_len);
    FIELD_LEN(cfg, access_key, ak_len);
    FIELD_LEN(cfg, secret_key, sk_len);
    FIELD_LEN(cfg, session_token, tok_len);
    FIELD_LEN(cfg, ca_file, ca_len);
    (void)ep_len;

    /* The transport's own parser (url.h): what validates is what connects. */
    ivcs_url_s url;
    int rc = ivcs_url_parse_endpoint(cfg->endpoint, &url, err, err_len);
    if (rc) return rc;
    bool https = url.tls;

    if (cfg->verify_tls != 0 && cfg->verify_tls != 1)
        return fail(err, err_len, "verify_tls: must be 0 or 1");
    if (cfg->virtual_host != 0 && cfg->virtual_host != 1)
        return fail(err, err_len, "virtual_host: must be 0 or 1");
    if (cfg->virtual_host && url.host_is_ip)
        return fail(err, err_len, "virtual_host: needs a DNS name in endpoint, not an IP address");

    if (region_len == 0) return fail(err, err_len, "region: missing");
    for (long i = 0; i < region_len; i++) {
        char c = cfg->region[i];
        if (!isalnum((unsigned char)c) && c != '-' && c != '_')
            return fail(err, err_len, "region: only letters, digits, '-' and '_' are allowed");
    }

    rc = check_bucket(cfg->bucket, (size_t)bucket_len, cfg->virtual_host, https, err, err_len);
    if (rc) return rc;

    if (has_control(cfg->prefix, (size_t)prefix_len))
        return fail(err, err_len, "prefix: control characters are not allowed");
    if (prefix_len && cfg->prefix[0] == '/')
        return fail(err, err_len, "prefix: must not start with '/'");
    if (strchr(cfg->prefix, '\\')) return fail(err, err_len, "prefix: '\\' is not allowed");
    /* Each '/'-terminated segment is a real name: "a//b/", "./" and "../x/"
     * would be sent as they are and a server may normalise them away. */
    for (const char *seg = cfg->prefix, *sl; (sl = strchr(seg, '/')) != NULL; seg = sl + 1) {
        size_t n = (size_t)(sl - seg);
        if (n == 0) return fail(err, err_len, "prefix: empty segment (\"//\") is not allowed");
        if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
            return fail(err, err_len, "prefix: \".\" and \"..\" segments are not allowed");
    }

    if (dev_len == 0) return fail(err, err_len, "device_id: missing");
    if (dev_len > 64) return fail(err, err_len, "device_id: longer than 64 characters");
    for (long i = 0; i < dev_len; i++) {
        char c = cfg->device_id[i];
        if (!isalnum((unsigned char)c) && c != '-' && c != '_')
            return fail(err, err_len,
                        "device_id: only letters, digits, '-' and '_' are allowed");
    }

    if (ak_len == 0) return fail(err, err_len, "access_key: missing");
    if (!is_token(cfg->access_key, (size_t)ak_len))
        return fail(err, err_len, "access_key: only printable ASCII without spaces is allowed");
    if (sk_len == 0) return fail(err, err_len, "secret_key: missing");
    if (!is_token(cfg->secret_key, (size_t)sk_len))
        return fail(err, err_len, "secret_key: only printable ASCII without spaces is allowed");
    if (!is_token(cfg->session_token, (size_t)tok_len))
        return fail(err, err_len,
                    "session_token: only printable ASCII without spaces is allowed");
    if (has_control(cfg->ca_file, (size_t)ca_len))
        return fail(err, err_len, "ca_file: control characters are not allowed");

    if (cfg->plan_poll_s < 1 || cfg->plan_poll_s > 86400)
        return fail(err, err_len, "plan_poll_s: must be 1..86400 seconds");
    if (cfg->slice_ms < 1000 || cfg->slice_ms > 60000)
        return fail(err, err_len, "slice_ms: must be 1000..60000 milliseconds");
    if (cfg->io_backend < IVCS_IO_AUTO || cfg->io_backend > IVCS_IO_EPOLL)
        return fail(err, err_len, "io_backend: must be \"auto\", \"io_uring\" or \"epoll\"");
    if (cfg->integrity < IVCS_INTEGRITY_AUTO || cfg->integrity > IVCS_INTEGRITY_MAX)
        return fail(err, err_len, "integrity: %s", INTEGRITY_EXPECTED);
    long spool_len = field_len(cfg->spool_dir, sizeof cfg->spool_dir);
    if (spool_len < 0) return fail(err, err_len, "spool_dir: not terminated");
    if (has_control(cfg->spool_dir, (size_t)spool_len))
        return fail(err, err_len, "spool_dir: control characters are not allowed");
    if (spool_len && cfg->spool_dir[0] != '/')
        return fail(err, err_len, "spool_dir: must be an absolute path");
    /* 0 in a struct filled by hand means the default */
    if (cfg->spool_max_mb > 1048576)
        return fail(err, err_len, "spool_max_mb: must be 1..1048576 MiB");
    if (cfg->backfill_share > 100)
        return fail(err, err_len, "backfill_share: must be 1..100 percent");
    return 0;
}

/* ---------------------------------------------------------------- JSON */

typedef enum { K_STR, K_STR_OR_NULL, K_BOOL, K_U32, K_IO_BACKEND, K_INTEGRITY } key_type;

typedef struct {
    const char *name;
    key_type type;
    size_t offset;
    size_t size; /* of the char array, for strings */
} key_desc;

#define KS(name, type) {#name, type, offsetof(ivcs_config_s, name), sizeof(((ivcs_config_s *)0)->name)}
static const key_desc keys[] = {
    KS(endpoint, K_STR),
    KS(region, K_STR),
    KS(bucket, K_STR),
    KS(prefix, K_STR),
    KS(device_id, K_STR),
    KS(access_key, K_STR),
    KS(secret_key, K_STR),
    KS(session_token, K_STR_OR_NULL),
    KS(ca_file, K_STR_OR_NULL),
    KS(verify_tls, K_BOOL),
    KS(virtual_host, K_BOOL),
    KS(plan_poll_s, K_U32),
    KS(slice_ms, K_U32),
    KS(io_backend, K_IO_BACKEND),
    KS(spool_dir, K_STR_OR_NULL),
    KS(spool_max_mb, K_U32),
    KS(backfill_share, K_U32),
    KS(integrity, K_INTEGRITY),
};
#undef KS
#define NKEYS (sizeof keys / sizeof keys[0])

/* A key name from the file, safe to print: printable ASCII only, shortened. */
static void printable_key(char *out, size_t out_len, const char *key)
{
    size_t o = 0;
    for (size_t i = 0; key[i] && o + 4 < out_len; i++) {
        unsigned char c = (unsigned char)key[i];
        out[o++] = (c >= 0x20 && c < 0x7f && c != '"') ? (char)c : '?';
        if (i == 63 && key[i + 1]) {
            memcpy(out + o, "...", 3);
            o += 3;
            break;
        }
    }
    out[o] = '\0';
}

/* cJSON turns "\u0000" into a NUL that would silently cut a string short;
 * refuse it. An escape is a backslash preceded by an even number of them. */
static bool has_escaped_nul(const char *json, size_t len)
{
    for (size_t i = 0; i + 6 <= len; i++) {
        if (json[i] != '\\' || memcmp(json + i + 1, "u0000", 5) != 0) continue;
        size_t bs = 0;
        while (bs < i && json[i - 1 - bs] == '\\') bs++;
        if (bs % 2 == 0) return true;
    }
    return false;
}

/* Overwrites every string value of a parsed tree so that secrets do not
 * linger in freed heap memory. */
static void wipe_strings(cJSON *item)
{
    for (; item; item = item->next) {
        if (item->valuestring) explicit_bzero(item->valuestring, strlen(item->valuestring));
        wipe_strings(item->child);
    }
}

static int apply_key(ivcs_config_s *cfg, const key_desc *k, const cJSON *v, char *err,
                     size_t err_len)
{
    char *base = (char *)cfg + k->offset;
    switch (k->type) {
    case K_STR_OR_NULL:
        if (cJSON_IsNull(v)) {
            base[0] = '\0';
            return 0;
        }
        /* fall through */
    case K_STR: {
        if (!cJSON_IsString(v) || !v->valuestring)
            return fail(err, err_len, "%s: expected a string%s", k->name,
                        k->type == K_STR_OR_NULL ? " or null" : "");
        size_t n = strlen(v->valuestring);
        if (n >= k->size)
            return fail(err, err_len, "%s: longer than %zu bytes", k->name, k->size - 1);
        memcpy(base, v->valuestring, n + 1);
        return 0;
    }
    case K_BOOL:
        if (!cJSON_IsBool(v)) return fail(err, err_len, "%s: expected true or false", k->name);
        *(int *)(void *)base = cJSON_IsTrue(v) ? 1 : 0;
        return 0;
    case K_IO_BACKEND:
        for (int b = IVCS_IO_AUTO; cJSON_IsString(v) && v->valuestring && b <= IVCS_IO_EPOLL; b++) {
            if (!strcmp(v->valuestring, ivcs_io_backend_name(b))) {
                *(int *)(void *)base = b;
                return 0;
            }
        }
        return fail(err, err_len, "%s: expected \"auto\", \"io_uring\" or \"epoll\"", k->name);
    case K_INTEGRITY:
        for (int m = 0; cJSON_IsString(v) && v->valuestring && m <= IVCS_INTEGRITY_MAX; m++) {
            if (!strcmp(v->valuestring, ivcs_integrity_name(m))) {
                *(int *)(void *)base = m;
                return 0;
            }
        }
        return fail(err, err_len, "%s: %s", k->name, INTEGRITY_EXPECTED);
    case K_U32: {
        if (!cJSON_IsNumber(v)) return fail(err, err_len, "%s: expected a number", k->name);
        double d = v->valuedouble;
        if (d != d || d < 0 || d > 4294967295.0)
            return fail(err, err_len, "%s: out of range", k->name);
        if (d != (double)(uint32_t)d)
            return fail(err, err_len, "%s: expected a whole number", k->name);
        *(uint32_t *)(void *)base = (uint32_t)d;
        return 0;
    }
    }
    return fail(err, err_len, "%s: internal error", k->name);
}

static int parse_into(ivcs_config_s *out, const char *json, size_t len, char *err,
                      size_t err_len)
{
    if (has_escaped_nul(json, len))
        return fail(err, err_len, "config: strings must not contain \\u0000");
    bool seen[NKEYS] = {false};
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        size_t pos = end && end >= json && end <= json + len ? (size_t)(end - json) : 0;
        size_t line = 1;
        for (size_t i = 0; i < pos; i++) line += json[i] == '\n';
        return fail(err, err_len, "config: JSON syntax error at byte %zu (line %zu)", pos, line);
    }
    int rc = 0;
    /* cJSON stops after the first value; anything but whitespace after it is
     * a second document or garbage. */
    for (size_t i = end ? (size_t)(end - json) : len; i < len; i++) {
        if (!isspace((unsigned char)json[i])) {
            rc = fail(err, err_len, "config: unexpected data after the JSON object at byte %zu",
                      i);
            goto out;
        }
    }
    if (!cJSON_IsObject(root)) {
        rc = fail(err, err_len, "config: expected a JSON object");
        goto out;
    }
    for (const cJSON *it = root->child; it; it = it->next) {
        const key_desc *k = NULL;
        size_t idx = 0;
        for (idx = 0; idx < NKEYS; idx++) {
            if (it->string && !strcmp(it->string, keys[idx].name)) {
                k = &keys[idx];
                break;
            }
        }
        if (!k) {
            char name[80];
            printable_key(name, sizeof name, it->string ? it->string : "");
            rc = fail(err, err_len, "config: unknown key \"%s\"", name);
            goto out;
        }
        if (seen[idx]) {
            rc = fail(err, err_len, "%s: duplicate key", k->name);
            goto out;
        }
        seen[idx] = true;
        rc = apply_key(out, k, it, err, err_len);
        if (rc) goto out;
        /* in a struct 0 means the default; in a file it is out of range */
        if (k->type == K_U32 && *(const uint32_t *)(const void *)((const char *)out + k->offset) == 0 &&
            (!strcmp(k->name, "spool_max_mb") || !strcmp(k->name, "backfill_share"))) {
            rc = fail(err, err_len, "%s: must be %s", k->name,
                      k->name[0] == 's' ? "1..1048576 MiB" : "1..100 percent");
            goto out;
        }
    }
out:
    wipe_strings(root);
    cJSON_Delete(root);
    return rc;
}

int ivcs_config_parse(ivcs_config_s *cfg, const char *json, size_t len, char *err,
                      size_t err_len)
{
    clear_err(err, err_len);
    if (!cfg || (!json && len)) {
        fail(err, err_len, "config: NULL argument");
        return IVCS_ERR_INVALID_ARG;
    }
    if (!json || len == 0) return fail(err, err_len, "config: empty");
    /* Work on a copy so that *cfg is untouched on any error. */
    ivcs_config_s tmp;
    ivcs_config_defaults(&tmp);
    int rc = parse_into(&tmp, json, len, err, err_len);
    if (rc == 0) rc = ivcs_config_validate(&tmp, err, err_len);
    if (rc == 0) memcpy(cfg, &tmp, sizeof tmp);
    explicit_bzero(&tmp, sizeof tmp);
    return rc;
}

int ivcs_config_load(ivcs_config_s *cfg, const char *path, char *err, size_t err_len)
{
    clear_err(err, err_len);
    if (!cfg || !path) {
        fail(err, err_len, "config: NULL argument");
        return IVCS_ERR_INVALID_ARG;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        fail(err, err_len, "config: cannot open %s: %s", path, strerror(e));
        return IVCS_ERR_IO;
    }
    char *buf = malloc(CONFIG_FILE_MAX + 1);
    if (!buf) {
        fclose(f);
        fail(err, err_len, "config: out of memory");
        return IV_ERR_SYS_MALLOC_FAIL;
    }
    size_t n = fread(buf, 1, CONFIG_FILE_MAX + 1, f);
    int rd_err = ferror(f);
    fclose(f);
    int rc;
    if (rd_err) {
        fail(err, err_len, "config: cannot read %s", path);
        rc = IVCS_ERR_IO;
    } else if (n > CONFIG_FILE_MAX) {
        rc = fail(err, err_len, "config: %s is larger than %u bytes", path, CONFIG_FILE_MAX);
    } else {
        rc = ivcs_config_parse(cfg, buf, n, err, err_len);
        if (rc && err && err_len) {
            /* Say which file: "path: key: reason". */
            char msg[512];
            const char *m = err;
            if (!strncmp(m, "config: ", 8)) m += 8;
            snprintf(msg, sizeof msg, "%s", m);
            snprintf(err, err_len, "%s: %s", path, msg);
        }
    }
    explicit_bzero(buf, n < CONFIG_FILE_MAX + 1 ? n : CONFIG_FILE_MAX + 1);
    free(buf);
    return rc;
}
