/*
 * ivcs_base.h - what every layer of ivcs shares: the error convention, the
 * visibility and must-check macros, the allocator type, version and messages.
 *
 * Conventions: functions return 0 (IV_ERR_NONE) or a negative error code from
 * iv_err.h or ivcs_err.h; out of memory is IV_ERR_SYS_MALLOC_FAIL everywhere
 * below the seed adapter. This header does not include the seed API (iv_cs.h).
 */
#ifndef IVCS_BASE_H
#define IVCS_BASE_H

#include <stddef.h>
#include <stdint.h>

#include "iv_err.h"
#include "ivcs_err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Marks what libivcs.so exports (with api/libivcs.map). */
#ifndef IVCS_API
#define IVCS_API __attribute__((visibility("default")))
#endif
#define IVCS_MUST_CHECK __attribute__((warn_unused_result))

/* ---------------------------------------------------------------- version */
#define IVCS_VERSION_MAJOR 0
#define IVCS_VERSION_MINOR 1
#define IVCS_VERSION_PATCH 0

/* "MAJOR.MINOR.PATCH" of the library actually linked. */
IVCS_API const char *ivcs_version(void);

/* ---------------------------------------------------------------- errors */
/* A static English message for any code (iv_err_code_e or ivcs_err_e);
 * "unknown error" for a value that is neither. Never NULL. */
IVCS_API const char *ivcs_strerror(int code);
/* The symbolic name of a code, e.g. "IV_ERR_CS_NEED_IDR_FRAME". Never NULL. */
IVCS_API const char *ivcs_strerror_name(int code);

/* ---------------------------------------------------------------- allocator */
/* Every engine object stores the allocator it was created with. alloc
 * returns NULL on failure (never aborts); free gets the size that was asked. */
typedef struct ivcs_allocator_s {
    void *(*alloc)(void *ctx, size_t size, size_t align);
    void (*free)(void *ctx, void *ptr, size_t size);
    void *ctx;
} ivcs_allocator_s;

#ifdef __cplusplus
}
#endif
#endif /* IVCS_BASE_H */
