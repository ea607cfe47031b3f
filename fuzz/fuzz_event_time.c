/*
 * fuzz_event_time.c - the event-time arguments of iv_cs_event_start/stop
 * (engine/layout/event_time.c: absolute UTC seconds or relative ms, from
 * firmware) and the date helpers of the layout (format, parse, day of).
 * The input is read as little-endian numbers (missing bytes are 0):
 * bytes 0-7 a time in ms (>> 1), 8-11 and 12-15 the two event-time
 * arguments, 16-23 "now". Checks in layout_modes.h (time_mode).
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz/layout_modes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    time_mode(data, size);
    return 0;
}
