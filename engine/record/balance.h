/* balance.h - the seed's iv_cs_balance_info_s view of a plan (plan.h), for
 * the engine's balance queries; the only place a plan meets the seed types. */
#ifndef IVCS_RECORD_BALANCE_H
#define IVCS_RECORD_BALANCE_H

#include <stdint.h>

#include "engine/layout/plan.h"
#include "iv_cs.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The seed's balance view at now_utc: cs_switch = 1 iff a service is
 * granted now (so an expired plan reads cs_switch 0), cs_days and cs_type
 * as in plan.json, free_trial_remaining_sec counted down to now_utc. */
void ivcs_plan_balance(const ivcs_plan_s *plan, int64_t now_utc, iv_cs_balance_info_s *out);

#ifdef __cplusplus
}
#endif
#endif
