/* strbuf.h - the growable NUL-terminated text buffer of the control path
 * (viewer listings, playlists, lifecycle XML): one overflow rule for all. */
#ifndef IVCS_CORE_STRBUF_H
#define IVCS_CORE_STRBUF_H

#include <stddef.h>

#include "ivcs_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Zero-initialise ({0}) before use. p is NUL-terminated once anything was
 * added. The rule: an append either fits whole or fails with
 * IV_ERR_SYS_MALLOC_FAIL, and after one failure every later append fails
 * too (oom stays set), so a caller may append many times and check once.
 * Memory: libc (realloc/free); control path only, never the push path. */
typedef struct ivcs_strbuf_s {
    char *p;
    size_t len, cap;
    int oom;
} ivcs_strbuf_s;

/* Room for `more` bytes + NUL. 0 or IV_ERR_SYS_MALLOC_FAIL. */
IVCS_MUST_CHECK int ivcs_strbuf_reserve(ivcs_strbuf_s *b, size_t more);
/* Appends p[0..n). 0 or IV_ERR_SYS_MALLOC_FAIL. */
IVCS_MUST_CHECK int ivcs_strbuf_add(ivcs_strbuf_s *b, const void *p, size_t n);
/* Appends printf output. 0 or IV_ERR_SYS_MALLOC_FAIL. */
IVCS_MUST_CHECK int ivcs_strbuf_printf(ivcs_strbuf_s *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Frees p; *b is zeroed. */
void ivcs_strbuf_free(ivcs_strbuf_s *b);

#ifdef __cplusplus
}
#endif
#endif
