/* retry.c - retry classification and full-jitter backoff. */
#include "engine/net/retry.h"

#include "ivcs_base.h"

int ivcs_retry_should(int err, int status)
{
    /* 501 NotImplemented: the server lacks the feature; it will not grow it. */
    if (status == 501) return 0;
    if (status >= 500 && status <= 599) return 1;
    if (status == 408 || status == 429) return 1;
    if (status >= 400) return 0; /* the server answered: asking again won't help */
    switch (err) {
    case IVCS_ERR_CONNECT:
    case IVCS_ERR_CLOSED:
    case IVCS_ERR_TIMEOUT:
    case IVCS_ERR_RESOLVE: /* DNS may come back */
    case IVCS_ERR_TLS:     /* a record error mid-stream, not a verify failure */
    case IV_ERR_SYS_COMMUNICATE_FAIL:
    case IV_ERR_SYS_COMMUNICATE_TIMEOUT:
    case IVCS_ERR_INTEGRITY: /* the body was damaged on the way: send it again */
        return 1;
    default:
        return 0;
    }
}

uint32_t ivcs_retry_backoff_cap_ms(unsigned attempt)
{
    uint64_t d = IVCS_RETRY_BASE_MS;
    while (attempt-- > 0 && d < IVCS_RETRY_CAP_MS) d <<= 1;
    return d > IVCS_RETRY_CAP_MS ? IVCS_RETRY_CAP_MS : (uint32_t)d;
}

uint32_t ivcs_retry_backoff_ms(unsigned attempt, uint64_t *rng)
{
    uint64_t x = *rng ? *rng : 0x9e3779b97f4a7c15ull;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *rng = x;
    uint32_t cap = ivcs_retry_backoff_cap_ms(attempt);
    return (uint32_t)(x % ((uint64_t)cap + 1));
}

uint32_t ivcs_retry_delay_ms(int err, unsigned attempt, uint64_t *rng)
{
    uint32_t d = ivcs_retry_backoff_ms(attempt, rng);
    if (err == IVCS_ERR_CONNECT && d > IVCS_RETRY_REFUSED_CAP_MS)
        d %= IVCS_RETRY_REFUSED_CAP_MS + 1; /* still spread over [0, cap] */
    return d;
}
