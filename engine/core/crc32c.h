/*
 * crc32c.h - CRC-32C (Castagnoli, reflected polynomial 0x82F63B78,
 * init/xorout 0xFFFFFFFF): the spool's entry checksum and the
 * x-amz-checksum-crc32c trailer of S3 uploads (engine/net/awschunk.h).
 *
 * Hardware where the CPU has it (x86 SSE4.2 crc32 instruction, ARMv8 CRC32
 * extension, both detected at run time), slicing-by-8 tables otherwise.
 * Thread-safe, allocates nothing.
 */
#ifndef IVCS_CORE_CRC32C_H
#define IVCS_CORE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* crc = 0 to start; chain by passing the previous result. */
uint32_t ivcs_crc32c(uint32_t crc, const void *p, size_t n);

/* The portable table version (what ivcs_crc32c uses without hardware);
 * for tests comparing the two. */
uint32_t ivcs_crc32c_sw(uint32_t crc, const void *p, size_t n);

/* "sse4.2", "armv8-crc" or "table": what ivcs_crc32c uses here. */
const char *ivcs_crc32c_impl(void);

#ifdef __cplusplus
}
#endif
#endif
