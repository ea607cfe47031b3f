/* lifecycle.c - the bucket lifecycle (retention) rule of a device, and the
 * bucket CORS rule of its web viewer: read, merged into the bucket's other
 * rules byte for byte, written (catalog.h). */
#include <expat.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/core/strbuf.h"
#include "engine/net/s3_xml.h"
#include "engine/viewer/catalog.h"

static void keep_err(ivcs_s3_result *err, const ivcs_s3_op *op)
{
    if (err) *err = op->res;
}

static void op_defaults(ivcs_s3_op *op)
{
    op->max_attempts = IVCS_CATALOG_ATTEMPTS;
    op->backoff_max_ms = 2000; /* a person is waiting */
}

/* ---------------------------------------------------------------- retention */

/* The rules of a GetBucketLifecycleConfiguration body: byte ranges of the
 * <Rule> elements to keep, and the Expiration/Days of ours. */
typedef struct {
    XML_Parser p;
    const char *root_name; /* "LifecycleConfiguration" or "CORSConfiguration" */
    const char *rule_name; /* "Rule" or "CORSRule" */
    const char *id;        /* ours */
    int depth;
    long rule_start;
    int in_id, in_exp, in_days;
    ivcs_strbuf_s id_text, days_text;
    int is_ours;
    uint32_t our_days;
    int found;
    long keep[1000][2];
    size_t nkeep;
    int err;
} lc_ctx;

static void XMLCALL lc_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    lc_ctx *c = ud;
    (void)atts;
    c->depth++;
    if (c->depth == 1 && strcmp(name, c->root_name)) {
        /* Not a lifecycle configuration: a server without the ?lifecycle
         * subresource answers GET ?lifecycle with the bucket listing
         * (Swift's s3api); anything else is no answer we can read. */
        c->err = strcmp(name, "ListBucketResult") ? IVCS_ERR_XML : IVCS_ERR_UNSUPPORTED;
        XML_StopParser(c->p, XML_FALSE);
        return;
    }
    if (c->depth == 2 && !strcmp(name, c->rule_name)) {
        c->rule_start = (long)XML_GetCurrentByteIndex(c->p);
        c->id_text.len = 0;
        c->days_text.len = 0;
        if (c->id_text.p) c->id_text.p[0] = 0;
        if (c->days_text.p) c->days_text.p[0] = 0;
    } else if (c->depth == 3 && !strcmp(name, "ID")) {
        c->in_id = 1;
    } else if (c->depth == 3 && !strcmp(name, "Expiration")) {
        c->in_exp = 1;
    } else if (c->depth == 4 && c->in_exp && !strcmp(name, "Days")) {
        c->in_days = 1; /* Expiration/Days, not Transition/Days */
    }
}

static void XMLCALL lc_end(void *ud, const XML_Char *name)
{
    lc_ctx *c = ud;
    if (c->depth == 2 && !strcmp(name, c->rule_name)) {
        long end = (long)XML_GetCurrentByteIndex(c->p) + XML_GetCurrentByteCount(c->p);
        if (c->id_text.p && !strcmp(c->id_text.p, c->id)) {
            c->found = 1;
            c->our_days = c->days_text.p ? (uint32_t)strtoul(c->days_text.p, NULL, 10) : 0;
        } else if (c->nkeep < sizeof c->keep / sizeof c->keep[0]) {
            c->keep[c->nkeep][0] = c->rule_start;
            c->keep[c->nkeep][1] = end;
            c->nkeep++;
        } else {
            c->err = IVCS_ERR_TOO_LONG;
        }
    }
    c->in_id = 0;
    c->in_days = 0;
    if (c->depth == 3) c->in_exp = 0;
    c->depth--;
}

static void XMLCALL lc_text(void *ud, const XML_Char *s, int len)
{
    lc_ctx *c = ud;
    if (c->in_id && ivcs_strbuf_add(&c->id_text, s, (size_t)len) < 0)
        c->err = IV_ERR_SYS_MALLOC_FAIL;
    if (c->in_days && ivcs_strbuf_add(&c->days_text, s, (size_t)len) < 0)
        c->err = IV_ERR_SYS_MALLOC_FAIL;
}

static int lc_parse(lc_ctx *c, const char *xml, size_t len)
{
    c->p = XML_ParserCreate("UTF-8");
    if (!c->p) return IV_ERR_SYS_MALLOC_FAIL;
    XML_SetUserData(c->p, c);
    XML_SetElementHandler(c->p, lc_start, lc_end);
    XML_SetCharacterDataHandler(c->p, lc_text);
    int ok = XML_Parse(c->p, xml, (int)len, 1) == XML_STATUS_OK;
    XML_ParserFree(c->p);
    free(c->id_text.p);
    free(c->days_text.p);
    if (c->err) return c->err;
    return ok ? 0 : IVCS_ERR_XML;
}

static int rule_id(const ivcs_layout_s *l, char *out, size_t cap)
{
    int n = snprintf(out, cap, "ivcs:%s", l->root);
    /* S3 limits a rule ID to 255 characters. */
    return n < 0 || (size_t)n >= cap || n > 255 ? IVCS_ERR_TOO_LONG : 0;
}

int ivcs_catalog_lifecycle_merge(const char *xml, size_t len, const char *id, const char *prefix,
                                 uint32_t days, char **out, size_t *out_len, int *found,
                                 uint32_t *old_days)
{
    if (!id || !prefix || !out || !out_len || (!xml && len) || len > INT32_MAX)
        return IVCS_ERR_INVALID_ARG;
    *out = NULL;
    *out_len = 0;
    lc_ctx *c = calloc(1, sizeof *c);
    if (!c) return IV_ERR_SYS_MALLOC_FAIL;
    c->id = id;
    c->root_name = "LifecycleConfiguration";
    c->rule_name = "Rule";
    int rc = len ? lc_parse(c, xml, len) : 0;
    if (found) *found = rc == 0 && c->found;
    if (old_days) *old_days = rc == 0 && c->found ? c->our_days : 0;
    ivcs_strbuf_s b = {0};
    if (rc == 0 && (c->nkeep || days)) {
        rc = ivcs_strbuf_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                                    "<LifecycleConfiguration "
                                    "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
        for (size_t i = 0; i < c->nkeep && rc == 0; i++)
            rc = ivcs_strbuf_add(&b, xml + c->keep[i][0], (size_t)(c->keep[i][1] - c->keep[i][0]));
        if (rc == 0 && days) {
            char rx[4096];
            ivcs_s3_lifecycle_rule rule = {.id = id, .prefix = prefix, .days = days, .enabled = 1};
            int64_t n = ivcs_s3_lifecycle_xml(rx, sizeof rx, &rule, 1);
            char *ra = n > 0 ? strstr(rx, "<Rule>") : NULL;
            char *rb = ra ? strstr(ra, "</Rule>") : NULL;
            if (!rb)
                rc = n < 0 ? (int)n : IVCS_ERR_XML;
            else
                rc = ivcs_strbuf_add(&b, ra, (size_t)(rb + 7 - ra));
        }
        if (rc == 0) rc = ivcs_strbuf_printf(&b, "</LifecycleConfiguration>");
    }
    free(c);
    if (rc < 0) {
        free(b.p);
        return rc;
    }
    *out = b.p;
    *out_len = b.len;
    return 0;
}

/* IVCS_ERR_UNSUPPORTED with the reason in err->detail. */
static int unsupported(ivcs_s3_result *err, const char *how)
{
    snprintf(err->detail, sizeof err->detail, "the server does not support bucket lifecycle (%s)",
             how);
    return IVCS_ERR_UNSUPPORTED;
}

#define LIFECYCLE_MAX (1u << 20) /* 1000 rules of the longest IDs and prefixes fit */

/* GET ?lifecycle: 0 with the body in *xml (NULL, *len 0 when the bucket has
 * no configuration), or a negative code with *err filled. */
static int lifecycle_get(ivcs_s3 *s3, char **xml, size_t *len, ivcs_s3_result *err)
{
    int rc = ivcs_catalog_get_mem(s3, IVCS_S3_GET_LIFECYCLE, NULL, LIFECYCLE_MAX, xml, len, err);
    /* Only this code means "none": 404 NoSuchBucket is an error. */
    if (rc == IVCS_ERR_NOT_FOUND && !strcmp(err->code, "NoSuchLifecycleConfiguration")) return 0;
    if (rc == IVCS_ERR_S3 && err->status == 501) return unsupported(err, "GET ?lifecycle: 501");
    return rc;
}

/* PUT ?lifecycle with xml, or DELETE ?lifecycle when xml is NULL. */
static int lifecycle_write(ivcs_s3 *s3, const char *xml, size_t len, ivcs_s3_result *err)
{
    ivcs_s3_op op;
    ivcs_s3_op_init(&op, xml ? IVCS_S3_PUT_LIFECYCLE : IVCS_S3_DELETE_LIFECYCLE, NULL);
    op_defaults(&op);
    if (xml) {
        op.body = (const uint8_t *)xml;
        op.body_len = len;
        op.content_type = "application/xml";
    }
    int rc = ivcs_s3_run(s3, &op);
    if (rc < 0) keep_err(err, &op);
    ivcs_s3_op_cleanup(&op);
    if (rc == IVCS_ERR_S3 && err->status == 501)
        return unsupported(err, xml ? "PUT ?lifecycle: 501" : "DELETE ?lifecycle: 501");
    return rc;
}

int ivcs_catalog_lifecycle_set(ivcs_s3 *s3, const char *id, const char *prefix, uint32_t days,
                               ivcs_s3_result *err)
{
    if (!s3 || !id || !prefix || days > 36500) return IVCS_ERR_INVALID_ARG;
    ivcs_s3_result e;
    memset(&e, 0, sizeof e);
    char *cur = NULL, *x = NULL;
    size_t cl = 0, xl = 0;
    int found = 0;
    int rc = lifecycle_get(s3, &cur, &cl, &e);
    if (rc == 0)
        rc = ivcs_catalog_lifecycle_merge(cur, cl, id, prefix, days, &x, &xl, &found, NULL);
    if (rc == IVCS_ERR_UNSUPPORTED && !e.detail[0])
        unsupported(&e, "GET ?lifecycle answered with a bucket listing");
    /* Nothing is written (no PUT, and never a DELETE) unless the
     * configuration was read and, for a DELETE, held a rule of ours. */
    /* x NULL: ours was the only rule, and S3 refuses an empty configuration */
    if (rc == 0 && (found || days)) rc = lifecycle_write(s3, x, xl, &e);
    if (rc < 0 && err) *err = e;
    free(x);
    free(cur);
    return rc;
}

int ivcs_catalog_retention_get(ivcs_s3 *s3, const ivcs_config_s *cfg, const ivcs_layout_s *l,
                               uint32_t *days, ivcs_s3_result *err)
{
    (void)cfg;
    if (!s3 || !l || !days) return IVCS_ERR_INVALID_ARG;
    char id[300];
    int rc = rule_id(l, id, sizeof id);
    if (rc < 0) return rc;
    ivcs_s3_result e;
    memset(&e, 0, sizeof e);
    char *cur = NULL, *x = NULL;
    size_t cl = 0, xl;
    rc = lifecycle_get(s3, &cur, &cl, &e);
    if (rc == 0) rc = ivcs_catalog_lifecycle_merge(cur, cl, id, "", 0, &x, &xl, NULL, days);
    if (rc == IVCS_ERR_UNSUPPORTED && !e.detail[0])
        unsupported(&e, "GET ?lifecycle answered with a bucket listing");
    if (rc < 0 && err) *err = e;
    free(x);
    free(cur);
    return rc;
}

int ivcs_catalog_retention_set(ivcs_s3 *s3, const ivcs_config_s *cfg, const ivcs_layout_s *l,
                               uint32_t days, ivcs_s3_result *err)
{
    (void)cfg;
    if (!s3 || !l || days > 36500) return IVCS_ERR_INVALID_ARG;
    char id[300], prefix[IVCS_LAYOUT_ROOT_MAX + 3];
    int rc = rule_id(l, id, sizeof id);
    if (rc < 0) return rc;
    snprintf(prefix, sizeof prefix, "%sch", l->root);
    return ivcs_catalog_lifecycle_set(s3, id, prefix, days, err);
}

/* ---------------------------------------------------------------- CORS */

/* An origin as a browser sends it: "*", or scheme://host[:port] with
 * nothing that needs escaping in XML. */
int ivcs_catalog_cors_origin_ok(const char *o)
{
    if (!o) return 0;
    if (!strcmp(o, "*")) return 1;
    size_t n = strlen(o);
    if (n < 8 || n > 255) return 0;
    const char *h = !strncmp(o, "http://", 7) ? o + 7 : !strncmp(o, "https://", 8) ? o + 8 : NULL;
    if (!h || !*h) return 0;
    for (; *h; h++)
        if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') || (*h >= '0' && *h <= '9') ||
              *h == '.' || *h == '-' || *h == ':' || *h == '[' || *h == ']'))
            return 0;
    return 1;
}

int ivcs_catalog_cors_merge(const char *xml, size_t len, const char *id,
                            const char *const *origins, size_t n, char **out, size_t *out_len,
                            int *found)
{
    if (!id || !out || !out_len || (!xml && len) || len > INT32_MAX || (n && !origins) || n > 16 ||
        strlen(id) > 255 || strpbrk(id, "<>&\"'"))
        return IVCS_ERR_INVALID_ARG;
    for (size_t i = 0; i < n; i++)
        if (!ivcs_catalog_cors_origin_ok(origins[i])) return IVCS_ERR_INVALID_ARG;
    *out = NULL;
    *out_len = 0;
    lc_ctx *c = calloc(1, sizeof *c);
    if (!c) return IV_ERR_SYS_MALLOC_FAIL;
    c->id = id;
    c->root_name = "CORSConfiguration";
    c->rule_name = "CORSRule";
    int rc = len ? lc_parse(c, xml, len) : 0;
    if (found) *found = rc == 0 && c->found;
    ivcs_strbuf_s b = {0};
    if (rc == 0 && (c->nkeep || n)) {
        rc = ivcs_strbuf_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                                    "<CORSConfiguration "
                                    "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
        for (size_t i = 0; i < c->nkeep && rc == 0; i++)
            rc = ivcs_strbuf_add(&b, xml + c->keep[i][0], (size_t)(c->keep[i][1] - c->keep[i][0]));
        if (rc == 0 && n) {
            rc = ivcs_strbuf_printf(&b, "<CORSRule><ID>%s</ID>", id);
            for (size_t i = 0; i < n && rc == 0; i++)
                rc = ivcs_strbuf_printf(&b, "<AllowedOrigin>%s</AllowedOrigin>", origins[i]);
            if (rc == 0)
                rc = ivcs_strbuf_printf(
                    &b, "<AllowedMethod>GET</AllowedMethod><AllowedMethod>HEAD</AllowedMethod>"
                        "<AllowedHeader>*</AllowedHeader><ExposeHeader>Content-Length</ExposeHeader>"
                        "<ExposeHeader>Content-Range</ExposeHeader>"
                        "<MaxAgeSeconds>3600</MaxAgeSeconds></CORSRule>");
        }
        if (rc == 0) rc = ivcs_strbuf_printf(&b, "</CORSConfiguration>");
    }
    free(c);
    if (rc < 0) {
        free(b.p);
        return rc;
    }
    *out = b.p;
    *out_len = b.len;
    return 0;
}

#define CORS_MAX (1u << 20)

int ivcs_catalog_cors_set(ivcs_s3 *s3, const ivcs_layout_s *l, const char *const *origins,
                          size_t n, ivcs_s3_result *err)
{
    if (!s3 || !l) return IVCS_ERR_INVALID_ARG;
    char id[300];
    int nid = snprintf(id, sizeof id, "ivcs-web:%s", l->root);
    if (nid < 0 || nid > 255) return IVCS_ERR_TOO_LONG;
    ivcs_s3_result e;
    memset(&e, 0, sizeof e);
    char *cur = NULL, *x = NULL;
    size_t cl = 0, xl = 0;
    int found = 0;
    int rc = ivcs_catalog_get_mem(s3, IVCS_S3_GET_CORS, NULL, CORS_MAX, &cur, &cl, &e);
    if (rc == IVCS_ERR_NOT_FOUND && !strcmp(e.code, "NoSuchCORSConfiguration")) {
        rc = 0;
        cl = 0;
    }
    if (rc == IVCS_ERR_S3 && e.status == 501) {
        snprintf(e.detail, sizeof e.detail, "the server does not support bucket CORS (501)");
        rc = IVCS_ERR_UNSUPPORTED;
    }
    if (rc == 0) rc = ivcs_catalog_cors_merge(cur, cl, id, origins, n, &x, &xl, &found);
    if (rc == IVCS_ERR_UNSUPPORTED && !e.detail[0])
        snprintf(e.detail, sizeof e.detail,
                 "the server does not support bucket CORS (GET ?cors answered with a listing)");
    if (rc == 0 && (found || n)) {
        ivcs_s3_op op;
        ivcs_s3_op_init(&op, x ? IVCS_S3_PUT_CORS : IVCS_S3_DELETE_CORS, NULL);
        op_defaults(&op);
        if (x) {
            op.body = (const uint8_t *)x;
            op.body_len = xl;
            op.content_type = "application/xml";
        }
        rc = ivcs_s3_run(s3, &op);
        if (rc < 0) keep_err(&e, &op);
        ivcs_s3_op_cleanup(&op);
        if (rc == IVCS_ERR_S3 && e.status == 501) {
            snprintf(e.detail, sizeof e.detail, "the server does not support bucket CORS (501)");
            rc = IVCS_ERR_UNSUPPORTED;
        }
    }
    if (rc < 0 && err) *err = e;
    free(x);
    free(cur);
    return rc;
}
