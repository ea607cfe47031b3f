/* balance.c - the seed's iv_cs_balance_info_s view of a plan.json plan;
 * checks that plan.h's type values are the seed's. */
#include "engine/record/balance.h"

#include <string.h>

_Static_assert(IVCS_PLAN_NONE == (int)CS_TYPE_NONE, "iv_cs_type_e");
_Static_assert(IVCS_PLAN_FULL_TIME == (int)CS_TYPE_FULL_TIME, "iv_cs_type_e");
_Static_assert(IVCS_PLAN_EVENT == (int)CS_TYPE_EVENT, "iv_cs_type_e");
_Static_assert(IVCS_PLAN_FREE_TRIAL == (int)CS_TYPE_FREE_TRIAL, "iv_cs_type_e");

void ivcs_plan_balance(const ivcs_plan_s *plan, int64_t now_utc, iv_cs_balance_info_s *out)
{
    if (!out) return;
    memset(out, 0, sizeof *out);
    if (!plan) return;
    out->cs_switch = ivcs_plan_service(plan, now_utc) != IVCS_SERVICE_NONE;
    out->cs_days = plan->cs_days;
    out->cs_type = (iv_cs_type_e)plan->cs_type;
    out->free_trial_remaining_sec = ivcs_plan_trial_remaining(plan, now_utc);
}
