/* http_parse.c - resumable HTTP/1.1 response parser (see http_parse.h). */
#include "engine/net/http_parse.h"

#include "engine/core/civil.h"

#include <string.h>

enum {
    ST_STATUS = 0,  /* collecting the status line */
    ST_HEADER,      /* collecting header field lines */
    ST_BODY_LENGTH, /* Content-Length body, `remaining` bytes left */
    ST_BODY_CLOSE,  /* body until EOF */
    ST_CHUNK_SIZE,  /* collecting a chunk-size line */
    ST_CHUNK_DATA,  /* inside chunk data, `remaining` bytes left */
    ST_CHUNK_CR,    /* CRLF after chunk data */
    ST_CHUNK_LF,
    ST_TRAILER, /* collecting trailer field lines */
    ST_DONE,
    ST_ERROR,
};

/* hflags: header semantics of the current block */
#define HF_CL 0x01u         /* Content-Length seen */
#define HF_TE 0x02u         /* Transfer-Encoding seen */
#define HF_TE_CHUNKED 0x04u /* ... and its last coding so far is chunked */
#define HF_TE_OTHER 0x08u   /* ... with a coding other than chunked */
#define HF_CLOSE 0x10u      /* Connection: close */
#define HF_KEEPALIVE 0x20u  /* Connection: keep-alive */

static int is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar / SP / HTAB: every byte allowed inside a field value or a
 * reason phrase (RFC 9110 5.5); excludes NUL, CR, LF and other controls. */
static int is_field_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static int is_ows(unsigned char c)
{
    return c == ' ' || c == '\t';
}

static int hex_val(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static unsigned char lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c + 32) : c;
}

int ivcs_http_name_is(const char *name, size_t len, const char *low)
{
    size_t n = strlen(low);
    if (n != len) return 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)name[i]) != (unsigned char)low[i]) return 0;
    return 1;
}

static int fail(ivcs_http_parser *p, int err)
{
    p->state = ST_ERROR;
    p->err = err;
    return err;
}

static int emit(ivcs_http_parser *p, ivcs_http_event *ev)
{
    ev->status = p->status;
    ev->informational = p->status < 200;
    ev->version_minor = p->version_minor;
    int r = p->cb(p->user, ev);
    if (r == 0) return 0;
    return r < 0 ? r : IVCS_ERR_CANCELLED;
}

static int emit_simple(ivcs_http_parser *p, ivcs_http_event_type type)
{
    ivcs_http_event ev = {0};
    ev.type = type;
    return emit(p, &ev);
}

static void clear_block(ivcs_http_parser *p)
{
    p->buf_len = 0;
    p->line_start = 0;
}

int ivcs_http_parser_init(ivcs_http_parser *p, unsigned flags, ivcs_http_event_fn cb, void *user)
{
    if (!p || !cb || (flags & ~IVCS_HTTP_REQ_HEAD)) return IVCS_ERR_INVALID_ARG;
    p->cb = cb;
    p->user = user;
    ivcs_http_parser_reset(p, flags);
    return 0;
}

void ivcs_http_parser_reset(ivcs_http_parser *p, unsigned flags)
{
    p->status = 0;
    p->version_minor = 0;
    p->body_mode = IVCS_HTTP_BODY_NONE;
    p->content_length = -1;
    p->keep_alive = 0;
    p->nread = 0;
    p->body_bytes = 0;
    p->req_flags = flags;
    p->state = ST_STATUS;
    p->err = 0;
    p->hflags = 0;
    p->remaining = 0;
    clear_block(p);
}

int ivcs_http_parser_done(const ivcs_http_parser *p)
{
    return p->state == ST_DONE;
}

/* ------------------------------------------------------------ lines */

/* Appends the bytes of the current line found at s (up to and including
 * LF) to the buffer. Returns 1 when the line is complete, 0 when s ran out
 * first, IVCS_ERR_TOO_LONG when the block would not fit. *taken: bytes used.
 * The limit is on the running total, so it trips at the same stream offset
 * however the stream was cut. */
static int take_line(ivcs_http_parser *p, const uint8_t *s, size_t n, size_t *taken)
{
    const uint8_t *lf = memchr(s, '\n', n);
    size_t seg = lf ? (size_t)(lf - s) + 1 : n;
    if (seg > sizeof p->buf - p->buf_len) {
        /* count the bytes that fit as consumed, so nread marks the first
         * byte over the limit whatever the chunking */
        *taken = sizeof p->buf - p->buf_len;
        return IVCS_ERR_TOO_LONG;
    }
    memcpy(p->buf + p->buf_len, s, seg);
    p->buf_len += (uint32_t)seg;
    *taken = seg;
    return lf ? 1 : 0;
}

/* ------------------------------------------------------------ status line */

static int parse_status_line(ivcs_http_parser *p, const char *l, size_t n)
{
    /* "HTTP/1.x SP 3DIGIT [SP reason]" */
    if (n < 12 || memcmp(l, "HTTP/1.", 7) != 0) return IVCS_ERR_HTTP_PARSE;
    if (l[7] != '0' && l[7] != '1') return IVCS_ERR_HTTP_PARSE;
    if (l[8] != ' ') return IVCS_ERR_HTTP_PARSE;
    /* RFC 9110 15: values outside 100..599 are invalid */
    if (l[9] < '1' || l[9] > '5' || l[10] < '0' || l[10] > '9' || l[11] < '0' || l[11] > '9')
        return IVCS_ERR_HTTP_PARSE;
    const char *reason = l + 12;
    size_t rlen = 0;
    if (n > 12) {
        if (l[12] != ' ') return IVCS_ERR_HTTP_PARSE;
        reason = l + 13;
        rlen = n - 13;
        for (size_t i = 0; i < rlen; i++)
            if (!is_field_char((unsigned char)reason[i])) return IVCS_ERR_HTTP_PARSE;
    }
    p->version_minor = l[7] - '0';
    p->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
    p->hflags = 0;
    p->content_length = -1;
    p->state = ST_HEADER;
    p->line_start = p->buf_len;

    ivcs_http_event ev = {0};
    ev.type = IVCS_HTTP_EV_STATUS;
    ev.value = reason;
    ev.value_len = rlen;
    return emit(p, &ev);
}

/* ------------------------------------------------------------ header semantics */

/* Content-Length = 1*DIGIT, possibly as a list of identical values
 * ("5, 5", RFC 9110 8.6); every occurrence must agree. */
static int apply_content_length(ivcs_http_parser *p, const char *v, size_t n)
{
    size_t j = 0;
    for (;;) {
        size_t start = j;
        int64_t val = 0;
        while (j < n && v[j] >= '0' && v[j] <= '9') {
            int d = v[j] - '0';
            if (val > (INT64_MAX - d) / 10) return IVCS_ERR_HTTP_PARSE;
            val = val * 10 + d;
            j++;
        }
        if (j == start) return IVCS_ERR_HTTP_PARSE;
        if ((p->hflags & HF_CL) && val != p->content_length) return IVCS_ERR_HTTP_PARSE;
        p->content_length = val;
        p->hflags |= HF_CL;
        while (j < n && is_ows((unsigned char)v[j]))
            j++;
        if (j == n) return 0;
        if (v[j] != ',') return IVCS_ERR_HTTP_PARSE;
        j++;
        while (j < n && is_ows((unsigned char)v[j]))
            j++;
    }
}

/* Transfer-Encoding = 1#transfer-coding. chunked must come last and once,
 * across all Transfer-Encoding fields of the block (RFC 9112 6.1). */
static int apply_transfer_encoding(ivcs_http_parser *p, const char *v, size_t n)
{
    size_t j = 0;
    p->hflags |= HF_TE;
    for (;;) {
        size_t start = j;
        while (j < n && is_tchar((unsigned char)v[j]))
            j++;
        if (j == start) return IVCS_ERR_HTTP_PARSE;
        if (p->hflags & HF_TE_CHUNKED) return IVCS_ERR_HTTP_PARSE; /* something after chunked */
        int chunked = ivcs_http_name_is(v + start, j - start, "chunked");
        while (j < n && is_ows((unsigned char)v[j]))
            j++;
        if (j < n && v[j] == ';') {
            /* transfer-parameters: chunked has none; others are unsupported anyway */
            if (chunked) return IVCS_ERR_HTTP_PARSE;
            while (j < n && v[j] != ',')
                j++;
        }
        p->hflags |= chunked ? HF_TE_CHUNKED : HF_TE_OTHER;
        if (j == n) return 0;
        if (v[j] != ',') return IVCS_ERR_HTTP_PARSE;
        j++;
        while (j < n && is_ows((unsigned char)v[j]))
            j++;
    }
}

/* Connection = #connection-option; only close and keep-alive matter. */
static void apply_connection(ivcs_http_parser *p, const char *v, size_t n)
{
    size_t j = 0;
    while (j < n) {
        while (j < n && (is_ows((unsigned char)v[j]) || v[j] == ','))
            j++;
        size_t start = j;
        while (j < n && v[j] != ',' && !is_ows((unsigned char)v[j]))
            j++;
        if (ivcs_http_name_is(v + start, j - start, "close")) p->hflags |= HF_CLOSE;
        if (ivcs_http_name_is(v + start, j - start, "keep-alive")) p->hflags |= HF_KEEPALIVE;
    }
}

/* field-line = field-name ":" OWS field-value OWS. Reports it as `type`;
 * header (not trailer) fields also set the framing. */
static int parse_field(ivcs_http_parser *p, const char *l, size_t n, ivcs_http_event_type type)
{
    /* a line starting with whitespace is obs-fold (or whitespace after the
     * start line): RFC 9112 5.2 lets us reject it, and we must not guess */
    size_t j = 0;
    while (j < n && is_tchar((unsigned char)l[j]))
        j++;
    if (j == 0 || j == n || l[j] != ':') return IVCS_ERR_HTTP_PARSE;
    size_t name_len = j++;
    for (size_t k = j; k < n; k++)
        if (!is_field_char((unsigned char)l[k])) return IVCS_ERR_HTTP_PARSE;
    while (j < n && is_ows((unsigned char)l[j]))
        j++;
    size_t end = n;
    while (end > j && is_ows((unsigned char)l[end - 1]))
        end--;
    const char *v = l + j;
    size_t vlen = end - j;

    if (type == IVCS_HTTP_EV_HEADER) {
        int r = 0;
        if (ivcs_http_name_is(l, name_len, "content-length"))
            r = apply_content_length(p, v, vlen);
        else if (ivcs_http_name_is(l, name_len, "transfer-encoding"))
            r = apply_transfer_encoding(p, v, vlen);
        else if (ivcs_http_name_is(l, name_len, "connection"))
            apply_connection(p, v, vlen);
        if (r < 0) return r;
    }
    ivcs_http_event ev = {0};
    ev.type = type;
    ev.name = l;
    ev.name_len = name_len;
    ev.value = v;
    ev.value_len = vlen;
    return emit(p, &ev);
}

static int finish_message(ivcs_http_parser *p)
{
    p->state = ST_DONE;
    return emit_simple(p, IVCS_HTTP_EV_DONE);
}

/* The empty line ending a header block: decide the framing (RFC 9112 6.3). */
static int headers_done(ivcs_http_parser *p)
{
    unsigned h = p->hflags;
    if ((h & HF_CL) && (h & HF_TE)) return IVCS_ERR_HTTP_PARSE;           /* smuggling shape */
    if ((h & HF_TE) && p->version_minor == 0) return IVCS_ERR_HTTP_PARSE; /* 9112 6.1 */
    if (p->status < 200) {
        if (p->status == 101) return IVCS_ERR_UNSUPPORTED;
        /* an interim response: the final one follows on the same stream */
        p->state = ST_STATUS;
        clear_block(p);
        return emit_simple(p, IVCS_HTTP_EV_HEADERS_DONE);
    }
    if ((h & HF_TE) && (h & HF_TE_OTHER)) return IVCS_ERR_UNSUPPORTED;

    p->keep_alive =
        p->version_minor >= 1 ? !(h & HF_CLOSE) : ((h & HF_KEEPALIVE) && !(h & HF_CLOSE));
    if ((p->req_flags & IVCS_HTTP_REQ_HEAD) || p->status == 204 || p->status == 304) {
        p->body_mode = IVCS_HTTP_BODY_NONE;
    } else if (h & HF_TE) {
        p->body_mode = IVCS_HTTP_BODY_CHUNKED;
    } else if (h & HF_CL) {
        p->body_mode = p->content_length > 0 ? IVCS_HTTP_BODY_LENGTH : IVCS_HTTP_BODY_NONE;
    } else {
        p->body_mode = IVCS_HTTP_BODY_CLOSE;
        p->keep_alive = 0;
    }
    clear_block(p);
    switch (p->body_mode) {
    case IVCS_HTTP_BODY_NONE: p->state = ST_DONE; break;
    case IVCS_HTTP_BODY_LENGTH:
        p->state = ST_BODY_LENGTH;
        p->remaining = (uint64_t)p->content_length;
        break;
    case IVCS_HTTP_BODY_CHUNKED: p->state = ST_CHUNK_SIZE; break;
    case IVCS_HTTP_BODY_CLOSE: p->state = ST_BODY_CLOSE; break;
    }
    int r = emit_simple(p, IVCS_HTTP_EV_HEADERS_DONE);
    if (r < 0) return r;
    return p->state == ST_DONE ? finish_message(p) : 0;
}

/* ------------------------------------------------------------ chunks */

/* quoted-string after the opening quote; returns the index after the
 * closing quote or 0 on error. */
static size_t skip_quoted(const char *l, size_t n, size_t j)
{
    while (j < n) {
        unsigned char c = (unsigned char)l[j++];
        if (c == '"') return j;
        if (c == '\\') {
            if (j == n) return 0;
            j++; /* the quoted char was already checked by is_field_char */
        }
    }
    return 0;
}

/* chunk-size [ chunk-ext ], chunk-ext = *( BWS ";" BWS ext-name
 * [ BWS "=" BWS ( token / quoted-string ) ] ) (RFC 9112 7.1.1). */
static int parse_chunk_size(ivcs_http_parser *p, const char *l, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (!is_field_char((unsigned char)l[k])) return IVCS_ERR_HTTP_PARSE;
    uint64_t size = 0;
    size_t j = 0;
    int h;
    while (j < n && (h = hex_val((unsigned char)l[j])) >= 0) {
        if (size >> 59) return IVCS_ERR_HTTP_PARSE; /* stays below 2^63 */
        size = (size << 4) | (uint64_t)h;
        j++;
    }
    if (j == 0) return IVCS_ERR_HTTP_PARSE;
    for (;;) {
        while (j < n && is_ows((unsigned char)l[j]))
            j++;
        if (j == n) break;
        if (l[j++] != ';') return IVCS_ERR_HTTP_PARSE;
        while (j < n && is_ows((unsigned char)l[j]))
            j++;
        size_t start = j;
        while (j < n && is_tchar((unsigned char)l[j]))
            j++;
        if (j == start) return IVCS_ERR_HTTP_PARSE;
        while (j < n && is_ows((unsigned char)l[j]))
            j++;
        if (j < n && l[j] == '=') {
            j++;
            while (j < n && is_ows((unsigned char)l[j]))
                j++;
            if (j < n && l[j] == '"') {
                j = skip_quoted(l, n, j + 1);
                if (j == 0) return IVCS_ERR_HTTP_PARSE;
            } else {
                start = j;
                while (j < n && is_tchar((unsigned char)l[j]))
                    j++;
                if (j == start) return IVCS_ERR_HTTP_PARSE;
            }
        }
    }
    clear_block(p);
    if (size == 0) {
        p->state = ST_TRAILER;
    } else {
        p->state = ST_CHUNK_DATA;
        p->remaining = size;
    }
    return 0;
}

/* ------------------------------------------------------------ feed */

/* A complete line (CRLF included) sits at buf[line_start, buf_len). */
static int handle_line(ivcs_http_parser *p)
{
    const char *l = p->buf + p->line_start;
    size_t n = p->buf_len - p->line_start;
    /* a bare LF is not a line end for us (RFC 9112 2.2 allows, not requires, it) */
    if (n < 2 || l[n - 2] != '\r') return IVCS_ERR_HTTP_PARSE;
    n -= 2;
    switch (p->state) {
    case ST_STATUS: return parse_status_line(p, l, n);
    case ST_HEADER:
        if (n == 0) return headers_done(p);
        p->line_start = p->buf_len;
        return parse_field(p, l, n, IVCS_HTTP_EV_HEADER);
    case ST_CHUNK_SIZE: return parse_chunk_size(p, l, n);
    case ST_TRAILER:
        if (n == 0) {
            clear_block(p);
            return finish_message(p);
        }
        p->line_start = p->buf_len;
        return parse_field(p, l, n, IVCS_HTTP_EV_TRAILER);
    default: return IVCS_ERR_STATE;
    }
}

static int emit_body(ivcs_http_parser *p, const uint8_t *d, size_t n)
{
    ivcs_http_event ev = {0};
    ev.type = IVCS_HTTP_EV_BODY;
    ev.data = d;
    ev.len = n;
    p->body_bytes += n;
    return emit(p, &ev);
}

int64_t ivcs_http_parser_feed(ivcs_http_parser *p, const void *data, size_t len)
{
    if (!p || (!data && len)) return IVCS_ERR_INVALID_ARG;
    if (p->state == ST_ERROR) return p->err;
    if (p->state == ST_DONE) return len ? IVCS_ERR_STATE : 0;
    const uint8_t *d = data;
    size_t i = 0;
    int r = 0;
    while (i < len && p->state != ST_DONE && r == 0) {
        size_t n;
        switch (p->state) {
        case ST_STATUS:
        case ST_HEADER:
        case ST_CHUNK_SIZE:
        case ST_TRAILER:
            r = take_line(p, d + i, len - i, &n);
            i += n;
            if (r == 1) r = handle_line(p);
            break;
        case ST_BODY_LENGTH:
        case ST_CHUNK_DATA:
            n = len - i;
            if (n > p->remaining) n = (size_t)p->remaining;
            p->remaining -= n;
            i += n;
            if (p->remaining == 0) p->state = p->state == ST_CHUNK_DATA ? ST_CHUNK_CR : ST_DONE;
            r = emit_body(p, d + i - n, n);
            if (r == 0 && p->state == ST_DONE) r = emit_simple(p, IVCS_HTTP_EV_DONE);
            break;
        case ST_BODY_CLOSE:
            n = len - i;
            i += n;
            r = emit_body(p, d + i - n, n);
            break;
        case ST_CHUNK_CR:
        case ST_CHUNK_LF:
            if (d[i] != (p->state == ST_CHUNK_CR ? '\r' : '\n')) {
                r = IVCS_ERR_HTTP_PARSE;
                break;
            }
            i++;
            p->state = p->state == ST_CHUNK_CR ? ST_CHUNK_LF : ST_CHUNK_SIZE;
            break;
        default: r = IVCS_ERR_STATE; break;
        }
    }
    p->nread += i;
    if (r < 0) return fail(p, r);
    return (int64_t)i;
}

int ivcs_http_parser_eof(ivcs_http_parser *p)
{
    if (!p) return IVCS_ERR_INVALID_ARG;
    switch (p->state) {
    case ST_ERROR: return p->err;
    case ST_DONE: return 0;
    case ST_BODY_CLOSE: {
        int r = finish_message(p);
        return r < 0 ? fail(p, r) : 0;
    }
    default: return fail(p, IVCS_ERR_CLOSED);
    }
}

int ivcs_http_date_parse(const char *s, size_t len, int64_t *out)
{
    /* "Sun, 06 Nov 1994 08:49:37 GMT": 29 bytes, every field at its place */
    static const char *const wd[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
    static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (!s || !out || len != 29) return IVCS_ERR_HTTP_PARSE;
    int w = -1, m = -1;
    for (int i = 0; i < 7; i++)
        if (!memcmp(s, wd[i], 3)) w = i;
    for (int i = 0; i < 12; i++)
        if (!memcmp(s + 8, mon[i], 3)) m = i;
    unsigned d, y, hh, mm, ss;
    if (w < 0 || m < 0 || memcmp(s + 3, ", ", 2) || s[7] != ' ' || s[11] != ' ' ||
        s[16] != ' ' || s[19] != ':' || s[22] != ':' || memcmp(s + 25, " GMT", 4) ||
        ivcs_dec_digits(s + 5, 2, &d) || ivcs_dec_digits(s + 12, 4, &y) ||
        ivcs_dec_digits(s + 17, 2, &hh) || ivcs_dec_digits(s + 20, 2, &mm) ||
        ivcs_dec_digits(s + 23, 2, &ss))
        return IVCS_ERR_HTTP_PARSE;
    if (y < 1970 || d < 1 || d > mdays[m] || hh > 23 || mm > 59 || ss > 60) return IVCS_ERR_HTTP_PARSE;
    if (m == 1 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0))) return IVCS_ERR_HTTP_PARSE;
    int64_t days = ivcs_days_from_civil(y, (unsigned)m + 1, d);
    /* the weekday must agree with the date (1970-01-01 was a Thursday) */
    if ((int)((days % 7 + 7 + 3) % 7) != w) return IVCS_ERR_HTTP_PARSE;
    *out = days * 86400 + (int64_t)hh * 3600 + mm * 60 + ss;
    return 0;
}
