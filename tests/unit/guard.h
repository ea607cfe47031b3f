/*
 * guard.h - place a test input right against an inaccessible page, so a
 * parser that reads one byte too far faults at once (picohttpparser's
 * trick). ASan cannot see past the end of mmap'ed memory; the PROT_NONE
 * page can, in every build.
 *
 *   guard_buf g;
 *   const uint8_t *p = guard_place(&g, data, len, GUARD_AFTER);
 *   ... parse p[0..len) ...
 *   guard_release(&g);
 *
 * GUARD_AFTER puts the last byte of the input at the end of a page whose
 * successor is PROT_NONE (over-reads fault); GUARD_BEFORE puts the first
 * byte at the start of a page whose predecessor is PROT_NONE (under-reads
 * fault). A guard_buf is reused by later guard_place calls when the input
 * fits its mapping, so tests that place thousands of inputs stay fast.
 */
#ifndef IVCS_TEST_GUARD_H
#define IVCS_TEST_GUARD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

typedef enum { GUARD_AFTER = 0, GUARD_BEFORE = 1 } guard_side_e;

typedef struct {
    uint8_t *map; /* whole mapping: guard page + data pages + guard page */
    size_t map_len;
    size_t data_len; /* bytes of data pages */
} guard_buf;

#define GUARD_INIT                                                                                 \
    {                                                                                              \
        NULL, 0, 0                                                                                 \
    }

static inline size_t guard_page_size(void)
{
    long ps = sysconf(_SC_PAGESIZE);
    return ps > 0 ? (size_t)ps : 4096;
}

static inline void guard_release(guard_buf *g)
{
    if (g->map) munmap(g->map, g->map_len);
    g->map = NULL;
    g->map_len = g->data_len = 0;
}

/* Copies data[0..len) next to a PROT_NONE page and returns where it now
 * starts; exits the test program if memory cannot be mapped (a test that
 * cannot place its input must not pass). */
static inline const uint8_t *guard_place(guard_buf *g, const void *data, size_t len,
                                         guard_side_e side)
{
    size_t ps = guard_page_size();
    size_t need = (len + ps - 1) / ps * ps;
    if (need == 0) need = ps;
    if (!g->map || g->data_len < need) {
        guard_release(g);
        size_t total = need + 2 * ps;
        void *m = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) {
            perror("guard_place: mmap");
            exit(2);
        }
        g->map = (uint8_t *)m;
        g->map_len = total;
        g->data_len = need;
        if (mprotect(g->map, ps, PROT_NONE) != 0 ||
            mprotect(g->map + ps + need, ps, PROT_NONE) != 0) {
            perror("guard_place: mprotect");
            exit(2);
        }
    }
    uint8_t *lo = g->map + ps;
    uint8_t *dst = side == GUARD_AFTER ? lo + g->data_len - len : lo;
    /* Fill the rest with a non-zero pattern: leftovers of an earlier input
     * must not look like start codes to the next one. */
    memset(lo, 0xA5, g->data_len);
    if (len) memcpy(dst, data, len);
    return dst;
}

#endif
