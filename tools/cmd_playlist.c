/* cmd_playlist.c - `ivcs playlist`: an HLS VOD playlist of presigned GET
 * URLs for a time range or an event, played straight from the bucket. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/cli_common.h"
#include "tools/commands.h"
#include "tools/timearg.h"
#include "ivcs_viewer.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ivcs playlist --config FILE [--day D | --from T --to T | --event KEY]\n"
            "                     [--channel N] [--expires S] [--gap-ms MS] [-o FILE]\n"
            "\n"
            "Writes an HLS VOD playlist (to stdout, or -o FILE) whose segments are the slices\n"
            "overlapping the range, as presigned HTTPS GET URLs valid for --expires seconds\n"
            "(default 3600, at most 604800). If the first slice continues a GOP ('p'), the\n"
            "slices back to its key frame are included so playback can start.\n"
            "#EXT-X-DISCONTINUITY marks gaps over --gap-ms (default %u) and new boots.\n"
            "--event KEY: the range of that event record's stream (stream_start_ms ..\n"
            "stream_stop_ms, or up to now while it is open); KEY is the record's object key,\n"
            "with or without the '{prefix}{device}/' part. --channel N: default 0.\n"
            "-o/--out FILE: write there instead of stdout. --config: default $IVCS_CONFIG.\n"
            "%s%s"
            "exit: 0 ok, 1 nothing recorded / unknown device or event / S3 error, 2 usage\n",
            IVCS_VIEWER_GAP_MS, ivcs_cli_range_help(), ivcs_cli_time_help());
}

int ivcs_cmd_playlist(int argc, char **argv)
{
    const char *event = NULL, *outp = NULL;
    uint32_t gap = IVCS_VIEWER_GAP_MS, expires = 3600;
    ivcs_cli_scope_s sc = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r = ivcs_cli_scope_opt("playlist", a, v, &sc);
        if (r < 0) return IVCS_EXIT_USAGE;
        if (r > 0) {
            i++;
            continue;
        }
        if (ivcs_cli_is_help(a)) {
            usage(stdout);
            return 0;
        } else if (v && !strcmp(a, "--event")) {
            event = v;
            i++;
        } else if (v && (!strcmp(a, "-o") || !strcmp(a, "--out"))) {
            outp = v;
            i++;
        } else if (v && !strcmp(a, "--expires")) {
            if (ivcs_cli_u32("playlist", a, v, 1, 604800, &expires) < 0) return IVCS_EXIT_USAGE;
            i++;
        } else if (v && !strcmp(a, "--gap-ms")) {
            if (ivcs_cli_u32("playlist", a, v, 0, 86400000, &gap) < 0) return IVCS_EXIT_USAGE;
            i++;
        } else {
            return ivcs_cli_bad_option(
                "playlist", a,
                "--config --event -o --out --channel --expires --gap-ms --day --from --to");
        }
    }
    if (event && (sc.range.has_from || sc.range.has_to || sc.range.has_day)) {
        return ivcs_cli_usage_error("playlist", "give --event or a range, not both");
    }
    if (!event && ivcs_cli_range_finish("playlist", &sc.range) < 0) return IVCS_EXIT_USAGE;

    ivcs_cli_s c;
    int ret = ivcs_cli_open(&c, "playlist", sc.config);
    if (ret) return ret;
    ivcs_viewer_slices_s sl = {0};
    ivcs_viewer_text_s m3u = {0};
    char *key = NULL;
    int rc;
    char a[32], b[32];
    ret = ivcs_cli_viewer(&c);
    if (ret) goto out;
    if (event) {
        /* the record's key, relative to the device's root or full */
        const char *root = ivcs_viewer_root(c.viewer);
        size_t rl = strlen(root), el = strlen(event);
        key = malloc(rl + el + 1);
        if (!key) {
            ret = ivcs_cli_fail(&c, "playlist", IV_ERR_SYS_MALLOC_FAIL, NULL);
            goto out;
        }
        if (el >= rl && !memcmp(event, root, rl))
            memcpy(key, event, el + 1);
        else
            snprintf(key, rl + el + 1, "%s%s", root, event);
        ivcs_viewer_key_s ki;
        if (ivcs_viewer_parse_key(c.viewer, key, &ki) < 0 || ki.kind != 2) {
            fprintf(stderr,
                    "ivcs playlist: --event %s is not an event record key of device '%s' "
                    "(%sch{N}/evt/YYYY-MM-DD/{start_ms}_{id}.json)\n",
                    event, c.cfg.device_id, root);
            ret = IVCS_EXIT_USAGE;
            goto out;
        }
        if (sc.has_ch && ki.channel != sc.ch) {
            fprintf(stderr,
                    "ivcs playlist: --event %s is on channel %" PRIu32 ", not %" PRIu32 "\n", event,
                    ki.channel, sc.ch);
            ret = IVCS_EXIT_USAGE;
            goto out;
        }
        sc.ch = ki.channel;
        ivcs_viewer_events_s ev;
        rc = ivcs_viewer_get_event(c.viewer, key, &ev);
        if (rc == IVCS_ERR_NOT_FOUND &&
            strcmp(ivcs_viewer_last_error(c.viewer)->s3_code, "NoSuchBucket")) {
            fprintf(stderr, "ivcs playlist: no event record %s in bucket '%s'\n", key,
                    c.cfg.bucket);
            ret = IVCS_EXIT_FAIL;
            goto out;
        }
        if (rc == IVCS_ERR_INVALID_ARG || rc == IVCS_ERR_TOO_LONG) {
            fprintf(stderr, "ivcs playlist: %s is not a valid event record\n", key);
            ret = IVCS_EXIT_FAIL;
            goto out;
        }
        if (rc < 0) {
            ret = ivcs_cli_fail_viewer(&c, "get event", rc);
            goto out;
        }
        sc.range.from = ev.v[0].stream_start_ms;
        if (ev.v[0].stream_stop_ms != IVCS_VIEWER_TIME_NONE) {
            sc.range.to = ev.v[0].stream_stop_ms;
        } else {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            sc.range.to = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        }
        if (sc.range.to <= sc.range.from) sc.range.to = sc.range.from + 1;
        ivcs_viewer_events_free(&ev);
    }
    rc = ivcs_viewer_list_slices(c.viewer, sc.ch, sc.range.from, sc.range.to,
                                 IVCS_VIEWER_FROM_KEYFRAME, &sl);
    if (rc < 0) {
        ret = ivcs_cli_fail_viewer(&c, "list slices", rc);
        goto out;
    }
    if (sl.n == 0) {
        char what[160];
        snprintf(what, sizeof what, "no recordings on channel %" PRIu32 " in %s .. %s", sc.ch,
                 ivcs_cli_iso(sc.range.from, a, sizeof a), ivcs_cli_iso(sc.range.to, b, sizeof b));
        ret = ivcs_cli_nothing(&c, what);
        goto out;
    }
    rc = ivcs_viewer_playlist(c.viewer, sl.v, sl.n, expires, gap, &m3u);
    if (rc < 0) {
        ret = ivcs_cli_fail(&c, "playlist", rc, NULL);
        goto out;
    }
    FILE *f = outp && strcmp(outp, "-") ? fopen(outp, "w") : stdout;
    if (!f) {
        fprintf(stderr, "ivcs playlist: cannot write %s\n", outp);
        ret = IVCS_EXIT_FAIL;
        goto out;
    }
    int ok = fwrite(m3u.p, 1, m3u.len, f) == m3u.len;
    ok = (f == stdout ? fflush(f) : fclose(f)) == 0 && ok;
    if (!ok) {
        fprintf(stderr, "ivcs playlist: write failed\n");
        ret = IVCS_EXIT_FAIL;
        goto out;
    }
    size_t breaks = 0;
    int64_t dur = 0;
    for (size_t i = 0; i < sl.n; i++) {
        dur += sl.v[i].dur_ms;
        if (i && ivcs_viewer_is_break(&sl.v[i - 1], &sl.v[i], gap)) breaks++;
    }
    fprintf(stderr,
            "ivcs playlist: %zu segments from %s, %" PRId64 ".%03d s, %zu discontinuit%s; "
            "URLs valid for %" PRIu32 " s\n",
            sl.n, ivcs_cli_iso(sl.v[0].start_ms, a, sizeof a), dur / 1000, (int)(dur % 1000),
            breaks, breaks == 1 ? "y" : "ies", expires);
out:
    ivcs_viewer_text_free(&m3u);
    free(key);
    ivcs_viewer_slices_free(&sl);
    ivcs_cli_close(&c);
    return ret;
}
