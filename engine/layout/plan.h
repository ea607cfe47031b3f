/*
 * plan.h - the cloud-storage plan: plan.json <-> ivcs_plan_s, the service
 * rules (the seed's iv_cs_balance_info_s view is engine/record/balance.h).
 *
 * plan.json (written by the operator, read by the device):
 *
 *   {"cs_switch":1,"cs_type":"full_time"|"event"|"free_trial"|"none",
 *    "cs_days":7,"expire_utc":1767225600,"free_trial_remaining_sec":0}
 *
 * Parsing rules (IVCS_ERR_CONFIG for any violation, *plan untouched):
 * - one JSON object, nothing but whitespace after it, no duplicate keys;
 *   valid UTF-8, no raw control bytes in strings, \u escapes of four hex
 *   digits other than \u0000 (ivcs_json_text_ok);
 * - "cs_switch": required; 0 or 1 (true/false accepted too);
 * - "cs_type": required; one of the four names above; anything else is an
 *   error (a typo must not silently mean "no service");
 * - "cs_days": optional (default 0), integer 0..36500;
 * - "expire_utc": optional (default 0), integer UTC seconds
 *   0..253402300799 (9999-12-31T23:59:59Z), or null; 0/null/absent means
 *   the plan never expires;
 * - "free_trial_remaining_sec": optional (default 0), integer 0..INT32_MAX;
 * - other keys are ignored (the operator may annotate a plan, and newer
 *   cloud tools may add fields);
 * - numbers must be whole (1.5 is an error; 1.0 is 1).
 *
 * Service rules (ivcs_plan_service, all times UTC seconds):
 * - no plan object (HTTP 404: ivcs_plan_none), cs_switch 0, cs_type
 *   "none", or expire_utc != 0 && now >= expire_utc -> NONE;
 * - "full_time" -> FULL_TIME (continuous recording; events allowed too);
 * - "event" -> EVENT (recording only inside event windows);
 * - "free_trial": a trial is a full-time plan while it lasts, i.e. while
 *   now < received_utc + free_trial_remaining_sec -> FULL_TIME, else NONE.
 *   free_trial_remaining_sec is the count at the time plan.json was read;
 *   received_utc (set by ivcs_plan_parse from its now argument) anchors it,
 *   so the trial runs out between two polls without a new fetch.
 *
 * Allocation: parsing uses cJSON (libc malloc, a few hundred bytes, once per
 * poll: control path). The writer and the predicates do not allocate.
 * All functions are reentrant.
 */
#ifndef IVCS_CLOUD_PLAN_H
#define IVCS_CLOUD_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "ivcs_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The values of the seed's iv_cs_type_e (checked in engine/record/balance.c). */
typedef enum {
    IVCS_PLAN_NONE = 0,
    IVCS_PLAN_FULL_TIME = 1,
    IVCS_PLAN_EVENT = 2,
    IVCS_PLAN_FREE_TRIAL = 3,
} ivcs_plan_type_e;

/* What the device may record now. Ordered: FULL_TIME allows events too. */
typedef enum {
    IVCS_SERVICE_NONE = 0,
    IVCS_SERVICE_EVENT = 1,
    IVCS_SERVICE_FULL_TIME = 2,
} ivcs_service_e;

#define IVCS_PLAN_DAYS_MAX 36500
#define IVCS_PLAN_EXPIRE_MAX 253402300799LL /* 9999-12-31T23:59:59Z */
/* Longest JSON ivcs_plan_write produces, without the NUL. */
#define IVCS_PLAN_JSON_MAX 160

typedef struct ivcs_plan_s {
    int cs_switch;                    /* 0 or 1 */
    ivcs_plan_type_e cs_type;         /* as written in plan.json */
    int32_t cs_days;                  /* retention, days; 0..IVCS_PLAN_DAYS_MAX */
    int64_t expire_utc;               /* UTC s; 0: never expires */
    int32_t free_trial_remaining_sec; /* as written in plan.json; >= 0 */
    int64_t received_utc;             /* UTC s when it was read (anchors the trial) */
} ivcs_plan_s;

/* The plan of a device with no plan.json: everything 0, cs_type NONE;
 * received_utc = now_utc. */
void ivcs_plan_none(ivcs_plan_s *plan, int64_t now_utc);

/* Parses plan.json (json[0..len), no NUL needed) per the rules above into
 * *plan, with received_utc = now_utc. 0, or IVCS_ERR_CONFIG (syntax, type,
 * range, unknown cs_type, missing cs_switch/cs_type) / IVCS_ERR_INVALID_ARG
 * (NULL) / IV_ERR_SYS_MALLOC_FAIL (cJSON could not allocate). On error
 * *plan is not modified, so the caller keeps its previous plan. */
IVCS_MUST_CHECK int ivcs_plan_parse(ivcs_plan_s *plan, const char *json, size_t len,
                                    int64_t now_utc);

/* The service the plan grants at now_utc (rules above). NULL -> NONE. */
ivcs_service_e ivcs_plan_service(const ivcs_plan_s *plan, int64_t now_utc);

/* ivcs_plan_service == FULL_TIME: continuous recording (full_time or a
 * running free trial). */
int ivcs_plan_full_time_active(const ivcs_plan_s *plan, int64_t now_utc);

/* ivcs_plan_service != NONE: iv_cs_event_start* may record (event plan,
 * full-time plan, running free trial). */
int ivcs_plan_events_allowed(const ivcs_plan_s *plan, int64_t now_utc);

/* Seconds left of a free trial at now_utc (0 if not a trial or used up). */
int32_t ivcs_plan_trial_remaining(const ivcs_plan_s *plan, int64_t now_utc);

/* "none", "full_time", "event", "free_trial"; NULL for another value. */
const char *ivcs_plan_type_name(ivcs_plan_type_e t);

/* The inverse of ivcs_plan_type_name on s[0..len). 0, or IVCS_ERR_CONFIG. */
IVCS_MUST_CHECK int ivcs_plan_type_parse(const char *s, size_t len, ivcs_plan_type_e *out);

/* Writes plan.json for *plan into buf (for `ivcs plan set`):
 *   {"cs_switch":1,"cs_type":"event","cs_days":7,"expire_utc":1767225600,
 *    "free_trial_remaining_sec":0}
 * (one line, this key order, every key present; received_utc is not
 * written). Checks the same ranges as the parser. Returns the length
 * without the NUL, IVCS_ERR_TOO_LONG if buf cannot hold it + NUL
 * (IVCS_PLAN_JSON_MAX + 1 always can; nothing past buf[cap-1] is written),
 * IVCS_ERR_CONFIG for a field out of range, IVCS_ERR_INVALID_ARG for NULL.
 * ivcs_plan_parse of the output gives back the same plan. */
IVCS_MUST_CHECK int ivcs_plan_write(const ivcs_plan_s *plan, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif /* IVCS_CLOUD_PLAN_H */
