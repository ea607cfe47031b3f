/*
 * bitreader.h - the bit reader over an escaped NAL payload (private to
 * engine/codec): exp-Golomb reads, emulation-prevention bytes dropped on
 * the fly, sticky errors, never a read past the end.
 */
#ifndef IVCS_CODEC_BITREADER_H
#define IVCS_CODEC_BITREADER_H

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------ */
/* Bit reader over an escaped NAL payload                                    */
/* ------------------------------------------------------------------------ */

/* Reads the RBSP of [p, p + len): an emulation_prevention_three_byte (the 03
 * of 00 00 03) is skipped as it is loaded. Errors are sticky: once a read
 * runs past the end, err is set and every later read returns 0, so parsers
 * check err once at the points where a value matters. */
typedef struct {
    const uint8_t *p;
    size_t len;
    size_t pos;
    uint64_t cache; /* valid bits left-aligned */
    unsigned bits;
    unsigned zeros; /* zero bytes just loaded, for 00 00 03 */
    int err;
} bitrd;

static void br_init(bitrd *b, const uint8_t *p, size_t len)
{
    b->p = p;
    b->len = len;
    b->pos = 0;
    b->cache = 0;
    b->bits = 0;
    b->zeros = 0;
    b->err = 0;
}

static void br_refill(bitrd *b)
{
    while (b->bits <= 56 && b->pos < b->len) {
        uint8_t c = b->p[b->pos++];
        if (b->zeros >= 2 && c == 3) {
            b->zeros = 0;
            continue;
        }
        b->zeros = c == 0 ? b->zeros + 1 : 0;
        b->cache |= (uint64_t)c << (56 - b->bits);
        b->bits += 8;
    }
}

/* n in 1..32 */
static uint32_t br_u(bitrd *b, unsigned n)
{
    if (b->bits < n) {
        br_refill(b);
        if (b->bits < n) {
            b->err = 1;
            b->bits = 0;
            b->cache = 0;
            return 0;
        }
    }
    uint32_t v = (uint32_t)(b->cache >> (64 - n));
    b->cache <<= n;
    b->bits -= n;
    return v;
}

static void br_skip(bitrd *b, unsigned n)
{
    while (n > 32) {
        br_u(b, 32);
        n -= 32;
    }
    if (n) br_u(b, n);
}

/* ue(v); more than 31 leading zeros cannot be a 32-bit value: error. */
static uint32_t br_ue(bitrd *b)
{
    unsigned lz = 0;
    while (br_u(b, 1) == 0) {
        if (b->err || ++lz > 31) {
            b->err = 1;
            return 0;
        }
    }
    if (lz == 0) return 0;
    return ((1u << lz) - 1) + br_u(b, lz);
}

static int64_t br_se(bitrd *b)
{
    uint32_t k = br_ue(b);
    return (k & 1) ? (int64_t)(k >> 1) + 1 : -(int64_t)(k >> 1);
}

#endif
