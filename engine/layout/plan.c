/* plan.c - plan.json parser and writer, service rules (the seed's balance view
 * of a plan is in engine/record/balance.c). */
#include "engine/layout/plan.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "engine/layout/event_record.h" /* ivcs_json_text_ok */

/* plan.h mirrors the seed's enum so this layer needs no seed header. */

static const char *const type_names[] = {"none", "full_time", "event", "free_trial"};

const char *ivcs_plan_type_name(ivcs_plan_type_e t)
{
    if ((unsigned)t >= sizeof type_names / sizeof type_names[0]) return NULL;
    return type_names[t];
}

int ivcs_plan_type_parse(const char *s, size_t len, ivcs_plan_type_e *out)
{
    if (!s || !out) return IVCS_ERR_INVALID_ARG;
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++) {
        if (strlen(type_names[i]) == len && memcmp(type_names[i], s, len) == 0) {
            *out = (ivcs_plan_type_e)i;
            return 0;
        }
    }
    return IVCS_ERR_CONFIG;
}

void ivcs_plan_none(ivcs_plan_s *plan, int64_t now_utc)
{
    if (!plan) return;
    memset(plan, 0, sizeof *plan);
    plan->cs_type = IVCS_PLAN_NONE;
    plan->received_utc = now_utc;
}

/* ---------------------------------------------------------------- rules */

static int64_t trial_left(const ivcs_plan_s *p, int64_t now)
{
    if (p->cs_type != IVCS_PLAN_FREE_TRIAL || p->free_trial_remaining_sec <= 0) return 0;
    int64_t end = p->received_utc + p->free_trial_remaining_sec;
    if (now >= end) return 0;
    /* a clock stepped back before the fetch must not extend the trial */
    int64_t left = end - now;
    return left > p->free_trial_remaining_sec ? p->free_trial_remaining_sec : left;
}

ivcs_service_e ivcs_plan_service(const ivcs_plan_s *plan, int64_t now_utc)
{
    if (!plan || !plan->cs_switch) return IVCS_SERVICE_NONE;
    if (plan->expire_utc != 0 && now_utc >= plan->expire_utc) return IVCS_SERVICE_NONE;
    switch (plan->cs_type) {
    case IVCS_PLAN_FULL_TIME:
        return IVCS_SERVICE_FULL_TIME;
    case IVCS_PLAN_EVENT:
        return IVCS_SERVICE_EVENT;
    case IVCS_PLAN_FREE_TRIAL:
        return trial_left(plan, now_utc) > 0 ? IVCS_SERVICE_FULL_TIME : IVCS_SERVICE_NONE;
    case IVCS_PLAN_NONE:
    default:
        return IVCS_SERVICE_NONE;
    }
}

int ivcs_plan_full_time_active(const ivcs_plan_s *plan, int64_t now_utc)
{
    return ivcs_plan_service(plan, now_utc) == IVCS_SERVICE_FULL_TIME;
}

int ivcs_plan_events_allowed(const ivcs_plan_s *plan, int64_t now_utc)
{
    return ivcs_plan_service(plan, now_utc) != IVCS_SERVICE_NONE;
}

int32_t ivcs_plan_trial_remaining(const ivcs_plan_s *plan, int64_t now_utc)
{
    return plan ? (int32_t)trial_left(plan, now_utc) : 0;
}

/* ---------------------------------------------------------------- parser */

/* A whole JSON number in [lo, hi]. */
static int whole(const cJSON *v, double lo, double hi, int64_t *out)
{
    if (!cJSON_IsNumber(v)) return -1;
    double d = v->valuedouble;
    if (!(d >= lo && d <= hi)) return -1; /* also false for NaN */
    int64_t i = (int64_t)d;
    if ((double)i != d) return -1;
    *out = i;
    return 0;
}

enum { K_SWITCH, K_TYPE, K_DAYS, K_EXPIRE, K_TRIAL, NKEYS };
static const char *const key_names[NKEYS] = {"cs_switch", "cs_type", "cs_days", "expire_utc",
                                             "free_trial_remaining_sec"};

static int parse_tree(const cJSON *root, ivcs_plan_s *p)
{
    const cJSON *seen[NKEYS] = {NULL};
    if (!cJSON_IsObject(root)) return -1;
    for (const cJSON *it = root->child; it; it = it->next) {
        if (!it->string) return -1;
        for (int k = 0; k < NKEYS; k++) {
            if (strcmp(it->string, key_names[k]) != 0) continue;
            if (seen[k]) return -1; /* duplicate: which one would count? */
            seen[k] = it;
        }
    }
    if (!seen[K_SWITCH] || !seen[K_TYPE]) return -1;

    int64_t v;
    if (cJSON_IsBool(seen[K_SWITCH]))
        p->cs_switch = cJSON_IsTrue(seen[K_SWITCH]) ? 1 : 0;
    else if (!whole(seen[K_SWITCH], 0, 1, &v))
        p->cs_switch = (int)v;
    else
        return -1;

    const cJSON *t = seen[K_TYPE];
    if (!cJSON_IsString(t) || !t->valuestring ||
        ivcs_plan_type_parse(t->valuestring, strlen(t->valuestring), &p->cs_type))
        return -1;

    if (seen[K_DAYS]) {
        if (whole(seen[K_DAYS], 0, IVCS_PLAN_DAYS_MAX, &v)) return -1;
        p->cs_days = (int32_t)v;
    }
    if (seen[K_EXPIRE] && !cJSON_IsNull(seen[K_EXPIRE])) {
        if (whole(seen[K_EXPIRE], 0, (double)IVCS_PLAN_EXPIRE_MAX, &v)) return -1;
        p->expire_utc = v;
    }
    if (seen[K_TRIAL]) {
        if (whole(seen[K_TRIAL], 0, INT32_MAX, &v)) return -1;
        p->free_trial_remaining_sec = (int32_t)v;
    }
    return 0;
}

int ivcs_plan_parse(ivcs_plan_s *plan, const char *json, size_t len, int64_t now_utc)
{
    if (!plan || (!json && len)) return IVCS_ERR_INVALID_ARG;
    if (!json || !ivcs_json_text_ok(json, len)) return IVCS_ERR_CONFIG;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (!root) {
        /* cJSON reports an allocation failure like a syntax error; a
         * re-parse of a tiny valid document tells them apart. */
        cJSON *probe = cJSON_Parse("{}");
        if (!probe) return IV_ERR_SYS_MALLOC_FAIL;
        cJSON_Delete(probe);
        return IVCS_ERR_CONFIG;
    }
    ivcs_plan_s p;
    ivcs_plan_none(&p, now_utc);
    int rc = 0;
    /* cJSON stops after the first value: anything but whitespace after it
     * is a second document or garbage. */
    for (size_t i = end ? (size_t)(end - json) : len; i < len && !rc; i++)
        if (!isspace((unsigned char)json[i])) rc = IVCS_ERR_CONFIG;
    if (!rc && parse_tree(root, &p)) rc = IVCS_ERR_CONFIG;
    cJSON_Delete(root);
    if (!rc) *plan = p;
    return rc;
}

/* ---------------------------------------------------------------- writer */

int ivcs_plan_write(const ivcs_plan_s *plan, char *buf, size_t cap)
{
    if (!plan || !buf) return IVCS_ERR_INVALID_ARG;
    if (cap > 0) buf[0] = '\0';
    const char *type = ivcs_plan_type_name(plan->cs_type);
    if ((plan->cs_switch != 0 && plan->cs_switch != 1) || !type || plan->cs_days < 0 ||
        plan->cs_days > IVCS_PLAN_DAYS_MAX || plan->expire_utc < 0 ||
        plan->expire_utc > IVCS_PLAN_EXPIRE_MAX || plan->free_trial_remaining_sec < 0)
        return IVCS_ERR_CONFIG;
    /* snprintf into a local buffer that always fits, then copy: the
     * caller's buffer is never written past cap even on a short one. */
    char tmp[IVCS_PLAN_JSON_MAX + 1];
    int n = snprintf(tmp, sizeof tmp,
                     "{\"cs_switch\":%d,\"cs_type\":\"%s\",\"cs_days\":%d,\"expire_utc\":%lld,"
                     "\"free_trial_remaining_sec\":%d}",
                     plan->cs_switch, type, (int)plan->cs_days, (long long)plan->expire_utc,
                     (int)plan->free_trial_remaining_sec);
    if (n < 0 || (size_t)n >= sizeof tmp) return IVCS_ERR_TOO_LONG; /* cannot happen */
    if ((size_t)n >= cap) return IVCS_ERR_TOO_LONG;
    memcpy(buf, tmp, (size_t)n + 1);
    return n;
}
