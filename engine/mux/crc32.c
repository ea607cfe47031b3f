/* crc32.c - CRC-32/MPEG-2 for PSI sections. */
#include "engine/mux/crc32.h"

/* Bitwise on purpose: it runs over two ~20-byte sections per slice, so a
 * table would only cost cache. */
uint32_t ivcs_crc32_mpeg2(const uint8_t *p, size_t n)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        crc ^= (uint32_t)p[i] << 24;
        for (int b = 0; b < 8; b++)
            crc = (crc & 0x80000000u) ? (crc << 1) ^ 0x04C11DB7u : crc << 1;
    }
    return crc;
}
