/*
 * ivcs_viewer.h - the viewer: what a device recorded, read back from the
 * bucket through the object layout alone (no device, no engine needed).
 *
 * One viewer = one configuration (ivcs_config.h: endpoint, bucket, prefix,
 * device_id, keys) and one S3 connection. It lists the day folders, the
 * slices of a time range and the recorded ranges they make, writes an HLS
 * playlist of presigned URLs, exports slices into a file descriptor, lists
 * and reads event records, and reads or writes plan.json and the device's
 * bucket lifecycle (retention) rule. These are the operations behind the
 * ivcs CLI's ls, events, playlist, export and plan commands.
 *
 * Conventions (as ivcs.h):
 *  - Functions return 0 (or the documented positive value) or a negative
 *    code from iv_err.h / ivcs_err.h; ivcs_strerror() names it. Out of
 *    memory is IV_ERR_SYS_MALLOC_FAIL.
 *  - When an S3 request failed, ivcs_viewer_last_error() holds that
 *    request's result (HTTP status, S3 code and message, transport detail)
 *    until the next call on the same viewer.
 *  - Output lists are plain structs owned by the caller; their memory comes
 *    from the viewer's allocator (ivcs_base.h; NULL: the library default)
 *    and is released with the matching *_free function, which may be called
 *    on a zeroed or already freed list. A list stays valid after the viewer
 *    is closed only if the allocator does.
 *  - Times are UTC milliseconds since 1970-01-01; ranges are [from, to).
 *  - Threads: a viewer is used by one thread at a time; distinct viewers
 *    are independent. Calls block (bounded by the configured timeouts) and
 *    must not be made from an engine callback.
 *  - Everything read from the bucket is treated as hostile: keys that are
 *    not of the layout are skipped and counted, sizes and pages are bounded,
 *    and no local path is ever taken from the bucket.
 */
#ifndef IVCS_VIEWER_H
#define IVCS_VIEWER_H

#include <stddef.h>
#include <stdint.h>

#include "ivcs_base.h"
#include "ivcs_config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ivcs_viewer_s ivcs_viewer_s;

/* ---------------------------------------------------------------- viewer */

/* The result of the last failed S3 request of a viewer. */
typedef struct ivcs_viewer_error_s {
    int code;          /* the negative code the call returned, 0 if none */
    int status;        /* HTTP status, 0 if none */
    char s3_code[64];  /* S3 error code, "" if none */
    char message[256]; /* S3 error message */
    char detail[256];  /* transport detail (TLS verify reason, errno text) */
    char request_id[128];
} ivcs_viewer_error_s;

/* Opens a viewer for cfg (copied; validated as ivcs_config_validate, whose
 * one-line reason goes to err). alloc: NULL for the library default, else
 * it must outlive the viewer and every list it filled. 0,
 * IVCS_ERR_CONFIG, IVCS_ERR_TLS (ca_file unusable: the reason in err),
 * IVCS_ERR_INVALID_ARG, IV_ERR_SYS_MALLOC_FAIL. No request is sent. */
IVCS_API IVCS_MUST_CHECK int ivcs_viewer_open(ivcs_viewer_s **out, const ivcs_config_s *cfg,
                                              const ivcs_allocator_s *alloc, char *err,
                                              size_t err_len);

/* Closes the connection, wipes the copied secret key, frees the viewer. NULL: no-op. */
IVCS_API void ivcs_viewer_close(ivcs_viewer_s *v);

/* Per-request timeouts: a whole transfer, and the wait for the first byte
 * of a reply. 0 keeps the current value (defaults 120000 and 30000 ms). */
IVCS_API void ivcs_viewer_set_timeouts(ivcs_viewer_s *v, uint32_t transfer_ms, uint32_t reply_ms);

/* The last failed request's result (never NULL; zeroed when none). */
IVCS_API const ivcs_viewer_error_s *ivcs_viewer_last_error(const ivcs_viewer_s *v);

/* 1 if the device has any object at all (plan, slice, event), 0 if none,
 * or a negative code. Tells "unknown device" from "nothing in this range". */
IVCS_API IVCS_MUST_CHECK int ivcs_viewer_device_exists(ivcs_viewer_s *v);

/* ---------------------------------------------------------------- days */

typedef struct ivcs_viewer_days_s {
    int64_t *day; /* days since 1970-01-01, ascending */
    size_t n;
    const ivcs_allocator_s *alloc_; /* private */
} ivcs_viewer_days_s;

/* The UTC days of channel ch that hold slices (events 0) or event records
 * (events 1), into *out (zeroed or freed before). */
IVCS_API IVCS_MUST_CHECK int ivcs_viewer_days(ivcs_viewer_s *v, uint32_t ch, int events,
                                              ivcs_viewer_days_s *out);
IVCS_API void ivcs_viewer_days_free(ivcs_viewer_days_s *d);

/* ---------------------------------------------------------------- slices */

/* One recording slice (an MPEG-TS object). */
typedef struct ivcs_viewer_slice_s {
    const char *key;  /* its object key (owned by the list) */
    uint64_t size;    /* bytes, from the listing */
    int64_t start_ms; /* UTC ms of its first frame */
    uint32_t dur_ms;
    uint32_t boot; /* the recording engine's boot id */
    uint32_t seq;  /* per-boot slice counter */
    int keyframe;  /* 1: starts at an I-frame ('k'); 0: continues a GOP ('p') */
} ivcs_viewer_slice_s;

typedef struct ivcs_viewer_slices_s {
    ivcs_viewer_slice_s *v; /* sorted by start_ms, then boot, then seq */
    size_t n;
    size_t foreign; /* objects under rec/ that are not slices (skipped) */
    char *keys_;    /* private: the keys, one block */
    size_t keys_len_;
    const ivcs_allocator_s *alloc_;
} ivcs_viewer_slices_s;

/* Flag of ivcs_viewer_list_slices: if the first slice overlapping the range
 * continues a GOP ('p'), the slices of that GOP before it are listed too,
 * so that a decoder can start. */
#define IVCS_VIEWER_FROM_KEYFRAME 0x1u

/* The slices of channel ch overlapping [from_ms, to_ms) (start < to and
 * start + dur > from; a zero-length slice if from <= start < to). A slice
 * that began up to one hour before from is found. */
IVCS_API IVCS_MUST_CHECK int ivcs_viewer_list_slices(ivcs_viewer_s *v, uint32_t ch, int64_t from_ms,
                                                     int64_t to_ms, unsigned flags,
                                                     ivcs_viewer_slices_s *out);
IVCS_API void ivcs_viewer_slices_free(ivcs_viewer_slices_s *s);

/* The default tolerance (ms) of ranges and playlist discontinuities. */
#define IVCS_VIEWER_GAP_MS 1500u

/* A recorded time range: slices [first, first + count) of a list merged. */
typedef struct ivcs_viewer_range_s {
    int64_t start_ms, end_ms; /* [start, end) */
    size_t first, count;
    uint32_t boots; /* engine restarts inside the range + 1 */
} ivcs_viewer_range_s;

/* Merges n sorted slices into ranges: a slice joins the current range when
 * it starts at most gap_ms after the range's end (overlaps join). out must
 * have room for n ranges. Returns the number of ranges. No I/O. */
IVCS_API size_t ivcs_viewer_ranges(const ivcs_viewer_slice_s *s, size_t n, uint32_t gap_ms,
                                   ivcs_viewer_range_s *out);

/* 1 if a player must be told of a discontinuity between slice a and the
 * next slice b: another boot, a gap over gap_ms, or b starting more than
 * gap_ms before a's end (the clock stepped back). No I/O. */
IVCS_API int ivcs_viewer_is_break(const ivcs_viewer_slice_s *a, const ivcs_viewer_slice_s *b,
                                  uint32_t gap_ms);

/* ---------------------------------------------------------------- text */

typedef struct ivcs_viewer_text_s {
    char *p;                        /* NUL-terminated */
    size_t len;                     /* without the NUL */
    const ivcs_allocator_s *alloc_; /* private */
} ivcs_viewer_text_s;
IVCS_API void ivcs_viewer_text_free(ivcs_viewer_text_s *t);

/* An HLS VOD playlist (version 3) of the n slices (n >= 1), each a
 * presigned GET URL valid for expires seconds (1..604800), with
 * #EXT-X-DISCONTINUITY where ivcs_viewer_is_break says so and
 * #EXT-X-PROGRAM-DATE-TIME on the first slice and after each one. */
IVCS_API IVCS_MUST_CHECK int ivcs_viewer_playlist(ivcs_viewer_s *v, const ivcs_viewer_slice_s *s,
                                                  size_t n, uint32_t expires, uint32_t gap_ms,
                                                  ivcs_viewer_text_s *out);

/* GETs the n slices in order and writes their bytes to fd from its current
 * offset (fd must be seekable: a retried GET rewrites its slice). *bytes
 * (may be NULL) gets the total written. */
IVCS_API IVCS_MUST_CHECK int ivcs_viewer_export(ivcs_viewer_s *v, const ivcs_viewer_slice_s *s,
                                                size_t n, int fd, uint64_t *bytes);

/* GETs the object key (at most max bytes: IVCS_ERR_TOO_LONG beyond) into
 * *out. IVCS_ERR_NOT_FOUND if there is none. */
IVCS_API IVCS_MUST_CHECK int ivcs_viewer_get_object(ivcs_viewer_s *v, const char *key, size_t max,
                                                    ivcs_viewer_text_s *out);

/* ---------------------------------------------------------------- events */

#define IVCS_VIEWER_TIME_NONE (-1LL) /* an event still open (JSON null) */

typedef struct ivcs_viewer_event_s {
    const char *key;  /* the record's object key */
    int32_t event_id; /* 1..16 */
    uint32_t channel;
    const char *info;                        /* "" if none */
    int64_t event_start_ms, event_stop_ms;   /* stop: IVCS_VIEWER_TIME_NONE while open */
    int64_t stream_start_ms, stream_stop_ms; /* recorded span incl. pre-record */
    const char *picture;                     /* the JPEG's key, or NULL */
    int picture_listed;                      /* the picture object exists (list only) */
    int picture_refused;                     /* the record named another key: picture set to NULL */
} ivcs_viewer_event_s;

typedef struct ivcs_viewer_events_s {
    ivcs_viewer_event_s *v; /* sorted by event_start_ms, then event_id */
    size_t n;
    size_t bad;     /* records that could not be read or parsed (skipped) */
    char *strings_; /* private */
    size_t strings_len_;
    const ivcs_allocator_s *alloc_;
} ivcs_viewer_events_s;

/* The event records of channel ch whose window overlaps [from_ms, to_ms)
 * (started before to, and still open or stopped at or after from), looking
 * back one day for events that began earlier. */
IVCS_API IVCS_MUST_CHECK int ivcs_viewer_list_events(ivcs_viewer_s *v, uint32_t ch, int64_t from_ms,
                                                     int64_t to_ms, ivcs_viewer_events_s *out);

/* Reads one event record by key into *out (n = 1). IVCS_ERR_NOT_FOUND,
 * IVCS_ERR_INVALID_ARG (not an event record key of this layout, or not a
 * valid record). */
IVCS_API IVCS_MUST_CHECK int ivcs_viewer_get_event(ivcs_viewer_s *v, const char *key,
                                                   ivcs_viewer_events_s *out);
IVCS_API void ivcs_viewer_events_free(ivcs_viewer_events_s *e);

/* ---------------------------------------------------------------- plan */

/* plan.json of the device (the values of iv_cs_type_e for type). */
typedef struct ivcs_viewer_plan_s {
    int cs_switch;      /* 0 or 1 */
    int cs_type;        /* 0 none, 1 full time, 2 event, 3 free trial */
    int32_t cs_days;    /* retention in days, 0..36500 */
    int64_t expire_utc; /* UTC s; 0: never */
    int32_t free_trial_remaining_sec;
    int service;                 /* what it grants now: 0 none, 1 events, 2 full time */
    int32_t trial_remaining_sec; /* of a free trial, counted down to now */
} ivcs_viewer_plan_s;

/* Reads and checks plan.json at now_utc_s (UTC seconds). IVCS_ERR_NOT_FOUND
 * if the device has none (*out then "no plan"), IVCS_ERR_CONFIG if it is
 * not a valid plan. */
IVCS_API IVCS_MUST_CHECK int ivcs_viewer_plan_get(ivcs_viewer_s *v, int64_t now_utc_s,
                                                  ivcs_viewer_plan_s *out);

/* Writes plan.json (cs_switch, cs_type, cs_days, expire_utc,
 * free_trial_remaining_sec; the rest is ignored). IVCS_ERR_CONFIG for a
 * field out of range (nothing written). Retention is separate. */
IVCS_API IVCS_MUST_CHECK int ivcs_viewer_plan_set(ivcs_viewer_s *v, const ivcs_viewer_plan_s *p);

/* "none", "full_time", "event", "free_trial"; NULL for another value. */
IVCS_API const char *ivcs_viewer_plan_type_name(int cs_type);

/* The device's bucket lifecycle rule: *days after which its slices and
 * events expire (0: no rule). IVCS_ERR_UNSUPPORTED if the server has no
 * bucket lifecycle (the reason in ivcs_viewer_last_error()->detail). */
IVCS_API IVCS_MUST_CHECK int ivcs_viewer_retention_get(ivcs_viewer_s *v, uint32_t *days);

/* Sets the device's rule to days (1..36500) or removes it (0), keeping
 * every other rule of the bucket byte for byte. IVCS_ERR_UNSUPPORTED as
 * above (nothing written). */
IVCS_API IVCS_MUST_CHECK int ivcs_viewer_retention_set(ivcs_viewer_s *v, uint32_t days);

/* ---------------------------------------------------------------- web */

/* A presigned GET URL (valid expires seconds, 1..604800) for key, which
 * must be an object of this device's layout (a slice, an event record or
 * its picture: ivcs_viewer_parse_key): IVCS_ERR_INVALID_ARG for any other
 * key. No request is sent; the URL carries no secret, only a signature. */
IVCS_API IVCS_MUST_CHECK int ivcs_viewer_presign(ivcs_viewer_s *v, const char *key,
                                                 uint32_t expires, ivcs_viewer_text_s *out);

/* Sets the bucket CORS rule of this device's web viewer to allow GET and
 * HEAD from origins[0..n) ("*" or scheme://host[:port]; n <= 16), or
 * removes it (n 0), keeping every other CORS rule of the bucket byte for
 * byte. IVCS_ERR_INVALID_ARG (a bad origin), IVCS_ERR_UNSUPPORTED (the
 * server has no bucket CORS: nothing written). */
IVCS_API IVCS_MUST_CHECK int ivcs_viewer_cors_set(ivcs_viewer_s *v, const char *const *origins,
                                                  size_t n);

/* ---------------------------------------------------------------- keys and times */

/* What an object key of this device names. */
typedef struct ivcs_viewer_key_s {
    int kind;               /* 1 slice, 2 event record (.json), 3 event picture (.jpg) */
    uint32_t channel;
    ivcs_viewer_slice_s slice; /* kind 1: its fields (key and size not set) */
    int64_t event_start_ms; /* kind 2 and 3 */
    int32_t event_id;       /* kind 2 and 3 */
} ivcs_viewer_key_s;

/* Parses key as an object key of this viewer's device (prefix and device
 * id included). 0, or IVCS_ERR_INVALID_ARG if it is not one (another
 * device, a path, not a name of the layout). No I/O. */
IVCS_API IVCS_MUST_CHECK int ivcs_viewer_parse_key(const ivcs_viewer_s *v, const char *key,
                                                   ivcs_viewer_key_s *out);

/* "{prefix}{device}/": what every key of the device starts with. */
IVCS_API const char *ivcs_viewer_root(const ivcs_viewer_s *v);

/* The key of the device's plan.json into buf (cap >= 1025 always fits).
 * Returns the length, or IVCS_ERR_TOO_LONG. */
IVCS_API IVCS_MUST_CHECK int ivcs_viewer_plan_key(const ivcs_viewer_s *v, char *buf, size_t cap);

/* "2026-11-25T10:00:00.000Z" for ms in 0..253402300799999 into buf (cap >= 25).
 * Returns 24, or IVCS_ERR_INVALID_ARG / IVCS_ERR_TOO_LONG. */
IVCS_API int ivcs_viewer_format_time(int64_t ms, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* IVCS_VIEWER_H */
