/* strbuf.c - the growable text buffer of strbuf.h (doubling from 4 KiB,
 * sticky out-of-memory). */
#include "engine/core/strbuf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int ivcs_strbuf_reserve(ivcs_strbuf_s *b, size_t more)
{
    if (b->oom) return IV_ERR_SYS_MALLOC_FAIL;
    if (more > SIZE_MAX / 4 - b->len) {
        b->oom = 1;
        return IV_ERR_SYS_MALLOC_FAIL;
    }
    if (b->len + more + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *n = realloc(b->p, cap);
    if (!n) {
        b->oom = 1;
        return IV_ERR_SYS_MALLOC_FAIL;
    }
    b->p = n;
    b->cap = cap;
    return 0;
}

int ivcs_strbuf_add(ivcs_strbuf_s *b, const void *p, size_t n)
{
    if (ivcs_strbuf_reserve(b, n) < 0) return IV_ERR_SYS_MALLOC_FAIL;
    if (n) memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

int ivcs_strbuf_printf(ivcs_strbuf_s *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || ivcs_strbuf_reserve(b, (size_t)n) < 0) {
        b->oom = 1;
        return IV_ERR_SYS_MALLOC_FAIL;
    }
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

void ivcs_strbuf_free(ivcs_strbuf_s *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}
