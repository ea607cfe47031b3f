/*
 * timearg.h - the time arguments of the viewer commands (ivcs ls, events,
 * playlist, export, plan), parsed into UTC milliseconds.
 *
 * Accepted forms (whole string, no surrounding blanks):
 *   2026-11-25T10:00:00Z          ISO-8601 date and time, 'T' or ' ' between;
 *   2026-11-25T10:00:00.250Z      1..9 fraction digits (cut to ms, not rounded);
 *   2026-11-25T10:00Z             seconds optional;
 *   2026-11-25T11:00:00+01:00     any offset +-HH:MM or +-HHMM (converted to UTC);
 *   2026-11-25                    a date alone: 00:00:00Z of that day;
 *   1795600000                    epoch seconds (up to 11 digits, optional
 *   1795600000.25                 fraction of up to 3 digits);
 *   1795600000000                 12 or more digits: epoch milliseconds
 *                                 (100000000000 s would be the year 5138, so
 *                                 the two ranges cannot be confused for real
 *                                 recordings; ms below 1973-03-03 cannot be
 *                                 written this way: use ISO-8601);
 *   now                           the current time.
 * A date-time without a zone designator (Z or an offset) is refused: a
 * local time silently read as UTC would shift every range.
 * Valid results are 0 .. 9999-12-31T23:59:59.999Z (IVCS_LAYOUT_MS_MAX).
 */
#ifndef IVCS_TOOLS_TIMEARG_H
#define IVCS_TOOLS_TIMEARG_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Parses s (forms above) into *ms. 0, or IVCS_ERR_INVALID_ARG (then *ms is
 * untouched). */
int ivcs_timearg_parse(const char *s, int64_t *ms);

/* Parses exactly "YYYY-MM-DD" (a real date) into the UTC ms of its
 * 00:00:00. 0 or IVCS_ERR_INVALID_ARG. */
int ivcs_timearg_parse_day(const char *s, int64_t *ms);

/* One line naming the accepted forms, for usage and error messages. */
const char *ivcs_timearg_help(void);

#ifdef __cplusplus
}
#endif
#endif
