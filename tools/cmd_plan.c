/* cmd_plan.c - `ivcs plan get|set`: the device's plan.json (what the device
 * may record) and its retention, a bucket lifecycle rule (catalog.h). */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/viewer/catalog.h"
#include "engine/layout/plan.h"
#include "tools/cli_common.h"
#include "tools/commands.h"
#include "tools/timearg.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ivcs plan get --config FILE [--json]\n"
            "       ivcs plan set --config FILE --type full_time|event|free_trial|none\n"
            "                     [--days N] [--expire T|never] [--trial-sec N]\n"
            "                     [--switch 0|1] [--no-lifecycle]\n"
            "\n"
            "set writes {prefix}{device}/plan.json (cs_switch, default 1; cs_type; cs_days N,\n"
            "default 0; expire_utc from --expire, default never; free_trial_remaining_sec)\n"
            "and makes the recordings expire after N days: a bucket lifecycle rule with ID\n"
            "'ivcs:{prefix}{device}/' on the prefix '{prefix}{device}/ch' (slices and events\n"
            "of all channels; plan.json is kept). --days 0 removes that rule. S3 keeps one\n"
            "lifecycle configuration per bucket: set reads it, keeps every other rule as it\n"
            "is and replaces only this device's (two 'plan set' racing on one bucket can\n"
            "lose one update). --no-lifecycle leaves the bucket's rules alone.\n"
            "get prints the plan, the service it grants now, and the retention rule (--json:\n"
            "as one JSON document). --config: default $IVCS_CONFIG.\n"
            "%s"
            "exit: 0 ok, 1 no plan (get) / S3 error, 2 usage, 3 plan written but the\n"
            "      server has no bucket lifecycle (set: retention not set)\n",
            ivcs_cli_time_help());
}

static const char *service_name(ivcs_service_e s)
{
    return s == IVCS_SERVICE_FULL_TIME ? "full_time" : s == IVCS_SERVICE_EVENT ? "event" : "none";
}

static int64_t now_s(void)
{
    return (int64_t)time(NULL);
}

static int do_get(ivcs_cli_s *c, int json)
{
    char key[IVCS_LAYOUT_KEY_MAX + 1];
    if (ivcs_layout_plan_key(&c->layout, key, sizeof key) < 0)
        return ivcs_cli_fail(c, "plan key", IVCS_ERR_TOO_LONG, NULL);
    ivcs_s3_result err;
    memset(&err, 0, sizeof err);
    char *body;
    size_t len;
    int rc = ivcs_catalog_get_small(c->s3, key, 64 * 1024, &body, &len, &err);
    if (rc == IVCS_ERR_NOT_FOUND && strcmp(err.code, "NoSuchBucket")) {
        fprintf(stderr,
                "ivcs plan: no plan for device '%s' (%s does not exist): the device has no "
                "service; set one with 'ivcs plan set'\n",
                c->cfg.device_id, key);
        return IVCS_EXIT_FAIL;
    }
    if (rc < 0) return ivcs_cli_fail(c, "get plan.json", rc, &err);
    ivcs_plan_s plan;
    int64_t now = now_s();
    rc = ivcs_plan_parse(&plan, body, len, now);
    if (rc < 0) {
        fprintf(stderr, "ivcs plan: %s is not a valid plan: %s\n", key, ivcs_strerror(rc));
        free(body);
        return IVCS_EXIT_FAIL;
    }
    uint32_t days = 0;
    int lrc = ivcs_catalog_retention_get(c->s3, &c->cfg, &c->layout, &days, &err);
    int no_lc = lrc == IVCS_ERR_UNSUPPORTED; /* an answer: no retention here */
    if (lrc < 0 && !no_lc)
        ivcs_cli_fail(c, "read the bucket lifecycle (retention unknown)", lrc, &err);
    ivcs_service_e svc = ivcs_plan_service(&plan, now);
    char e[32];
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "key", key);
        cJSON *p = cJSON_ParseWithLength(body, len);
        cJSON_AddItemToObject(o, "plan", p ? p : cJSON_CreateNull());
        cJSON_AddStringToObject(o, "service", service_name(svc));
        cJSON_AddNumberToObject(o, "trial_remaining_sec", ivcs_plan_trial_remaining(&plan, now));
        if (no_lc) cJSON_AddFalseToObject(o, "lifecycle_supported");
        if (lrc < 0)
            cJSON_AddNullToObject(o, "retention_days");
        else
            cJSON_AddNumberToObject(o, "retention_days", days);
        char *txt = cJSON_Print(o);
        cJSON_Delete(o);
        if (txt) puts(txt);
        free(txt);
    } else {
        printf("device %s  plan %s\n", c->cfg.device_id, key);
        printf("  cs_switch %d  cs_type %s  cs_days %" PRId32 "  expires %s  free trial %" PRId32
               " s\n",
               plan.cs_switch, ivcs_plan_type_name(plan.cs_type), plan.cs_days,
               plan.expire_utc ? ivcs_cli_iso(plan.expire_utc * 1000, e, sizeof e) : "never",
               plan.free_trial_remaining_sec);
        printf("  service now: %s\n", service_name(svc));
        if (lrc == 0) {
            if (days)
                printf("  retention: %" PRIu32 " days (lifecycle rule ivcs:%s on %sch)\n", days,
                       c->layout.root, c->layout.root);
            else
                printf("  retention: none (no lifecycle rule for this device)\n");
        } else if (no_lc) {
            printf("  retention: none: %s\n", err.detail);
        }
    }
    free(body);
    if (fflush(stdout) != 0) return IVCS_EXIT_FAIL;
    return lrc < 0 && !no_lc ? IVCS_EXIT_FAIL : IVCS_EXIT_OK;
}

int ivcs_cmd_plan(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (ivcs_cli_is_help(argv[i])) {
            usage(stdout);
            return 0;
        }
    if (argc < 2 || argv[1][0] == '-')
        return ivcs_cli_usage_error("plan", "the operation is missing: ivcs plan get|set ...");
    const char *sub = argv[1];
    int is_set = !strcmp(sub, "set");
    if (!is_set && strcmp(sub, "get"))
        return ivcs_cli_usage_error("plan", "unknown operation '%s' (get or set)", sub);
    const char *config = NULL, *type = NULL;
    int json = 0, no_lc = 0;
    uint32_t days = 0, trial = 0, sw = 1;
    int64_t expire_ms = 0;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (ivcs_cli_is_help(a)) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--json") && !is_set) {
            json = 1;
        } else if (!strcmp(a, "--no-lifecycle") && is_set) {
            no_lc = 1;
        } else if (v && !strcmp(a, "--config")) {
            config = v;
            i++;
        } else if (v && is_set && !strcmp(a, "--type")) {
            type = v;
            i++;
        } else if (v && is_set && !strcmp(a, "--days")) {
            if (ivcs_cli_u32("plan", a, v, 0, IVCS_PLAN_DAYS_MAX, &days) < 0)
                return IVCS_EXIT_USAGE;
            i++;
        } else if (v && is_set && !strcmp(a, "--trial-sec")) {
            if (ivcs_cli_u32("plan", a, v, 0, INT32_MAX, &trial) < 0) return IVCS_EXIT_USAGE;
            i++;
        } else if (v && is_set && !strcmp(a, "--switch")) {
            if (ivcs_cli_u32("plan", a, v, 0, 1, &sw) < 0) return IVCS_EXIT_USAGE;
            i++;
        } else if (v && is_set && !strcmp(a, "--expire")) {
            if (!strcmp(v, "never") || !strcmp(v, "0"))
                expire_ms = 0;
            else if (ivcs_cli_time("plan", a, v, &expire_ms) < 0)
                return IVCS_EXIT_USAGE;
            i++;
        } else {
            return ivcs_cli_bad_option(is_set ? "plan set" : "plan get", a,
                                       is_set ? "--config --type --days --trial-sec --switch --expire"
                                              : "--config");
        }
    }
    ivcs_plan_s plan;
    memset(&plan, 0, sizeof plan);
    char json_buf[IVCS_PLAN_JSON_MAX + 1];
    int jlen = 0;
    if (is_set) {
        if (!type) {
            return ivcs_cli_usage_error("plan set",
                                        "--type full_time|event|free_trial|none is required");
        }
        if (ivcs_plan_type_parse(type, strlen(type), &plan.cs_type) < 0) {
            return ivcs_cli_usage_error(
                "plan set", "bad --type '%s' (full_time, event, free_trial, none)", type);
        }
        plan.cs_switch = (int)sw;
        plan.cs_days = (int32_t)days;
        /* expire_utc is whole seconds: round a sub-second time up so the plan
         * does not end before the instant given */
        plan.expire_utc = (expire_ms + 999) / 1000;
        plan.free_trial_remaining_sec = (int32_t)trial;
        jlen = ivcs_plan_write(&plan, json_buf, sizeof json_buf);
        if (jlen < 0) {
            return ivcs_cli_usage_error("plan set", "the plan is out of range: %s",
                                        ivcs_strerror(jlen));
        }
    }

    ivcs_cli_s c;
    int ret = ivcs_cli_open(&c, "plan", config);
    if (ret) return ret;
    if (!is_set) {
        ret = do_get(&c, json);
        ivcs_cli_close(&c);
        return ret;
    }
    char key[IVCS_LAYOUT_KEY_MAX + 1];
    ivcs_s3_result err;
    memset(&err, 0, sizeof err);
    if (ivcs_layout_plan_key(&c.layout, key, sizeof key) < 0) {
        ret = ivcs_cli_fail(&c, "plan key", IVCS_ERR_TOO_LONG, NULL);
        goto out;
    }
    ivcs_s3_op op;
    ivcs_s3_op_init(&op, IVCS_S3_PUT, key);
    op.max_attempts = IVCS_CATALOG_ATTEMPTS;
    op.backoff_max_ms = 2000;
    op.body = (const uint8_t *)json_buf;
    op.body_len = (uint64_t)jlen;
    op.content_type = "application/json";
    int rc = ivcs_s3_run(c.s3, &op);
    if (rc < 0) {
        ret = ivcs_cli_fail(&c, "put plan.json", rc, &op.res);
        ivcs_s3_op_cleanup(&op);
        goto out;
    }
    ivcs_s3_op_cleanup(&op);
    printf("%s: %s\n", key, json_buf);
    if (!no_lc) {
        rc = ivcs_catalog_retention_set(c.s3, &c.cfg, &c.layout, days, &err);
        if (rc == IVCS_ERR_UNSUPPORTED) {
            /* Its own outcome: the plan is set, the server cannot expire. */
            fprintf(stderr,
                    "ivcs plan: plan.json was written; retention NOT set: %s at %s, so "
                    "recordings do not expire%s\n",
                    err.detail, c.cfg.endpoint,
                    days ? " (delete old ones yourself, or use --no-lifecycle)" : "");
            ret = days ? IVCS_EXIT_PARTIAL : IVCS_EXIT_OK;
            goto out;
        }
        if (rc < 0) {
            ret = ivcs_cli_fail(&c, "set the lifecycle rule (plan.json was written)", rc, &err);
            goto out;
        }
        if (days)
            printf("lifecycle: objects under %sch expire after %" PRIu32 " days (rule ivcs:%s)\n",
                   c.layout.root, days, c.layout.root);
        else
            printf("lifecycle: no expiry for %sch (rule ivcs:%s removed)\n", c.layout.root,
                   c.layout.root);
    }
    if (fflush(stdout) != 0) ret = IVCS_EXIT_FAIL;
out:
    ivcs_cli_close(&c);
    return ret;
}
