/* crc32.h - the CRC-32 of MPEG-2 sections (PSI tables: PAT, PMT). */
#ifndef IVCS_MUX_CRC32_H
#define IVCS_MUX_CRC32_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CRC-32/MPEG-2 of p[0..n): polynomial 0x04C11DB7, MSB first, initial value
 * 0xFFFFFFFF, no final xor (ISO/IEC 13818-1 Annex A). A section followed by
 * its CRC has a CRC of 0. Pure function, any thread. */
uint32_t ivcs_crc32_mpeg2(const uint8_t *p, size_t n);

#ifdef __cplusplus
}
#endif
#endif
