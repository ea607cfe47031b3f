/*
 * fuzz_timearg.c - the time arguments of the viewer commands
 * (tools/timearg.c: ivcs ls/events/playlist/export/plan --from/--to). The
 * input, cut at its first NUL, is the argument. Invariants:
 *   - ivcs_timearg_parse: accepted results are 0..IVCS_LAYOUT_MS_MAX and
 *     their ISO-8601 spelling (the layout's formatter) parses back to the
 *     same ms; refused: IVCS_ERR_INVALID_ARG, result untouched;
 *   - ivcs_timearg_parse_day: accepted only for exactly "YYYY-MM-DD", a
 *     midnight whose formatted date is the input, and the general parser
 *     agrees.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/layout/layout.h"
#include "ivcs_err.h"
#include "tools/timearg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s) abort();
    memcpy(s, data, size);
    s[size] = 0;
    int64_t ms = -7, back = -7;
    int rc = ivcs_timearg_parse(s, &ms);
    if (rc == 0) {
        if (ms < 0 || ms > IVCS_LAYOUT_MS_MAX) abort();
        char iso[IVCS_LAYOUT_ISO_LEN + 1];
        if (ivcs_layout_format_iso8601(ms, iso) != IVCS_LAYOUT_ISO_LEN) abort();
        if (ivcs_timearg_parse(iso, &back) != 0 || back != ms) abort();
    } else if (rc != IVCS_ERR_INVALID_ARG || ms != -7) {
        abort();
    }
    int64_t day = -7;
    rc = ivcs_timearg_parse_day(s, &day);
    if (rc == 0) {
        char d[IVCS_LAYOUT_DATE_LEN + 1];
        if (strlen(s) != IVCS_LAYOUT_DATE_LEN || day < 0 || day % 86400000 != 0) abort();
        if (ivcs_layout_format_date(day, d) != IVCS_LAYOUT_DATE_LEN || strcmp(d, s) != 0) abort();
        if (ivcs_timearg_parse(s, &back) != 0 || back != day) abort();
    } else if (rc != IVCS_ERR_INVALID_ARG || day != -7) {
        abort();
    }
    free(s);
    return 0;
}
