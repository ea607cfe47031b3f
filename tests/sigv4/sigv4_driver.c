/*
 * sigv4_driver.c - runs ivcs's SigV4 signer on requests read from stdin, for
 * the botocore oracle test (test_sigv4_oracle.py).
 *
 * Input: one JSON object per line:
 *   {"id": 1, "mode": "header"|"presign", "rules": "s3"|"generic",
 *    "access_key": "...", "secret_key": "...", "session_token": "..."|null,
 *    "service": "s3", "region": "us-east-1", "method": "PUT", "path": "/b/k ü",
 *    "query": [["name", "value"|null], ...], "headers": [["Host", "h"], ...],
 *    "payload_hash": "UNSIGNED-PAYLOAD" | "body_hex": "00ff..",
 *    "time": 1369353600, "scheme": "https", "expires": 3600}
 * Output: one JSON object per line with "id", "rc" and, when rc >= 0,
 * "amz_date", "authorization", "canonical_request", "canonical_query",
 * "wire_path" (header mode) or "url" (presign mode).
 *
 * One signer is kept across lines and only re-credentialed when the keys
 * change, so the signing-key cache is exercised the way a client uses it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "engine/net/hash.h"
#include "engine/net/sigv4.h"
#include "ivcs_err.h"

#define BIG 65536

static const char *str_of(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int pairs_of(const cJSON *o, const char *key, ivcs_sigv4_pair_s *out, size_t cap,
                    size_t *n)
{
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, key), *it;
    *n = 0;
    if (!arr) return 0;
    if (!cJSON_IsArray(arr)) return -1;
    cJSON_ArrayForEach(it, arr)
    {
        const cJSON *a = cJSON_GetArrayItem(it, 0), *b = cJSON_GetArrayItem(it, 1);
        if (*n >= cap || !cJSON_IsString(a)) return -1;
        out[*n].name = a->valuestring;
        out[*n].value = cJSON_IsString(b) ? b->valuestring : NULL;
        (*n)++;
    }
    return 0;
}

static int unhex(const char *h, uint8_t *out, size_t cap, size_t *n)
{
    size_t len = strlen(h);
    if (len % 2 || len / 2 > cap) return -1;
    for (size_t i = 0; i < len / 2; i++) {
        unsigned v;
        if (sscanf(h + 2 * i, "%2x", &v) != 1) return -1;
        out[i] = (uint8_t)v;
    }
    *n = len / 2;
    return 0;
}

/* The signer and the configuration it was made from. */
static ivcs_sigv4_s signer;
static int have_signer;
static char cur_service[64], cur_rules[16], cur_ak[256], cur_sk[256], cur_tok[8192];

static int get_signer(const cJSON *o)
{
    const char *ak = str_of(o, "access_key"), *sk = str_of(o, "secret_key");
    const char *tok = str_of(o, "session_token"), *service = str_of(o, "service");
    const char *rules = str_of(o, "rules");
    if (!ak || !sk || !service || !rules) return IVCS_ERR_INVALID_ARG;
    if (!tok) tok = "";
    if (strlen(ak) >= sizeof cur_ak || strlen(sk) >= sizeof cur_sk ||
        strlen(tok) >= sizeof cur_tok || strlen(service) >= sizeof cur_service ||
        strlen(rules) >= sizeof cur_rules)
        return IVCS_ERR_TOO_LONG;
    if (!have_signer || strcmp(service, cur_service) || strcmp(rules, cur_rules)) {
        if (have_signer) ivcs_sigv4_cleanup(&signer);
        have_signer = 0;
        ivcs_sigv4_config_s cfg = {.access_key = ak, .secret_key = sk, .session_token = tok,
                                   .region = "us-east-1", .service = service,
                                   .rules = strcmp(rules, "generic") == 0 ? IVCS_SIGV4_GENERIC
                                                                          : IVCS_SIGV4_S3};
        int rc = ivcs_sigv4_init(&signer, &cfg);
        if (rc) return rc;
        have_signer = 1;
    } else if (strcmp(ak, cur_ak) || strcmp(sk, cur_sk) || strcmp(tok, cur_tok)) {
        int rc = ivcs_sigv4_set_credentials(&signer, ak, sk, tok);
        if (rc) return rc;
    }
    strcpy(cur_service, service);
    strcpy(cur_rules, rules);
    strcpy(cur_ak, ak);
    strcpy(cur_sk, sk);
    strcpy(cur_tok, tok);
    return 0;
}

static cJSON *run(const cJSON *o)
{
    static ivcs_sigv4_pair_s query[IVCS_SIGV4_MAX_PARAMS + 1], headers[IVCS_SIGV4_MAX_HEADERS + 1];
    static char auth[BIG], cr[BIG], cq[BIG], path[BIG], url[BIG];
    static uint8_t body[BIG];
    cJSON *res = cJSON_CreateObject();
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(o, "id");
    cJSON_AddNumberToObject(res, "id", cJSON_IsNumber(id) ? id->valuedouble : -1);

    int rc = get_signer(o);
    ivcs_sigv4_request_s r = {0};
    char hash[IVCS_SHA256_HEX_LEN + 1];
    const char *mode = str_of(o, "mode");
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "time");
    r.method = str_of(o, "method");
    r.path = str_of(o, "path");
    r.region = str_of(o, "region");
    r.time = cJSON_IsNumber(t) ? (int64_t)t->valuedouble : -1;
    if (!rc && (pairs_of(o, "query", query, IVCS_SIGV4_MAX_PARAMS + 1, &r.n_query) ||
                pairs_of(o, "headers", headers, IVCS_SIGV4_MAX_HEADERS + 1, &r.n_headers)))
        rc = IVCS_ERR_INVALID_ARG;
    r.query = query;
    r.headers = headers;
    r.payload_hash = str_of(o, "payload_hash");
    const char *body_hex = str_of(o, "body_hex");
    if (!rc && body_hex) {
        size_t n;
        uint8_t d[IVCS_SHA256_LEN];
        if (unhex(body_hex, body, sizeof body, &n) || ivcs_sha256(body, n, d))
            rc = IVCS_ERR_INVALID_ARG;
        ivcs_hex_encode(d, sizeof d, hash);
        r.payload_hash = hash;
    }
    if (!rc && mode && strcmp(mode, "presign") == 0) {
        const char *scheme = str_of(o, "scheme");
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(o, "expires");
        rc = ivcs_sigv4_presign(&signer, &r, scheme ? scheme : "https",
                                cJSON_IsNumber(e) ? (uint32_t)e->valuedouble : 0, url, sizeof url);
        if (rc >= 0) cJSON_AddStringToObject(res, "url", url);
    } else if (!rc) {
        char date[IVCS_SIGV4_DATE_LEN + 1];
        rc = ivcs_sigv4_sign(&signer, &r, date, auth, sizeof auth);
        if (rc >= 0) {
            cJSON_AddStringToObject(res, "amz_date", date);
            cJSON_AddStringToObject(res, "authorization", auth);
            if (ivcs_sigv4_canonical_request(&signer, &r, cr, sizeof cr) >= 0)
                cJSON_AddStringToObject(res, "canonical_request", cr);
            if (ivcs_sigv4_canonical_query(r.query, r.n_query, cq, sizeof cq) >= 0)
                cJSON_AddStringToObject(res, "canonical_query", cq);
            if (ivcs_sigv4_encode_path(r.path, path, sizeof path) >= 0)
                cJSON_AddStringToObject(res, "wire_path", path);
        }
    }
    cJSON_AddNumberToObject(res, "rc", rc < 0 ? rc : 0);
    cJSON_AddNumberToObject(res, "key_derivations",
                            (double)(have_signer ? ivcs_sigv4_key_derivations(&signer) : 0));
    return res;
}

int main(void)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int lines = 0;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        if (n == 1 && line[0] == '\n') continue;
        cJSON *o = cJSON_Parse(line);
        cJSON *res;
        if (!o) {
            res = cJSON_CreateObject();
            cJSON_AddNumberToObject(res, "rc", IVCS_ERR_INVALID_ARG);
            cJSON_AddStringToObject(res, "error", "bad JSON");
        } else {
            res = run(o);
        }
        char *out = cJSON_PrintUnformatted(res);
        fputs(out ? out : "{}", stdout);
        fputc('\n', stdout);
        cJSON_free(out);
        cJSON_Delete(res);
        cJSON_Delete(o);
        lines++;
    }
    free(line);
    if (have_signer) ivcs_sigv4_cleanup(&signer);
    fprintf(stderr, "sigv4_driver: %d requests\n", lines);
    return 0;
}
