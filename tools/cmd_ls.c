/* cmd_ls.c - `ivcs ls`: the days and time ranges a device recorded, from
 * the bucket's object layout alone (catalog.h). */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli_common.h"
#include "tools/commands.h"
#include "tools/timearg.h"
#include "ivcs_viewer.h"

/* Days since 1970-01-01 of UTC ms (floor). */
static int64_t day_of_ms(int64_t ms)
{
    int64_t q = ms / 86400000LL;
    return ms % 86400000LL < 0 ? q - 1 : q;
}

/* "YYYY-MM-DD" of a day number into d (cap >= 25); 1, or 0 if out of range. */
static int format_date(int64_t day, char *d, size_t cap)
{
    if (ivcs_viewer_format_time(day * 86400000LL, d, cap) < 0) return 0;
    d[10] = 0;
    return 1;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ivcs ls --config FILE [--channel N] [--day YYYY-MM-DD | --from T --to T]\n"
            "               [--gap-ms MS] [--slices] [--json]\n"
            "\n"
            "Lists the UTC days with recordings of the configured device (channel N, default\n"
            "0) and the recorded time ranges: slices merged while the gap between one's end\n"
            "and the next one's start is at most --gap-ms (default %u). Without a range:\n"
            "everything. --slices also lists every slice (key, start, duration, boot).\n"
            "--json: one JSON document. --config: default $IVCS_CONFIG.\n"
            "%s%s"
            "exit: 0 ok, 1 nothing recorded in the range / unknown device / S3 error,\n"
            "2 usage\n",
            IVCS_VIEWER_GAP_MS, ivcs_cli_range_help(), ivcs_cli_time_help());
}

static void json_iso(cJSON *o, const char *name, int64_t ms)
{
    char b[32];
    cJSON_AddStringToObject(o, name, ivcs_cli_iso(ms, b, sizeof b));
}

int ivcs_cmd_ls(int argc, char **argv)
{
    uint32_t gap = IVCS_VIEWER_GAP_MS;
    int json = 0, slices = 0;
    ivcs_cli_scope_s sc = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r = ivcs_cli_scope_opt("ls", a, v, &sc);
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
        } else if (!strcmp(a, "--slices")) {
            slices = 1;
        } else if (v && !strcmp(a, "--gap-ms")) {
            if (ivcs_cli_u32("ls", a, v, 0, 86400000, &gap) < 0) return IVCS_EXIT_USAGE;
            i++;
        } else {
            return ivcs_cli_bad_option("ls", a, "--config --channel --gap-ms --day --from --to");
        }
    }
    if (ivcs_cli_range_finish("ls", &sc.range) < 0) return IVCS_EXIT_USAGE;

    ivcs_cli_s c;
    int ret = ivcs_cli_open(&c, "ls", sc.config);
    if (ret) return ret;
    ivcs_viewer_days_s dl = {0};
    ivcs_viewer_slices_s sl = {0};
    ivcs_viewer_range_s *rg = NULL;
    ret = ivcs_cli_viewer(&c);
    if (ret) goto out;
    int rc = ivcs_viewer_days(c.viewer, sc.ch, 0, &dl);
    if (rc < 0) {
        ret = ivcs_cli_fail_viewer(&c, "list days", rc);
        goto out;
    }
    const int64_t *days = dl.day;
    size_t nd = dl.n;
    if (nd == 0) {
        char what[64];
        snprintf(what, sizeof what, "no recordings on channel %" PRIu32, sc.ch);
        ret = ivcs_cli_nothing(&c, what);
        goto out;
    }
    rc = ivcs_viewer_list_slices(c.viewer, sc.ch, sc.range.from, sc.range.to, 0, &sl);
    if (rc < 0) {
        ret = ivcs_cli_fail_viewer(&c, "list slices", rc);
        goto out;
    }
    rg = calloc(sl.n ? sl.n : 1, sizeof *rg);
    if (!rg) {
        ret = ivcs_cli_fail(&c, "ls", IV_ERR_SYS_MALLOC_FAIL, NULL);
        goto out;
    }
    size_t nr = ivcs_viewer_ranges(sl.v, sl.n, gap, rg);
    /* days of the range (a slice found by looking back may sit on the day
     * before: its day is shown when it is among the slices) */
    int64_t dlo = day_of_ms(sc.range.from);
    int64_t dhi = day_of_ms(sc.range.to - 1);
    if (sl.n) {
        int64_t d0 = day_of_ms(sl.v[0].start_ms);
        if (d0 < dlo) dlo = d0;
    }
    uint64_t bytes = 0;
    int64_t recorded = 0;
    for (size_t i = 0; i < sl.n; i++)
        bytes += sl.v[i].size;
    for (size_t i = 0; i < nr; i++)
        recorded += rg[i].end_ms - rg[i].start_ms;
    char a[32], b[32];

    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "device", c.cfg.device_id);
        cJSON_AddStringToObject(o, "bucket", c.cfg.bucket);
        cJSON_AddStringToObject(o, "prefix", c.cfg.prefix);
        cJSON_AddNumberToObject(o, "channel", sc.ch);
        cJSON_AddNumberToObject(o, "from_ms", (double)sc.range.from);
        cJSON_AddNumberToObject(o, "to_ms", (double)sc.range.to);
        cJSON_AddNumberToObject(o, "gap_ms", gap);
        cJSON *jd = cJSON_AddArrayToObject(o, "days");
        for (size_t i = 0; i < nd; i++) {
            if (days[i] < dlo || days[i] > dhi) continue;
            char d[32];
            if (format_date(days[i], d, sizeof d))
                cJSON_AddItemToArray(jd, cJSON_CreateString(d));
        }
        cJSON *jr = cJSON_AddArrayToObject(o, "ranges");
        for (size_t i = 0; i < nr; i++) {
            cJSON *r = cJSON_CreateObject();
            cJSON_AddNumberToObject(r, "start_ms", (double)rg[i].start_ms);
            cJSON_AddNumberToObject(r, "end_ms", (double)rg[i].end_ms);
            json_iso(r, "start", rg[i].start_ms);
            json_iso(r, "end", rg[i].end_ms);
            cJSON_AddNumberToObject(r, "duration_ms", (double)(rg[i].end_ms - rg[i].start_ms));
            cJSON_AddNumberToObject(r, "slices", (double)rg[i].count);
            cJSON_AddNumberToObject(r, "boots", rg[i].boots);
            uint64_t rb = 0;
            for (size_t k = rg[i].first; k < rg[i].first + rg[i].count; k++)
                rb += sl.v[k].size;
            cJSON_AddNumberToObject(r, "bytes", (double)rb);
            cJSON_AddItemToArray(jr, r);
        }
        cJSON_AddNumberToObject(o, "slices", (double)sl.n);
        cJSON_AddNumberToObject(o, "bytes", (double)bytes);
        cJSON_AddNumberToObject(o, "recorded_ms", (double)recorded);
        if (slices) {
            cJSON *js = cJSON_AddArrayToObject(o, "slice_list");
            for (size_t i = 0; i < sl.n; i++) {
                const ivcs_viewer_slice_s *s = &sl.v[i];
                cJSON *x = cJSON_CreateObject();
                char boot[9];
                snprintf(boot, sizeof boot, "%08" PRIx32, s->boot);
                cJSON_AddStringToObject(x, "key", sl.v[i].key);
                cJSON_AddNumberToObject(x, "start_ms", (double)s->start_ms);
                cJSON_AddNumberToObject(x, "dur_ms", s->dur_ms);
                cJSON_AddStringToObject(x, "boot", boot);
                cJSON_AddNumberToObject(x, "seq", s->seq);
                cJSON_AddBoolToObject(x, "keyframe", s->keyframe != 0);
                cJSON_AddNumberToObject(x, "size", (double)sl.v[i].size);
                cJSON_AddItemToArray(js, x);
            }
        }
        char *txt = cJSON_Print(o);
        cJSON_Delete(o);
        if (!txt) {
            ret = ivcs_cli_fail(&c, "ls", IV_ERR_SYS_MALLOC_FAIL, NULL);
            goto out;
        }
        puts(txt);
        free(txt);
    } else {
        printf("device %s  channel %" PRIu32 "  bucket %s\n", c.cfg.device_id, sc.ch, c.cfg.bucket);
        printf("days:");
        for (size_t i = 0; i < nd; i++) {
            char d[32];
            if (days[i] >= dlo && days[i] <= dhi && format_date(days[i], d, sizeof d))
                printf(" %s", d);
        }
        printf("\n");
        for (size_t i = 0; i < nr; i++) {
            int64_t d = rg[i].end_ms - rg[i].start_ms;
            printf("  %s .. %s  %" PRId64 ".%03d s  %zu slices  %" PRIu32 " boot%s\n",
                   ivcs_cli_iso(rg[i].start_ms, a, sizeof a),
                   ivcs_cli_iso(rg[i].end_ms, b, sizeof b), d / 1000, (int)(d % 1000), rg[i].count,
                   rg[i].boots, rg[i].boots > 1 ? "s" : "");
        }
        if (slices)
            for (size_t i = 0; i < sl.n; i++)
                printf("    %s  %s  %" PRIu32 " ms\n",
                       ivcs_cli_iso(sl.v[i].start_ms, a, sizeof a), sl.v[i].key,
                       sl.v[i].dur_ms);
        printf("total: %zu range%s, %zu slices, %" PRId64 ".%03d s recorded, %" PRIu64 " bytes\n",
               nr, nr == 1 ? "" : "s", sl.n, recorded / 1000, (int)(recorded % 1000), bytes);
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "ivcs ls: write failed\n");
        ret = IVCS_EXIT_FAIL;
    } else if (sl.n == 0) {
        fprintf(stderr, "ivcs ls: no recordings of device '%s' channel %" PRIu32 " in %s .. %s\n",
                c.cfg.device_id, sc.ch, ivcs_cli_iso(sc.range.from, a, sizeof a),
                ivcs_cli_iso(sc.range.to, b, sizeof b));
        ret = IVCS_EXIT_FAIL;
    }
out:
    free(rg);
    ivcs_viewer_days_free(&dl);
    ivcs_viewer_slices_free(&sl);
    ivcs_cli_close(&c);
    return ret;
}
