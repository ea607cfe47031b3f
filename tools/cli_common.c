/* cli_common.c - shared parts of the viewer commands (see cli_common.h). */
#include "tools/cli_common.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "engine/viewer/catalog.h"
#include "tools/timearg.h"

/* 1 if rc is the event loop failing to start (ivcs_io_backend_note says
 * why), not some later step after a loop that started: a started loop's
 * note is "", "... using epoll" or "io_backend epoll asked for ...". */
static int loop_failed(int rc)
{
    const char *note = ivcs_io_backend_note();
    if (!note[0]) return 0;
    if (rc == IVCS_ERR_IO_BACKEND) return 1;
    if (strstr(note, "using epoll") || strstr(note, "asked for")) return 0;
    return rc == IVCS_ERR_CONFIG || rc == IV_ERR_SYS_COMMUNICATE_FAIL;
}

int ivcs_cli_open(ivcs_cli_s *c, const char *cmd, const char *config_path)
{
    memset(c, 0, sizeof *c);
    c->cmd = cmd;
    c->config_path = config_path ? config_path : getenv("IVCS_CONFIG");
    if (!c->config_path || !c->config_path[0]) {
        fprintf(stderr, "ivcs %s: no configuration: --config FILE or IVCS_CONFIG\n", cmd);
        return IVCS_EXIT_USAGE;
    }
    char err[256] = "";
    int rc = ivcs_config_load(&c->cfg, c->config_path, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "ivcs %s: config %s: %s%s%s\n", cmd, c->config_path, ivcs_strerror(rc),
                err[0] ? ": " : "", err);
        return IVCS_EXIT_FAIL;
    }
    rc = ivcs_layout_init(&c->layout, c->cfg.prefix, c->cfg.device_id);
    if (rc < 0) {
        fprintf(stderr, "ivcs %s: config %s: prefix/device_id cannot form object keys: %s\n", cmd,
                c->config_path, ivcs_strerror(rc));
        memset(&c->cfg, 0, sizeof c->cfg);
        return IVCS_EXIT_FAIL;
    }
    rc = ivcs_s3_new(&c->s3, NULL, &c->cfg, NULL);
    if (rc < 0 && loop_failed(rc)) {
        ivcs_cli_init_fail(cmd, "cannot start the event loop", rc);
        memset(&c->cfg, 0, sizeof c->cfg);
        return IVCS_EXIT_FAIL;
    }
    if (rc < 0) {
        /* One line, naming why the CA file is unusable (missing, not PEM...). */
        char why[160] = "";
        if (rc == IVCS_ERR_TLS && c->cfg.ca_file[0] &&
            ivcs_tls_ca_file_check(c->cfg.ca_file, why, sizeof why) == 0)
            why[0] = 0; /* readable: OpenSSL refused it for another reason */
        if (why[0])
            fprintf(stderr, "ivcs %s: cannot set up the S3 client for %s: ca_file %s: %s\n",
                    cmd, c->cfg.endpoint, c->cfg.ca_file, why);
        else
            fprintf(stderr, "ivcs %s: cannot set up the S3 client for %s: %s%s%s\n", cmd,
                    c->cfg.endpoint, ivcs_strerror(rc), c->cfg.ca_file[0] ? ", ca_file " : "",
                    c->cfg.ca_file);
        memset(&c->cfg, 0, sizeof c->cfg);
        return IVCS_EXIT_FAIL;
    }
    ivcs_cli_io_backend(cmd, ivcs_loop_backend(ivcs_s3_loop(c->s3)),
                        ivcs_loop_note(ivcs_s3_loop(c->s3)));
    return IVCS_EXIT_OK;
}

int ivcs_cli_viewer(ivcs_cli_s *c)
{
    if (c->viewer) return IVCS_EXIT_OK;
    char err[256] = "";
    int rc = ivcs_viewer_open(&c->viewer, &c->cfg, NULL, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "ivcs %s: cannot set up the viewer for %s: %s%s%s\n", c->cmd,
                c->cfg.endpoint, ivcs_strerror(rc), err[0] ? ": " : "", err);
        return IVCS_EXIT_FAIL;
    }
    return IVCS_EXIT_OK;
}

int ivcs_cli_fail_viewer(const ivcs_cli_s *c, const char *what, int rc)
{
    const ivcs_viewer_error_s *e = ivcs_viewer_last_error(c->viewer);
    ivcs_s3_result r;
    memset(&r, 0, sizeof r);
    r.status = e->status;
    snprintf(r.code, sizeof r.code, "%s", e->s3_code);
    snprintf(r.message, sizeof r.message, "%s", e->message);
    snprintf(r.detail, sizeof r.detail, "%s", e->detail);
    snprintf(r.request_id, sizeof r.request_id, "%s", e->request_id);
    return ivcs_cli_fail(c, what, rc, &r);
}

int ivcs_cli_verbose;

void ivcs_cli_io_backend(const char *cmd, int backend, const char *note)
{
    static int said;
    if (!ivcs_cli_verbose || said) return;
    said = 1;
    fprintf(stderr, "ivcs %s: I/O backend %s%s%s\n", cmd, ivcs_io_backend_name(backend),
            note && note[0] ? ": " : "", note ? note : "");
}

void ivcs_cli_init_fail(const char *cmd, const char *what, int rc)
{
    if (loop_failed(rc))
        fprintf(stderr, "ivcs %s: %s: %s (%s, %d)\n", cmd, what, ivcs_io_backend_note(),
                ivcs_strerror_name(rc), rc);
    else
        fprintf(stderr, "ivcs %s: %s: %s (%d)\n", cmd, what, ivcs_strerror(rc), rc);
}

void ivcs_cli_close(ivcs_cli_s *c)
{
    ivcs_viewer_close(c->viewer);
    c->viewer = NULL;
    ivcs_s3_destroy(c->s3);
    c->s3 = NULL;
    memset(&c->cfg, 0, sizeof c->cfg);
}

static int is_auth_code(const char *code)
{
    static const char *const codes[] = {
        "InvalidAccessKeyId",           "SignatureDoesNotMatch", "ExpiredToken",
        "TokenRefreshRequired",         "InvalidToken",          "AccessDenied",
        "AuthorizationHeaderMalformed", "InvalidSecurity"};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (!strcmp(code, codes[i])) return 1;
    return 0;
}

int ivcs_cli_fail(const ivcs_cli_s *c, const char *what, int rc, const ivcs_s3_result *r)
{
    static const ivcs_s3_result none;
    if (!r) r = &none;
    const char *cmd = c->cmd;
    const char *cfgp = c->config_path ? c->config_path : "the config";
    if ((rc == IVCS_ERR_NOT_FOUND || rc == IVCS_ERR_S3) && !strcmp(r->code, "NoSuchBucket")) {
        fprintf(stderr,
                "ivcs %s: %s: bucket '%s' does not exist at %s (HTTP %d NoSuchBucket); check "
                "\"bucket\" in %s or create it with 'ivcs s3 mb'\n",
                cmd, what, c->cfg.bucket, c->cfg.endpoint, r->status, cfgp);
    } else if (rc == IVCS_ERR_S3 && is_auth_code(r->code)) {
        fprintf(stderr,
                "ivcs %s: %s: access denied by %s: %s%s%s (HTTP %d); the credentials in %s "
                "(access_key, secret_key, session_token) are wrong, expired or lack the "
                "permission\n",
                cmd, what, c->cfg.endpoint, r->code, r->message[0] ? ": " : "", r->message,
                r->status, cfgp);
    } else if (rc == IVCS_ERR_S3 && !strcmp(r->code, "RequestTimeTooSkewed")) {
        fprintf(stderr,
                "ivcs %s: %s: the server rejects this machine's clock "
                "(RequestTimeTooSkewed): set the system time\n",
                cmd, what);
    } else if (rc == IVCS_ERR_S3 || rc == IVCS_ERR_NOT_FOUND) {
        fprintf(stderr, "ivcs %s: %s: %s%s%s (HTTP %d)\n", cmd, what,
                r->code[0] ? r->code : "error", r->message[0] ? ": " : "", r->message, r->status);
    } else if (rc == IVCS_ERR_TLS_VERIFY) {
        fprintf(stderr,
                "ivcs %s: %s: the certificate of %s is not trusted: %s; check \"ca_file\" in %s\n",
                cmd, what, c->cfg.endpoint, r->detail[0] ? r->detail : "verification failed", cfgp);
    } else if (rc == IVCS_ERR_CONNECT || rc == IVCS_ERR_RESOLVE || rc == IVCS_ERR_TIMEOUT ||
               rc == IVCS_ERR_TLS || rc == IVCS_ERR_CLOSED) {
        fprintf(stderr, "ivcs %s: %s: cannot reach %s: %s%s%s\n", cmd, what, c->cfg.endpoint,
                ivcs_strerror(rc), r->detail[0] ? ": " : "", r->detail);
    } else if (rc == IVCS_ERR_UNSUPPORTED) {
        fprintf(stderr, "ivcs %s: %s: not supported by %s: %s\n", cmd, what, c->cfg.endpoint,
                r->detail[0] ? r->detail : "the server lacks the feature");
    } else {
        fprintf(stderr, "ivcs %s: %s: %s%s%s\n", cmd, what, ivcs_strerror(rc),
                r->detail[0] ? ": " : "", r->detail);
    }
    return IVCS_EXIT_FAIL;
}

int ivcs_cli_nothing(const ivcs_cli_s *c, const char *what)
{
    ivcs_s3_result r;
    memset(&r, 0, sizeof r);
    int rc = ivcs_catalog_device_exists(c->s3, &c->layout, &r);
    if (rc < 0) return ivcs_cli_fail(c, "list", rc, &r);
    if (rc == 0)
        fprintf(stderr,
                "ivcs %s: unknown device '%s': no object under '%s' in bucket '%s' "
                "(check \"device_id\" and \"prefix\" in %s)\n",
                c->cmd, c->cfg.device_id, c->layout.root, c->cfg.bucket,
                c->config_path ? c->config_path : "the config");
    else
        fprintf(stderr, "ivcs %s: device '%s': %s\n", c->cmd, c->cfg.device_id, what);
    return IVCS_EXIT_FAIL;
}

int ivcs_cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ivcs %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    /* "s3 ls" -> "ivcs s3 --help" */
    fprintf(stderr, "\nivcs %s: see 'ivcs %.*s --help'\n", cmd, (int)strcspn(cmd, " "), cmd);
    return IVCS_EXIT_USAGE;
}

int ivcs_cli_is_help(const char *a)
{
    return a && (!strcmp(a, "--help") || !strcmp(a, "-h"));
}

int ivcs_cli_time(const char *cmd, const char *opt, const char *v, int64_t *ms)
{
    if (!v) return ivcs_cli_usage_error(cmd, "%s needs a value", opt), -1;
    if (ivcs_timearg_parse(v, ms) == 0) return 0;
    ivcs_cli_usage_error(cmd, "bad %s '%s': expected %s", opt, v, ivcs_timearg_help());
    return -1;
}

int ivcs_cli_day(const char *cmd, const char *opt, const char *v, int64_t *ms)
{
    if (!v) return ivcs_cli_usage_error(cmd, "%s needs a value", opt), -1;
    if (ivcs_timearg_parse_day(v, ms) == 0) return 0;
    ivcs_cli_usage_error(cmd, "bad %s '%s': expected a UTC date YYYY-MM-DD", opt, v);
    return -1;
}

int ivcs_cli_u32(const char *cmd, const char *opt, const char *v, uint32_t min, uint32_t max,
                 uint32_t *out)
{
    if (!v) return ivcs_cli_usage_error(cmd, "%s needs a value", opt), -1;
    char *e;
    errno = 0;
    unsigned long long n = strtoull(v, &e, 10);
    if (errno || e == v || *e || v[0] < '0' || v[0] > '9' || n < min || n > max) {
        ivcs_cli_usage_error(cmd, "bad %s '%s': expected an integer %" PRIu32 "..%" PRIu32, opt, v,
                             min, max);
        return -1;
    }
    *out = (uint32_t)n;
    return 0;
}

int ivcs_cli_number(const char *cmd, const char *opt, const char *v, double min, double max,
                    double *out)
{
    if (!v) return ivcs_cli_usage_error(cmd, "%s needs a value", opt), -1;
    /* digits and at most one '.', nothing else: strtod alone would take
     * "inf", "nan", "0x10" and leading blanks */
    size_t digits = strspn(v, "0123456789"), dot = v[digits] == '.';
    size_t frac = dot ? strspn(v + digits + 1, "0123456789") : 0;
    double n = 0;
    int ok = digits + frac > 0 && v[digits + dot + frac] == 0;
    if (ok) {
        n = strtod(v, NULL);
        ok = isfinite(n) && n >= min && n <= max;
    }
    if (!ok) {
        ivcs_cli_usage_error(cmd, "bad %s '%s': expected a number %g..%g", opt, v, min, max);
        return -1;
    }
    *out = n;
    return 0;
}

const char *ivcs_cli_iso(int64_t ms, char *buf, size_t cap)
{
    char iso[IVCS_LAYOUT_ISO_LEN + 1];
    if (ivcs_layout_format_iso8601(ms, iso) > 0)
        snprintf(buf, cap, "%s", iso);
    else
        snprintf(buf, cap, "%" PRId64, ms);
    return buf;
}

int ivcs_cli_range_opt(const char *cmd, const char *a, const char *v, ivcs_cli_range_s *r)
{
    if (strcmp(a, "--day") && strcmp(a, "--from") && strcmp(a, "--to")) return 0;
    if (!v) return ivcs_cli_usage_error(cmd, "%s needs a value", a), -1;
    if (!strcmp(a, "--day")) {
        if (ivcs_cli_day(cmd, a, v, &r->from) < 0) return -1;
        r->to = r->from + 86400000LL;
        r->has_day = 1;
    } else if (!strcmp(a, "--from")) {
        if (ivcs_cli_time(cmd, a, v, &r->from) < 0) return -1;
        r->has_from = 1;
    } else {
        if (ivcs_cli_time(cmd, a, v, &r->to) < 0) return -1;
        r->has_to = 1;
    }
    return 1;
}

int ivcs_cli_scope_opt(const char *cmd, const char *a, const char *v, ivcs_cli_scope_s *sc)
{
    if (strcmp(a, "--config") && strcmp(a, "--channel"))
        return ivcs_cli_range_opt(cmd, a, v, &sc->range);
    if (!v) return ivcs_cli_usage_error(cmd, "%s needs a value", a), -1;
    if (!strcmp(a, "--config")) {
        sc->config = v;
        return 1;
    }
    if (ivcs_cli_u32(cmd, a, v, 0, UINT32_MAX, &sc->ch) < 0) return -1;
    sc->has_ch = 1;
    return 1;
}

const char *ivcs_cli_time_help(void)
{
    return "T: UTC ISO-8601 (2026-11-25T10:00:00Z; .sss and +HH:MM allowed; 2026-11-25\n"
           "is its 00:00Z), epoch seconds, epoch ms (12+ digits) or 'now'.\n";
}

const char *ivcs_cli_range_help(void)
{
    return "Range: --day D, or --from T and/or --to T (a bound left out is open);\n"
           "no range: everything. --day excludes --from/--to.\n";
}

int ivcs_cli_range_finish(const char *cmd, ivcs_cli_range_s *r)
{
    if (r->has_day && (r->has_from || r->has_to)) {
        ivcs_cli_usage_error(cmd, "give --day or --from/--to, not both");
        return -1;
    }
    if (r->has_day) return 0;
    if (!r->has_from) r->from = 0;
    if (!r->has_to) r->to = IVCS_LAYOUT_START_MS_MAX + 1;
    if (r->to <= r->from) {
        char a[32], b[32];
        ivcs_cli_usage_error(cmd, "empty range: --to %s is not after --from %s",
                             ivcs_cli_iso(r->to, a, sizeof a), ivcs_cli_iso(r->from, b, sizeof b));
        return -1;
    }
    return 0;
}

int ivcs_cli_bad_option(const char *cmd, const char *a, const char *valued)
{
    size_t n = strlen(a);
    for (const char *p = valued; n && (p = strstr(p, a)) != NULL; p += n) {
        if ((p == valued || p[-1] == ' ') && (p[n] == ' ' || p[n] == 0))
            return ivcs_cli_usage_error(cmd, "%s needs a value", a);
    }
    if (a[0] == '-' && a[1]) return ivcs_cli_usage_error(cmd, "unknown option '%s'", a);
    return ivcs_cli_usage_error(cmd, "unexpected argument '%s'", a);
}
