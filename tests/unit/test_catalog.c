/* test_catalog.c - the pure parts of the viewer catalog (engine/viewer/catalog.h):
 * range merging, discontinuities, the slice filter with its key-frame
 * look-back, and the lifecycle read-modify-write. The S3 parts are tested
 * against radosgw in tests/python/test_cloud_viewer.py. */
#include "engine/viewer/catalog.h"

#include "check.h"

#define T0 1795651190000LL

static void add(ivcs_catalog_slices_s *s, int64_t start, uint32_t dur, uint32_t boot, uint32_t seq,
                int k)
{
    ivcs_slice_name_s n = {
        .start_ms = start, .dur_ms = dur, .boot = boot, .seq = seq, .keyframe = k};
    char key[64];
    snprintf(key, sizeof key, "%013lld_%u_%08x_%u%c.ts", (long long)start, dur, boot, seq,
             k ? 'k' : 'p');
    int rc = ivcs_catalog_slices_add(s, key, 1000 + seq, &n);
    CHECK_EQ(rc, 0);
}

TEST(merge_ranges)
{
    ivcs_catalog_slices_s s = {0};
    ivcs_catalog_range_s r[16];
    CHECK_EQ(ivcs_catalog_merge(NULL, 0, 1500, r), 0);
    /* boot 1: three back-to-back slices; boot 2 continues at once; a gap of
     * exactly the tolerance joins, one ms more splits; an overlap joins */
    add(&s, T0, 4000, 1, 0, 1);
    add(&s, T0 + 4000, 4000, 1, 1, 1);
    add(&s, T0 + 8000, 4032, 1, 2, 1);
    add(&s, T0 + 12032, 4000, 2, 0, 1);
    add(&s, T0 + 16032 + 1500, 4000, 2, 1, 1); /* gap 1500: joins */
    add(&s, T0 + 21532 + 1501, 4000, 2, 2, 1); /* gap 1501: new range */
    add(&s, T0 + 27033 - 500, 400, 3, 0, 1);   /* overlaps, ends inside */
    add(&s, T0 + 60000, 0, 3, 1, 1);           /* zero-length, alone */
    ivcs_catalog_slices_sort(&s);
    size_t n = ivcs_catalog_merge(s.v, s.n, 1500, r);
    CHECK_EQ(n, 3);
    CHECK_EQ(r[0].start_ms, T0);
    CHECK_EQ(r[0].end_ms, T0 + 21532);
    CHECK_EQ(r[0].first, 0);
    CHECK_EQ(r[0].count, 5);
    CHECK_EQ(r[0].boots, 2);
    CHECK_EQ(r[1].start_ms, T0 + 23033);
    CHECK_EQ(r[1].end_ms, T0 + 27033); /* the overlapping slice does not shorten it */
    CHECK_EQ(r[1].count, 2);
    CHECK_EQ(r[1].boots, 2);
    CHECK_EQ(r[2].start_ms, T0 + 60000);
    CHECK_EQ(r[2].end_ms, T0 + 60000);
    CHECK_EQ(r[2].count, 1);
    /* tolerance 0: every gap splits, touching slices do not */
    CHECK_EQ(ivcs_catalog_merge(s.v, s.n, 0, r), 4);
    /* a large tolerance: one range */
    CHECK_EQ(ivcs_catalog_merge(s.v, s.n, 60000, r), 1);
    CHECK_EQ(r[0].count, 8);
    CHECK_EQ(r[0].boots, 3);
    ivcs_catalog_slices_free(&s);
    CHECK(s.v == NULL && s.n == 0);
}

TEST(sort_order)
{
    ivcs_catalog_slices_s s = {0};
    add(&s, T0 + 8000, 4000, 7, 2, 1);
    add(&s, T0, 4000, 9, 0, 1);
    add(&s, T0, 4000, 7, 0, 1); /* same start, another boot (clock stepped back) */
    add(&s, T0 + 4000, 4000, 7, 1, 1);
    ivcs_catalog_slices_sort(&s);
    CHECK_EQ(s.v[0].name.boot, 7);
    CHECK_EQ(s.v[1].name.boot, 9);
    CHECK_EQ(s.v[2].name.start_ms, T0 + 4000);
    CHECK_EQ(s.v[3].name.seq, 2);
    CHECK(strstr(s.v[1].key, "_00000009_0k.ts") != NULL);
    ivcs_catalog_slices_free(&s);
}

TEST(discontinuities)
{
    ivcs_catalog_slice_s a = {.name = {.start_ms = T0, .dur_ms = 4000, .boot = 1}};
    ivcs_catalog_slice_s b = a;
    b.name.start_ms = T0 + 4000;
    CHECK(!ivcs_catalog_is_break(&a, &b, 1500));
    b.name.start_ms = T0 + 5500;
    CHECK(!ivcs_catalog_is_break(&a, &b, 1500));
    b.name.start_ms = T0 + 5501;
    CHECK(ivcs_catalog_is_break(&a, &b, 1500)); /* a gap */
    b.name.start_ms = T0 + 2500;
    CHECK(!ivcs_catalog_is_break(&a, &b, 1500));
    b.name.start_ms = T0 + 2499;
    CHECK(ivcs_catalog_is_break(&a, &b, 1500)); /* the clock stepped back */
    b.name.start_ms = T0 + 4000;
    b.name.boot = 2;
    CHECK(ivcs_catalog_is_break(&a, &b, 1500)); /* a new boot, even when contiguous */
}

static int has(const ivcs_catalog_slices_s *s, int64_t start)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].name.start_ms == start) return 1;
    return 0;
}

TEST(filter_overlap_and_keyframe)
{
    /* boot 1: k p p k p; boot 2 (contiguous in time) starts with p (a
     * recording that began mid-GOP has no key frame to go back to) */
    for (int kf = 0; kf < 2; kf++) {
        ivcs_catalog_slices_s s = {0};
        add(&s, T0, 1000, 1, 0, 1);
        add(&s, T0 + 1000, 1000, 1, 1, 0);
        add(&s, T0 + 2000, 1000, 1, 2, 0);
        add(&s, T0 + 3000, 1000, 1, 3, 1);
        add(&s, T0 + 4000, 1000, 1, 4, 0);
        add(&s, T0 + 5000, 1000, 2, 0, 0);
        add(&s, T0 + 6000, 0, 2, 1, 1);
        ivcs_catalog_filter(&s, T0 + 2500, T0 + 3000, kf ? IVCS_CATALOG_FROM_KEYFRAME : 0);
        if (!kf) {
            CHECK_EQ(s.n, 1); /* only the slice containing the range */
            CHECK(has(&s, T0 + 2000));
        } else {
            CHECK_EQ(s.n, 3); /* back to its GOP's k slice */
            CHECK(has(&s, T0) && has(&s, T0 + 1000) && has(&s, T0 + 2000));
        }
        ivcs_catalog_slices_free(&s);
    }
    ivcs_catalog_slices_s s = {0};
    add(&s, T0, 1000, 1, 0, 1);
    add(&s, T0 + 1000, 1000, 1, 1, 0);
    add(&s, T0 + 5000, 1000, 1, 2, 0); /* after a gap: its GOP's start is not contiguous */
    add(&s, T0 + 6000, 1000, 2, 0, 0);
    add(&s, T0 + 7000, 0, 2, 1, 1);
    add(&s, T0 + 8000, 1000, 2, 2, 1);
    ivcs_catalog_filter(&s, T0 + 5500, T0 + 8000, IVCS_CATALOG_FROM_KEYFRAME);
    /* no look-back over the gap; [from, to) is half-open; a zero-length
     * slice at a time inside the range counts */
    CHECK_EQ(s.n, 3);
    CHECK(has(&s, T0 + 5000) && has(&s, T0 + 6000) && has(&s, T0 + 7000));
    ivcs_catalog_slices_free(&s);

    /* a slice that ended exactly at from does not overlap */
    add(&s, T0, 1000, 1, 0, 1);
    add(&s, T0 + 1000, 1000, 1, 1, 1);
    ivcs_catalog_filter(&s, T0 + 1000, T0 + 1001, 0);
    CHECK_EQ(s.n, 1);
    CHECK(has(&s, T0 + 1000));
    ivcs_catalog_filter(&s, T0 + 5000, T0 + 6000, IVCS_CATALOG_FROM_KEYFRAME);
    CHECK_EQ(s.n, 0);
    ivcs_catalog_slices_free(&s);
}

static const char other_rules[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>"
    "<LifecycleConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
    "<Rule><ID>logs</ID><Filter><And><Prefix>logs/</Prefix><Tag><Key>a</Key><Value>b</Value>"
    "</Tag></And></Filter><Status>Enabled</Status><Transition><Days>5</Days>"
    "<StorageClass>GLACIER</StorageClass></Transition><Expiration><Days>90</Days></Expiration>"
    "</Rule>"
    "<Rule><ID>ivcs:cams/cam-1/</ID><Filter><Prefix>cams/cam-1/ch</Prefix></Filter>"
    "<Status>Enabled</Status><Expiration><Days>7</Days></Expiration></Rule>"
    "<Rule><ID>tmp &amp; old</ID><Prefix>tmp/</Prefix><Status>Disabled</Status>"
    "<Expiration><Date>2030-01-01T00:00:00.000Z</Date></Expiration></Rule>"
    "</LifecycleConfiguration>";

#define RULE_LOGS_START "<Rule><ID>logs</ID>"
#define RULE_TMP                                                                                   \
    "<Rule><ID>tmp &amp; old</ID><Prefix>tmp/</Prefix><Status>Disabled</Status>"                   \
    "<Expiration><Date>2030-01-01T00:00:00.000Z</Date></Expiration></Rule>"

TEST(lifecycle_merge)
{
    char *x = NULL;
    size_t n = 0;
    int found = -1;
    uint32_t old = 99;
    const size_t L = sizeof other_rules - 1;
    const char *id = "ivcs:cams/cam-1/", *pfx = "cams/cam-1/ch";

    /* replace ours: the others stay byte for byte, ours goes last */
    CHECK_EQ(ivcs_catalog_lifecycle_merge(other_rules, L, id, pfx, 30, &x, &n, &found, &old), 0);
    CHECK_EQ(found, 1);
    CHECK_EQ(old, 7);
    CHECK(x && strlen(x) == n);
    const char *logs = strstr(other_rules, RULE_LOGS_START);
    size_t logs_len = (size_t)(strstr(logs, "</Rule>") + 7 - logs);
    CHECK(x && strstr(x, RULE_TMP) != NULL);
    CHECK(x && memmem(x, n, logs, logs_len) != NULL);
    CHECK(x && strstr(x, "<Days>7</Days>") == NULL);
    CHECK(x && strstr(x, "<ID>ivcs:cams/cam-1/</ID>") != NULL);
    CHECK(x && strstr(x, "<Prefix>cams/cam-1/ch</Prefix>") != NULL);
    CHECK(x && strstr(x, "<Days>30</Days>") > strstr(x, RULE_TMP));
    CHECK(x && strstr(x, "<Days>90</Days>") != NULL); /* the other rule's expiration */
    /* the result is itself a valid input: ours found with the new days */
    char *y = NULL;
    size_t yn;
    if (x) {
        CHECK_EQ(ivcs_catalog_lifecycle_merge(x, n, id, pfx, 30, &y, &yn, &found, &old), 0);
        CHECK_EQ(found, 1);
        CHECK_EQ(old, 30);
        CHECK(y && yn == n && !memcmp(x, y, n)); /* idempotent */
        free(y);
    }
    free(x);

    /* remove ours: the two others remain */
    CHECK_EQ(ivcs_catalog_lifecycle_merge(other_rules, L, id, pfx, 0, &x, &n, &found, &old), 0);
    CHECK(x && strstr(x, "ivcs:") == NULL && strstr(x, RULE_TMP) != NULL);
    CHECK(x && memmem(x, n, logs, logs_len) != NULL);
    free(x);

    /* another device: added, ours of cam-1 untouched */
    CHECK_EQ(ivcs_catalog_lifecycle_merge(other_rules, L, "ivcs:cams/cam-2/", "cams/cam-2/ch", 3,
                                          &x, &n, &found, &old),
             0);
    CHECK_EQ(found, 0);
    CHECK_EQ(old, 0);
    CHECK(x && strstr(x, "<Days>7</Days>") != NULL && strstr(x, "<Days>3</Days>") != NULL);
    free(x);

    /* no configuration yet */
    CHECK_EQ(ivcs_catalog_lifecycle_merge(NULL, 0, id, pfx, 5, &x, &n, &found, NULL), 0);
    CHECK_EQ(found, 0);
    CHECK(x && strstr(x, "<Rule><ID>ivcs:cams/cam-1/</ID>") && strstr(x, "<Days>5</Days>"));
    free(x);

    /* removing the only rule leaves nothing (the caller deletes the configuration) */
    static const char only[] =
        "<LifecycleConfiguration><Rule><ID>ivcs:cams/cam-1/</ID><Prefix>cams/cam-1/ch</Prefix>"
        "<Status>Enabled</Status><Expiration><Days>7</Days></Expiration></Rule>"
        "</LifecycleConfiguration>";
    x = (char *)1;
    CHECK_EQ(ivcs_catalog_lifecycle_merge(only, sizeof only - 1, id, pfx, 0, &x, &n, &found, &old),
             0);
    CHECK(x == NULL && n == 0 && found == 1 && old == 7);

    /* a broken document is an error, never a silent wipe */
    x = NULL;
    CHECK_EQ(ivcs_catalog_lifecycle_merge(other_rules, L - 10, id, pfx, 7, &x, &n, NULL, NULL),
             IVCS_ERR_XML);
    CHECK(x == NULL);
    CHECK_EQ(ivcs_catalog_lifecycle_merge(NULL, 5, id, pfx, 7, &x, &n, NULL, NULL),
             IVCS_ERR_INVALID_ARG);

    /* issue 9: the root element is checked. A bucket listing (a server that
     * ignored ?lifecycle) is "unsupported", not "no rules"; even one holding
     * a <Rule> of our ID is never read as ours (no DELETE follows). */
    static const char listing[] =
        "<ListBucketResult><Name>b</Name><Rule><ID>ivcs:cams/cam-1/</ID></Rule>"
        "<IsTruncated>false</IsTruncated></ListBucketResult>";
    found = 7;
    CHECK_EQ(ivcs_catalog_lifecycle_merge(listing, sizeof listing - 1, id, pfx, 0, &x, &n, &found,
                                          NULL),
             IVCS_ERR_UNSUPPORTED);
    CHECK(x == NULL && found == 0);
    static const char other[] = "<Error><Rule><ID>ivcs:cams/cam-1/</ID></Rule></Error>";
    CHECK_EQ(ivcs_catalog_lifecycle_merge(other, sizeof other - 1, id, pfx, 0, &x, &n, &found,
                                          NULL),
             IVCS_ERR_XML);
    CHECK(x == NULL && found == 0);
}

/* Issue 9 item 2: an event record's "picture" comes from the bucket; only
 * the key the layout gives that record's event is accepted. */
TEST(picture_key_only_the_events_own)
{
    const char *rec = "tenant/dev1/ch2/evt/2026-11-25/1795651190000_3.json";
    CHECK(ivcs_catalog_picture_key_ok(rec, "tenant/dev1/ch2/evt/2026-11-25/1795651190000_3.jpg"));
    static const char *const bad[] = {
        "other-tenant/secret/.bashrc",
        ".bashrc",
        "",
        "/etc/passwd",
        "../../../../tmp/x.jpg",
        "tenant/dev1/ch2/evt/2026-11-25/../../../../other/x.jpg",
        "tenant/dev1/ch2/evt/2026-11-25/1795651190000_3.json",  /* not a picture */
        "tenant/dev2/ch2/evt/2026-11-25/1795651190000_3.jpg",   /* another device */
        "other/dev1/ch2/evt/2026-11-25/1795651190000_3.jpg",    /* another prefix */
        "tenant/dev1/ch1/evt/2026-11-25/1795651190000_3.jpg",   /* another channel */
        "tenant/dev1/ch2/evt/2026-11-25/1795651190001_3.jpg",   /* another event start */
        "tenant/dev1/ch2/evt/2026-11-25/1795651190000_4.jpg",   /* another event id */
        "tenant/dev1/ch2/rec/2026-11-25/1795651190000_3.jpg",   /* rec/ */
        "xtenant/dev1/ch2/evt/2026-11-25/1795651190000_3.jpg",  /* longer root */
        "tenant/dev1/ch2/evt/2026-11-25/1795651190000_3.jpg/x", /* below it */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (ivcs_catalog_picture_key_ok(rec, bad[i])) fprintf(stderr, "accepted: %s\n", bad[i]);
        CHECK(!ivcs_catalog_picture_key_ok(rec, bad[i]));
    }
    CHECK(!ivcs_catalog_picture_key_ok(rec, NULL));
    CHECK(!ivcs_catalog_picture_key_ok(NULL, "x.jpg"));
    /* the record key itself must be an event record key */
    CHECK(!ivcs_catalog_picture_key_ok("tenant/dev1/x.json", "tenant/dev1/x.jpg"));
    CHECK(!ivcs_catalog_picture_key_ok("tenant/dev1/ch2/evt/2026-11-25/1795651190000_3.jpg",
                                       "tenant/dev1/ch2/evt/2026-11-25/1795651190000_3.jpg"));
}

/* The web viewer's CORS rule (issue 15): merged like the lifecycle rule. */
TEST(cors_merge)
{
    static const char others[] =
        "<CORSConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<CORSRule><ID>app</ID><AllowedOrigin>https://app.example</AllowedOrigin>"
        "<AllowedMethod>PUT</AllowedMethod><AllowedHeader>*</AllowedHeader></CORSRule>"
        "<CORSRule><ID>ivcs-web:cams/cam-1/</ID><AllowedOrigin>http://old:1</AllowedOrigin>"
        "<AllowedMethod>GET</AllowedMethod></CORSRule>"
        "<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>HEAD</AllowedMethod></CORSRule>"
        "</CORSConfiguration>";
    const size_t L = sizeof others - 1;
    const char *id = "ivcs-web:cams/cam-1/";
    const char *o[2] = {"http://127.0.0.1:8080", "http://localhost:8080"};
    static const char app[] =
        "<CORSRule><ID>app</ID><AllowedOrigin>https://app.example</AllowedOrigin>"
        "<AllowedMethod>PUT</AllowedMethod><AllowedHeader>*</AllowedHeader></CORSRule>";
    static const char anon[] =
        "<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>HEAD</AllowedMethod></CORSRule>";
    char *x = NULL, *y = NULL;
    size_t n = 0, yn = 0;
    int found = -1;

    /* ours replaced, the others kept byte for byte (one has no ID) */
    CHECK_EQ(ivcs_catalog_cors_merge(others, L, id, o, 2, &x, &n, &found), 0);
    CHECK_EQ(found, 1);
    CHECK(x && strlen(x) == n && strstr(x, app) && strstr(x, anon));
    CHECK(x && !strstr(x, "http://old:1"));
    CHECK(x && strstr(x, "<AllowedOrigin>http://127.0.0.1:8080</AllowedOrigin>"
                         "<AllowedOrigin>http://localhost:8080</AllowedOrigin>"));
    if (x) { /* idempotent */
        CHECK_EQ(ivcs_catalog_cors_merge(x, n, id, o, 2, &y, &yn, &found), 0);
        CHECK(found == 1 && y && yn == n && !memcmp(x, y, n));
        free(y);
    }
    free(x);
    /* removed: the others remain */
    CHECK_EQ(ivcs_catalog_cors_merge(others, L, id, NULL, 0, &x, &n, &found), 0);
    CHECK(found == 1 && x && !strstr(x, "ivcs-web:") && strstr(x, app) && strstr(x, anon));
    free(x);
    /* none yet */
    CHECK_EQ(ivcs_catalog_cors_merge(NULL, 0, id, o, 1, &x, &n, &found), 0);
    CHECK(found == 0 && x && strstr(x, "<CORSRule><ID>ivcs-web:cams/cam-1/</ID>"));
    free(x);
    /* a bad origin, a broken document, a listing: errors, nothing to write */
    const char *bad[] = {"http://a\"><x", "ftp://a", "http://", "javascript:x", "http://a/b"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        x = NULL;
        CHECK_EQ(ivcs_catalog_cors_merge(others, L, id, &bad[i], 1, &x, &n, NULL),
                 IVCS_ERR_INVALID_ARG);
        CHECK(x == NULL);
    }
    CHECK_EQ(ivcs_catalog_cors_merge(others, L - 7, id, o, 1, &x, &n, NULL), IVCS_ERR_XML);
    CHECK(x == NULL);
    static const char listing[] = "<ListBucketResult><Name>b</Name></ListBucketResult>";
    CHECK_EQ(ivcs_catalog_cors_merge(listing, sizeof listing - 1, id, o, 1, &x, &n, NULL),
             IVCS_ERR_UNSUPPORTED);
    CHECK(x == NULL);
}

int main(void)
{
    RUN(merge_ranges);
    RUN(sort_order);
    RUN(discontinuities);
    RUN(filter_overlap_and_keyframe);
    RUN(lifecycle_merge);
    RUN(cors_merge);
    RUN(picture_key_only_the_events_own);
    return check_done();
}
