/* cmd_s3.c - `ivcs s3`: S3 operations over ivcs's own transport, by hand. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/viewer/catalog.h"
#include "engine/net/s3.h"
#include "engine/net/s3_xml.h"
#include "ivcs.h"
#include "tools/cli_common.h"
#include "tools/commands.h"
#include "tools/outfile.h"

/* The operations and their arguments (usage, and the usage error of an
 * operation given the wrong arguments). */
static const struct {
    const char *op, *args;
} s3_ops[] = {
    {"put", "FILE KEY [FILE KEY...] [--meta k=v]... [--if-none-match]\n"
            "      [--content-type T]\n"
            "      [--integrity md5|sha256-chunked|crc32c-trailer|md5-etag]\n"
            "      (default: the config's \"integrity\"; auto is md5 here)"},
    {"get", "KEY [--range A-B] [--if-none-match ETAG] [-o|--output FILE]"},
    {"ls", "[--prefix P] [--delimiter D] [--max N] [--page-size N]"},
    {"rm", "KEY"},
    {"head", "KEY"},
    {"presign", "KEY [--expires SECONDS]"},
    {"mb", "(create the configured bucket; one you already own: exit 0)"},
    {"probe", "KEY   which integrity check the server enforces (what integrity \"auto\"\n"
              "      picks): PUTs to KEY, deleted after; prints the mode and what was seen"},
    {"lifecycle", "--days N [--prefix P]   expire objects under P after N days\n"
                  "      (rule ivcs-expire, merged into the bucket's rules; --days 0\n"
                  "      removes it)"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: ivcs s3 <op> --config FILE [options]   (ivcs s3 <op> --help: this)\n");
    for (size_t i = 0; i < sizeof s3_ops / sizeof s3_ops[0]; i++)
        fprintf(out, "  %s %s\n", s3_ops[i].op, s3_ops[i].args);
    fprintf(out,
            "common: --config FILE (default $IVCS_CONFIG), --retries N (attempts,\n"
            "        default 3), --timeout-ms N (upload bound), --reply-ms N, --stats\n"
            "        (connection statistics on stderr)\n"
            "debug:  put --no-md5 (no Content-MD5), put --debug-bad-md5 (send a wrong\n"
            "        one), put --debug-corrupt N (flip body byte N on the wire in the\n"
            "        first attempt, after the checksums were taken), put --producer (the\n"
            "        body from a pull producer, as the engine sends a slice)\n"
            "exit: 0 ok, 1 failure (the S3 error code and message are printed), 2 usage\n");
}

typedef struct {
    const char *config;
    uint32_t attempts;
    uint32_t upload_ms, reply_ms;
    int stats;
    /* op options */
    ivcs_s3_meta meta[IVCS_S3_META_MAX];
    int n_meta;
    int if_none_match_star;
    const char *if_none_match;
    const char *content_type;
    const char *range;
    const char *out;
    const char *prefix, *delimiter;
    long max; /* -1: no limit */
    uint32_t page_size, expires, days;
    int has_days;
    int no_md5, bad_md5;
    int integrity; /* -1: the config's */
    uint32_t corrupt; /* --debug-corrupt N: 1 + N, 0 none */
    int producer;     /* --producer: the body from a pull producer, as the engine sends */
    const char *pos[512]; /* put takes FILE KEY pairs: room for 255 */
    int npos;
} opts;

/* "ivcs s3: WHAT KEY: reason" (cli_common.h: the S3 code and message, or
 * the transport's reason; never a secret). Returns IVCS_EXIT_FAIL. */
static int report(const ivcs_cli_s *c, const char *what, const char *key, int rc,
                  const ivcs_s3_op *op)
{
    char w[1200];
    snprintf(w, sizeof w, "%s%s%s", what, key ? " " : "", key ? key : "");
    return ivcs_cli_fail(c, w, rc, &op->res);
}

static void setup(ivcs_s3_op *op, const opts *o)
{
    op->max_attempts = o->attempts;
    op->upload_ms = o->upload_ms;
    op->reply_ms = o->reply_ms;
}

/* ---------------------------------------------------------------- put */

typedef struct {
    const uint8_t *p;
    uint64_t len;
} mem_body;

/* --producer: the file handed out by a pull producer (copied into the
 * client's stage buffer, as the engine's muxer writes a slice there). */
static int64_t mem_body_fn(void *arg, uint64_t off, uint8_t *buf, size_t cap)
{
    const mem_body *m = arg;
    if (off >= m->len) return IVCS_ERR_STATE;
    size_t n = m->len - off < cap ? (size_t)(m->len - off) : cap;
    memcpy(buf, m->p + off, n);
    return (int64_t)n;
}

static int do_put(const ivcs_cli_s *c, const opts *o)
{
    if (o->npos < 2 || o->npos % 2) return -2;
    for (int i = 0; i < o->npos; i += 2) {
        const char *file = o->pos[i], *key = o->pos[i + 1];
        int fd = open(file, O_RDONLY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0) {
            fprintf(stderr, "ivcs s3: put: cannot open %s: %s\n", file, strerror(errno));
            if (fd >= 0) close(fd);
            return 1;
        }
        size_t len = (size_t)st.st_size;
        const uint8_t *data = NULL;
        if (len) {
            void *m = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
            if (m == MAP_FAILED) {
                fprintf(stderr, "ivcs s3: put: cannot map %s: %s\n", file, strerror(errno));
                close(fd);
                return 1;
            }
            data = m;
        }
        close(fd);
        ivcs_s3_op op;
        ivcs_s3_op_init(&op, IVCS_S3_PUT, key);
        setup(&op, o);
        mem_body mb = {.p = data, .len = len};
        char md5[32];
        op.body = data;
        op.body_len = len;
        if (o->producer && len) {
            /* the engine's way: Content-MD5 (md5 mode) from a first pass */
            if (!o->no_md5 && (o->integrity >= 0 ? o->integrity : c->cfg.integrity) <=
                                  IVCS_INTEGRITY_MD5) {
                if (ivcs_s3_content_md5(data, len, md5, sizeof md5) < 0) {
                    munmap((void *)data, len);
                    return 1;
                }
                op.content_md5 = md5;
            }
            op.body = NULL;
            op.body_fn = mem_body_fn;
            op.body_arg = &mb;
        }
        op.meta = o->meta;
        op.n_meta = o->n_meta;
        op.content_type = o->content_type;
        if (o->if_none_match_star) op.if_none_match = "*";
        if (o->no_md5) op.content_md5 = "";
        op.integrity = o->integrity >= 0 ? o->integrity : c->cfg.integrity;
        op.debug_flip = o->corrupt;
        /* A valid base64 MD5 of 16 zero bytes: well-formed, and wrong. */
        if (o->bad_md5) op.debug_bad_md5 = "AAAAAAAAAAAAAAAAAAAAAA==";
        int rc = ivcs_s3_run(c->s3, &op);
        if (data) munmap((void *)data, len);
        if (rc == 0 && op.res.status == 412) {
            fprintf(stderr, "ivcs s3: put %s: PreconditionFailed: the object exists (HTTP 412)\n",
                    key);
            ivcs_s3_op_cleanup(&op);
            return 1;
        }
        if (rc == IVCS_ERR_S3 && op.res.status == 501 && o->if_none_match_star) {
            /* Refused, not retried as a plain PUT: that could overwrite. */
            fprintf(stderr,
                    "ivcs s3: put %s: the server does not support conditional PUT "
                    "(If-None-Match: *; HTTP 501 %s): nothing was written\n",
                    key, op.res.code);
            ivcs_s3_op_cleanup(&op);
            return 1;
        }
        if (rc < 0) {
            report(c, "put", key, rc, &op);
            ivcs_s3_op_cleanup(&op);
            return 1;
        }
        if (o->npos == 2) printf("%s\n", op.res.etag);
        ivcs_s3_op_cleanup(&op);
    }
    return 0;
}

/* ---------------------------------------------------------------- get */

typedef struct {
    int fd;
} sink;

/* ivcs_s3_run hands each byte once: a retry resumes (op.resume). */
static int on_data(void *arg, const uint8_t *data, size_t len)
{
    sink *s = arg;
    while (len) {
        ssize_t w = write(s->fd, data, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return IVCS_ERR_WRITE;
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

static int do_get(const ivcs_cli_s *c, const opts *o)
{
    if (o->npos != 1) return -2;
    const char *key = o->pos[0];
    ivcs_s3_op op;
    ivcs_s3_op_init(&op, IVCS_S3_GET, key);
    setup(&op, o);
    if (o->range) {
        char *e;
        long long a = strtoll(o->range, &e, 10), b = -1;
        if (e == o->range || *e != '-' || a < 0) return -2;
        if (e[1]) {
            char *e2;
            b = strtoll(e + 1, &e2, 10);
            if (*e2 || b < a) return -2;
        }
        op.range_first = a;
        op.range_last = b;
    }
    op.if_none_match = o->if_none_match;
    op.resume = 1;
    /* A file is written beside PATH and renamed when complete: a failure
     * never removes or truncates what PATH was. */
    ivcs_outfile_s out;
    if (ivcs_outfile_open(&out, o->out ? o->out : "-") < 0) {
        fprintf(stderr, "ivcs s3: get: cannot write %s: %s\n", o->out ? o->out : "-",
                strerror(errno));
        return 1;
    }
    sink sk = {.fd = out.fd};
    op.on_data = on_data;
    op.arg = &sk;
    int rc = ivcs_s3_run(c->s3, &op);
    int ok = 1;
    if (rc == 0 && op.res.status != 304) {
        ok = ivcs_outfile_commit(&out) == 0;
        if (!ok)
            fprintf(stderr, "ivcs s3: get %s: writing %s failed: %s\n", key, o->out ? o->out : "-",
                    strerror(errno));
    } else {
        ivcs_outfile_abort(&out);
        if (rc < 0) report(c, "get", key, rc, &op);
        else fprintf(stderr, "ivcs s3: get %s: not modified (HTTP 304)\n", key);
    }
    ivcs_s3_op_cleanup(&op);
    return rc == 0 && ok ? 0 : 1;
}

/* ---------------------------------------------------------------- ls */

typedef struct {
    long printed, max;
} lister;

static int on_entry(void *arg, const ivcs_s3_entry *e)
{
    lister *l = arg;
    if (l->max >= 0 && l->printed >= l->max) return 0;
    if (e->is_prefix) printf("%12s  %s\n", "PRE", e->key);
    else printf("%12llu  %s\n", (unsigned long long)e->size, e->key);
    l->printed++;
    return 0;
}

static int do_ls(const ivcs_cli_s *c, const opts *o)
{
    if (o->npos) return -2;
    lister l = {0, o->max};
    ivcs_s3_pager pg;
    ivcs_s3_pager_init(&pg, 0);
    for (;;) {
        ivcs_s3_op op;
        ivcs_s3_op_init(&op, IVCS_S3_LIST, NULL);
        setup(&op, o);
        op.prefix = o->prefix;
        op.delimiter = o->delimiter;
        op.max_keys = o->page_size;
        op.on_entry = on_entry;
        op.arg = &l;
        ivcs_s3_pager_apply(&pg, &op);
        int rc = ivcs_s3_run(c->s3, &op);
        if (rc == 0) rc = ivcs_s3_pager_next(&pg, &op);
        if (rc < 0) {
            report(c, "ls", NULL, rc, &op);
            ivcs_s3_op_cleanup(&op);
            return 1;
        }
        ivcs_s3_op_cleanup(&op);
        if (!rc || (l.max >= 0 && l.printed >= l.max)) break;
    }
    if (o->stats) fprintf(stderr, "ivcs s3: ls: %ld entries, %u pages\n", l.printed, pg.pages);
    return 0;
}

/* ---------------------------------------------------------------- others */

static int do_simple(const ivcs_cli_s *c, const opts *o, ivcs_s3_kind_e kind,
                     const char *what)
{
    if (o->npos != (kind == IVCS_S3_CREATE_BUCKET ? 0 : 1)) return -2;
    const char *key = o->npos ? o->pos[0] : NULL;
    ivcs_s3_op op;
    ivcs_s3_op_init(&op, kind, key);
    setup(&op, o);
    int rc = ivcs_s3_run(c->s3, &op);
    if (kind == IVCS_S3_CREATE_BUCKET && rc == IVCS_ERR_S3 &&
        !strcmp(op.res.code, "BucketAlreadyOwnedByYou")) {
        /* What was asked for exists and is ours: done. */
        fprintf(stderr, "ivcs s3: mb: bucket '%s' already exists and is yours\n", c->cfg.bucket);
        rc = 0;
    } else if (rc < 0) {
        report(c, what, key, rc, &op);
        ivcs_s3_op_cleanup(&op);
        return 1;
    }
    if (kind == IVCS_S3_HEAD) {
        const ivcs_s3_result *r = &op.res;
        printf("status: %d\netag: %s\ncontent-length: %lld\n", r->status, r->etag,
               (long long)r->content_length);
        if (r->content_type[0]) printf("content-type: %s\n", r->content_type);
        if (r->last_modified[0]) printf("last-modified: %s\n", r->last_modified);
        for (int i = 0; i < r->n_meta; i++)
            printf("x-amz-meta-%s: %s\n", r->meta[i].name, r->meta[i].value);
    }
    ivcs_s3_op_cleanup(&op);
    return 0;
}

static int do_presign(const ivcs_cli_s *c, const opts *o)
{
    if (o->npos != 1) return -2;
    char url[4096];
    uint32_t exp = o->expires > 0 ? o->expires : 3600;
    int rc = ivcs_s3_presign_get(c->s3, o->pos[0], exp, url, sizeof url);
    if (rc < 0) {
        fprintf(stderr, "ivcs s3: presign %s: %s\n", o->pos[0], ivcs_strerror(rc));
        return 1;
    }
    printf("%s\n", url);
    return 0;
}

static int do_lifecycle(const ivcs_cli_s *c, const opts *o)
{
    if (o->npos || !o->has_days) return -2;
    const char *prefix = o->prefix ? o->prefix : "";
    /* A bad prefix is a usage error, found before any request by the shared
     * S3 XML writer (it refuses what it cannot escape); 4096 bytes as in
     * ivcs_catalog_lifecycle_merge, far above S3's 1024-byte prefix limit. */
    char xml[4096];
    ivcs_s3_lifecycle_rule rule = {.id = "ivcs-expire", .prefix = prefix, .days = 1, .enabled = 1};
    int64_t n = ivcs_s3_lifecycle_xml(xml, sizeof xml, &rule, 1);
    if (n < 0) {
        fprintf(stderr, "ivcs s3: lifecycle: %s\n",
                n == IVCS_ERR_TOO_LONG ? "prefix too long"
                                       : "prefix must be UTF-8 text without control characters");
        return IVCS_EXIT_USAGE;
    }
    /* Merged, so the per-device rules of `ivcs plan set` stay. */
    ivcs_s3_result err;
    memset(&err, 0, sizeof err);
    int rc = ivcs_catalog_lifecycle_set(c->s3, "ivcs-expire", prefix, o->days, &err);
    if (rc < 0) return ivcs_cli_fail(c, "lifecycle", rc, &err);
    return IVCS_EXIT_OK;
}

/* ---------------------------------------------------------------- probe */

static int do_probe(const ivcs_cli_s *c, const opts *o)
{
    if (o->npos != 1) return -2;
    char note[512];
    int m = ivcs_s3_probe_integrity(NULL, &c->cfg, o->pos[0],
                                    o->reply_ms ? o->reply_ms : 10000, note, sizeof note, NULL);
    printf("%s\n%s\n", ivcs_integrity_name(m), note);
    return IVCS_EXIT_OK;
}

/* ---------------------------------------------------------------- main */

#define VALUED                                                                                     \
    "--config --retries --timeout-ms --reply-ms --meta --content-type --range -o --output "      \
    "--prefix --delimiter --max --page-size --expires --days --integrity --debug-corrupt"

int ivcs_cmd_s3(int argc, char **argv)
{
    static const char *const ops[] = {"put", "get", "ls",        "rm",   "head",
                                      "presign", "mb", "lifecycle", "probe"};
    for (int i = 1; i < argc; i++)
        if (ivcs_cli_is_help(argv[i])) { /* ivcs s3 [OP] ... --help */
            usage(stdout);
            return IVCS_EXIT_OK;
        }
    if (argc < 2 || argv[1][0] == '-')
        return ivcs_cli_usage_error(
            "s3", "the operation is missing: ivcs s3 put|get|ls|rm|head|presign|mb|lifecycle|probe ...");
    const char *sub = argv[1];
    int known = 0;
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++)
        known |= !strcmp(sub, ops[k]);
    if (!known) return ivcs_cli_usage_error("s3", "unknown operation '%s'", sub);
    opts o;
    memset(&o, 0, sizeof o);
    o.attempts = 3;
    o.max = -1;
    o.integrity = -1;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint32_t n;
        if (!strcmp(a, "--stats")) {
            o.stats = 1;
        } else if (!strcmp(a, "--no-md5")) {
            o.no_md5 = 1;
        } else if (!strcmp(a, "--producer")) {
            o.producer = 1;
        } else if (!strcmp(a, "--debug-bad-md5")) {
            o.bad_md5 = 1;
        } else if (!strcmp(a, "--if-none-match") && strcmp(sub, "get")) {
            o.if_none_match_star = 1;
        } else if (a[0] == '-' && a[1] && !v) {
            return ivcs_cli_bad_option("s3", a, VALUED " --if-none-match");
        } else if (!strcmp(a, "--if-none-match")) {
            o.if_none_match = argv[++i];
        } else if (!strcmp(a, "--config")) {
            o.config = argv[++i];
        } else if (!strcmp(a, "--debug-corrupt")) {
            if (ivcs_cli_u32("s3", a, v, 0, 0xfffffffe, &n) < 0) return IVCS_EXIT_USAGE;
            i++;
            o.corrupt = n + 1;
        } else if (!strcmp(a, "--integrity")) {
            i++;
            for (int m = IVCS_INTEGRITY_MD5; m <= IVCS_INTEGRITY_MAX; m++)
                if (!strcmp(v, ivcs_integrity_name(m))) o.integrity = m;
            if (o.integrity < 0)
                return ivcs_cli_usage_error(
                    "s3", "--integrity: expected md5, sha256-chunked, crc32c-trailer or md5-etag");
        } else if (!strcmp(a, "--retries")) {
            if (ivcs_cli_u32("s3", a, v, 1, 100, &o.attempts) < 0) return IVCS_EXIT_USAGE;
            i++;
        } else if (!strcmp(a, "--timeout-ms") || !strcmp(a, "--reply-ms")) {
            if (ivcs_cli_u32("s3", a, v, 0, 86400000, &n) < 0) return IVCS_EXIT_USAGE;
            i++;
            if (a[2] == 't') o.upload_ms = n;
            else o.reply_ms = n;
        } else if (!strcmp(a, "--meta")) {
            i++;
            const char *eq = strchr(v, '=');
            if (!eq || eq == v || o.n_meta >= IVCS_S3_META_MAX ||
                (size_t)(eq - v) >= sizeof o.meta[0].name ||
                strlen(eq + 1) >= sizeof o.meta[0].value) {
                return ivcs_cli_usage_error("s3", "bad --meta '%s' (k=v, at most %d)", v,
                                            IVCS_S3_META_MAX);
            }
            ivcs_s3_meta *m = &o.meta[o.n_meta++];
            memcpy(m->name, v, (size_t)(eq - v));
            m->name[eq - v] = 0;
            snprintf(m->value, sizeof m->value, "%s", eq + 1);
        } else if (!strcmp(a, "--content-type")) {
            o.content_type = argv[++i];
        } else if (!strcmp(a, "--range")) {
            o.range = argv[++i];
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            o.out = argv[++i];
        } else if (!strcmp(a, "--prefix")) {
            o.prefix = argv[++i];
        } else if (!strcmp(a, "--delimiter")) {
            o.delimiter = argv[++i];
        } else if (!strcmp(a, "--max") || !strcmp(a, "--page-size") || !strcmp(a, "--expires")) {
            if (ivcs_cli_u32("s3", a, v, 0, UINT32_MAX, &n) < 0) return IVCS_EXIT_USAGE;
            i++;
            if (a[2] == 'm') o.max = n;
            else if (a[2] == 'p') o.page_size = n;
            else o.expires = n;
        } else if (!strcmp(a, "--days")) {
            if (ivcs_cli_u32("s3", a, v, 0, 36500, &o.days) < 0) return IVCS_EXIT_USAGE;
            i++;
            o.has_days = 1;
        } else if (a[0] == '-' && a[1]) {
            return ivcs_cli_bad_option("s3", a, VALUED);
        } else if (o.npos < (int)(sizeof o.pos / sizeof o.pos[0])) {
            o.pos[o.npos++] = a;
        } else {
            return ivcs_cli_usage_error("s3", "too many arguments");
        }
    }
    ivcs_cli_s c;
    int ret = ivcs_cli_open(&c, "s3", o.config);
    if (ret) return ret;
    if (!strcmp(sub, "put")) ret = do_put(&c, &o);
    else if (!strcmp(sub, "get")) ret = do_get(&c, &o);
    else if (!strcmp(sub, "ls")) ret = do_ls(&c, &o);
    else if (!strcmp(sub, "rm")) ret = do_simple(&c, &o, IVCS_S3_DELETE, "rm");
    else if (!strcmp(sub, "head")) ret = do_simple(&c, &o, IVCS_S3_HEAD, "head");
    else if (!strcmp(sub, "mb")) ret = do_simple(&c, &o, IVCS_S3_CREATE_BUCKET, "mb");
    else if (!strcmp(sub, "presign")) ret = do_presign(&c, &o);
    else if (!strcmp(sub, "lifecycle")) ret = do_lifecycle(&c, &o);
    else if (!strcmp(sub, "probe")) ret = do_probe(&c, &o);
    else {
        fprintf(stderr, "ivcs s3: unknown operation '%s'\n", sub);
        ret = -2;
    }
    if (o.stats) {
        ivcs_http_stats st;
        ivcs_http_client_stats(ivcs_s3_http(c.s3), &st);
        fprintf(stderr,
                "ivcs s3: stats: connects %llu, full handshakes %llu, resumed %llu, "
                "reused %llu, resent %llu\n",
                (unsigned long long)st.connects, (unsigned long long)st.handshakes,
                (unsigned long long)st.resumed, (unsigned long long)st.reused,
                (unsigned long long)st.resent);
    }
    ivcs_cli_close(&c);
    if (ret == -2) {
        for (size_t k = 0; k < sizeof s3_ops / sizeof s3_ops[0]; k++)
            if (!strcmp(sub, s3_ops[k].op))
                return ivcs_cli_usage_error("s3", "wrong arguments for '%s': ivcs s3 %s %s", sub,
                                            sub, s3_ops[k].args);
        return IVCS_EXIT_USAGE;
    }
    return ret;
}
