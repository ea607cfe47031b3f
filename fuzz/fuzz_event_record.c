/*
 * fuzz_event_record.c - event records (engine/layout/event_record.c): the
 * JSON a camera writes for an event and every viewer reads back from the
 * bucket. Checks in layout_modes.h.
 *
 * Input layout (fuzz/corpus/event_record/ follows it):
 *   byte 0     mode, byte % 2:
 *              0 parser: whatever parses survives write -> parse unchanged
 *              1 writer: the rest, split at its middle, is info | picture
 *                (each cut at its first NUL); output always parses, valid
 *                UTF-8 comes back byte for byte
 *   the rest   the document
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/layout_modes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    if (data[0] % 2 == 0)
        record_mode((const char *)data + 1, size - 1);
    else
        writer_mode((const char *)data + 1, size - 1);
    return 0;
}
