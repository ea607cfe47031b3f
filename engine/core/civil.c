/* civil.c - see civil.h. */
#include "engine/core/civil.h"

/* Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms": eras of
 * 400 years make the leap rule periodic, and counting years from March
 * puts the leap day last, so day-of-year is a linear formula. */
int64_t ivcs_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;                                                     /* [0, 399] */
    int64_t doy = (153 * (int64_t)(m > 2 ? m - 3 : m + 9) + 2) / 5 + (int64_t)d - 1; /* [0, 365] */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy; /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

int ivcs_dec_digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    if (n > 9) return -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return 0;
}
