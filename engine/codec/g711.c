/*
 * g711.c - G.711 expansion (see g711.h).
 *
 * A-law: the code is stored with even bits inverted (XOR 0x55); bit 7 is
 * the sign (1 = positive), bits 6..4 the segment, bits 3..0 the mantissa.
 * The magnitude is (mantissa * 16 + 8) in segment 0 and
 * (mantissa * 16 + 0x108) << (segment - 1) above it.
 *
 * mu-law: the code is stored inverted; bit 7 is the sign (1 = negative
 * after inversion), bits 6..4 the exponent, bits 3..0 the mantissa; the
 * magnitude is ((mantissa * 8 + 0x84) << exponent) - 0x84.
 */
#include "engine/codec/g711.h"

int16_t ivcs_g711_alaw_to_s16(uint8_t code)
{
    unsigned a = code ^ 0x55u;
    unsigned seg = (a >> 4) & 7u;
    int mag = (int)((a & 0x0Fu) << 4);
    if (seg == 0)
        mag += 8;
    else
        mag = (mag + 0x108) << (seg - 1);
    return (int16_t)((a & 0x80u) ? mag : -mag);
}

int16_t ivcs_g711_ulaw_to_s16(uint8_t code)
{
    unsigned u = (unsigned)(uint8_t)~code;
    int mag = ((int)((u & 0x0Fu) << 3) + 0x84) << ((u >> 4) & 7u);
    return (int16_t)((u & 0x80u) ? 0x84 - mag : mag - 0x84);
}

void ivcs_g711_alaw_expand(const uint8_t *in, int16_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = ivcs_g711_alaw_to_s16(in[i]);
}

void ivcs_g711_ulaw_expand(const uint8_t *in, int16_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = ivcs_g711_ulaw_to_s16(in[i]);
}
