/* cmd_serve.c - `ivcs serve`: the web viewer. A small HTTP/1.1 server that
 * serves the page of viewer/web/ (a fixed whitelist of files, read once at
 * start) and a JSON API over the viewer library (ivcs_viewer.h): days,
 * recorded ranges with gaps, events with presigned picture URLs, and HLS
 * playlists of presigned segment URLs, so the media goes from the bucket
 * straight to the browser. --proxy streams segments and pictures through
 * the server instead (buckets without CORS). docs/VIEWER.md.
 *
 * One thread, poll(2), non-blocking sockets (TLS with --cert/--key: OpenSSL
 * on the same non-blocking sockets), Connection: close after each
 * response. Everything a client sends is bounded: request head 8 KiB, 64
 * header fields, a request target of 2 KiB, no request body, a deadline
 * for the whole head (--client-timeout) and for the answer to drain; at
 * most --max-conns connections (one more is told 503 and closed). A slow
 * or vanished client costs a slot until its deadline, never the loop.
 * The viewer calls block (bounded by the viewer's timeouts, set here to
 * 20 s transfer / 10 s first byte). The secret key never leaves the
 * process: the browser only sees presigned URLs. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tools/cli_common.h"
#include "tools/commands.h"
#include "ivcs_viewer.h"

#define HEAD_MAX 8192
#define FIELDS_MAX 64
#define TARGET_MAX 2048
#define WEB_FILE_MAX (4u << 20)
#define PROXY_MAX (64u << 20)
#define SPAN_MAX_MS (8LL * 86400000) /* a timeline or playlist request */
#define MS_MAX 253402300799999LL

/* ---------------------------------------------------------------- buffer */

typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} buf_s;

static void b_add(buf_s *b, const void *s, size_t n)
{
    if (b->oom) return;
    if (b->len + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 1024;
        while (c < b->len + n + 1) c *= 2;
        char *q = realloc(b->p, c);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = c;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void b_fmt(buf_s *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void b_fmt(buf_s *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n < sizeof tmp) {
        b_add(b, tmp, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->oom = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b_add(b, big, (size_t)n);
    free(big);
}

/* A JSON string: quotes, escapes, control bytes as \u00XX, '<' '>' '&'
 * escaped too (the text may be hostile). */
static void b_json(buf_s *b, const char *s)
{
    b_add(b, "\"", 1);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\') {
            char e[2] = {'\\', (char)*p};
            b_add(b, e, 2);
        } else if (*p < 0x20 || *p == '<' || *p == '>' || *p == '&' || *p == 0x7f) {
            b_fmt(b, "\\u%04x", *p);
        } else {
            b_add(b, p, 1);
        }
    }
    b_add(b, "\"", 1);
}

/* ---------------------------------------------------------------- state */

typedef struct {
    const char *path; /* URL path */
    const char *file; /* under the web dir */
    const char *type;
    char *data;
    size_t len;
} web_file_s;

static web_file_s web_files[] = {
    {"/", "index.html", "text/html; charset=utf-8", NULL, 0},
    {"/index.html", "index.html", "text/html; charset=utf-8", NULL, 0},
    {"/app.js", "app.js", "text/javascript; charset=utf-8", NULL, 0},
    {"/style.css", "style.css", "text/css; charset=utf-8", NULL, 0},
    {"/vendor/hls.min.js", "vendor/hls.min.js", "text/javascript; charset=utf-8", NULL, 0},
};
#define N_WEB (sizeof web_files / sizeof web_files[0])

typedef struct {
    int fd;
    SSL *ssl;     /* --cert/--key: the connection's TLS, else NULL */
    int hs_done;  /* TLS handshake finished */
    short want;   /* TLS: the poll event the last SSL call waits for, 0: the default */
    int writing;
    int64_t deadline_ms;
    char head[HEAD_MAX + 1];
    size_t head_len;
    buf_s out;
    size_t out_off;
} conn_s;

typedef struct {
    ivcs_cli_s cli;
    uint32_t ch;
    int proxy;
    uint32_t expires;
    uint32_t client_ms;
    size_t max_conns;
    char host[128]; /* as listened on, for the Host check ("" = any) */
    uint16_t port;
    conn_s *conns;
    SSL_CTX *tls; /* --cert/--key */
    uint64_t served, refused, timed_out;
} srv_s;

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_utc_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- web files */

static int load_file(const char *dir, web_file_s *f)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", dir, f->file) >= (int)sizeof path) return -1;
    FILE *fp = fopen(path, "rb");
    if (!fp) return -1;
    struct stat st;
    if (fstat(fileno(fp), &st) || !S_ISREG(st.st_mode) || st.st_size > (off_t)WEB_FILE_MAX) {
        fclose(fp);
        return -1;
    }
    f->data = malloc((size_t)st.st_size + 1);
    if (!f->data) {
        fclose(fp);
        return -1;
    }
    f->len = fread(f->data, 1, (size_t)st.st_size, fp);
    fclose(fp);
    return f->len == (size_t)st.st_size ? 0 : -1;
}

/* The page: --web DIR, else <dir of the program>/../share/ivcs/web, else
 * the source tree the program was built from. */
static int load_web(const char *given, char *used, size_t cap)
{
    char cand[3][PATH_MAX];
    int n = 0;
    if (given) {
        snprintf(cand[n++], PATH_MAX, "%s", given);
    } else {
        char exe[PATH_MAX];
        ssize_t l = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (l > 0) {
            exe[l] = 0;
            char *sl = strrchr(exe, '/');
            if (sl) {
                *sl = 0;
                if (snprintf(cand[n], PATH_MAX, "%s/../share/ivcs/web", exe) < PATH_MAX) n++;
            }
        }
#ifdef IVCS_WEB_SOURCE_DIR
        snprintf(cand[n++], PATH_MAX, "%s", IVCS_WEB_SOURCE_DIR);
#endif
    }
    for (int c = 0; c < n; c++) {
        size_t i;
        for (i = 0; i < N_WEB; i++)
            if (load_file(cand[c], &web_files[i]) < 0) break;
        size_t cl = strnlen(cand[c], PATH_MAX);
        if (i == N_WEB && cl < cap) {
            memcpy(used, cand[c], cl + 1);
            return 0;
        }
        for (size_t j = 0; j < N_WEB; j++) {
            free(web_files[j].data);
            web_files[j].data = NULL;
        }
    }
    return -1;
}

/* ---------------------------------------------------------------- responses */

static const char *reason(int st)
{
    switch (st) {
    case 200: return "OK";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    default: return "Error";
    }
}

static void respond(conn_s *c, int head_only, int st, const char *type, const void *body,
                    size_t len, const char *cache)
{
    buf_s *o = &c->out;
    o->len = 0;
    b_fmt(o,
          "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
          "Cache-Control: %s\r\nX-Content-Type-Options: nosniff\r\n"
          "Referrer-Policy: no-referrer\r\n"
          "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; "
          "img-src 'self' https: http: data: blob:; media-src 'self' https: http: blob:; "
          "connect-src 'self' https: http: blob:; worker-src 'self' blob:; frame-ancestors 'none'\r\n"
          "Connection: close\r\n\r\n",
          st, reason(st), type, len, cache ? cache : "no-store");
    if (!head_only && len) b_add(o, body, len);
    c->writing = 1;
    c->out_off = 0;
}

static void respond_error(conn_s *c, int head_only, int st, const char *code, const char *fmt,
                          ...) __attribute__((format(printf, 5, 6)));
static void respond_error(conn_s *c, int head_only, int st, const char *code, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    buf_s b = {0};
    b_fmt(&b, "{\"status\":%d,\"code\":", st);
    b_json(&b, code);
    b_add(&b, ",\"error\":", 9);
    b_json(&b, msg);
    b_add(&b, "}\n", 2);
    if (b.oom)
        respond(c, head_only, 500, "application/json", "{}", 2, NULL);
    else
        respond(c, head_only, st, "application/json", b.p, b.len, NULL);
    free(b.p);
}

/* ---------------------------------------------------------------- query */

static int hexv(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* The percent-decoded value of parameter name in query q into out, 1 if
 * found, 0 if not, -1 if malformed or too long (or a NUL). */
static int qparam(const char *q, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    while (q && *q) {
        const char *amp = strchr(q, '&');
        size_t l = amp ? (size_t)(amp - q) : strlen(q);
        if (l > nl && !memcmp(q, name, nl) && q[nl] == '=') {
            size_t o = 0;
            for (size_t i = nl + 1; i < l; i++) {
                int ch = (unsigned char)q[i];
                if (ch == '%') {
                    int h = i + 2 < l ? hexv(q[i + 1]) : -1, lo = i + 2 < l ? hexv(q[i + 2]) : -1;
                    if (h < 0 || lo < 0) return -1;
                    ch = h * 16 + lo;
                    i += 2;
                } else if (ch == '+') {
                    ch = ' ';
                }
                if (ch == 0 || o + 1 >= cap) return -1;
                out[o++] = (char)ch;
            }
            out[o] = 0;
            return 1;
        }
        q = amp ? amp + 1 : NULL;
    }
    return 0;
}

/* A required integer parameter in lo..hi. */
static int qint(const char *q, const char *name, int64_t lo, int64_t hi, int64_t *v)
{
    char s[32];
    if (qparam(q, name, s, sizeof s) != 1 || !s[0]) return -1;
    char *e;
    errno = 0;
    long long x = strtoll(s, &e, 10);
    if (errno || *e || x < lo || x > hi || !(isdigit((unsigned char)s[0]) || s[0] == '-'))
        return -1;
    *v = x;
    return 0;
}

/* ---------------------------------------------------------------- API */

static const char *iso(int64_t ms, char *b)
{
    if (ivcs_viewer_format_time(ms, b, 32) < 0) snprintf(b, 32, "%" PRId64, ms);
    return b;
}

/* A viewer failure as a JSON error: 502 for the bucket, 500 else. */
static void viewer_fail(srv_s *s, conn_s *c, int ho, const char *what, int rc)
{
    const ivcs_viewer_error_s *e = ivcs_viewer_last_error(s->cli.viewer);
    fprintf(stderr, "ivcs serve: %s: %s%s%s%s%s\n", what, ivcs_strerror(rc), e->s3_code[0] ? " " : "",
            e->s3_code, e->detail[0] ? ": " : "", e->detail);
    respond_error(c, ho, 502, "bucket", "%s failed: %s%s%s", what, ivcs_strerror(rc),
                  e->s3_code[0] ? " " : "", e->s3_code);
}

/* The key under the device's root from a query parameter ("key", relative
 * to "{prefix}{device}/") if it is of the wanted kind; else an error was
 * answered and NULL returned. buf: 1100+ bytes. */
static const char *qkey(srv_s *s, conn_s *c, int ho, const char *q, int kind, char *buf,
                        size_t cap, ivcs_viewer_key_s *ki)
{
    char rel[1024];
    const char *root = ivcs_viewer_root(s->cli.viewer);
    if (qparam(q, "key", rel, sizeof rel) != 1 || !rel[0] ||
        snprintf(buf, cap, "%s%s", root, rel) >= (int)cap ||
        ivcs_viewer_parse_key(s->cli.viewer, buf, ki) < 0 || ki->kind != kind ||
        ki->channel != s->ch) {
        respond_error(c, ho, 400, "bad_key", "key is not %s of this device and channel",
                      kind == 1 ? "a slice" : kind == 2 ? "an event record" : "a picture");
        return NULL;
    }
    return buf;
}

/* The URL the page uses for an object: presigned, or through --proxy. */
static int object_url(srv_s *s, const char *key, buf_s *b)
{
    if (s->proxy) {
        const char *rel = key + strlen(ivcs_viewer_root(s->cli.viewer));
        const char *api = strstr(key, "/rec/") ? "/api/segment?key=" : "/api/picture?key=";
        b_add(b, api, strlen(api));
        for (const unsigned char *p = (const unsigned char *)rel; *p; p++) {
            if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '/')
                b_add(b, p, 1);
            else
                b_fmt(b, "%%%02X", *p);
        }
        return 0;
    }
    ivcs_viewer_text_s t;
    int rc = ivcs_viewer_presign(s->cli.viewer, key, s->expires, &t);
    if (rc < 0) return rc;
    b_add(b, t.p, t.len);
    ivcs_viewer_text_free(&t);
    return 0;
}

static void api_info(srv_s *s, conn_s *c, int ho)
{
    buf_s b = {0};
    b_add(&b, "{\"device\":", 10);
    b_json(&b, s->cli.cfg.device_id);
    b_fmt(&b, ",\"channel\":%" PRIu32 ",\"proxy\":%s,\"expires\":%" PRIu32 ",\"now_ms\":%" PRId64
              "}\n",
          s->ch, s->proxy ? "true" : "false", s->expires, now_utc_ms());
    respond(c, ho, b.oom ? 500 : 200, "application/json", b.p, b.len, NULL);
    free(b.p);
}

static void api_days(srv_s *s, conn_s *c, int ho)
{
    ivcs_viewer_days_s d1 = {0}, d2 = {0};
    int rc = ivcs_viewer_days(s->cli.viewer, s->ch, 0, &d1);
    if (rc >= 0) rc = ivcs_viewer_days(s->cli.viewer, s->ch, 1, &d2);
    if (rc < 0) {
        viewer_fail(s, c, ho, "list days", rc);
        goto out;
    }
    buf_s b = {0};
    b_add(&b, "{\"days\":[", 9);
    /* merge the two ascending lists */
    size_t i = 0, j = 0, n = 0;
    while (i < d1.n || j < d2.n) {
        int64_t d;
        if (j >= d2.n || (i < d1.n && d1.day[i] <= d2.day[j])) {
            d = d1.day[i++];
            if (j < d2.n && d2.day[j] == d) j++;
        } else {
            d = d2.day[j++];
        }
        char t[32];
        iso(d * 86400000, t);
        t[10] = 0;
        b_fmt(&b, "%s\"%s\"", n++ ? "," : "", t);
    }
    b_add(&b, "]}\n", 3);
    respond(c, ho, b.oom ? 500 : 200, "application/json", b.p, b.len, NULL);
    free(b.p);
out:
    ivcs_viewer_days_free(&d1);
    ivcs_viewer_days_free(&d2);
}

static int get_span(conn_s *c, int ho, const char *q, int64_t *from, int64_t *to)
{
    if (qint(q, "from", 0, MS_MAX, from) < 0 || qint(q, "to", 0, MS_MAX, to) < 0) {
        respond_error(c, ho, 400, "bad_range", "from and to must be UTC milliseconds");
        return -1;
    }
    if (*to <= *from || *to - *from > SPAN_MAX_MS) {
        respond_error(c, ho, 400, "bad_range", "to must be after from, by at most 8 days");
        return -1;
    }
    return 0;
}

/* Nothing in [from, to): 404, saying whether the device exists at all. */
static void nothing(srv_s *s, conn_s *c, int ho, int64_t from, int64_t to)
{
    char a[32], z[32];
    int ex = ivcs_viewer_device_exists(s->cli.viewer);
    if (ex == 0)
        respond_error(c, ho, 404, "unknown_device",
                      "device '%s' has nothing in bucket '%s' (no plan, recording or event)",
                      s->cli.cfg.device_id, s->cli.cfg.bucket);
    else
        respond_error(c, ho, 404, "empty", "nothing recorded on channel %" PRIu32 " from %s to %s",
                      s->ch, iso(from, a), iso(to, z));
}

static void api_timeline(srv_s *s, conn_s *c, int ho, const char *q)
{
    int64_t from, to;
    if (get_span(c, ho, q, &from, &to) < 0) return;
    ivcs_viewer_slices_s sl = {0};
    ivcs_viewer_events_s ev = {0};
    ivcs_viewer_range_s *r = NULL;
    buf_s b = {0};
    int rc = ivcs_viewer_list_slices(s->cli.viewer, s->ch, from, to, 0, &sl);
    if (rc < 0) {
        viewer_fail(s, c, ho, "list slices", rc);
        goto out;
    }
    rc = ivcs_viewer_list_events(s->cli.viewer, s->ch, from, to, &ev);
    if (rc < 0) {
        viewer_fail(s, c, ho, "list events", rc);
        goto out;
    }
    if (sl.n == 0 && ev.n == 0) {
        nothing(s, c, ho, from, to);
        goto out;
    }
    r = calloc(sl.n ? sl.n : 1, sizeof *r);
    if (!r) {
        respond_error(c, ho, 500, "oom", "out of memory");
        goto out;
    }
    size_t nr = ivcs_viewer_ranges(sl.v, sl.n, IVCS_VIEWER_GAP_MS, r);
    b_fmt(&b, "{\"from_ms\":%" PRId64 ",\"to_ms\":%" PRId64 ",\"now_ms\":%" PRId64 ",\"ranges\":[",
          from, to, now_utc_ms());
    for (size_t i = 0; i < nr; i++)
        b_fmt(&b, "%s{\"start_ms\":%" PRId64 ",\"end_ms\":%" PRId64 ",\"slices\":%zu,\"boots\":%" PRIu32 "}",
              i ? "," : "", r[i].start_ms, r[i].end_ms, r[i].count, r[i].boots);
    b_add(&b, "],\"gaps\":[", 10);
    for (size_t i = 1; i < nr; i++)
        b_fmt(&b, "%s{\"start_ms\":%" PRId64 ",\"end_ms\":%" PRId64 "}", i > 1 ? "," : "",
              r[i - 1].end_ms, r[i].start_ms);
    b_add(&b, "],\"events\":[", 12);
    size_t rl = strlen(ivcs_viewer_root(s->cli.viewer));
    for (size_t i = 0; i < ev.n; i++) {
        const ivcs_viewer_event_s *e = &ev.v[i];
        b_add(&b, i ? ",{\"key\":" : "{\"key\":", i ? 8 : 7);
        b_json(&b, strlen(e->key) > rl ? e->key + rl : e->key);
        b_fmt(&b, ",\"id\":%" PRId32 ",\"info\":", e->event_id);
        b_json(&b, e->info);
        b_fmt(&b, ",\"event_start_ms\":%" PRId64 ",\"event_stop_ms\":", e->event_start_ms);
        if (e->event_stop_ms == IVCS_VIEWER_TIME_NONE)
            b_add(&b, "null", 4);
        else
            b_fmt(&b, "%" PRId64, e->event_stop_ms);
        b_fmt(&b, ",\"stream_start_ms\":%" PRId64 ",\"stream_stop_ms\":", e->stream_start_ms);
        if (e->stream_stop_ms == IVCS_VIEWER_TIME_NONE)
            b_add(&b, "null", 4);
        else
            b_fmt(&b, "%" PRId64, e->stream_stop_ms);
        b_add(&b, ",\"picture_url\":", 15);
        if (e->picture && e->picture_listed) {
            buf_s u = {0};
            if (object_url(s, e->picture, &u) == 0 && !u.oom)
                b_json(&b, u.p);
            else
                b_add(&b, "null", 4);
            free(u.p);
        } else {
            b_add(&b, "null", 4);
        }
        b_add(&b, "}", 1);
    }
    b_fmt(&b, "],\"skipped_records\":%zu}\n", ev.bad);
    if (b.oom)
        respond_error(c, ho, 500, "oom", "out of memory");
    else
        respond(c, ho, 200, "application/json", b.p, b.len, NULL);
out:
    free(b.p);
    free(r);
    ivcs_viewer_slices_free(&sl);
    ivcs_viewer_events_free(&ev);
}

/* A playlist of [from, to): the library's (presigned URLs), or with
 * --proxy the same with each segment line pointing at /api/segment. */
static void playlist(srv_s *s, conn_s *c, int ho, int64_t from, int64_t to)
{
    ivcs_viewer_slices_s sl = {0};
    ivcs_viewer_text_s m = {0};
    buf_s b = {0};
    int rc = ivcs_viewer_list_slices(s->cli.viewer, s->ch, from, to, IVCS_VIEWER_FROM_KEYFRAME, &sl);
    if (rc < 0) {
        viewer_fail(s, c, ho, "list slices", rc);
        goto out;
    }
    if (sl.n == 0) {
        nothing(s, c, ho, from, to);
        goto out;
    }
    rc = ivcs_viewer_playlist(s->cli.viewer, sl.v, sl.n, s->expires, IVCS_VIEWER_GAP_MS, &m);
    if (rc < 0) {
        viewer_fail(s, c, ho, "playlist", rc);
        goto out;
    }
    if (!s->proxy) {
        respond(c, ho, 200, "application/vnd.apple.mpegurl", m.p, m.len, NULL);
        goto out;
    }
    size_t seg = 0;
    for (const char *p = m.p; *p;) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p + 1) : strlen(p);
        if (*p != '#' && *p != '\n' && seg < sl.n) {
            object_url(s, sl.v[seg++].key, &b);
            b_add(&b, "\n", 1);
        } else {
            b_add(&b, p, l);
        }
        p += l;
    }
    if (b.oom)
        respond_error(c, ho, 500, "oom", "out of memory");
    else
        respond(c, ho, 200, "application/vnd.apple.mpegurl", b.p, b.len, NULL);
out:
    free(b.p);
    ivcs_viewer_text_free(&m);
    ivcs_viewer_slices_free(&sl);
}

static void api_playlist(srv_s *s, conn_s *c, int ho, const char *q)
{
    int64_t from, to;
    if (get_span(c, ho, q, &from, &to) < 0) return;
    playlist(s, c, ho, from, to);
}

static void api_event_playlist(srv_s *s, conn_s *c, int ho, const char *q)
{
    char key[1200];
    ivcs_viewer_key_s ki;
    if (!qkey(s, c, ho, q, 2, key, sizeof key, &ki)) return;
    ivcs_viewer_events_s ev = {0};
    int rc = ivcs_viewer_get_event(s->cli.viewer, key, &ev);
    if (rc == IVCS_ERR_NOT_FOUND) {
        respond_error(c, ho, 404, "no_event", "no such event record");
        return;
    }
    if (rc == IVCS_ERR_INVALID_ARG || rc == IVCS_ERR_TOO_LONG) {
        respond_error(c, ho, 404, "bad_event", "the event record cannot be read");
        return;
    }
    if (rc < 0) {
        viewer_fail(s, c, ho, "get event", rc);
        return;
    }
    int64_t from = ev.v[0].stream_start_ms, to = ev.v[0].stream_stop_ms;
    ivcs_viewer_events_free(&ev);
    if (to == IVCS_VIEWER_TIME_NONE) to = now_utc_ms();
    if (to <= from) to = from + 1;
    if (to - from > SPAN_MAX_MS) to = from + SPAN_MAX_MS;
    playlist(s, c, ho, from, to);
}

/* --proxy: a slice or a picture through the server. */
static void api_object(srv_s *s, conn_s *c, int ho, const char *q, int kind)
{
    if (!s->proxy) {
        respond_error(c, ho, 404, "no_proxy", "the server runs without --proxy");
        return;
    }
    char key[1200];
    ivcs_viewer_key_s ki;
    if (!qkey(s, c, ho, q, kind, key, sizeof key, &ki)) return;
    ivcs_viewer_text_s t = {0};
    int rc = ivcs_viewer_get_object(s->cli.viewer, key, PROXY_MAX, &t);
    if (rc == IVCS_ERR_NOT_FOUND) {
        respond_error(c, ho, 404, "no_object", "no such object");
        return;
    }
    if (rc < 0) {
        viewer_fail(s, c, ho, "get object", rc);
        return;
    }
    respond(c, ho, 200, kind == 1 ? "video/mp2t" : "image/jpeg", t.p, t.len, "private, max-age=3600");
    ivcs_viewer_text_free(&t);
}

/* ---------------------------------------------------------------- requests */

static int host_ok(const srv_s *s, const char *h, size_t n)
{
    if (!s->host[0]) return 1; /* listening on every address */
    char want[200];
    const char *names[] = {s->host, "localhost", "127.0.0.1", "[::1]"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        int l = snprintf(want, sizeof want, "%s:%u", names[i], s->port);
        if ((size_t)l == n && !strncasecmp(want, h, n)) return 1;
    }
    return 0;
}

/* Handles the complete head c->head[0..len) (ends in CRLF CRLF). */
static void handle(srv_s *s, conn_s *c)
{
    char *h = c->head;
    char *eol = strstr(h, "\r\n");
    *eol = 0;
    char *sp1 = strchr(h, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (!sp1 || !sp2 || strchr(sp2 + 1, ' ') ||
        (strcmp(sp2 + 1, "HTTP/1.1") && strcmp(sp2 + 1, "HTTP/1.0"))) {
        respond_error(c, 0, 400, "bad_request", "malformed request line");
        return;
    }
    *sp1 = 0;
    *sp2 = 0;
    const char *method = h, *target = sp1 + 1;
    int ho = !strcmp(method, "HEAD");
    if (strlen(target) > TARGET_MAX) {
        respond_error(c, ho, 414, "too_long", "request target over %d bytes", TARGET_MAX);
        return;
    }
    /* header fields */
    int nf = 0, has_host = 0, host_good = 0;
    for (char *l = eol + 2; *l && strncmp(l, "\r\n", 2);) {
        char *e = strstr(l, "\r\n");
        if (!e) break;
        *e = 0;
        if (++nf > FIELDS_MAX) {
            respond_error(c, ho, 431, "too_many_fields", "over %d header fields", FIELDS_MAX);
            return;
        }
        char *colon = strchr(l, ':'), *ws = strpbrk(l, " \t");
        if (!colon || colon == l || (ws && ws < colon)) {
            respond_error(c, ho, 400, "bad_request", "malformed header field");
            return;
        }
        for (char *p = l; *p; p++)
            if ((unsigned char)*p < 0x20 && *p != '\t') {
                respond_error(c, ho, 400, "bad_request", "control byte in a header field");
                return;
            }
        size_t nl = (size_t)(colon - l);
        char *v = colon + 1;
        while (*v == ' ' || *v == '\t') v++;
        size_t vl = strlen(v);
        while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t')) vl--;
        if (nl == 4 && !strncasecmp(l, "host", 4)) {
            if (has_host++) host_good = 0;
            else host_good = host_ok(s, v, vl);
        } else if ((nl == 14 && !strncasecmp(l, "content-length", 14) && strcmp(v, "0")) ||
                   (nl == 17 && !strncasecmp(l, "transfer-encoding", 17))) {
            respond_error(c, ho, 413, "body", "requests with a body are not accepted");
            return;
        }
        l = e + 2;
    }
    if (strcmp(method, "GET") && !ho) {
        respond_error(c, 0, 405, "method", "only GET and HEAD");
        return;
    }
    if (!host_good) {
        respond_error(c, ho, has_host == 1 ? 403 : 400, "host",
                      "Host must name this server (127.0.0.1:%u or localhost:%u)", s->port,
                      s->port);
        return;
    }
    char path[TARGET_MAX + 1];
    snprintf(path, sizeof path, "%s", target);
    char *q = strchr(path, '?');
    if (q) *q++ = 0;
    s->served++;
    for (size_t i = 0; i < N_WEB; i++)
        if (!strcmp(path, web_files[i].path)) {
            respond(c, ho, 200, web_files[i].type, web_files[i].data, web_files[i].len, "no-cache");
            return;
        }
    if (!strcmp(path, "/favicon.ico")) {
        respond(c, ho, 204, "image/x-icon", NULL, 0, "max-age=86400");
        return;
    }
    if (!strcmp(path, "/api/info")) return api_info(s, c, ho);
    if (!strcmp(path, "/api/days")) return api_days(s, c, ho);
    if (!strcmp(path, "/api/timeline")) return api_timeline(s, c, ho, q);
    if (!strcmp(path, "/api/playlist.m3u8")) return api_playlist(s, c, ho, q);
    if (!strcmp(path, "/api/event.m3u8")) return api_event_playlist(s, c, ho, q);
    if (!strcmp(path, "/api/segment")) return api_object(s, c, ho, q, 1);
    if (!strcmp(path, "/api/picture")) return api_object(s, c, ho, q, 3);
    respond_error(c, ho, 404, "not_found", "no such page or API");
}

/* ---------------------------------------------------------------- loop */

static void conn_close(conn_s *c)
{
    if (c->ssl) {
        if (c->hs_done) SSL_shutdown(c->ssl); /* best effort: one close_notify, no wait */
        SSL_free(c->ssl);
        ERR_clear_error();
    }
    if (c->fd >= 0) close(c->fd);
    free(c->out.p);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

/* After a TLS call returned r <= 0: 0 to wait (c->want set), -1 to close. */
static int tls_wait(conn_s *c, int r)
{
    int e = SSL_get_error(c->ssl, r);
    ERR_clear_error();
    if (e == SSL_ERROR_WANT_READ) {
        c->want = POLLIN;
        return 0;
    }
    if (e == SSL_ERROR_WANT_WRITE) {
        c->want = POLLOUT;
        return 0;
    }
    return -1;
}

/* recv, or SSL_read after the handshake: > 0 bytes, 0 to wait, -1 to close
 * (the peer closed or failed). */
static ssize_t conn_recv(conn_s *c, void *p, size_t n)
{
    if (!c->ssl) {
        ssize_t r = recv(c->fd, p, n, 0);
        if (r == 0) return -1;
        if (r < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
        return r;
    }
    c->want = 0;
    if (!c->hs_done) {
        int r = SSL_accept(c->ssl);
        if (r != 1) return tls_wait(c, r);
        c->hs_done = 1;
    }
    int r = SSL_read(c->ssl, p, (int)n);
    return r > 0 ? r : tls_wait(c, r);
}

/* Reads what is there; returns -1 when the connection is to be closed. */
static int conn_read(srv_s *s, conn_s *c)
{
    for (;;) {
        ssize_t n = conn_recv(c, c->head + c->head_len, HEAD_MAX - c->head_len);
        if (n < 0) return -1; /* vanished before a full request */
        if (n == 0) return 0;
        c->head_len += (size_t)n;
        c->head[c->head_len] = 0;
        if (memchr(c->head, 0, c->head_len)) {
            respond_error(c, 0, 400, "bad_request", "NUL byte in the request");
            break;
        }
        if (strstr(c->head, "\r\n\r\n")) {
            handle(s, c);
            break;
        }
        if (c->head_len == HEAD_MAX) {
            respond_error(c, 0, 431, "too_large", "request head over %d bytes", HEAD_MAX);
            break;
        }
    }
    if (!c->ssl) shutdown(c->fd, SHUT_RD);
    c->want = 0;
    c->deadline_ms = mono_ms() + (int64_t)s->client_ms + 30000; /* to drain the answer */
    return 0;
}

static int conn_write(conn_s *c)
{
    while (c->out_off < c->out.len) {
        if (c->ssl) {
            c->want = 0;
            size_t len = c->out.len - c->out_off;
            int r = SSL_write(c->ssl, c->out.p + c->out_off, len > INT_MAX ? INT_MAX : (int)len);
            if (r <= 0) return tls_wait(c, r);
            c->out_off += (size_t)r;
            continue;
        }
        ssize_t n = send(c->fd, c->out.p + c->out_off, c->out.len - c->out_off, MSG_NOSIGNAL);
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
        c->out_off += (size_t)n;
    }
    return -1; /* all sent: close */
}

static int listen_on(const char *spec, char *host, size_t hcap, uint16_t *port)
{
    char h[128];
    const char *colon = strrchr(spec, ':');
    if (!colon || (size_t)(colon - spec) >= sizeof h) return -1;
    memcpy(h, spec, (size_t)(colon - spec));
    h[colon - spec] = 0;
    char *e;
    long p = strtol(colon + 1, &e, 10);
    if (*e || p < 0 || p > 65535 || !colon[1]) return -1;
    char hh[128];
    snprintf(hh, sizeof hh, "%s", h);
    if (hh[0] == '[') {
        size_t l = strlen(hh);
        if (l < 2 || hh[l - 1] != ']') return -1;
        memmove(hh, hh + 1, l - 2);
        hh[l - 2] = 0;
    }
    struct addrinfo hints = {.ai_flags = AI_PASSIVE | AI_NUMERICSERV, .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai;
    char ps[8];
    snprintf(ps, sizeof ps, "%ld", p);
    if (getaddrinfo(hh[0] ? hh : NULL, ps, &hints, &ai)) return -1;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64)) {
        if (fd >= 0) close(fd);
        freeaddrinfo(ai);
        return -1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port);
    /* Host check unless listening on every address */
    if (!hh[0] || !strcmp(hh, "0.0.0.0") || !strcmp(hh, "::"))
        host[0] = 0;
    else
        snprintf(host, hcap, "%s", h);
    return fd;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ivcs serve --config FILE [--listen HOST:PORT] [--channel N] [--proxy]\n"
            "                  [--cors] [--expires S] [--web DIR] [--max-conns N]\n"
            "                  [--client-timeout MS] [--cert FILE.pem --key FILE.pem]\n"
            "\n"
            "The web viewer: serves the page of viewer/web/ and a JSON API over the viewer\n"
            "library (docs/VIEWER.md) on http://HOST:PORT/ (default 127.0.0.1:8080; port 0:\n"
            "a free one). The first line on stdout is 'listening on http://HOST:PORT/'.\n"
            "Media goes from the bucket to the browser through presigned URLs valid\n"
            "--expires seconds (default 3600), which needs the bucket's CORS rule for the\n"
            "page's origin: --cors sets it at start (as `ivcs cors --origin URL`).\n"
            "--proxy: segments and pictures go through this server instead (buckets\n"
            "without CORS). --channel N: default 0. --web DIR: the page's files (default:\n"
            "<bindir>/../share/ivcs/web, else the source tree). --max-conns N: open\n"
            "connections (default 32, 1..1024; one more is answered 503). --client-timeout\n"
            "MS: time a client has to send its request (default 10000). --cert/--key: serve\n"
            "HTTPS with this certificate chain and private key (PEM), TLS 1.2 or later.\n"
            "Runs until SIGINT/SIGTERM. Credentials never leave the process.\n"
            "exit: 0 stopped by a signal, 1 cannot listen / no page files / S3 error,\n"
            "2 usage\n");
}

int ivcs_cmd_serve(int argc, char **argv)
{
    const char *config = NULL, *listen_spec = "127.0.0.1:8080", *web = NULL, *cert = NULL,
               *key = NULL;
    srv_s s;
    memset(&s, 0, sizeof s);
    s.expires = 3600;
    s.max_conns = 32;
    s.client_ms = 10000;
    int set_cors = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint32_t u;
        if (ivcs_cli_is_help(a)) {
            usage(stdout);
            return 0;
        } else if (v && !strcmp(a, "--config")) {
            config = v;
            i++;
        } else if (v && !strcmp(a, "--listen")) {
            listen_spec = v;
            i++;
        } else if (v && !strcmp(a, "--cert")) {
            cert = v;
            i++;
        } else if (v && !strcmp(a, "--key")) {
            key = v;
            i++;
        } else if (v && !strcmp(a, "--web")) {
            web = v;
            i++;
        } else if (v && !strcmp(a, "--channel")) {
            if (ivcs_cli_u32("serve", a, v, 0, 255, &s.ch) < 0) return IVCS_EXIT_USAGE;
            i++;
        } else if (v && !strcmp(a, "--expires")) {
            if (ivcs_cli_u32("serve", a, v, 1, 604800, &s.expires) < 0) return IVCS_EXIT_USAGE;
            i++;
        } else if (v && !strcmp(a, "--max-conns")) {
            if (ivcs_cli_u32("serve", a, v, 1, 1024, &u) < 0) return IVCS_EXIT_USAGE;
            s.max_conns = u;
            i++;
        } else if (v && !strcmp(a, "--client-timeout")) {
            if (ivcs_cli_u32("serve", a, v, 100, 600000, &s.client_ms) < 0) return IVCS_EXIT_USAGE;
            i++;
        } else if (!strcmp(a, "--proxy")) {
            s.proxy = 1;
        } else if (!strcmp(a, "--cors")) {
            set_cors = 1;
        } else {
            return ivcs_cli_bad_option("serve", a,
                                       "--config --listen --web --channel --expires --max-conns "
                                       "--client-timeout --cert --key");
        }
    }
    if (!cert != !key) return ivcs_cli_usage_error("serve", "give --cert and --key together");
    char webdir[PATH_MAX];
    if (load_web(web, webdir, sizeof webdir) < 0) {
        fprintf(stderr, "ivcs serve: the page's files (index.html app.js style.css "
                        "vendor/hls.min.js) are not in %s\n",
                web ? web : "<bindir>/../share/ivcs/web nor the source tree");
        return IVCS_EXIT_FAIL;
    }
    int ret = ivcs_cli_open(&s.cli, "serve", config);
    if (ret) return ret;
    int lfd = -1;
    ret = ivcs_cli_viewer(&s.cli);
    if (ret) goto out;
    if (cert) {
        s.tls = SSL_CTX_new(TLS_server_method());
        if (!s.tls || SSL_CTX_set_min_proto_version(s.tls, TLS1_2_VERSION) != 1 ||
            SSL_CTX_use_certificate_chain_file(s.tls, cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(s.tls, key, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_check_private_key(s.tls) != 1) {
            char why[256];
            ERR_error_string_n(ERR_get_error(), why, sizeof why);
            ERR_clear_error();
            fprintf(stderr, "ivcs serve: cannot use --cert %s --key %s: %s\n", cert, key, why);
            ret = IVCS_EXIT_FAIL;
            goto out;
        }
        SSL_CTX_set_mode(s.tls, SSL_MODE_ENABLE_PARTIAL_WRITE |
                                    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    }
    ivcs_viewer_set_timeouts(s.cli.viewer, 20000, 10000);
    lfd = listen_on(listen_spec, s.host, sizeof s.host, &s.port);
    if (lfd < 0) {
        fprintf(stderr, "ivcs serve: cannot listen on %s: %s\n", listen_spec, strerror(errno));
        ret = IVCS_EXIT_FAIL;
        goto out;
    }
    char origin[200];
    const char *scheme = s.tls ? "https" : "http";
    snprintf(origin, sizeof origin, "%s://%s:%u", scheme, s.host[0] ? s.host : "127.0.0.1",
             s.port);
    if (set_cors && !s.proxy) {
        const char *o[2] = {origin, NULL};
        size_t no = 1;
        char o2[200];
        if (!strcmp(s.host, "127.0.0.1")) {
            snprintf(o2, sizeof o2, "%s://localhost:%u", scheme, s.port);
            o[no++] = o2;
        }
        int rc = ivcs_viewer_cors_set(s.cli.viewer, o, no);
        if (rc < 0) {
            ret = ivcs_cli_fail_viewer(&s.cli, "set the bucket's CORS rule", rc);
            goto out;
        }
    }
    s.conns = calloc(s.max_conns, sizeof *s.conns);
    struct pollfd *pf = calloc(s.max_conns + 1, sizeof *pf);
    if (!s.conns || !pf) {
        free(pf);
        ret = ivcs_cli_fail(&s.cli, "serve", IV_ERR_SYS_MALLOC_FAIL, NULL);
        goto out;
    }
    for (size_t i = 0; i < s.max_conns; i++) s.conns[i].fd = -1;
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    printf("listening on %s/\n", origin);
    fflush(stdout);
    fprintf(stderr, "ivcs serve: page from %s; device '%s' channel %" PRIu32 "; %s\n", webdir,
            s.cli.cfg.device_id, s.ch,
            s.proxy ? "media through this server (--proxy)"
                    : "media straight from the bucket (presigned URLs; needs its CORS rule)");
    while (!stop_flag) {
        int64_t now = mono_ms(), wait = 1000;
        size_t n = 0;
        pf[n++] = (struct pollfd){.fd = lfd, .events = POLLIN};
        for (size_t i = 0; i < s.max_conns; i++) {
            conn_s *c = &s.conns[i];
            if (c->fd < 0) continue;
            if (now >= c->deadline_ms) {
                if (!c->writing) s.timed_out++;
                conn_close(c);
                continue;
            }
            if (c->deadline_ms - now < wait) wait = c->deadline_ms - now;
        }
        size_t idx[1025];
        for (size_t i = 0; i < s.max_conns; i++) {
            if (s.conns[i].fd < 0) continue;
            idx[n] = i;
            short ev = s.conns[i].want ? s.conns[i].want : s.conns[i].writing ? POLLOUT : POLLIN;
            pf[n++] = (struct pollfd){.fd = s.conns[i].fd, .events = ev};
        }
        int pr = poll(pf, n, (int)wait);
        if (pr < 0) {
            if (errno == EINTR) continue;
            break;
        }
        for (size_t k = 1; k < n; k++) {
            conn_s *c = &s.conns[idx[k]];
            if (!pf[k].revents) continue;
            int r = 0;
            if (!c->writing) r = conn_read(&s, c);
            if (r == 0 && c->writing) r = conn_write(c);
            if (r < 0) conn_close(c);
        }
        if (pf[0].revents & POLLIN) {
            for (int a = 0; a < 16; a++) {
                int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) break;
                conn_s *c = NULL;
                for (size_t i = 0; i < s.max_conns && !c; i++)
                    if (s.conns[i].fd < 0) c = &s.conns[i];
                if (!c) {
                    static const char body[] =
                        "{\"status\":503,\"code\":\"busy\",\"error\":\"too many connections\"}\n";
                    char busy[256];
                    int bl = snprintf(busy, sizeof busy,
                                      "HTTP/1.1 503 Service Unavailable\r\n"
                                      "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                                      "Retry-After: 1\r\nConnection: close\r\n\r\n%s",
                                      sizeof body - 1, body);
                    if (send(fd, busy, (size_t)bl, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
                        /* nothing to do: it is closed either way */
                    }
                    close(fd);
                    s.refused++;
                    continue;
                }
                c->fd = fd;
                c->deadline_ms = mono_ms() + s.client_ms;
                if (s.tls) {
                    c->ssl = SSL_new(s.tls);
                    if (!c->ssl || SSL_set_fd(c->ssl, fd) != 1) {
                        ERR_clear_error();
                        conn_close(c);
                        continue;
                    }
                }
            }
        }
    }
    fprintf(stderr,
            "ivcs serve: stopped; %" PRIu64 " requests, %" PRIu64 " connections refused (busy), "
            "%" PRIu64 " timed out\n",
            s.served, s.refused, s.timed_out);
    for (size_t i = 0; i < s.max_conns; i++)
        if (s.conns[i].fd >= 0) conn_close(&s.conns[i]);
    free(pf);
    ret = 0;
out:
    if (lfd >= 0) close(lfd);
    SSL_CTX_free(s.tls);
    free(s.conns);
    for (size_t i = 0; i < N_WEB; i++) {
        free(web_files[i].data);
        web_files[i].data = NULL;
    }
    ivcs_cli_close(&s.cli);
    return ret;
}
