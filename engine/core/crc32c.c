/* crc32c.c - CRC-32C, hardware or slicing-by-8 (see crc32c.h). */
#include "engine/core/crc32c.h"

#if defined(__x86_64__) || defined(__i386__)
#define CRC_X86 1
#include <cpuid.h>
#elif defined(__aarch64__) && defined(__linux__)
#define CRC_ARM 1
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif
#endif

/* ---------------------------------------------------------------- tables */

static uint32_t crc_tab[8][256];
static int crc_ready;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        crc_tab[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_tab[t][i] = (crc_tab[t - 1][i] >> 8) ^ crc_tab[0][crc_tab[t - 1][i] & 0xff];
    __atomic_store_n(&crc_ready, 1, __ATOMIC_RELEASE);
}

uint32_t ivcs_crc32c_sw(uint32_t crc, const void *buf, size_t n)
{
    /* the tables are a pure function of nothing: racing initialisers write
     * the same values, and the flag is only a shortcut */
    if (!__atomic_load_n(&crc_ready, __ATOMIC_ACQUIRE)) crc_init();
    const uint8_t *p = buf;
    uint32_t c = ~crc;
    while (n && ((uintptr_t)p & 7)) {
        c = (c >> 8) ^ crc_tab[0][(c ^ *p++) & 0xff];
        n--;
    }
    while (n >= 8) {
        uint32_t lo = c ^ ((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                           (uint32_t)p[3] << 24);
        c = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^ crc_tab[5][(lo >> 16) & 0xff] ^
            crc_tab[4][lo >> 24] ^ crc_tab[3][p[4]] ^ crc_tab[2][p[5]] ^ crc_tab[1][p[6]] ^
            crc_tab[0][p[7]];
        p += 8;
        n -= 8;
    }
    while (n--) c = (c >> 8) ^ crc_tab[0][(c ^ *p++) & 0xff];
    return ~c;
}

/* ---------------------------------------------------------------- hardware */

#if CRC_X86
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t crc, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    uint32_t c = ~crc;
    while (n && ((uintptr_t)p & 7)) {
        c = __builtin_ia32_crc32qi(c, *p++);
        n--;
    }
#if defined(__x86_64__)
    uint64_t c64 = c;
    while (n >= 8) {
        uint64_t v;
        __builtin_memcpy(&v, p, 8);
        c64 = __builtin_ia32_crc32di(c64, v);
        p += 8;
        n -= 8;
    }
    c = (uint32_t)c64;
#endif
    while (n >= 4) {
        uint32_t v;
        __builtin_memcpy(&v, p, 4);
        c = __builtin_ia32_crc32si(c, v);
        p += 4;
        n -= 4;
    }
    while (n--) c = __builtin_ia32_crc32qi(c, *p++);
    return ~c;
}

static int have_hw(void)
{
    unsigned a, b, c, d;
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSE4_2) != 0;
}
#define HW_NAME "sse4.2"
#elif CRC_ARM
static uint32_t crc_hw(uint32_t crc, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    uint32_t c = ~crc;
    while (n && ((uintptr_t)p & 7)) {
        __asm__(".arch_extension crc\n\tcrc32cb %w0, %w0, %w1" : "+r"(c) : "r"((uint32_t)*p));
        p++;
        n--;
    }
    while (n >= 8) {
        uint64_t v;
        __builtin_memcpy(&v, p, 8);
        __asm__(".arch_extension crc\n\tcrc32cx %w0, %w0, %x1" : "+r"(c) : "r"(v));
        p += 8;
        n -= 8;
    }
    while (n--) {
        __asm__(".arch_extension crc\n\tcrc32cb %w0, %w0, %w1" : "+r"(c) : "r"((uint32_t)*p));
        p++;
    }
    return ~c;
}

static int have_hw(void)
{
    return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0;
}
#define HW_NAME "armv8-crc"
#endif

/* 0 unknown, 1 hardware, 2 table; racing first callers store the same. */
static int impl;

static int pick(void)
{
    int i = __atomic_load_n(&impl, __ATOMIC_RELAXED);
    if (i) return i;
#if CRC_X86 || CRC_ARM
    i = have_hw() ? 1 : 2;
#else
    i = 2;
#endif
    __atomic_store_n(&impl, i, __ATOMIC_RELAXED);
    return i;
}

uint32_t ivcs_crc32c(uint32_t crc, const void *p, size_t n)
{
#if CRC_X86 || CRC_ARM
    if (pick() == 1) return crc_hw(crc, p, n);
#endif
    return ivcs_crc32c_sw(crc, p, n);
}

const char *ivcs_crc32c_impl(void)
{
#if CRC_X86 || CRC_ARM
    if (pick() == 1) return HW_NAME;
#else
    (void)pick;
#endif
    return "table";
}
