/* viewer_consumer.c - a program outside the ivcs tree that lists a recording
 * through the installed ivcs_viewer.h only (tests/python/test_cloud_consumer.py
 * builds it against an installed prefix and compares its output with the
 * bucket). Usage: viewer_consumer CONFIG.json FROM_MS TO_MS
 * Prints "slice KEY SIZE START DUR BOOT SEQ k|p" per slice, "range START END
 * COUNT BOOTS" per recorded range, "event KEY ID START STOP" per event record,
 * then "done N". Exit 0, or 1 with the failed call on stderr. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "ivcs_viewer.h"

static int die(const ivcs_viewer_s *v, const char *what, int rc)
{
    const ivcs_viewer_error_s *e = ivcs_viewer_last_error(v);
    fprintf(stderr, "viewer_consumer: %s: %s (HTTP %d %s %s)\n", what, ivcs_strerror(rc), e->status,
            e->s3_code, e->detail);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: viewer_consumer CONFIG.json FROM_MS TO_MS\n");
        return 2;
    }
    ivcs_config_s cfg;
    char err[256] = "";
    int rc = ivcs_config_load(&cfg, argv[1], err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "viewer_consumer: config: %s: %s\n", ivcs_strerror(rc), err);
        return 1;
    }
    int64_t from = strtoll(argv[2], NULL, 10), to = strtoll(argv[3], NULL, 10);
    ivcs_viewer_s *v = NULL;
    rc = ivcs_viewer_open(&v, &cfg, NULL, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "viewer_consumer: open: %s: %s\n", ivcs_strerror(rc), err);
        return 1;
    }
    int ret = 0;
    ivcs_viewer_slices_s s = {0};
    ivcs_viewer_events_s ev = {0};
    ivcs_viewer_range_s *r = NULL;
    rc = ivcs_viewer_list_slices(v, 0, from, to, 0, &s);
    if (rc < 0) {
        ret = die(v, "list slices", rc);
        goto out;
    }
    for (size_t i = 0; i < s.n; i++)
        printf("slice %s %" PRIu64 " %" PRId64 " %" PRIu32 " %08" PRIx32 " %" PRIu32 " %c\n",
               s.v[i].key, s.v[i].size, s.v[i].start_ms, s.v[i].dur_ms, s.v[i].boot, s.v[i].seq,
               s.v[i].keyframe ? 'k' : 'p');
    r = calloc(s.n ? s.n : 1, sizeof *r);
    if (!r) {
        ret = 1;
        goto out;
    }
    size_t nr = ivcs_viewer_ranges(s.v, s.n, IVCS_VIEWER_GAP_MS, r);
    for (size_t i = 0; i < nr; i++)
        printf("range %" PRId64 " %" PRId64 " %zu %" PRIu32 "\n", r[i].start_ms, r[i].end_ms,
               r[i].count, r[i].boots);
    rc = ivcs_viewer_list_events(v, 0, from, to, &ev);
    if (rc < 0) {
        ret = die(v, "list events", rc);
        goto out;
    }
    for (size_t i = 0; i < ev.n; i++)
        printf("event %s %" PRId32 " %" PRId64 " %" PRId64 "\n", ev.v[i].key, ev.v[i].event_id,
               ev.v[i].event_start_ms, ev.v[i].event_stop_ms);
    printf("done %zu\n", s.n);
out:
    free(r);
    ivcs_viewer_events_free(&ev);
    ivcs_viewer_slices_free(&s);
    ivcs_viewer_close(v);
    return ret;
}
