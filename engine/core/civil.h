/* civil.h - calendar arithmetic and fixed-width decimal fields, shared by
 * every parser of a date (S3 timestamps, the HTTP Date header, object
 * keys). Pure functions. */
#ifndef IVCS_CORE_CIVIL_H
#define IVCS_CORE_CIVIL_H

#include <stddef.h>
#include <stdint.h>

/* Days from 1970-01-01 to y-m-d (m 1..12, d 1..31, not range-checked) of
 * the proleptic Gregorian calendar; negative before 1970. */
int64_t ivcs_days_from_civil(int64_t y, unsigned m, unsigned d);

/* The n ASCII digits at s (no sign, no space) as a number into *out: 0, or
 * -1 if any byte is not a digit. n <= 9, so it cannot overflow. */
int ivcs_dec_digits(const char *s, size_t n, unsigned *out);

#endif
