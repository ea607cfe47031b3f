/* cmd_events.c - `ivcs events`: a device's event records (and pictures) of
 * a time range, read from the bucket (ivcs_viewer.h). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/cli_common.h"
#include "tools/commands.h"
#include "tools/outfile.h"
#include "tools/timearg.h"
#include "ivcs_viewer.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ivcs events --config FILE [--channel N]\n"
            "                   [--day YYYY-MM-DD | --from T --to T] [--json]\n"
            "                   [--pictures DIR]\n"
            "\n"
            "Lists the event records of the configured device whose event window overlaps\n"
            "the range (default: all): id, event and stream times, status, info and the\n"
            "picture's key. --pictures DIR downloads each event's JPEG into DIR as\n"
            "{event_start_ms}_{event_id}.jpg. A record whose \"picture\" is not the key\n"
            "the layout gives its event (the record's key with .jpg) is reported and its\n"
            "picture is neither shown nor fetched. --channel N: default 0. --json: one JSON\n"
            "array. --config: default $IVCS_CONFIG.\n"
            "%s%s"
            "exit: 0 ok, 1 no events / unknown device / S3 error / a picture failed or\n"
            "was refused, 2 usage\n",
            ivcs_cli_range_help(), ivcs_cli_time_help());
}

static void add_ms(cJSON *o, const char *name, int64_t ms)
{
    char iso_name[48], b[32];
    /* "event_start_ms" -> "event_start" */
    snprintf(iso_name, sizeof iso_name, "%.*s", (int)strlen(name) - 3, name);
    if (ms == IVCS_VIEWER_TIME_NONE) {
        cJSON_AddNullToObject(o, name);
        cJSON_AddNullToObject(o, iso_name);
        return;
    }
    cJSON_AddNumberToObject(o, name, (double)ms);
    cJSON_AddStringToObject(o, iso_name, ivcs_cli_iso(ms, b, sizeof b));
}

/* Downloads the picture of event e into dir; *path gets the file name.
 * The key is the one the layout allows for that record (ivcs_viewer.h) and the
 * local name is made here from its parsed numbers, "{start_ms}_{id}.jpg",
 * never from text of the bucket. 0 or a negative code. */
static int fetch_picture(ivcs_cli_s *c, const ivcs_viewer_event_s *e, const char *dir,
                         char *path, size_t cap)
{
    const char *key = e->picture;
    ivcs_viewer_key_s ki, kr;
    size_t kl = key ? strlen(key) : 0, rl = strlen(e->key);
    /* (the viewer refuses any other picture already; checked again here) */
    if (!key || ivcs_viewer_parse_key(c->viewer, key, &ki) < 0 || ki.kind != 3 ||
        ivcs_viewer_parse_key(c->viewer, e->key, &kr) < 0 || kr.kind != 2 || kl != rl - 1 ||
        memcmp(key, e->key, rl - 5) != 0 || ki.channel != kr.channel ||
        ki.event_start_ms != kr.event_start_ms || ki.event_id != kr.event_id)
        return IVCS_ERR_INVALID_ARG;
    int n = snprintf(path, cap, "%s/%013" PRId64 "_%" PRId32 ".jpg", dir, ki.event_start_ms,
                     ki.event_id);
    if (n < 0 || (size_t)n >= cap) return IVCS_ERR_TOO_LONG;
    ivcs_outfile_s out;
    if (ivcs_outfile_open(&out, path) < 0) return IVCS_ERR_WRITE;
    ivcs_viewer_slice_s one = {.key = key};
    uint64_t bytes;
    int rc = ivcs_viewer_export(c->viewer, &one, 1, out.fd, &bytes);
    if (rc == 0 && ivcs_outfile_commit(&out) != 0) rc = IVCS_ERR_WRITE;
    if (rc < 0) ivcs_outfile_abort(&out);
    return rc;
}

int ivcs_cmd_events(int argc, char **argv)
{
    const char *pictures = NULL;
    int json = 0;
    ivcs_cli_scope_s sc = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r = ivcs_cli_scope_opt("events", a, v, &sc);
        if (r < 0) return IVCS_EXIT_USAGE;
        if (r > 0) {
            i++;
            continue;
        }
        if (ivcs_cli_is_help(a)) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (v && !strcmp(a, "--pictures")) {
            pictures = v;
            i++;
        } else {
            return ivcs_cli_bad_option("events", a, "--config --pictures --channel --day --from --to");
        }
    }
    if (ivcs_cli_range_finish("events", &sc.range) < 0) return IVCS_EXIT_USAGE;
    if (pictures) {
        struct stat st;
        if (mkdir(pictures, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "ivcs events: cannot create %s: %s\n", pictures, strerror(errno));
            return IVCS_EXIT_FAIL;
        }
        if (stat(pictures, &st) != 0 || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "ivcs events: --pictures %s is not a directory\n", pictures);
            return IVCS_EXIT_FAIL;
        }
    }

    ivcs_cli_s c;
    int ret = ivcs_cli_open(&c, "events", sc.config);
    if (ret) return ret;
    ivcs_viewer_events_s ev = {0};
    ret = ivcs_cli_viewer(&c);
    if (ret) goto out;
    int rc = ivcs_viewer_list_events(c.viewer, sc.ch, sc.range.from, sc.range.to, &ev);
    if (rc < 0) {
        ret = ivcs_cli_fail_viewer(&c, "list events", rc);
        goto out;
    }
    if (ev.n == 0) {
        char what[160], a[32], b[32];
        snprintf(what, sizeof what, "no events on channel %" PRIu32 " in %s .. %s", sc.ch,
                 ivcs_cli_iso(sc.range.from, a, sizeof a), ivcs_cli_iso(sc.range.to, b, sizeof b));
        ret = ivcs_cli_nothing(&c, what);
        if (json) puts("[]");
        goto out;
    }
    cJSON *arr = json ? cJSON_CreateArray() : NULL;
    int pic_failed = 0, pic_refused = 0;
    for (size_t i = 0; i < ev.n; i++) {
        const ivcs_viewer_event_s *e = &ev.v[i], *r = e;
        char path[4096] = "";
        int got = 0;
        if (e->picture_refused) {
            /* the key it named is not printed: it is hostile text */
            fprintf(stderr,
                    "ivcs events: %s: its \"picture\" is not this event's picture key "
                    "(%.*s.jpg): ignored\n",
                    e->key, (int)(strlen(e->key) - 5), e->key);
            pic_refused = 1;
        }
        if (pictures && r->picture) {
            int prc = fetch_picture(&c, e, pictures, path, sizeof path);
            if (prc < 0) {
                char what[1200];
                snprintf(what, sizeof what, "picture %s", r->picture);
                if (prc == IVCS_ERR_INVALID_ARG || prc == IVCS_ERR_TOO_LONG ||
                    prc == IVCS_ERR_WRITE)
                    ivcs_cli_fail(&c, what, prc, NULL); /* no request failed */
                else
                    ivcs_cli_fail_viewer(&c, what, prc);
                pic_failed = 1;
            } else {
                got = 1;
            }
        }
        if (json) {
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "key", e->key);
            cJSON_AddNumberToObject(o, "event_id", r->event_id);
            cJSON_AddNumberToObject(o, "channel", r->channel);
            cJSON_AddStringToObject(o, "status", (r->event_stop_ms != IVCS_VIEWER_TIME_NONE) ? "closed" : "open");
            cJSON_AddStringToObject(o, "info", r->info ? r->info : "");
            add_ms(o, "event_start_ms", r->event_start_ms);
            add_ms(o, "event_stop_ms", r->event_stop_ms);
            add_ms(o, "stream_start_ms", r->stream_start_ms);
            add_ms(o, "stream_stop_ms", r->stream_stop_ms);
            if (r->picture)
                cJSON_AddStringToObject(o, "picture", r->picture);
            else
                cJSON_AddNullToObject(o, "picture");
            cJSON_AddBoolToObject(o, "picture_listed", e->picture_listed != 0);
            cJSON_AddBoolToObject(o, "picture_refused", e->picture_refused != 0);
            if (got) cJSON_AddStringToObject(o, "picture_file", path);
            cJSON_AddItemToArray(arr, o);
        } else {
            char a[32], b[32];
            printf("event %2" PRId32 "  %s .. %s  %-6s", r->event_id,
                   ivcs_cli_iso(r->event_start_ms, a, sizeof a),
                   (r->event_stop_ms != IVCS_VIEWER_TIME_NONE) ? ivcs_cli_iso(r->event_stop_ms, b, sizeof b)
                                               : "(open)                  ",
                   (r->event_stop_ms != IVCS_VIEWER_TIME_NONE) ? "closed" : "open");
            printf("  stream %s .. %s", ivcs_cli_iso(r->stream_start_ms, a, sizeof a),
                   r->stream_stop_ms == IVCS_VIEWER_TIME_NONE
                       ? "(open)"
                       : ivcs_cli_iso(r->stream_stop_ms, b, sizeof b));
            if (r->info && r->info[0]) {
                /* the info comes from the bucket: no terminal control bytes */
                printf("  info \"");
                for (const unsigned char *q = (const unsigned char *)r->info; *q; q++) {
                    if (*q < 0x20 || *q == 0x7f)
                        printf("\\x%02x", *q);
                    else if (*q == '"' || *q == '\\')
                        printf("\\%c", *q);
                    else
                        putchar(*q);
                }
                printf("\"");
            }
            printf("\n    record  %s\n", e->key);
            if (r->picture)
                printf("    picture %s%s%s%s\n", r->picture, e->picture_listed ? "" : " (missing)",
                       got ? " -> " : "", got ? path : "");
        }
    }
    if (json) {
        char *txt = cJSON_Print(arr);
        cJSON_Delete(arr);
        if (txt) puts(txt);
        free(txt);
    }
    if (ev.bad)
        fprintf(stderr, "ivcs events: %zu event record(s) could not be read or parsed\n", ev.bad);
    if (fflush(stdout) != 0) {
        fprintf(stderr, "ivcs events: write failed\n");
        ret = IVCS_EXIT_FAIL;
    }
    if (pic_failed || pic_refused) ret = IVCS_EXIT_FAIL;
out:
    ivcs_viewer_events_free(&ev);
    ivcs_cli_close(&c);
    return ret;
}
