/*
 * event_time.h - the seed's time rules for iv_cs_event_start_ext /
 * iv_cs_event_stop_ext, and the event id range.
 *
 * A value v (uint32_t seconds) is
 * - relative when v < IVCS_EVENT_REL_LIMIT_S (300): v seconds before now,
 *   resolved to now_ms - v * 1000 (v = 0 is "now");
 * - absolute otherwise: UTC seconds, resolved to v * 1000 ms.
 * Both values of one call must be of the same kind, else
 * IVCS_ERR_EVENT_TIME_MIX.
 *
 * Validation (IVCS_ERR_INVALID_ARG; nothing is output then):
 * - an absolute time later than now_ms + IVCS_EVENT_FUTURE_TOLERANCE_MS is
 *   refused (an event cannot start or stop in the future; a firmware clock
 *   a little ahead of ours is tolerated, and such a time is clamped to
 *   now_ms so nothing downstream sees a future time);
 * - a relative time that would fall before 1970 (now_ms too small) is
 *   refused; now_ms must be >= 0;
 * - start: stream_start must be <= event_start. The stream window has to
 *   cover the event (pre-record); a stream that starts after its event
 *   would silently lose the event's beginning, so it is a caller error
 *   rather than something to fix up.
 * - stop: stream_stop must be >= event_stop, for the same reason
 *   (post-record may run on, never stop early).
 * Absolute times far in the past are accepted: the engine uploads whatever
 * the ring still holds of the window (and says so in the record).
 * Checking event_stop >= event_start needs the event's state and is the
 * engine's job (IVCS_ERR_INVALID_ARG is the suggested code).
 *
 * Pure functions: no allocation, no clock reads (now_ms is a parameter),
 * reentrant.
 */
#ifndef IVCS_CLOUD_EVENT_TIME_H
#define IVCS_CLOUD_EVENT_TIME_H

#include <stdint.h>

#include "ivcs_base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IVCS_EVENT_ID_MIN 1
#define IVCS_EVENT_ID_MAX 16
#define IVCS_EVENT_REL_LIMIT_S 300u
#define IVCS_EVENT_FUTURE_TOLERANCE_MS 2000

/* 0 if 1 <= id <= 16, else IVCS_ERR_EVENT_ID_RANGE. */
IVCS_MUST_CHECK int ivcs_event_id_check(int32_t id);

/* 1 if v is a relative time (v < 300), else 0. */
static inline int ivcs_event_time_is_relative(uint32_t v)
{
    return v < IVCS_EVENT_REL_LIMIT_S;
}

/* Resolves one pair of times of the same kind (no order check) to UTC ms:
 * *a_ms from a_s, *b_ms from b_s. 0, IVCS_ERR_EVENT_TIME_MIX,
 * IVCS_ERR_INVALID_ARG (future / before 1970 / NULL / now_ms < 0). */
IVCS_MUST_CHECK int ivcs_event_time_resolve(uint32_t a_s, uint32_t b_s, int64_t now_ms,
                                            int64_t *a_ms, int64_t *b_ms);

/* iv_cs_event_start_ext(id, event_start_s, stream_start_s): resolves both
 * and checks stream_start <= event_start. */
IVCS_MUST_CHECK int ivcs_event_time_start(uint32_t event_start_s, uint32_t stream_start_s,
                                          int64_t now_ms, int64_t *event_start_ms,
                                          int64_t *stream_start_ms);

/* iv_cs_event_stop_ext(id, event_stop_s, stream_stop_s): resolves both and
 * checks stream_stop >= event_stop. */
IVCS_MUST_CHECK int ivcs_event_time_stop(uint32_t event_stop_s, uint32_t stream_stop_s,
                                         int64_t now_ms, int64_t *event_stop_ms,
                                         int64_t *stream_stop_ms);

#ifdef __cplusplus
}
#endif
#endif /* IVCS_CLOUD_EVENT_TIME_H */
