/* s3_xml.c - S3 error and ListObjectsV2 bodies via expat; a bounded XML
 * writer (see s3_xml.h). */
#include "engine/net/s3_xml.h"

#include "engine/core/civil.h"

#include <expat.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "engine/core/alloc.h"

#define DEPTH_MAX 32

enum { KIND_ERROR = 1, KIND_LIST = 2 };

enum {
    F_NONE = 0,
    /* <Error> children */
    F_E_CODE,
    F_E_MESSAGE,
    F_E_REQUEST_ID,
    F_E_HOST_ID,
    F_E_KEY,
    F_E_BUCKET,
    F_E_RESOURCE,
    /* <ListBucketResult> children */
    F_L_NAME,
    F_L_PREFIX,
    F_L_DELIMITER,
    F_L_START_AFTER,
    F_L_NEXT_TOKEN,
    F_L_KEY_COUNT,
    F_L_MAX_KEYS,
    F_L_TRUNCATED,
    F_L_ENCODING,
    /* <Contents> children */
    F_C_KEY,
    F_C_LAST_MODIFIED,
    F_C_ETAG,
    F_C_SIZE,
    F_C_CLASS,
    /* <CommonPrefixes> child */
    F_P_PREFIX,
};

/* ---------------------------------------------------------------- memory */

/* Expat's memory suite has no context pointer. Each block therefore
 * carries a header naming the allocator it came from (for free/realloc),
 * and malloc takes the allocator from a thread-local that is set around
 * every call into expat (expat allocates only inside those calls). */
typedef struct {
    const ivcs_allocator_s *alloc;
    size_t size;
} blk_hdr;
#define HDR 16 /* keeps the payload 16-aligned, like malloc's */
_Static_assert(sizeof(blk_hdr) <= HDR, "block header fits");

static _Thread_local const ivcs_allocator_s *tl_alloc;

static void *blk_alloc(const ivcs_allocator_s *a, size_t n)
{
    if (!a || n > SIZE_MAX - HDR) return NULL;
    unsigned char *p = ivcs_alloc(a, n + HDR, HDR);
    if (!p) return NULL;
    blk_hdr *h = (blk_hdr *)(void *)p;
    h->alloc = a;
    h->size = n;
    return p + HDR;
}

static void *x_malloc(size_t n)
{
    return blk_alloc(tl_alloc, n);
}

static void x_free(void *ptr)
{
    if (!ptr) return;
    unsigned char *p = (unsigned char *)ptr - HDR;
    blk_hdr *h = (blk_hdr *)(void *)p;
    ivcs_free(h->alloc, p, h->size + HDR);
}

static void *x_realloc(void *ptr, size_t n)
{
    if (!ptr) return x_malloc(n);
    blk_hdr *h = (blk_hdr *)(void *)((unsigned char *)ptr - HDR);
    void *np = blk_alloc(h->alloc, n);
    if (!np) return NULL;
    memcpy(np, ptr, n < h->size ? n : h->size);
    x_free(ptr);
    return np;
}

static const XML_Memory_Handling_Suite mem_suite = {x_malloc, x_realloc, x_free};

/* ---------------------------------------------------------------- helpers */

static void stop(ivcs_s3_xml *x, int err)
{
    if (!x->err) x->err = err;
    XML_StopParser((XML_Parser)x->expat, XML_FALSE);
}

/* Length of s[0..n) without a trailing incomplete UTF-8 sequence (expat
 * hands out valid UTF-8; a cut may land inside a character). */
static size_t utf8_cut(const char *s, size_t n)
{
    size_t i = n, cont = 0;
    while (i > 0 && cont < 3 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) {
        i--;
        cont++;
    }
    if (i == 0) return n;
    unsigned char lead = (unsigned char)s[i - 1];
    if (lead < 0xC0) return n;
    size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
    return cont + 1 >= need ? n : i - 1;
}

static int hexv(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* In-place %XX and '+' decoding (as boto3 does for encoding-type=url).
 * Returns the new length or -1 on a bad escape. */
static long url_decode(char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n) return -1;
            int h = hexv((unsigned char)s[i + 1]), l = hexv((unsigned char)s[i + 2]);
            if (h < 0 || l < 0) return -1;
            s[o++] = (char)(h * 16 + l);
            i += 2;
        } else {
            s[o++] = s[i] == '+' ? ' ' : s[i];
        }
    }
    s[o] = 0;
    return (long)o;
}

static int is_xml_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Decimal digits, optionally surrounded by XML whitespace. */
static int parse_u64(const char *s, size_t n, uint64_t max, uint64_t *out)
{
    size_t i = 0;
    while (i < n && is_xml_space(s[i]))
        i++;
    while (n > i && is_xml_space(s[n - 1]))
        n--;
    if (i == n) return -1;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (max - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int64_t ivcs_s3_parse_time(const char *s, size_t n)
{
    /* YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z */
    unsigned Y, M, D, h, m, sec, ms = 0;
    if (!s || n < 20) return -1;
    if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') return -1;
    if (ivcs_dec_digits(s, 4, &Y) || ivcs_dec_digits(s + 5, 2, &M) ||
        ivcs_dec_digits(s + 8, 2, &D) || ivcs_dec_digits(s + 11, 2, &h) ||
        ivcs_dec_digits(s + 14, 2, &m) || ivcs_dec_digits(s + 17, 2, &sec))
        return -1;
    size_t i = 19;
    if (s[i] == '.') {
        size_t f = ++i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        size_t nd = i - f;
        if (nd < 1 || nd > 9) return -1;
        for (size_t k = 0; k < 3; k++)
            ms = ms * 10 + (k < nd ? (unsigned)(s[f + k] - '0') : 0);
    }
    if (i + 1 != n || s[i] != 'Z') return -1;
    static const unsigned char mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (M < 1 || M > 12 || D < 1 || D > mdays[M - 1] || h > 23 || m > 59 || sec > 60) return -1;
    int leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (M == 2 && D == 29 && !leap) return -1;
    int64_t days = ivcs_days_from_civil(Y, M, D);
    return ((days * 24 + h) * 60 + m) * 60000 + (int64_t)sec * 1000 + ms;
}

/* ---------------------------------------------------------------- fields */

static void begin_field(ivcs_s3_xml *x, int field, char *dst, size_t size)
{
    x->field = field;
    x->dst = dst;
    x->cap = size - 1;
    x->len = 0;
    x->overflow = 0;
}

static void begin_num(ivcs_s3_xml *x, int field)
{
    begin_field(x, field, x->num, sizeof x->num);
}

static int error_field(ivcs_s3_xml *x, const char *name)
{
    ivcs_s3_error *e = x->error;
#define EF(tag, f, member)                                                                         \
    if (!strcmp(name, tag)) {                                                                      \
        begin_field(x, f, e->member, sizeof e->member);                                            \
        return 1;                                                                                  \
    }
    EF("Code", F_E_CODE, code)
    EF("Message", F_E_MESSAGE, message)
    EF("RequestId", F_E_REQUEST_ID, request_id)
    EF("HostId", F_E_HOST_ID, host_id)
    EF("Key", F_E_KEY, key)
    EF("BucketName", F_E_BUCKET, bucket)
    EF("Resource", F_E_RESOURCE, resource)
#undef EF
    return 0;
}

static int list_field(ivcs_s3_xml *x, const char *name)
{
    ivcs_s3_list_result *l = x->list;
#define LF(tag, f, member)                                                                         \
    if (!strcmp(name, tag)) {                                                                      \
        begin_field(x, f, l->member, sizeof l->member);                                            \
        return 1;                                                                                  \
    }
    LF("Name", F_L_NAME, name)
    LF("Prefix", F_L_PREFIX, prefix)
    LF("Delimiter", F_L_DELIMITER, delimiter)
    LF("StartAfter", F_L_START_AFTER, start_after)
    LF("NextContinuationToken", F_L_NEXT_TOKEN, next_token)
#undef LF
    if (!strcmp(name, "KeyCount"))
        begin_num(x, F_L_KEY_COUNT);
    else if (!strcmp(name, "MaxKeys"))
        begin_num(x, F_L_MAX_KEYS);
    else if (!strcmp(name, "IsTruncated"))
        begin_num(x, F_L_TRUNCATED);
    else if (!strcmp(name, "EncodingType"))
        begin_num(x, F_L_ENCODING);
    else
        return 0;
    return 1;
}

static int entry_field(ivcs_s3_xml *x, const char *name)
{
    ivcs_s3_list_entry *e = &x->entry;
    if (x->in_entry == IVCS_S3_ENTRY_PREFIX) {
        if (strcmp(name, "Prefix")) return 0;
        begin_field(x, F_P_PREFIX, e->key, sizeof e->key);
        return 1;
    }
    if (!strcmp(name, "Key"))
        begin_field(x, F_C_KEY, e->key, sizeof e->key);
    else if (!strcmp(name, "LastModified"))
        begin_field(x, F_C_LAST_MODIFIED, e->last_modified, sizeof e->last_modified);
    else if (!strcmp(name, "ETag"))
        begin_field(x, F_C_ETAG, e->etag, sizeof e->etag);
    else if (!strcmp(name, "Size"))
        begin_num(x, F_C_SIZE);
    else if (!strcmp(name, "StorageClass"))
        begin_field(x, F_C_CLASS, e->storage_class, sizeof e->storage_class);
    else
        return 0;
    return 1;
}

static int is_url_field(int f)
{
    return f == F_L_PREFIX || f == F_L_DELIMITER || f == F_L_START_AFTER || f == F_C_KEY ||
           f == F_P_PREFIX;
}

/* The end tag of the collecting element: store the value. */
static int end_field(ivcs_s3_xml *x)
{
    int f = x->field;
    size_t n = x->len;
    x->field = F_NONE;
    if (x->overflow) {
        if (x->kind == KIND_ERROR) {
            x->error->truncated = 1;
            n = utf8_cut(x->dst, n);
        } else {
            return x->dst == x->num ? IVCS_ERR_XML : IVCS_ERR_TOO_LONG;
        }
    }
    x->dst[n] = 0;
    if ((x->flags & IVCS_S3_LIST_URL_DECODE) && is_url_field(f)) {
        long m = url_decode(x->dst, n);
        if (m < 0) return IVCS_ERR_XML;
        n = (size_t)m;
    }
    uint64_t v;
    switch (f) {
    case F_L_KEY_COUNT:
    case F_L_MAX_KEYS:
        if (parse_u64(x->dst, n, INT64_MAX, &v)) return IVCS_ERR_XML;
        if (f == F_L_KEY_COUNT)
            x->list->key_count = (int64_t)v;
        else
            x->list->max_keys = (int64_t)v;
        break;
    case F_C_SIZE:
        if (parse_u64(x->dst, n, UINT64_MAX, &v)) return IVCS_ERR_XML;
        x->entry.size = v;
        break;
    case F_L_TRUNCATED:
        if (!strcmp(x->dst, "true"))
            x->list->is_truncated = 1;
        else if (!strcmp(x->dst, "false"))
            x->list->is_truncated = 0;
        else
            return IVCS_ERR_XML;
        break;
    case F_L_ENCODING: x->list->url_encoded = !strcmp(x->dst, "url"); break;
    case F_C_KEY:
    case F_P_PREFIX:
        x->entry.key_len = n;
        x->entry_has_key = 1;
        break;
    case F_C_ETAG:
        if (n >= 2 && x->dst[0] == '"' && x->dst[n - 1] == '"') {
            memmove(x->dst, x->dst + 1, n - 2);
            x->dst[n - 2] = 0;
        }
        break;
    case F_C_LAST_MODIFIED: x->entry.last_modified_ms = ivcs_s3_parse_time(x->dst, n); break;
    default: break;
    }
    return 0;
}

/* ---------------------------------------------------------------- handlers */

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    (void)attrs;
    ivcs_s3_xml *x = ud;
    if (x->err) return;
    int d = ++x->depth;
    if (d > DEPTH_MAX || x->field) {
        /* S3 values are plain text: an element inside one is not S3 */
        stop(x, IVCS_ERR_XML);
        return;
    }
    if (d == 1) {
        const char *root = x->kind == KIND_ERROR ? "Error" : "ListBucketResult";
        if (strcmp(name, root)) stop(x, IVCS_ERR_XML);
        return;
    }
    if (x->kind == KIND_ERROR) {
        if (d == 2) error_field(x, name);
        return;
    }
    if (d == 2) {
        int kind = !strcmp(name, "Contents")         ? IVCS_S3_ENTRY_OBJECT
                   : !strcmp(name, "CommonPrefixes") ? IVCS_S3_ENTRY_PREFIX
                                                     : 0;
        if (kind) {
            memset(&x->entry, 0, sizeof x->entry);
            x->entry.kind = (ivcs_s3_entry_kind)kind;
            x->entry.last_modified_ms = -1;
            x->in_entry = kind;
            x->entry_has_key = 0;
        } else {
            list_field(x, name);
        }
    } else if (d == 3 && x->in_entry) {
        entry_field(x, name);
    }
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    (void)name;
    ivcs_s3_xml *x = ud;
    if (x->err) return;
    int d = x->depth--;
    int r = 0;
    if (x->field) {
        r = end_field(x); /* fields hold no elements, so this is its end tag */
    } else if (d == 2 && x->in_entry) {
        int kind = x->in_entry;
        x->in_entry = 0;
        if (!x->entry_has_key) {
            r = IVCS_ERR_XML;
        } else {
            if (kind == IVCS_S3_ENTRY_OBJECT)
                x->list->objects++;
            else
                x->list->prefixes++;
            if (x->cb) {
                r = x->cb(x->user, &x->entry);
                if (r > 0) r = IVCS_ERR_CANCELLED;
            }
        }
    }
    if (r) stop(x, r);
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int n)
{
    ivcs_s3_xml *x = ud;
    if (x->err || !x->field || n <= 0) return;
    size_t room = x->cap - x->len, k = (size_t)n;
    if (k > room) {
        k = room;
        x->overflow = 1;
    }
    memcpy(x->dst + x->len, s, k);
    x->len += k;
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    stop(ud, IVCS_ERR_XML);
}

/* ---------------------------------------------------------------- parser */

static int init_common(ivcs_s3_xml *x, int kind, const ivcs_allocator_s *alloc)
{
    memset(x, 0, sizeof *x);
    x->alloc = ivcs_allocator_or_default(alloc);
    x->kind = kind;
    const ivcs_allocator_s *prev = tl_alloc;
    tl_alloc = x->alloc;
    XML_Parser p = XML_ParserCreate_MM("UTF-8", &mem_suite, NULL);
    tl_alloc = prev;
    if (!p) return x->err = IV_ERR_SYS_MALLOC_FAIL; /* feed/finish report it too */
    XML_SetUserData(p, x);
    XML_SetElementHandler(p, on_start, on_end);
    XML_SetCharacterDataHandler(p, on_text);
    XML_SetStartDoctypeDeclHandler(p, on_doctype);
    x->expat = p;
    return 0;
}

int ivcs_s3_xml_init_error(ivcs_s3_xml *x, ivcs_s3_error *out, const ivcs_allocator_s *alloc)
{
    if (!x || !out) return IVCS_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    int r = init_common(x, KIND_ERROR, alloc);
    x->error = out;
    return r;
}

int ivcs_s3_xml_init_list(ivcs_s3_xml *x, ivcs_s3_list_result *out, unsigned flags,
                          ivcs_s3_list_entry_fn cb, void *user, const ivcs_allocator_s *alloc)
{
    if (!x || !out || (flags & ~IVCS_S3_LIST_URL_DECODE)) return IVCS_ERR_INVALID_ARG;
    memset(out, 0, sizeof *out);
    out->key_count = -1;
    out->max_keys = -1;
    int r = init_common(x, KIND_LIST, alloc);
    x->list = out;
    x->flags = flags;
    x->cb = cb;
    x->user = user;
    return r;
}

static int parse(ivcs_s3_xml *x, const char *data, int len, int final)
{
    const ivcs_allocator_s *prev = tl_alloc;
    tl_alloc = x->alloc;
    enum XML_Status st = XML_Parse((XML_Parser)x->expat, data, len, final);
    tl_alloc = prev;
    if (st == XML_STATUS_OK) return 0;
    enum XML_Error e = XML_GetErrorCode((XML_Parser)x->expat);
    if (!x->err) x->err = e == XML_ERROR_NO_MEMORY ? IV_ERR_SYS_MALLOC_FAIL : IVCS_ERR_XML;
    if (e != XML_ERROR_ABORTED)
        x->err_line = (unsigned long)XML_GetCurrentLineNumber((XML_Parser)x->expat);
    return x->err;
}

int ivcs_s3_xml_feed(ivcs_s3_xml *x, const void *data, size_t len)
{
    if (!x || (!data && len)) return IVCS_ERR_INVALID_ARG;
    if (x->err) return x->err;
    if (!x->expat) return IVCS_ERR_STATE;
    const char *p = data;
    while (len > 0) {
        int n = len > (size_t)INT_MAX ? INT_MAX : (int)len;
        int r = parse(x, p, n, 0);
        if (r) return r;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int ivcs_s3_xml_finish(ivcs_s3_xml *x)
{
    if (!x) return IVCS_ERR_INVALID_ARG;
    if (x->err) return x->err;
    if (!x->expat) return IVCS_ERR_STATE;
    return parse(x, NULL, 0, 1);
}

unsigned long ivcs_s3_xml_error_line(const ivcs_s3_xml *x)
{
    return x->err_line;
}

void ivcs_s3_xml_cleanup(ivcs_s3_xml *x)
{
    if (!x || !x->expat) return;
    XML_ParserFree((XML_Parser)x->expat); /* frees through the block headers */
    x->expat = NULL;
}

int ivcs_s3_error_parse(const void *xml, size_t len, ivcs_s3_error *out,
                        const ivcs_allocator_s *alloc)
{
    ivcs_s3_xml x;
    int r = ivcs_s3_xml_init_error(&x, out, alloc);
    if (!r) r = ivcs_s3_xml_feed(&x, xml, len);
    if (!r) r = ivcs_s3_xml_finish(&x);
    ivcs_s3_xml_cleanup(&x);
    return r;
}

int ivcs_s3_list_parse(const void *xml, size_t len, unsigned flags, ivcs_s3_list_result *out,
                       ivcs_s3_list_entry_fn cb, void *user, const ivcs_allocator_s *alloc)
{
    ivcs_s3_xml x;
    int r = ivcs_s3_xml_init_list(&x, out, flags, cb, user, alloc);
    if (!r) r = ivcs_s3_xml_feed(&x, xml, len);
    if (!r) r = ivcs_s3_xml_finish(&x);
    ivcs_s3_xml_cleanup(&x);
    return r;
}

/* ---------------------------------------------------------------- writer */

void ivcs_xml_writer_init(ivcs_xml_writer *w, char *buf, size_t cap)
{
    memset(w, 0, sizeof *w);
    w->buf = buf;
    w->cap = cap;
    if (!buf && cap) w->err = IVCS_ERR_INVALID_ARG;
    if (buf && cap) buf[0] = 0;
}

static void put(ivcs_xml_writer *w, const char *s, size_t n)
{
    if (w->err) return;
    /* one byte stays free for the NUL */
    if (w->cap == 0 || n > w->cap - 1 - w->len) {
        w->err = IVCS_ERR_TOO_LONG;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = 0;
}

static void puts_(ivcs_xml_writer *w, const char *s)
{
    put(w, s, strlen(s));
}

static int valid_name(const char *s)
{
    if (!s) return 0;
    unsigned char c = (unsigned char)s[0];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_')) return 0;
    for (size_t i = 1; s[i]; i++) {
        c = (unsigned char)s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return 0;
    }
    return 1;
}

void ivcs_xml_decl(ivcs_xml_writer *w)
{
    puts_(w, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
}

/* Decodes one UTF-8 character of s[0..n) that is an XML 1.0 Char; returns
 * its length, or 0 if it is not one. */
static size_t xml_char(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80) return (c >= 0x20 || c == '\t' || c == '\n' || c == '\r') && c != 0x7f ? 1 : 0;
    size_t len;
    uint32_t cp, min;
    if ((c & 0xE0) == 0xC0)
        len = 2, cp = c & 0x1F, min = 0x80;
    else if ((c & 0xF0) == 0xE0)
        len = 3, cp = c & 0x0F, min = 0x800;
    else if ((c & 0xF8) == 0xF0)
        len = 4, cp = c & 0x07, min = 0x10000;
    else
        return 0;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF) || cp == 0xFFFE || cp == 0xFFFF)
        return 0;
    /* C1 controls are legal XML 1.0 but "discouraged"; S3 keys may hold them */
    return len;
}

void ivcs_xml_text(ivcs_xml_writer *w, const char *s, size_t len)
{
    if (w->err) return;
    if (!s && len) {
        w->err = IVCS_ERR_INVALID_ARG;
        return;
    }
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, run = 0;
    while (i < len) {
        size_t k = xml_char(u + i, len - i);
        if (k == 0) {
            w->err = IVCS_ERR_INVALID_ARG;
            return;
        }
        const char *esc = NULL;
        if (k == 1) {
            switch (u[i]) {
            case '&': esc = "&amp;"; break;
            case '<': esc = "&lt;"; break;
            case '>': esc = "&gt;"; break;
            case '"': esc = "&quot;"; break;
            case '\'': esc = "&apos;"; break;
            case '\r': esc = "&#13;"; break;
            default: break;
            }
        }
        if (esc) {
            put(w, s + run, i - run);
            puts_(w, esc);
            run = i + 1;
        }
        i += k;
    }
    put(w, s + run, len - run);
}

void ivcs_xml_open(ivcs_xml_writer *w, const char *name, const char *xmlns)
{
    if (w->err) return;
    if (!valid_name(name) || w->depth >= IVCS_XML_DEPTH_MAX) {
        w->err = IVCS_ERR_INVALID_ARG;
        return;
    }
    put(w, "<", 1);
    puts_(w, name);
    if (xmlns) {
        puts_(w, " xmlns=\"");
        ivcs_xml_text(w, xmlns, strlen(xmlns));
        put(w, "\"", 1);
    }
    put(w, ">", 1);
    w->open[w->depth++] = name;
}

void ivcs_xml_close(ivcs_xml_writer *w)
{
    if (w->err) return;
    if (w->depth == 0) {
        w->err = IVCS_ERR_INVALID_ARG;
        return;
    }
    const char *name = w->open[--w->depth];
    put(w, "</", 2);
    puts_(w, name);
    put(w, ">", 1);
}

void ivcs_xml_elem(ivcs_xml_writer *w, const char *name, const char *s, size_t len)
{
    ivcs_xml_open(w, name, NULL);
    ivcs_xml_text(w, s, len);
    ivcs_xml_close(w);
}

void ivcs_xml_elem_u64(ivcs_xml_writer *w, const char *name, uint64_t v)
{
    char num[24];
    int n = snprintf(num, sizeof num, "%llu", (unsigned long long)v);
    ivcs_xml_elem(w, name, num, (size_t)n);
}

int64_t ivcs_xml_writer_finish(ivcs_xml_writer *w)
{
    if (w->err) return w->err;
    if (w->depth != 0) return IVCS_ERR_INVALID_ARG;
    if (!w->buf || w->cap == 0) return IVCS_ERR_TOO_LONG;
    return (int64_t)w->len;
}

int64_t ivcs_s3_lifecycle_xml(char *buf, size_t cap, const ivcs_s3_lifecycle_rule *rules, size_t n)
{
    if (!buf || !rules || n == 0 || n > 1000) return IVCS_ERR_INVALID_ARG;
    for (size_t i = 0; i < n; i++) {
        size_t idl = rules[i].id ? strlen(rules[i].id) : 0;
        if (idl == 0 || idl > 255 || !rules[i].prefix || rules[i].days == 0)
            return IVCS_ERR_INVALID_ARG;
    }
    ivcs_xml_writer w;
    ivcs_xml_writer_init(&w, buf, cap);
    ivcs_xml_decl(&w);
    ivcs_xml_open(&w, "LifecycleConfiguration", "http://s3.amazonaws.com/doc/2006-03-01/");
    for (size_t i = 0; i < n; i++) {
        const ivcs_s3_lifecycle_rule *r = &rules[i];
        ivcs_xml_open(&w, "Rule", NULL);
        ivcs_xml_elem(&w, "ID", r->id, strlen(r->id));
        ivcs_xml_open(&w, "Filter", NULL);
        ivcs_xml_elem(&w, "Prefix", r->prefix, strlen(r->prefix));
        ivcs_xml_close(&w);
        ivcs_xml_elem(&w, "Status", r->enabled ? "Enabled" : "Disabled", r->enabled ? 7 : 8);
        ivcs_xml_open(&w, "Expiration", NULL);
        ivcs_xml_elem_u64(&w, "Days", r->days);
        ivcs_xml_close(&w);
        ivcs_xml_close(&w);
    }
    ivcs_xml_close(&w);
    return ivcs_xml_writer_finish(&w);
}
