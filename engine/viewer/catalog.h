/*
 * catalog.h - the viewer side of the cloud contract (docs/ARCHITECTURE.md 5):
 * what a device recorded, found from the object layout alone. Used by the
 * CLI (ivcs ls / events / playlist / export / plan) and meant for the
 * language bindings.
 *
 * - Day folders: one ListObjectsV2 with delimiter '/' over ".../ch{N}/rec/"
 *   (or evt/).
 * - Slices of a time range: the day folders that exist are listed (paged),
 *   only the days that can hold a slice overlapping the range. A slice is
 *   filed under the UTC date of its start, so a slice that began before
 *   `from` (even the day before) is found by looking back
 *   IVCS_CATALOG_LOOKBACK_MS from `from`: a slice longer than that which
 *   started earlier is not found (the engine cuts slices after 4 s by
 *   default, and at worst after a GOP).
 * - Ranges: slices merged into recorded time ranges when the gap between
 *   one's end and the next one's start is at most gap_ms (overlaps merge).
 * - Playlists: an HLS VOD playlist of presigned GET URLs, with
 *   #EXT-X-DISCONTINUITY at every gap larger than gap_ms, at a clock step
 *   backwards and at a new boot (timestamps and continuity counters restart).
 * - Export: the slices' bytes in order, into one file descriptor.
 * - Events: the event records of a range, parsed with event_record.h.
 * - Retention: the bucket lifecycle rule of one device (read, replace), or
 *   any one rule, merged into the bucket's configuration.
 *
 * Errors: functions return 0 or a negative code (ivcs_err.h); when an S3
 * request failed and err is not NULL, *err holds that request's result (HTTP
 * status, S3 code and message, transport detail) for the message to the user.
 *
 * Memory: result lists are heap-allocated (libc) and freed with their
 * *_free function; this is the viewer's control path, not the push path.
 * Threads: an ivcs_s3 client is used by one thread at a time (s3.h).
 */
#ifndef IVCS_CLOUD_CATALOG_H
#define IVCS_CLOUD_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "engine/layout/event_record.h"
#include "engine/layout/layout.h"
#include "engine/net/s3.h"
#include "ivcs_config.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IVCS_CATALOG_LOOKBACK_MS 3600000LL      /* slices that began before `from` */
#define IVCS_CATALOG_EVT_LOOKBACK_MS 86400000LL /* events that began before `from` */
#define IVCS_CATALOG_GAP_MS 1500u               /* default merge / discontinuity tolerance */
#define IVCS_CATALOG_ATTEMPTS 3                 /* tries per S3 request */

/* One recording slice. */
typedef struct ivcs_catalog_slice_s {
    char *key;              /* the object key (owned by the list) */
    uint64_t size;          /* bytes, from the listing */
    ivcs_slice_name_s name; /* start_ms, dur_ms, boot, seq, k/p from the key */
} ivcs_catalog_slice_s;

typedef struct ivcs_catalog_slices_s {
    ivcs_catalog_slice_s *v; /* sorted by start_ms, then boot, then seq */
    size_t n, cap;
    size_t foreign; /* keys under rec/ that are not slice keys (skipped) */
} ivcs_catalog_slices_s;

/* A recorded time range: slices[first .. first+count) merged. */
typedef struct ivcs_catalog_range_s {
    int64_t start_ms, end_ms; /* [start, end): first start .. largest start+dur */
    size_t first, count;
    uint32_t boots; /* boot changes inside the range + 1 */
} ivcs_catalog_range_s;

/* One event record. */
typedef struct ivcs_catalog_event_s {
    char *key;               /* the record's key (owned) */
    ivcs_event_record_s rec; /* info and picture point into strbuf */
    char *strbuf;            /* owned */
    int picture_listed;      /* the .jpg next to the record exists */
    int picture_refused;     /* the record named another key as its picture:
                                rec.picture was set to NULL (never fetch it) */
} ivcs_catalog_event_s;

typedef struct ivcs_catalog_events_s {
    ivcs_catalog_event_s *v; /* sorted by event_start_ms, then event_id */
    size_t n, cap;
    size_t bad; /* records that could not be read or parsed (skipped) */
} ivcs_catalog_events_s;

/* Flags of ivcs_catalog_list_slices. */
#define IVCS_CATALOG_FROM_KEYFRAME                                                                 \
    0x1u /* start at a 'k' slice: if the first                                                     \
           overlapping slice is 'p', prepend the                                                   \
           slices of its GOP (same boot,                                                           \
           contiguous) so a decoder can start */

/* The day folders (days since 1970-01-01, ascending) under ".../ch{ch}/rec/"
 * or evt/ into a malloc'ed array *days of *n (NULL, 0 if none; free()). */
IVCS_MUST_CHECK int ivcs_catalog_days(ivcs_s3 *s3, const ivcs_layout_s *l, uint32_t ch,
                                      ivcs_layout_dir_e dir, int64_t **days, size_t *n,
                                      ivcs_s3_result *err);

/* Whether the device has any object at all (plan, slice, event): 1, 0, or a
 * negative code. Tells "unknown device" from "nothing in this range". */
IVCS_MUST_CHECK int ivcs_catalog_device_exists(ivcs_s3 *s3, const ivcs_layout_s *l,
                                               ivcs_s3_result *err);

/* The slices of channel ch overlapping [from_ms, to_ms) (start < to and
 * start + dur > from; a zero-length slice counts if from <= start < to),
 * into *out (which must be zeroed or freed before). flags:
 * IVCS_CATALOG_FROM_KEYFRAME. */
IVCS_MUST_CHECK int ivcs_catalog_list_slices(ivcs_s3 *s3, const ivcs_layout_s *l, uint32_t ch,
                                             int64_t from_ms, int64_t to_ms, unsigned flags,
                                             ivcs_catalog_slices_s *out, ivcs_s3_result *err);

void ivcs_catalog_slices_free(ivcs_catalog_slices_s *s);

/* Adds a slice (key copied) to *s; for tests and callers with their own
 * listing. 0 or IV_ERR_SYS_MALLOC_FAIL. */
IVCS_MUST_CHECK int ivcs_catalog_slices_add(ivcs_catalog_slices_s *s, const char *key,
                                            uint64_t size, const ivcs_slice_name_s *name);

/* Sorts s->v by start_ms, boot, seq. */
void ivcs_catalog_slices_sort(ivcs_catalog_slices_s *s);

/* Keeps, in place, the slices of sorted *s that overlap [from_ms, to_ms)
 * (as ivcs_catalog_list_slices) and, with IVCS_CATALOG_FROM_KEYFRAME, the
 * run of slices of the same boot (consecutive seq, no break) back to the
 * 'k' slice that the first overlapping 'p' slice continues. Frees the keys
 * of the others. No allocation. */
void ivcs_catalog_filter(ivcs_catalog_slices_s *s, int64_t from_ms, int64_t to_ms, unsigned flags);

/* Nonzero if a player must be told of a discontinuity between slice a and
 * the next slice b: another boot, b starting more than gap_ms after a's
 * end, or b starting more than gap_ms before a's end (the clock stepped back). */
int ivcs_catalog_is_break(const ivcs_catalog_slice_s *a, const ivcs_catalog_slice_s *b,
                          uint32_t gap_ms);

/* Merges n sorted slices into ranges: a slice joins the current range when
 * it starts at most gap_ms after the range's end (overlaps join too). out
 * must have room for n ranges. Returns the number of ranges (0 for n 0). */
size_t ivcs_catalog_merge(const ivcs_catalog_slice_s *v, size_t n, uint32_t gap_ms,
                          ivcs_catalog_range_s *out);

/* Writes an HLS VOD playlist (version 3) of the n slices, each a presigned
 * GET URL valid for expires seconds, into a malloc'ed NUL-terminated *out
 * (length *len; free()). #EXT-X-TARGETDURATION is the longest slice rounded
 * up to whole seconds, #EXTINF each slice's dur_ms, #EXT-X-DISCONTINUITY
 * where ivcs_catalog_is_break says so, #EXT-X-PROGRAM-DATE-TIME on the first
 * slice and after each discontinuity. n must be >= 1. 0 or a negative code. */
IVCS_MUST_CHECK int ivcs_catalog_playlist(ivcs_s3 *s3, const ivcs_catalog_slice_s *v, size_t n,
                                          uint32_t expires, uint32_t gap_ms, char **out,
                                          size_t *len);

/* GETs the n slices in order and writes their bytes to fd (from its current
 * offset, which must be seekable so a retried GET can rewrite its slice).
 * *bytes (may be NULL) gets the total written. 0 or a negative code. */
IVCS_MUST_CHECK int ivcs_catalog_export(ivcs_s3 *s3, const ivcs_catalog_slice_s *v, size_t n,
                                        int fd, uint64_t *bytes, ivcs_s3_result *err);

/* The event records of channel ch whose event window overlaps
 * [from_ms, to_ms) (event_start < to, and still open or event_stop >= from),
 * looking back IVCS_CATALOG_EVT_LOOKBACK_MS for events that began earlier.
 * Records that cannot be read or parsed are counted in out->bad. */
IVCS_MUST_CHECK int ivcs_catalog_list_events(ivcs_s3 *s3, const ivcs_layout_s *l, uint32_t ch,
                                             int64_t from_ms, int64_t to_ms,
                                             ivcs_catalog_events_s *out, ivcs_s3_result *err);

void ivcs_catalog_events_free(ivcs_catalog_events_s *e);

/* 1 if picture is the one key the object layout allows as the picture of
 * the event record at record_key: both parse (ivcs_layout_parse_key) as an
 * event record and a picture of the same device root, channel, event start
 * and event id, i.e. picture is record_key with ".jpg" for ".json". 0 for
 * anything else (another device, channel, event, a path, NULL). The record's
 * "picture" field comes from the bucket: it names nothing else. */
int ivcs_catalog_picture_key_ok(const char *record_key, const char *picture);

/* GETs and parses one event record by key into *out (freed with
 * ivcs_catalog_event_free). key must be an event record key of the layout.
 * A "picture" that ivcs_catalog_picture_key_ok refuses is dropped
 * (out->rec.picture NULL, out->picture_refused 1). IVCS_ERR_NOT_FOUND,
 * IVCS_ERR_INVALID_ARG (not an event key, not a valid record), or another
 * negative code. */
IVCS_MUST_CHECK int ivcs_catalog_get_event(ivcs_s3 *s3, const char *key, ivcs_catalog_event_s *out,
                                           ivcs_s3_result *err);

void ivcs_catalog_event_free(ivcs_catalog_event_s *e);

/* GETs an object into a malloc'ed buffer (NUL-terminated, *len bytes; free()),
 * at most max bytes (IVCS_ERR_TOO_LONG beyond). */
IVCS_MUST_CHECK int ivcs_catalog_get_small(ivcs_s3 *s3, const char *key, size_t max, char **out,
                                           size_t *len, ivcs_s3_result *err);

/* As ivcs_catalog_get_small for any GET-like kind (IVCS_S3_GET, or
 * IVCS_S3_GET_LIFECYCLE with key NULL); used by lifecycle.c. */
IVCS_MUST_CHECK int ivcs_catalog_get_mem(ivcs_s3 *s3, ivcs_s3_kind_e kind, const char *key,
                                         size_t max, char **out, size_t *len, ivcs_s3_result *err);

/* ---------------------------------------------------------------- retention
 * S3 keeps one lifecycle configuration per bucket, and a PUT replaces all of
 * it. Setting a rule reads the bucket's configuration, keeps every other rule
 * byte for byte, and replaces or drops this one; with no rule left the
 * configuration is deleted. Two writers racing on the same bucket can lose
 * one update (S3 offers no conditional lifecycle write).
 * A device's rule has the ID "ivcs:{prefix}{device}/" and expires the
 * objects under "{prefix}{device}/ch" (slices and events of every channel;
 * plan.json stays).
 * A server without bucket lifecycle (OpenStack Swift's s3api answers GET
 * ?lifecycle with the bucket listing; others 501 NotImplemented) gives
 * IVCS_ERR_UNSUPPORTED with the reason in err->detail, and nothing is
 * written to it. */

/* Sets the bucket's lifecycle rule id to expire the objects under prefix
 * after days (1..36500), or removes it (days 0), keeping every other rule
 * (ivcs_catalog_lifecycle_merge). Writes nothing when the rule is absent
 * and days is 0. 0 or a negative code (*err: the
 * failed request's result; a bucket without a configuration is not one). */
IVCS_MUST_CHECK int ivcs_catalog_lifecycle_set(ivcs_s3 *s3, const char *id, const char *prefix,
                                               uint32_t days, ivcs_s3_result *err);

/* This device's rule: *days (0 if there is none). cfg is not used (the s3
 * client signs the lifecycle requests) and may be NULL. */
IVCS_MUST_CHECK int ivcs_catalog_retention_get(ivcs_s3 *s3, const ivcs_config_s *cfg,
                                               const ivcs_layout_s *l, uint32_t *days,
                                               ivcs_s3_result *err);

/* Sets this device's rule to days (1..36500), or removes it (days 0), with
 * ivcs_catalog_lifecycle_set. cfg is not used and may be NULL. */
IVCS_MUST_CHECK int ivcs_catalog_retention_set(ivcs_s3 *s3, const ivcs_config_s *cfg,
                                               const ivcs_layout_s *l, uint32_t days,
                                               ivcs_s3_result *err);

/* The lifecycle configuration after setting rule id (expiring prefix after
 * days, 1..36500) or removing it (days 0), given the bucket's current one:
 * xml[0..len) the GetBucketLifecycleConfiguration body (len 0: none). Every
 * other <Rule> is kept byte for byte, in order; ours goes last. *out gets a
 * malloc'ed PutBucketLifecycleConfiguration body (free()), or NULL when no
 * rule is left (delete the configuration then). *found / *old_days (may be
 * NULL) tell whether the rule existed and its Expiration/Days. 0,
 * IVCS_ERR_XML (not well-formed, or another root element than
 * LifecycleConfiguration), IVCS_ERR_UNSUPPORTED (the root is a
 * ListBucketResult: the server ignored ?lifecycle), IVCS_ERR_TOO_LONG (over
 * 1000 rules), or IV_ERR_SYS_MALLOC_FAIL. Pure: no I/O. */
IVCS_MUST_CHECK int ivcs_catalog_lifecycle_merge(const char *xml, size_t len, const char *id,
                                                 const char *prefix, uint32_t days, char **out,
                                                 size_t *out_len, int *found, uint32_t *old_days);

/* ---------------------------------------------------------------- CORS
 *
 * The bucket CORS rule of the device's web viewer (`ivcs cors`, `ivcs
 * serve`): one <CORSRule> with ID "ivcs-web:{prefix}{device}/" allowing GET
 * and HEAD from the given origins, merged into the bucket's other rules
 * byte for byte as the lifecycle rule is (same parser, same bounds). */

/* 1 if o is "*" or http(s)://host[:port] (letters, digits, . - : [ ]). */
int ivcs_catalog_cors_origin_ok(const char *o);

/* The CORS configuration xml[0..len) (len 0: none) with rule id replaced by
 * one allowing origins[0..n) (n 0: removed; at most 16). *out NULL when no
 * rule is left. *found: the rule was there. IVCS_ERR_INVALID_ARG (a bad
 * origin or id), IVCS_ERR_XML, IVCS_ERR_UNSUPPORTED (a listing came back),
 * IVCS_ERR_TOO_LONG (over 1000 rules). */
IVCS_MUST_CHECK int ivcs_catalog_cors_merge(const char *xml, size_t len, const char *id,
                                            const char *const *origins, size_t n, char **out,
                                            size_t *out_len, int *found);

/* GET ?cors, merge, PUT ?cors (DELETE ?cors when no rule is left; nothing
 * when the rule was absent and n is 0). IVCS_ERR_UNSUPPORTED if the server
 * has no bucket CORS (reason in err->detail). */
IVCS_MUST_CHECK int ivcs_catalog_cors_set(ivcs_s3 *s3, const ivcs_layout_s *l,
                                          const char *const *origins, size_t n,
                                          ivcs_s3_result *err);

#ifdef __cplusplus
}
#endif
#endif /* IVCS_CLOUD_CATALOG_H */
