/* event_time.c - relative/absolute event times of the seed's _ext calls. */
#include "engine/layout/event_time.h"

#include "engine/layout/layout.h"

_Static_assert(IVCS_EVENT_ID_MIN == IVCS_LAYOUT_EVENT_ID_MIN, "event id range");
_Static_assert(IVCS_EVENT_ID_MAX == IVCS_LAYOUT_EVENT_ID_MAX, "event id range");

int ivcs_event_id_check(int32_t id)
{
    return id >= IVCS_EVENT_ID_MIN && id <= IVCS_EVENT_ID_MAX ? 0 : IVCS_ERR_EVENT_ID_RANGE;
}

static int resolve_one(uint32_t v, int64_t now_ms, int64_t *out)
{
    int64_t t;
    if (ivcs_event_time_is_relative(v)) {
        t = now_ms - (int64_t)v * 1000;
        if (t < 0) return IVCS_ERR_INVALID_ARG;
    } else {
        t = (int64_t)v * 1000;
        if (t - now_ms > IVCS_EVENT_FUTURE_TOLERANCE_MS) return IVCS_ERR_INVALID_ARG;
        /* whole seconds from a clock slightly ahead: nothing downstream
         * should ever see a time after now */
        if (t > now_ms) t = now_ms;
    }
    *out = t;
    return 0;
}

int ivcs_event_time_resolve(uint32_t a_s, uint32_t b_s, int64_t now_ms, int64_t *a_ms,
                            int64_t *b_ms)
{
    if (!a_ms || !b_ms || now_ms < 0) return IVCS_ERR_INVALID_ARG;
    if (ivcs_event_time_is_relative(a_s) != ivcs_event_time_is_relative(b_s))
        return IVCS_ERR_EVENT_TIME_MIX;
    int64_t a, b;
    int rc = resolve_one(a_s, now_ms, &a);
    if (!rc) rc = resolve_one(b_s, now_ms, &b);
    if (rc) return rc;
    *a_ms = a;
    *b_ms = b;
    return 0;
}

int ivcs_event_time_start(uint32_t event_start_s, uint32_t stream_start_s, int64_t now_ms,
                          int64_t *event_start_ms, int64_t *stream_start_ms)
{
    int64_t ev, st;
    if (!event_start_ms || !stream_start_ms) return IVCS_ERR_INVALID_ARG;
    int rc = ivcs_event_time_resolve(event_start_s, stream_start_s, now_ms, &ev, &st);
    if (rc) return rc;
    if (st > ev) return IVCS_ERR_INVALID_ARG;
    *event_start_ms = ev;
    *stream_start_ms = st;
    return 0;
}

int ivcs_event_time_stop(uint32_t event_stop_s, uint32_t stream_stop_s, int64_t now_ms,
                         int64_t *event_stop_ms, int64_t *stream_stop_ms)
{
    int64_t ev, st;
    if (!event_stop_ms || !stream_stop_ms) return IVCS_ERR_INVALID_ARG;
    int rc = ivcs_event_time_resolve(event_stop_s, stream_stop_s, now_ms, &ev, &st);
    if (rc) return rc;
    if (st < ev) return IVCS_ERR_INVALID_ARG;
    *event_stop_ms = ev;
    *stream_stop_ms = st;
    return 0;
}
