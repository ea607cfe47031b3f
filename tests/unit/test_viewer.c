/* test_viewer.c - the public viewer API (api/include/ivcs_viewer.h) where no
 * server is needed; listing against radosgw is test_cloud_consumer.py (an
 * installed program) and the CLI's viewer commands (test_cloud_viewer.py):
 *  - open validates the configuration and sends nothing; close wipes;
 *  - parse_key accepts this device's keys only (not another device's, not
 *    a path with the device's root inside, not junk);
 *  - ranges / is_break follow the catalog's rules on plain structs;
 *  - a refused connection gives a negative code and the request's detail
 *    in last_error; the free functions take zeroed lists. */
#include <string.h>

#include "check.h"
#include "ivcs_viewer.h"

static void config(ivcs_config_s *c, const char *endpoint)
{
    ivcs_config_defaults(c);
    snprintf(c->endpoint, sizeof c->endpoint, "%s", endpoint);
    strcpy(c->bucket, "ivcs");
    strcpy(c->prefix, "tenant/");
    strcpy(c->device_id, "cam-1");
    strcpy(c->access_key, "AK");
    strcpy(c->secret_key, "SK");
}

TEST(open_validates_and_close_takes_null)
{
    ivcs_config_s c;
    config(&c, "https://127.0.0.1:9");
    strcpy(c.bucket, "");
    ivcs_viewer_s *v = (ivcs_viewer_s *)1;
    char err[128] = "";
    CHECK_EQ(ivcs_viewer_open(&v, &c, NULL, err, sizeof err), IVCS_ERR_CONFIG);
    CHECK(v == NULL);
    CHECK(err[0] != 0);
    CHECK_EQ(ivcs_viewer_open(NULL, &c, NULL, NULL, 0), IVCS_ERR_INVALID_ARG);
    ivcs_viewer_close(NULL);
}

TEST(parse_key_takes_only_this_devices_keys)
{
    ivcs_config_s c;
    config(&c, "https://127.0.0.1:9");
    ivcs_viewer_s *v = NULL;
    CHECK_EQ(ivcs_viewer_open(&v, &c, NULL, NULL, 0), 0);
    if (!v) return;
    CHECK(!strcmp(ivcs_viewer_root(v), "tenant/cam-1/"));
    ivcs_viewer_key_s k;
    CHECK_EQ(ivcs_viewer_parse_key(
                 v, "tenant/cam-1/ch2/rec/2026-01-01/1767225600000_4000_0000abcd_7k.ts", &k),
             0);
    CHECK_EQ(k.kind, 1);
    CHECK_EQ(k.channel, 2);
    CHECK_EQ(k.slice.start_ms, 1767225600000LL);
    CHECK_EQ(k.slice.dur_ms, 4000);
    CHECK_EQ(k.slice.boot, 0xabcd);
    CHECK_EQ(k.slice.seq, 7);
    CHECK_EQ(k.slice.keyframe, 1);
    CHECK_EQ(ivcs_viewer_parse_key(v, "tenant/cam-1/ch0/evt/2026-01-01/1767225600000_3.json", &k),
             0);
    CHECK_EQ(k.kind, 2);
    CHECK_EQ(k.event_id, 3);
    CHECK_EQ(ivcs_viewer_parse_key(v, "tenant/cam-1/ch0/evt/2026-01-01/1767225600000_3.jpg", &k),
             0);
    CHECK_EQ(k.kind, 3);
    /* another device, the root deeper in a path, junk: refused */
    CHECK_EQ(ivcs_viewer_parse_key(v, "tenant/cam-2/ch0/evt/2026-01-01/1767225600000_3.json", &k),
             IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_viewer_parse_key(
                 v, "x/tenant/cam-1/ch0/evt/2026-01-01/1767225600000_3.json", &k),
             IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_viewer_parse_key(v, "tenant/cam-1/plan.json", &k), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_viewer_parse_key(v, "../../etc/passwd", &k), IVCS_ERR_INVALID_ARG);
    char pk[1100];
    CHECK_EQ(ivcs_viewer_plan_key(v, pk, sizeof pk), (int)strlen("tenant/cam-1/plan.json"));
    CHECK(!strcmp(pk, "tenant/cam-1/plan.json"));
    ivcs_viewer_close(v);
}

TEST(ranges_and_breaks)
{
    ivcs_viewer_slice_s s[4] = {
        {.key = "a", .start_ms = 1000, .dur_ms = 4000, .boot = 1, .seq = 0, .keyframe = 1},
        {.key = "b", .start_ms = 5000, .dur_ms = 4000, .boot = 1, .seq = 1, .keyframe = 1},
        {.key = "c", .start_ms = 9000, .dur_ms = 4000, .boot = 2, .seq = 0, .keyframe = 1},
        {.key = "d", .start_ms = 20000, .dur_ms = 4000, .boot = 2, .seq = 1, .keyframe = 1},
    };
    ivcs_viewer_range_s r[4];
    size_t n = ivcs_viewer_ranges(s, 4, IVCS_VIEWER_GAP_MS, r);
    CHECK_EQ(n, 2);
    CHECK(r[0].start_ms == 1000 && r[0].end_ms == 13000 && r[0].first == 0 && r[0].count == 3);
    CHECK_EQ(r[0].boots, 2);
    CHECK(r[1].start_ms == 20000 && r[1].end_ms == 24000 && r[1].count == 1 && r[1].boots == 1);
    CHECK(!ivcs_viewer_is_break(&s[0], &s[1], IVCS_VIEWER_GAP_MS));
    CHECK(ivcs_viewer_is_break(&s[1], &s[2], IVCS_VIEWER_GAP_MS)); /* new boot */
    CHECK(ivcs_viewer_is_break(&s[2], &s[3], IVCS_VIEWER_GAP_MS)); /* gap */
    CHECK_EQ(ivcs_viewer_ranges(s, 0, 0, r), 0);
    char t[32];
    CHECK_EQ(ivcs_viewer_format_time(1767225600123LL, t, sizeof t), 24);
    CHECK(!strcmp(t, "2026-01-01T00:00:00.123Z"));
    CHECK(ivcs_viewer_format_time(0, t, 10) < 0);
}

TEST(refused_connection_is_reported)
{
    ivcs_config_s c;
    config(&c, "http://127.0.0.1:9"); /* discard port: nothing listens */
    ivcs_viewer_s *v = NULL;
    CHECK_EQ(ivcs_viewer_open(&v, &c, NULL, NULL, 0), 0);
    if (!v) return;
    ivcs_viewer_set_timeouts(v, 2000, 2000);
    ivcs_viewer_slices_s s;
    int rc = ivcs_viewer_list_slices(v, 0, 0, 1000, 0, &s);
    CHECK(rc < 0);
    CHECK_EQ(ivcs_viewer_last_error(v)->code, rc);
    CHECK(s.n == 0 && s.v == NULL);
    ivcs_viewer_slices_free(&s);
    ivcs_viewer_events_s e = {0};
    ivcs_viewer_events_free(&e);
    ivcs_viewer_text_s t = {0};
    ivcs_viewer_text_free(&t);
    ivcs_viewer_days_s d = {0};
    ivcs_viewer_days_free(&d);
    ivcs_viewer_close(v);
}

int main(void)
{
    RUN(open_validates_and_close_takes_null);
    RUN(parse_key_takes_only_this_devices_keys);
    RUN(ranges_and_breaks);
    RUN(refused_connection_is_reported);
    return check_done();
}
