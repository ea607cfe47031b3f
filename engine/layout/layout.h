/*
 * layout.h - the object layout of the cloud contract (docs/ARCHITECTURE.md 5):
 * key builders into caller buffers, the strict inverse parser, UTC date
 * math, and the per-boot random id.
 *
 *   {prefix}{device}/plan.json
 *   {prefix}{device}/ch{N}/rec/{YYYY-MM-DD}/{start_ms}_{dur_ms}_{boot}_{seq}{k|p}.ts
 *   {prefix}{device}/ch{N}/evt/{YYYY-MM-DD}/{start_ms}_{event_id}.json
 *   {prefix}{device}/ch{N}/evt/{YYYY-MM-DD}/{start_ms}_{event_id}.jpg
 *
 * Field formats (the parser accepts exactly what the builders write):
 * - start_ms: UTC milliseconds, exactly 13 decimal digits, zero-padded, so
 *   a ListObjectsV2 over one day returns keys in time order. That caps
 *   start_ms at IVCS_LAYOUT_START_MS_MAX (2286-11-20T17:46:39.999Z); later
 *   times are refused rather than written with 14 digits (which would
 *   break the order within that day).
 * - YYYY-MM-DD: the UTC date of start_ms (the parser checks they agree).
 * - ch{N}: N decimal, no leading zeros ("ch0", "ch12"), 0..UINT32_MAX.
 * - dur_ms, seq, event_id: decimal, no zero padding, no leading zeros
 *   ("0" is itself). dur_ms and seq are 0..UINT32_MAX; event_id 1..16.
 * - boot: exactly 8 lowercase hex digits (ivcs_layout_boot_id()).
 * - k: the slice starts at an I-frame; p: it continues the previous slice
 *   (cut mid-GOP).
 *
 * Dates: proleptic Gregorian UTC, no locale, no timezone, no libc time
 * functions (Howard Hinnant's days_from_civil / civil_from_days). The date
 * helpers are exact for any year 0..9999; key builders and parsers work in
 * 1970-01-01 .. IVCS_LAYOUT_START_MS_MAX.
 *
 * Builders: return the key length (bytes, without the NUL) on success;
 * IVCS_ERR_TOO_LONG when buf cannot hold key + NUL (then nothing past
 * buf[cap-1] is touched and buf is "" if cap > 0); IVCS_ERR_INVALID_ARG for
 * a NULL pointer or a field out of range. With a layout from
 * ivcs_layout_init and a buffer of IVCS_LAYOUT_KEY_MAX + 1 bytes no builder
 * fails with IVCS_ERR_TOO_LONG (the longest key is under 400 bytes).
 *
 * Nothing here allocates, logs, or keeps a pointer to caller memory. All
 * functions are reentrant; a const ivcs_layout_s may be shared by threads.
 */
#ifndef IVCS_CLOUD_LAYOUT_H
#define IVCS_CLOUD_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

#include "ivcs_base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IVCS_LAYOUT_KEY_MAX 1024 /* S3's key limit in bytes (without NUL) */
#define IVCS_LAYOUT_PREFIX_MAX 255
#define IVCS_LAYOUT_DEVICE_MAX 64
/* "{prefix}{device}/" */
#define IVCS_LAYOUT_ROOT_MAX (IVCS_LAYOUT_PREFIX_MAX + IVCS_LAYOUT_DEVICE_MAX + 1)
#define IVCS_LAYOUT_DATE_LEN 10 /* "YYYY-MM-DD" */
#define IVCS_LAYOUT_ISO_LEN 24  /* "YYYY-MM-DDTHH:MM:SS.mmmZ" */
/* largest start_ms that fits 13 digits: 2286-11-20T17:46:39.999Z */
#define IVCS_LAYOUT_START_MS_MAX 9999999999999LL
/* last millisecond of 9999-12-31 (UTC): the date helpers' upper bound */
#define IVCS_LAYOUT_MS_MAX 253402300799999LL
#define IVCS_LAYOUT_EVENT_ID_MIN 1
#define IVCS_LAYOUT_EVENT_ID_MAX 16

/* The constant part of every key of one device: "{prefix}{device}/".
 * Validated once by ivcs_layout_init, then used by every builder. */
typedef struct ivcs_layout_s {
    char root[IVCS_LAYOUT_ROOT_MAX + 1];
    size_t root_len;
} ivcs_layout_s;

typedef enum {
    IVCS_LAYOUT_REC = 0, /* ".../ch{N}/rec/": recording slices */
    IVCS_LAYOUT_EVT = 1  /* ".../ch{N}/evt/": event records and pictures */
} ivcs_layout_dir_e;

/* The fields of a slice's file name. */
typedef struct ivcs_slice_name_s {
    int64_t start_ms; /* UTC ms of the first frame, 0..IVCS_LAYOUT_START_MS_MAX */
    uint32_t dur_ms;  /* duration in ms */
    uint32_t boot;    /* the boot id of the uploader */
    uint32_t seq;     /* per-boot slice counter */
    int keyframe;     /* nonzero: 'k' (starts at an I-frame); 0: 'p' (continues) */
} ivcs_slice_name_s;

typedef enum {
    IVCS_KEY_SLICE = 1,   /* rec/...ts */
    IVCS_KEY_EVENT = 2,   /* evt/...json */
    IVCS_KEY_PICTURE = 3, /* evt/...jpg */
} ivcs_key_kind_e;

/* A parsed slice / event / picture key. */
typedef struct ivcs_key_info_s {
    ivcs_key_kind_e kind;
    uint32_t channel;
    int64_t day;             /* date folder as days since 1970-01-01 */
    size_t root_len;         /* key[0..root_len) is "{prefix}{device}/" */
    size_t device_off;       /* the root's last path segment: key[device_off..+device_len); */
    size_t device_len;       /* it is the device id when the prefix is empty or ends in '/' */
    ivcs_slice_name_s slice; /* IVCS_KEY_SLICE only (else zeroed) */
    int64_t event_start_ms;  /* IVCS_KEY_EVENT / _PICTURE only (else 0) */
    int32_t event_id;        /* IVCS_KEY_EVENT / _PICTURE only (else 0) */
} ivcs_key_info_s;

/* ---------------------------------------------------------------- layout */

/* Validates prefix (0..255 bytes, no control bytes 0x00-0x1f/0x7f, no '\\',
 * not starting with '/'; NULL means "") and device_id ([A-Za-z0-9_-]{1,64})
 * and stores "{prefix}{device}/" in *l. 0, or IVCS_ERR_INVALID_ARG (bad
 * characters, NULL l/device_id) / IVCS_ERR_TOO_LONG (length); *l is then
 * left with root_len 0. */
IVCS_MUST_CHECK int ivcs_layout_init(ivcs_layout_s *l, const char *prefix, const char *device_id);

/* "{prefix}{device}/plan.json" */
IVCS_MUST_CHECK int ivcs_layout_plan_key(const ivcs_layout_s *l, char *buf, size_t cap);

/* "{prefix}{device}/ch{ch}/rec/{date}/{start}_{dur}_{boot}_{seq}{k|p}.ts" */
IVCS_MUST_CHECK int ivcs_layout_slice_key(const ivcs_layout_s *l, uint32_t ch,
                                          const ivcs_slice_name_s *s, char *buf, size_t cap);

/* "{prefix}{device}/ch{ch}/evt/{date}/{start_ms}_{event_id}.json", or ".jpg"
 * when picture is nonzero. start_ms is the event's start (0..START_MS_MAX),
 * event_id 1..16 (else IVCS_ERR_INVALID_ARG). */
IVCS_MUST_CHECK int ivcs_layout_event_key(const ivcs_layout_s *l, uint32_t ch, int64_t start_ms,
                                          int32_t event_id, int picture, char *buf, size_t cap);

/* "{prefix}{device}/ch{ch}/rec/" or ".../evt/": list with delimiter '/' to
 * get the day folders. */
IVCS_MUST_CHECK int ivcs_layout_dir_prefix(const ivcs_layout_s *l, uint32_t ch,
                                           ivcs_layout_dir_e dir, char *buf, size_t cap);

/* "{prefix}{device}/ch{ch}/rec/{YYYY-MM-DD}/" (or evt/) for the UTC day
 * holding ms (0..START_MS_MAX): the ListObjectsV2 prefix of one day. */
IVCS_MUST_CHECK int ivcs_layout_day_prefix(const ivcs_layout_s *l, uint32_t ch,
                                           ivcs_layout_dir_e dir, int64_t ms, char *buf,
                                           size_t cap);

/* Parses a full slice, event or picture key (key[0..len), no NUL needed;
 * never reads key[len]). Strict: exactly the builders' format, date folder
 * equal to the UTC date of start_ms, a non-empty device segment before
 * "ch{N}/". Parsing is anchored at the end, so a prefix may contain '/'.
 * 0 and *out filled; IVCS_ERR_INVALID_ARG for anything malformed (then *out
 * is zeroed); IVCS_ERR_TOO_LONG if len > IVCS_LAYOUT_KEY_MAX. */
IVCS_MUST_CHECK int ivcs_layout_parse_key(const char *key, size_t len, ivcs_key_info_s *out);

/* ---------------------------------------------------------------- dates */

/* Days since 1970-01-01 of the proleptic Gregorian date y-m-d (UTC). Exact
 * for y in 0..9999, m 1..12, d 1..31; the caller checks the day exists in
 * that month (ivcs_layout_days_in_month) if it must. */
int64_t ivcs_layout_days_from_civil(int32_t y, uint32_t m, uint32_t d);

/* Inverse of ivcs_layout_days_from_civil, for days of years 0..9999. */
void ivcs_layout_civil_from_days(int64_t days, int32_t *y, uint32_t *m, uint32_t *d);

/* 28..31 for m in 1..12 of year y; 0 for a bad month. */
uint32_t ivcs_layout_days_in_month(int32_t y, uint32_t m);

/* floor(ms / 86400000): the UTC day of ms, also for negative ms. */
int64_t ivcs_layout_day_of_ms(int64_t ms);

/* Writes "YYYY-MM-DD" + NUL (11 bytes) for the UTC date of ms, ms in
 * 0..IVCS_LAYOUT_MS_MAX. 10, or IVCS_ERR_INVALID_ARG (out of range/NULL). */
IVCS_MUST_CHECK int ivcs_layout_format_date(int64_t ms, char out[IVCS_LAYOUT_DATE_LEN + 1]);

/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" + NUL (25 bytes), ms in
 * 0..IVCS_LAYOUT_MS_MAX (for HLS #EXT-X-PROGRAM-DATE-TIME). 24, or
 * IVCS_ERR_INVALID_ARG. */
IVCS_MUST_CHECK int ivcs_layout_format_iso8601(int64_t ms, char out[IVCS_LAYOUT_ISO_LEN + 1]);

/* Parses exactly "YYYY-MM-DD" (len 10, a real date, year 0000..9999) into
 * days since 1970-01-01 (negative before 1970). 0 or IVCS_ERR_INVALID_ARG. */
IVCS_MUST_CHECK int ivcs_layout_parse_date(const char *s, size_t len, int64_t *days);

/* ---------------------------------------------------------------- boot id */

/* A random 32-bit boot id from getrandom(GRND_NONBLOCK). If the kernel's
 * pool is not initialised yet (early boot) it never blocks: it falls back
 * to mixing CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_BOOTTIME and the pid
 * (unique enough to keep two boots from overwriting each other's keys,
 * which is all the id is for). Thread-safe. */
uint32_t ivcs_layout_boot_id(void);

#ifdef __cplusplus
}
#endif
#endif /* IVCS_CLOUD_LAYOUT_H */
