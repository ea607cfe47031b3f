/*
 * event_record.h - the event record object (docs/ARCHITECTURE.md 5), written when
 * an event starts and rewritten when it stops:
 *
 *   {"event_id":3,"info":"...","channel":0,"event_start_ms":1767225600000,
 *    "event_stop_ms":null,"stream_start_ms":1767225595000,
 *    "stream_stop_ms":null,"picture":"<key>"|null,"status":"open"}
 *
 * One line, this key order, every key present. Times are UTC ms;
 * IVCS_EVENT_TIME_NONE in a struct is JSON null.
 *
 * Consistency (checked by the writer and by the parser, IVCS_ERR_INVALID_ARG):
 * - event_id 1..16; channel 0..UINT32_MAX;
 * - every time present is in 0..IVCS_EVENT_RECORD_MS_MAX (year 9999);
 * - event_start_ms and stream_start_ms are present;
 * - status is "closed" exactly when event_stop_ms is present ("open"
 *   otherwise): the writer derives it, the parser checks it;
 * - a stop time present is >= its start time (event_stop >= event_start,
 *   stream_stop >= stream_start). The order of the event window against the
 *   stream window is event_time.h's business, not checked here.
 *
 * String escaping (writer): '"' and '\\' are escaped; control bytes
 * 0x00-0x1f as \b \f \n \r \t or \u00XX; 0x7f as \u007f; U+2028/U+2029 as
 * \u2028/\u2029 (they end a line in JavaScript); valid UTF-8 passes through
 * unchanged; each byte of an invalid UTF-8 sequence (stray continuation,
 * overlong form, surrogate, > U+10FFFF, truncated) becomes \ufffd. The
 * output is therefore always valid UTF-8 JSON, and a valid UTF-8 info
 * parses back to the same bytes.
 *
 * Writing allocates nothing (caller buffer); parsing (viewer side) uses
 * cJSON. All functions are reentrant.
 */
#ifndef IVCS_CLOUD_EVENT_RECORD_H
#define IVCS_CLOUD_EVENT_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ivcs_base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IVCS_EVENT_TIME_NONE (-1LL) /* JSON null: not stopped yet */
#define IVCS_EVENT_RECORD_MS_MAX 253402300799999LL
/* Longest info accepted, bytes (without NUL). */
#define IVCS_EVENT_INFO_MAX 1024
/* Longest picture key accepted, bytes (S3's key limit). */
#define IVCS_EVENT_PICTURE_MAX 1024
/* strbuf size for ivcs_event_record_parse that always suffices. */
#define IVCS_EVENT_RECORD_STRBUF (IVCS_EVENT_INFO_MAX + 1 + IVCS_EVENT_PICTURE_MAX + 1)
/* A buffer this size always holds ivcs_event_record_write's output + NUL:
 * every info/picture byte may become a 6-byte escape. */
#define IVCS_EVENT_RECORD_JSON_MAX (6 * (IVCS_EVENT_INFO_MAX + IVCS_EVENT_PICTURE_MAX) + 320)

typedef struct ivcs_event_record_s {
    int32_t event_id;        /* 1..16 */
    uint32_t channel;        /* channel index */
    const char *info;        /* NUL-terminated; NULL = "" (length: see the writer) */
    int64_t event_start_ms;  /* UTC ms */
    int64_t event_stop_ms;   /* UTC ms, or IVCS_EVENT_TIME_NONE while open */
    int64_t stream_start_ms; /* UTC ms of the first recorded ms (pre-record) */
    int64_t stream_stop_ms;  /* UTC ms, or IVCS_EVENT_TIME_NONE */
    const char *picture;     /* NUL-terminated key of the JPEG, or NULL (null) */
} ivcs_event_record_s;

/* 1 if the record is closed (event_stop_ms present), else 0. */
static inline int ivcs_event_record_closed(const ivcs_event_record_s *r)
{
    return r->event_stop_ms != IVCS_EVENT_TIME_NONE;
}

/* Writes the record's JSON + NUL into buf. Returns the length without the
 * NUL (this is the Content-Length of the PUT). IVCS_ERR_TOO_LONG if buf is
 * too small (nothing past buf[cap-1] written; buf is "" if cap > 0), or if
 * info / picture is longer than IVCS_EVENT_INFO_MAX / IVCS_EVENT_PICTURE_MAX
 * bytes as a reader decodes it (invalid bytes count 3, as U+FFFD), so that
 * every record written parses back within the parser's limits; IVCS_ERR_INVALID_ARG for NULL or a
 * record that breaks the consistency rules. No allocation. */
IVCS_MUST_CHECK int ivcs_event_record_write(const ivcs_event_record_s *r, char *buf, size_t cap);

/* Length of the JSON ivcs_event_record_write would write (without NUL), or
 * the error it would return. */
IVCS_MUST_CHECK int ivcs_event_record_size(const ivcs_event_record_s *r);

/* Parses a record (json[0..len), no NUL needed) into *out. The strings are
 * copied into strbuf (info then picture, each NUL-terminated) and out->info
 * / out->picture point there (out->picture NULL for null). Strict: one
 * object, nothing after it but whitespace, all nine keys present exactly
 * once, no other keys, right types, whole numbers, valid UTF-8 only, no
 * raw control bytes in strings, every \u escape four hex digits and not
 * \u0000 (cJSON would cut the string there), and the consistency rules
 * above. 0; IVCS_ERR_INVALID_ARG for a malformed or
 * inconsistent record; IVCS_ERR_TOO_LONG if strbuf is too small
 * (IVCS_EVENT_RECORD_STRBUF always suffices) or a decoded string is longer
 * than its maximum; IV_ERR_SYS_MALLOC_FAIL. On error *out is zeroed. */
IVCS_MUST_CHECK int ivcs_event_record_parse(const char *json, size_t len, ivcs_event_record_s *out,
                                            char *strbuf, size_t strcap);

/* Checks what cJSON lets through but a strict reader must not (used by this
 * parser and by plan.c): true iff json[0..len) is valid UTF-8, strings have
 * no raw control bytes, and every \u escape is four hex digits other than
 * \u0000 (cJSON turns a bad or zero escape into a NUL that cuts the string
 * short). Syntax otherwise is left to cJSON. */
bool ivcs_json_text_ok(const char *json, size_t len);

#ifdef __cplusplus
}
#endif
#endif /* IVCS_CLOUD_EVENT_RECORD_H */
