/*
 * fuzz_config.c - the JSON configuration (engine/core/config.c:
 * ivcs_config_parse, what `ivcs_config_load` and every CLI command read;
 * the file may come from a provisioning service). The whole input is the
 * document. Invariants:
 *   - accepted: the result validates, and parsing again gives the same
 *     struct (no state kept between calls);
 *   - refused: IVCS_ERR_CONFIG (or IVCS_ERR_INVALID_ARG / out of memory),
 *     *cfg untouched, a non-empty one-line reason without control bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iv_cs.h"
#include "ivcs_config.h"
#include "ivcs_err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exactly sized copy: the parser must not read past len */
    char *json = malloc(size ? size : 1);
    if (!json) abort();
    memcpy(json, data, size);
    static ivcs_config_s a, b;
    memset(&a, 0x5a, sizeof a);
    char err[256];
    int rc = ivcs_config_parse(&a, json, size, err, sizeof err);
    if (rc != 0) {
        if (rc != IVCS_ERR_CONFIG && rc != IVCS_ERR_INVALID_ARG && rc != IV_ERR_SYS_MALLOC_FAIL)
            abort();
        if (!err[0] || strnlen(err, sizeof err) == sizeof err) abort();
        for (const char *c = err; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f) abort();
        for (size_t i = 0; i < sizeof a; i++)
            if (((const unsigned char *)&a)[i] != 0x5a) abort();
        free(json);
        return 0;
    }
    if (ivcs_config_validate(&a, err, sizeof err) != 0) abort();
    memset(&b, 0, sizeof b);
    if (ivcs_config_parse(&b, json, size, err, sizeof err) != 0 || memcmp(&a, &b, sizeof a) != 0)
        abort();
    free(json);
    return 0;
}
