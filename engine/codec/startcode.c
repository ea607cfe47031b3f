/*
 * startcode.c - the Annex-B start-code scanner (ivcs_nalu_find_start,
 * nalu.h): SSE2/AVX2 on x86-64, a portable word-at-a-time path elsewhere;
 * never a load outside [p, p + len).
 */
#include "engine/codec/nalu.h"

#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define HAVE_AVX2_PATH 1
#endif


/* ------------------------------------------------------------------------ */
/* Start-code scanner                                                        */
/* ------------------------------------------------------------------------ */
/*
 * Where a start code can be, cheaply: every start code leaves, in the
 * 16-bit words counted from the scan origin, a word that reads 00 00 or
 * 00 01, i.e. (w & 0xFEFF) == 0 read as little-endian. A code at an even
 * offset k has the word 00 00 at k; at an odd k, the word at k + 1 is
 * 00 01 (3-byte) or 00 00 (4-byte). In slice data (emulation prevention
 * forbids 00 00 0x, x <= 3) such words are about one in 32768, so the fast
 * loop needs one load, one AND and one MIN per vector, like memchr. A
 * flagged block gets the exact test: "p[k] == 0 && p[k+1] == 0" by OR-ing
 * the block with itself shifted by one byte, then sc_at on each hit. A code
 * that begins at the last (odd) byte of a block shows up in the next
 * block's first word, so the exact test of block [i, i + n) covers k from
 * i - 1; the scalar tail likewise starts one byte back.
 */

/* p[i] == 0 && p[i + 1] == 0 is known: is a start code there? In order, so a
 * 00 00 00 01 is reported at its first zero before the 00 00 01 inside it. */
static inline int sc_at(const uint8_t *p, size_t len, size_t i, size_t *sc_len)
{
    if (i + 2 >= len) return 0;
    if (p[i + 2] == 1) {
        *sc_len = 3;
        return 1;
    }
    if (p[i + 2] == 0 && i + 3 < len && p[i + 3] == 1) {
        *sc_len = 4;
        return 1;
    }
    return 0;
}

static size_t scan_scalar(const uint8_t *p, size_t len, size_t i, size_t *sc_len)
{
    /* A start code needs two zeros in a row: if p[i + 1] is not zero,
     * neither i nor i + 1 can begin one, so skip two. */
    while (i + 2 < len) {
        if (p[i + 1] != 0) {
            i += 2;
            continue;
        }
        if (p[i] == 0 && sc_at(p, len, i, sc_len)) return i;
        i++;
    }
    *sc_len = 0;
    return len;
}

#if defined(__SSE2__)
/* The code at i - 1 that the block starting at i may have flagged (the
 * vector paths only: elsewhere clang would call it unused). */
static inline int sc_before(const uint8_t *p, size_t len, size_t i, size_t *sc_len)
{
    return i > 0 && p[i - 1] == 0 && p[i] == 0 && sc_at(p, len, i - 1, sc_len);
}

/* Exact test of the 64 bytes at q = p + i (reads q[0..64]). */
static inline size_t exact64_sse2(const uint8_t *p, size_t len, size_t i, size_t *sc_len)
{
    const __m128i zero = _mm_setzero_si128();
    const uint8_t *q = p + i;
    uint64_t m = 0;
    for (int k = 0; k < 4; k++) {
        __m128i o = _mm_or_si128(_mm_loadu_si128((const __m128i *)(const void *)(q + 16 * k)),
                                 _mm_loadu_si128((const __m128i *)(const void *)(q + 16 * k + 1)));
        m |= (uint64_t)(uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(o, zero)) << (16 * k);
    }
    while (m) {
        size_t k = i + (size_t)__builtin_ctzll(m);
        if (sc_at(p, len, k, sc_len)) return k;
        m &= m - 1;
    }
    return SIZE_MAX;
}
#endif

#if HAVE_AVX2_PATH
/* 128 bytes a round on 32-byte vectors (the shape of glibc's AVX2 memchr).
 * Returns the start code offset, or, with *sc_len = 0, where the caller
 * goes on (fewer than 129 bytes left; position - 1 not yet checked). Built
 * for AVX2 whatever the compiler flags; called only when the CPU has it. */
__attribute__((target("avx2"))) static size_t scan_avx2(const uint8_t *p, size_t len,
                                                        size_t *sc_len)
{
    const __m256i zero = _mm256_setzero_si256();
    const __m256i word_mask = _mm256_set1_epi16((short)0xFEFF);
    size_t i = 0;
    *sc_len = 0;
    while (len - i >= 129) {
        const uint8_t *q = p + i;
        __m256i a0 =
            _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(const void *)q), word_mask);
        __m256i a1 = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(const void *)(q + 32)),
                                      word_mask);
        __m256i a2 = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(const void *)(q + 64)),
                                      word_mask);
        __m256i a3 = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(const void *)(q + 96)),
                                      word_mask);
        __m256i mn = _mm256_min_epu16(_mm256_min_epu16(a0, a1), _mm256_min_epu16(a2, a3));
        if (_mm256_movemask_epi8(_mm256_cmpeq_epi16(mn, zero)) != 0) {
            if (sc_before(p, len, i, sc_len)) return i - 1;
            for (size_t h = 0; h < 128; h += 64) {
                size_t k = exact64_sse2(p, len, i + h, sc_len);
                if (k != SIZE_MAX) return k;
            }
        }
        i += 128;
    }
    *sc_len = 0;
    return i;
}

/* IVCS_NO_AVX2 (set, not "0") forces the SSE2 loop: how tests and the
 * benchmark reach it on machines that have AVX2. */
static int cpu_avx2(void)
{
    static int have = -1; /* benign race: every thread computes the same value */
    if (have < 0) {
        const char *off = getenv("IVCS_NO_AVX2");
        __builtin_cpu_init();
        have = __builtin_cpu_supports("avx2") && !(off && strcmp(off, "0") != 0) ? 1 : 0;
    }
    return have;
}
#endif

size_t ivcs_nalu_find_start(const uint8_t *p, size_t len, size_t *sc_len)
{
    size_t dummy;
    if (!sc_len) sc_len = &dummy;
    if (!p || len < 3) {
        *sc_len = 0;
        return len;
    }
    size_t i = 0;
#if HAVE_AVX2_PATH
    if (len >= 129 && cpu_avx2()) {
        i = scan_avx2(p, len, sc_len);
        if (*sc_len) return i;
    }
#endif
#if defined(__SSE2__)
    /* The same on 16-byte vectors, 64 bytes a round. */
    const __m128i zero = _mm_setzero_si128();
    const __m128i word_mask = _mm_set1_epi16((short)0xFEFF);
    while (len - i >= 65) {
        const uint8_t *q = p + i;
        __m128i a0 = _mm_and_si128(_mm_loadu_si128((const __m128i *)(const void *)q), word_mask);
        __m128i a1 =
            _mm_and_si128(_mm_loadu_si128((const __m128i *)(const void *)(q + 16)), word_mask);
        __m128i a2 =
            _mm_and_si128(_mm_loadu_si128((const __m128i *)(const void *)(q + 32)), word_mask);
        __m128i a3 =
            _mm_and_si128(_mm_loadu_si128((const __m128i *)(const void *)(q + 48)), word_mask);
        /* SSE2 has no unsigned 16-bit MIN: OR the word-equals-zero masks */
        __m128i z =
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi16(a0, zero), _mm_cmpeq_epi16(a1, zero)),
                         _mm_or_si128(_mm_cmpeq_epi16(a2, zero), _mm_cmpeq_epi16(a3, zero)));
        if (_mm_movemask_epi8(z) != 0) {
            if (sc_before(p, len, i, sc_len)) return i - 1;
            size_t k = exact64_sse2(p, len, i, sc_len);
            if (k != SIZE_MAX) return k;
        }
        i += 64;
    }
#else
    /* Portable: the exact pair test on 8 bytes at a time (SWAR). */
    while (len - i >= 9) {
        uint64_t a, b;
        memcpy(&a, p + i, 8);
        memcpy(&b, p + i + 1, 8);
        uint64_t o = a | b;
        if (((o - 0x0101010101010101ull) & ~o & 0x8080808080808080ull) != 0) {
            for (size_t k = i; k < i + 8; k++)
                if (p[k] == 0 && p[k + 1] == 0 && sc_at(p, len, k, sc_len)) return k;
        }
        i += 8;
    }
#endif
    return scan_scalar(p, len, i > 0 ? i - 1 : 0, sc_len);
}
