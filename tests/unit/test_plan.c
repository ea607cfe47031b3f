/* test_plan.c - plan.json parser/writer, service rules, balance view. */
#include "check.h"
#include "engine/layout/plan.h"
#include "engine/record/balance.h"
#include "guard.h"
#include "iv_cs.h"

#define NOW 1760000000LL    /* 2025-10-09 */
#define EXPIRE 1767225600LL /* 2026-01-01 */

static int parse_str(ivcs_plan_s *p, const char *json, int64_t now)
{
    /* exact length against a guard page: no NUL, no over-read */
    static guard_buf g = GUARD_INIT;
    size_t n = strlen(json);
    const char *at = (const char *)guard_place(&g, json, n, GUARD_AFTER);
    return ivcs_plan_parse(p, at, n, now);
}

static int plan_eq(const ivcs_plan_s *a, const ivcs_plan_s *b)
{
    return a->cs_switch == b->cs_switch && a->cs_type == b->cs_type && a->cs_days == b->cs_days &&
           a->expire_utc == b->expire_utc &&
           a->free_trial_remaining_sec == b->free_trial_remaining_sec &&
           a->received_utc == b->received_utc;
}

TEST(parses_the_contract_example)
{
    ivcs_plan_s p;
    CHECK_EQ(parse_str(&p,
                       "{\"cs_switch\":1,\"cs_type\":\"full_time\",\"cs_days\":7,"
                       "\"expire_utc\":1767225600,\"free_trial_remaining_sec\":0}",
                       NOW),
             0);
    CHECK_EQ(p.cs_switch, 1);
    CHECK_EQ(p.cs_type, IVCS_PLAN_FULL_TIME);
    CHECK_EQ(p.cs_days, 7);
    CHECK_EQ(p.expire_utc, EXPIRE);
    CHECK_EQ(p.free_trial_remaining_sec, 0);
    CHECK_EQ(p.received_utc, NOW);
    CHECK_EQ(ivcs_plan_service(&p, NOW), IVCS_SERVICE_FULL_TIME);
    CHECK(ivcs_plan_full_time_active(&p, NOW));
    CHECK(ivcs_plan_events_allowed(&p, NOW));

    iv_cs_balance_info_s b;
    memset(&b, 0x55, sizeof b);
    ivcs_plan_balance(&p, NOW, &b);
    CHECK_EQ(b.cs_switch, 1);
    CHECK_EQ(b.cs_days, 7);
    CHECK_EQ(b.cs_type, CS_TYPE_FULL_TIME);
    CHECK_EQ(b.free_trial_remaining_sec, 0);
}

TEST(each_type_name_maps_to_the_seed_enum)
{
    struct {
        const char *name;
        iv_cs_type_e seed;
        ivcs_service_e svc;
    } t[] = {{"none", CS_TYPE_NONE, IVCS_SERVICE_NONE},
             {"full_time", CS_TYPE_FULL_TIME, IVCS_SERVICE_FULL_TIME},
             {"event", CS_TYPE_EVENT, IVCS_SERVICE_EVENT},
             {"free_trial", CS_TYPE_FREE_TRIAL, IVCS_SERVICE_FULL_TIME}};
    for (size_t i = 0; i < 4; i++) {
        char json[200];
        snprintf(json, sizeof json,
                 "{\"cs_switch\":1,\"cs_type\":\"%s\",\"free_trial_remaining_sec\":60}", t[i].name);
        ivcs_plan_s p;
        CHECK_EQ(parse_str(&p, json, NOW), 0);
        CHECK_EQ(p.cs_type, t[i].seed);
        CHECK_EQ(ivcs_plan_service(&p, NOW), t[i].svc);
        iv_cs_balance_info_s b;
        ivcs_plan_balance(&p, NOW, &b);
        CHECK_EQ(b.cs_type, t[i].seed);
        CHECK(!strcmp(ivcs_plan_type_name(p.cs_type), t[i].name));
    }
    CHECK(ivcs_plan_type_name((ivcs_plan_type_e)4) == NULL);
    CHECK(ivcs_plan_type_name((ivcs_plan_type_e)-1) == NULL);
}

TEST(no_plan_object_means_no_service)
{
    ivcs_plan_s p;
    memset(&p, 0x33, sizeof p);
    ivcs_plan_none(&p, NOW);
    CHECK_EQ(p.cs_switch, 0);
    CHECK_EQ(p.cs_type, IVCS_PLAN_NONE);
    CHECK_EQ(ivcs_plan_service(&p, NOW), IVCS_SERVICE_NONE);
    CHECK(!ivcs_plan_events_allowed(&p, NOW));
    CHECK(!ivcs_plan_full_time_active(&p, NOW));
    CHECK_EQ(ivcs_plan_service(NULL, NOW), IVCS_SERVICE_NONE);
    iv_cs_balance_info_s b;
    memset(&b, 0x55, sizeof b);
    ivcs_plan_balance(&p, NOW, &b);
    CHECK_EQ(b.cs_switch, 0);
    CHECK_EQ(b.cs_days, 0);
    CHECK_EQ(b.cs_type, CS_TYPE_NONE);
    CHECK_EQ(b.free_trial_remaining_sec, 0);
}

TEST(switch_off_or_type_none_means_no_service)
{
    ivcs_plan_s p;
    CHECK_EQ(parse_str(&p, "{\"cs_switch\":0,\"cs_type\":\"full_time\",\"cs_days\":30}", NOW), 0);
    CHECK_EQ(ivcs_plan_service(&p, NOW), IVCS_SERVICE_NONE);
    iv_cs_balance_info_s b;
    ivcs_plan_balance(&p, NOW, &b);
    CHECK_EQ(b.cs_switch, 0);
    CHECK_EQ(b.cs_days, 30);
    CHECK_EQ(parse_str(&p, "{\"cs_switch\":false,\"cs_type\":\"event\"}", NOW), 0);
    CHECK_EQ(ivcs_plan_service(&p, NOW), IVCS_SERVICE_NONE);
    CHECK_EQ(parse_str(&p, "{\"cs_switch\":true,\"cs_type\":\"event\"}", NOW), 0);
    CHECK_EQ(ivcs_plan_service(&p, NOW), IVCS_SERVICE_EVENT);
    CHECK_EQ(parse_str(&p, "{\"cs_switch\":1,\"cs_type\":\"none\"}", NOW), 0);
    CHECK_EQ(ivcs_plan_service(&p, NOW), IVCS_SERVICE_NONE);
}

TEST(expiry_ends_the_service_at_expire_utc)
{
    ivcs_plan_s p;
    CHECK_EQ(
        parse_str(&p, "{\"cs_switch\":1,\"cs_type\":\"event\",\"expire_utc\":1767225600}", NOW), 0);
    CHECK_EQ(ivcs_plan_service(&p, EXPIRE - 1), IVCS_SERVICE_EVENT);
    CHECK_EQ(ivcs_plan_service(&p, EXPIRE), IVCS_SERVICE_NONE);
    CHECK_EQ(ivcs_plan_service(&p, EXPIRE + 86400 * 365), IVCS_SERVICE_NONE);
    CHECK(!ivcs_plan_events_allowed(&p, EXPIRE));
    iv_cs_balance_info_s b;
    ivcs_plan_balance(&p, EXPIRE, &b);
    CHECK_EQ(b.cs_switch, 0);
    CHECK_EQ(b.cs_type, CS_TYPE_EVENT);

    /* an expiry in the past at parse time parses fine and grants nothing */
    CHECK_EQ(parse_str(&p, "{\"cs_switch\":1,\"cs_type\":\"full_time\",\"expire_utc\":300}", NOW),
             0);
    CHECK_EQ(ivcs_plan_service(&p, NOW), IVCS_SERVICE_NONE);

    /* 0, null and absent: never expires */
    const char *never[] = {"{\"cs_switch\":1,\"cs_type\":\"full_time\",\"expire_utc\":0}",
                           "{\"cs_switch\":1,\"cs_type\":\"full_time\",\"expire_utc\":null}",
                           "{\"cs_switch\":1,\"cs_type\":\"full_time\"}"};
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(parse_str(&p, never[i], NOW), 0);
        CHECK_EQ(p.expire_utc, 0);
        CHECK_EQ(ivcs_plan_service(&p, 253402300799LL), IVCS_SERVICE_FULL_TIME);
    }
}

TEST(event_plan_allows_events_but_not_full_time)
{
    ivcs_plan_s p;
    CHECK_EQ(parse_str(&p, "{\"cs_switch\":1,\"cs_type\":\"event\",\"cs_days\":3}", NOW), 0);
    CHECK(!ivcs_plan_full_time_active(&p, NOW));
    CHECK(ivcs_plan_events_allowed(&p, NOW));
}

TEST(free_trial_records_full_time_while_it_lasts)
{
    ivcs_plan_s p;
    CHECK_EQ(parse_str(&p,
                       "{\"cs_switch\":1,\"cs_type\":\"free_trial\",\"cs_days\":1,"
                       "\"free_trial_remaining_sec\":3600}",
                       NOW),
             0);
    CHECK(ivcs_plan_full_time_active(&p, NOW));
    CHECK(ivcs_plan_events_allowed(&p, NOW));
    CHECK(ivcs_plan_full_time_active(&p, NOW + 3599));
    CHECK(!ivcs_plan_full_time_active(&p, NOW + 3600));
    CHECK(!ivcs_plan_events_allowed(&p, NOW + 3600));
    CHECK_EQ(ivcs_plan_trial_remaining(&p, NOW), 3600);
    CHECK_EQ(ivcs_plan_trial_remaining(&p, NOW + 1000), 2600);
    CHECK_EQ(ivcs_plan_trial_remaining(&p, NOW + 5000), 0);
    /* a clock stepped back before the fetch does not lengthen the trial */
    CHECK_EQ(ivcs_plan_trial_remaining(&p, NOW - 86400), 3600);
    iv_cs_balance_info_s b;
    ivcs_plan_balance(&p, NOW + 600, &b);
    CHECK_EQ(b.cs_switch, 1);
    CHECK_EQ(b.cs_type, CS_TYPE_FREE_TRIAL);
    CHECK_EQ(b.free_trial_remaining_sec, 3000);
    ivcs_plan_balance(&p, NOW + 3600, &b);
    CHECK_EQ(b.cs_switch, 0);
    CHECK_EQ(b.free_trial_remaining_sec, 0);

    /* a used-up trial grants nothing */
    CHECK_EQ(parse_str(&p, "{\"cs_switch\":1,\"cs_type\":\"free_trial\"}", NOW), 0);
    CHECK_EQ(ivcs_plan_service(&p, NOW), IVCS_SERVICE_NONE);
    /* expiry wins over remaining trial time */
    CHECK_EQ(parse_str(&p,
                       "{\"cs_switch\":1,\"cs_type\":\"free_trial\",\"expire_utc\":1760000100,"
                       "\"free_trial_remaining_sec\":3600}",
                       NOW),
             0);
    CHECK(ivcs_plan_full_time_active(&p, NOW + 99));
    CHECK(!ivcs_plan_full_time_active(&p, NOW + 100));
    /* remaining seconds only count for a trial */
    CHECK_EQ(parse_str(&p,
                       "{\"cs_switch\":1,\"cs_type\":\"event\",\"free_trial_remaining_sec\":3600}",
                       NOW),
             0);
    CHECK_EQ(ivcs_plan_trial_remaining(&p, NOW), 0);
    CHECK(!ivcs_plan_full_time_active(&p, NOW));
}

TEST(bad_documents_are_config_errors_and_keep_the_old_plan)
{
    const char *bad[] = {
        "",
        "   ",
        "null",
        "[]",
        "\"full_time\"",
        "{",
        "{}",
        "{\"cs_switch\":1}",
        "{\"cs_type\":\"full_time\"}",
        "{\"cs_switch\":1,\"cs_type\":\"Full_time\"}",
        "{\"cs_switch\":1,\"cs_type\":\"fulltime\"}",
        "{\"cs_switch\":1,\"cs_type\":\"\"}",
        "{\"cs_switch\":1,\"cs_type\":\"full_time \"}",
        "{\"cs_switch\":1,\"cs_type\":\"full_time\\u0000x\"}",
        "{\"cs_switch\":1,\"cs_type\":\"event\\u00zz\"}", /* cJSON: "event" + NUL */
        "{\"cs_switch\":1,\"cs_type\":\"event\",\"note\":\"\xff\"}",
        "{\"cs_switch\":1,\"cs_type\":\"event\",\"note\":\"a\tb\"}",
        "{\"cs_switch\":1,\"cs_type\":1}",
        "{\"cs_switch\":1,\"cs_type\":null}",
        "{\"cs_switch\":\"1\",\"cs_type\":\"event\"}",
        "{\"cs_switch\":2,\"cs_type\":\"event\"}",
        "{\"cs_switch\":-1,\"cs_type\":\"event\"}",
        "{\"cs_switch\":0.5,\"cs_type\":\"event\"}",
        "{\"cs_switch\":null,\"cs_type\":\"event\"}",
        "{\"cs_switch\":1,\"cs_type\":\"event\",\"cs_days\":-1}",
        "{\"cs_switch\":1,\"cs_type\":\"event\",\"cs_days\":36501}",
        "{\"cs_switch\":1,\"cs_type\":\"event\",\"cs_days\":1.5}",
        "{\"cs_switch\":1,\"cs_type\":\"event\",\"cs_days\":\"7\"}",
        "{\"cs_switch\":1,\"cs_type\":\"event\",\"cs_days\":null}",
        "{\"cs_switch\":1,\"cs_type\":\"event\",\"expire_utc\":-1}",
        "{\"cs_switch\":1,\"cs_type\":\"event\",\"expire_utc\":253402300800}",
        "{\"cs_switch\":1,\"cs_type\":\"event\",\"expire_utc\":1e300}",
        "{\"cs_switch\":1,\"cs_type\":\"event\",\"expire_utc\":\"1767225600\"}",
        "{\"cs_switch\":1,\"cs_type\":\"event\",\"free_trial_remaining_sec\":-5}",
        "{\"cs_switch\":1,\"cs_type\":\"event\",\"free_trial_remaining_sec\":2147483648}",
        "{\"cs_switch\":1,\"cs_type\":\"event\",\"cs_switch\":0}",
        "{\"cs_switch\":1,\"cs_type\":\"event\",\"cs_type\":\"event\"}",
        "{\"cs_switch\":1,\"cs_type\":\"event\"} x",
        "{\"cs_switch\":1,\"cs_type\":\"event\"}{}",
        "{\"cs_switch\":1,\"cs_type\":\"event\",}",
        "{'cs_switch':1,'cs_type':'event'}",
    };
    ivcs_plan_s good;
    CHECK_EQ(parse_str(&good, "{\"cs_switch\":1,\"cs_type\":\"event\",\"cs_days\":9}", NOW), 0);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ivcs_plan_s p = good;
        int rc = parse_str(&p, bad[i], NOW + 5);
        if (rc != IVCS_ERR_CONFIG) {
            fprintf(stderr, "rc %d for %s\n", rc, bad[i]);
            CHECK(0);
        }
        CHECK(plan_eq(&p, &good));
    }
    ivcs_plan_s p;
    CHECK_EQ(ivcs_plan_parse(NULL, "{}", 2, NOW), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_plan_parse(&p, NULL, 2, NOW), IVCS_ERR_INVALID_ARG);
}

TEST(tolerated_variants)
{
    ivcs_plan_s p;
    /* whitespace around, whole floats, unknown keys ignored, any key order */
    CHECK_EQ(parse_str(&p,
                       " \n{ \"note\" : {\"by\":\"ops\"}, \"cs_days\" : 7.0 ,"
                       "\"cs_type\":\"event\", \"cs_switch\":1e0 }\r\n\t",
                       NOW),
             0);
    CHECK_EQ(p.cs_days, 7);
    CHECK_EQ(p.cs_switch, 1);
    CHECK_EQ(p.cs_type, IVCS_PLAN_EVENT);
    CHECK_EQ(parse_str(&p,
                       "{\"cs_switch\":1,\"cs_type\":\"event\",\"cs_days\":36500,"
                       "\"expire_utc\":253402300799,\"free_trial_remaining_sec\":2147483647}",
                       NOW),
             0);
    CHECK_EQ(p.cs_days, 36500);
    CHECK_EQ(p.expire_utc, 253402300799LL);
    CHECK_EQ(p.free_trial_remaining_sec, 2147483647);
    /* an escaped backslash before u0000 is not a NUL escape */
    CHECK_EQ(parse_str(&p, "{\"cs_switch\":1,\"cs_type\":\"event\",\"x\":\"\\\\u0000\"}", NOW), 0);
}

TEST(writer_output_is_exact_and_parses_back)
{
    char buf[IVCS_PLAN_JSON_MAX + 1];
    ivcs_plan_s p = {1, IVCS_PLAN_FULL_TIME, 7, 1767225600, 0, NOW};
    int n = ivcs_plan_write(&p, buf, sizeof buf);
    const char *want = "{\"cs_switch\":1,\"cs_type\":\"full_time\",\"cs_days\":7,"
                       "\"expire_utc\":1767225600,\"free_trial_remaining_sec\":0}";
    CHECK_EQ(n, (int)strlen(want));
    CHECK(!strcmp(buf, want));

    ivcs_plan_s all[] = {
        {0, IVCS_PLAN_NONE, 0, 0, 0, NOW},
        {1, IVCS_PLAN_EVENT, 36500, IVCS_PLAN_EXPIRE_MAX, INT32_MAX, NOW},
        {1, IVCS_PLAN_FREE_TRIAL, 1, 1, 3600, NOW},
        {0, IVCS_PLAN_FULL_TIME, 30, 4102444800LL, 12, NOW},
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        n = ivcs_plan_write(&all[i], buf, sizeof buf);
        CHECK(n > 0 && n <= IVCS_PLAN_JSON_MAX);
        ivcs_plan_s back;
        CHECK_EQ(parse_str(&back, buf, NOW), 0);
        CHECK(plan_eq(&back, &all[i]));
    }
}

TEST(writer_refuses_bad_fields_and_short_buffers)
{
    char buf[IVCS_PLAN_JSON_MAX + 1];
    ivcs_plan_s ok = {1, IVCS_PLAN_EVENT, 7, 0, 0, NOW};
    ivcs_plan_s p = ok;
    p.cs_switch = 2;
    CHECK_EQ(ivcs_plan_write(&p, buf, sizeof buf), IVCS_ERR_CONFIG);
    p = ok;
    p.cs_type = (ivcs_plan_type_e)9;
    CHECK_EQ(ivcs_plan_write(&p, buf, sizeof buf), IVCS_ERR_CONFIG);
    p = ok;
    p.cs_days = -1;
    CHECK_EQ(ivcs_plan_write(&p, buf, sizeof buf), IVCS_ERR_CONFIG);
    p = ok;
    p.expire_utc = IVCS_PLAN_EXPIRE_MAX + 1;
    CHECK_EQ(ivcs_plan_write(&p, buf, sizeof buf), IVCS_ERR_CONFIG);
    p = ok;
    p.free_trial_remaining_sec = -1;
    CHECK_EQ(ivcs_plan_write(&p, buf, sizeof buf), IVCS_ERR_CONFIG);
    CHECK_EQ(ivcs_plan_write(NULL, buf, sizeof buf), IVCS_ERR_INVALID_ARG);
    CHECK_EQ(ivcs_plan_write(&ok, NULL, 10), IVCS_ERR_INVALID_ARG);

    ivcs_plan_s big = {1, IVCS_PLAN_FREE_TRIAL, 36500, IVCS_PLAN_EXPIRE_MAX, INT32_MAX, 0};
    int len = ivcs_plan_write(&big, buf, sizeof buf);
    CHECK(len > 0 && len <= IVCS_PLAN_JSON_MAX);
    for (size_t cap = 0; cap <= (size_t)len + 1; cap++) {
        char area[IVCS_PLAN_JSON_MAX + 64];
        memset(area, 0x5a, sizeof area);
        int rc = ivcs_plan_write(&big, area, cap);
        if (cap <= (size_t)len) {
            CHECK_EQ(rc, IVCS_ERR_TOO_LONG);
            if (cap) CHECK_EQ(area[0], 0);
        } else {
            CHECK_EQ(rc, len);
            CHECK(!strcmp(area, buf));
        }
        for (size_t i = cap; i < sizeof area; i++)
            if (area[i] != 0x5a) {
                fprintf(stderr, "cap %zu: wrote byte %zu\n", cap, i);
                CHECK(0);
                break;
            }
    }
}

TEST(type_parse)
{
    ivcs_plan_type_e t = IVCS_PLAN_NONE;
    CHECK_EQ(ivcs_plan_type_parse("event", 5, &t), 0);
    CHECK_EQ(t, IVCS_PLAN_EVENT);
    CHECK_EQ(ivcs_plan_type_parse("eventx", 5, &t), 0); /* only len bytes count */
    CHECK_EQ(ivcs_plan_type_parse("event", 4, &t), IVCS_ERR_CONFIG);
    CHECK_EQ(ivcs_plan_type_parse("free_trial", 10, &t), 0);
    CHECK_EQ(t, IVCS_PLAN_FREE_TRIAL);
    CHECK_EQ(ivcs_plan_type_parse("FREE_TRIAL", 10, &t), IVCS_ERR_CONFIG);
}

int main(void)
{
    RUN(parses_the_contract_example);
    RUN(each_type_name_maps_to_the_seed_enum);
    RUN(no_plan_object_means_no_service);
    RUN(switch_off_or_type_none_means_no_service);
    RUN(expiry_ends_the_service_at_expire_utc);
    RUN(event_plan_allows_events_but_not_full_time);
    RUN(free_trial_records_full_time_while_it_lasts);
    RUN(bad_documents_are_config_errors_and_keep_the_old_plan);
    RUN(tolerated_variants);
    RUN(writer_output_is_exact_and_parses_back);
    RUN(writer_refuses_bad_fields_and_short_buffers);
    RUN(type_parse);
    return check_done();
}
