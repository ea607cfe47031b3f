/*
 * fuzz_plan.c - the cloud-contract parsers: plan.json, object keys, event
 * records, and the date / event-time helpers. Every accepted input must
 * survive a write -> parse round trip unchanged, and the key parser must
 * accept nothing but the builders' canonical spelling.
 *
 * Input layout (the corpus files in fuzz/corpus/plan/ follow it):
 *   byte 0     mode, byte % 5:
 *              0 plan.json parser (+ writer round trip, rule invariants)
 *              1 object key parser (+ rebuild must equal the input)
 *              2 event record parser (+ writer round trip)
 *              3 event record writer: the rest, split at its middle, is
 *                info | picture (each cut at its first NUL)
 *              4 dates and event times: the rest read as little-endian
 *                numbers (missing bytes are 0)
 *   the rest   the document
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/layout_modes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *d = (const char *)data + 1;
    size_t n = size - 1;
    switch (data[0] % 5) {
    case 0:
        plan_mode(d, n);
        break;
    case 1:
        key_mode(d, n);
        break;
    case 2:
        record_mode(d, n);
        break;
    case 3:
        writer_mode(d, n);
        break;
    default:
        time_mode(data + 1, n);
        break;
    }
    return 0;
}
