/*
 * ivcs.h - the native ivcs API: configuration, errors, version.
 * (Engines and channels arrive with the recording engine.)
 *
 * Conventions: functions return 0 or a negative error code (iv_err.h,
 * ivcs_err.h); the caller owns the structs it passes; nothing here keeps a
 * pointer to caller memory after returning unless it says so.
 */
#ifndef IVCS_H
#define IVCS_H

#include <stddef.h>
#include <stdint.h>

#include "iv_err.h"
#include "ivcs_err.h"

#ifdef __cplusplus
extern "C" {
#endif

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

/* ---------------------------------------------------------------- config */
#define IVCS_CFG_STR_MAX 256

typedef struct ivcs_config_s {
    char endpoint[IVCS_CFG_STR_MAX];      /* "https://host:port" */
    char region[64];                      /* e.g. "us-east-1" */
    char bucket[64];                      /* S3 bucket */
    char prefix[IVCS_CFG_STR_MAX];        /* key prefix, may be empty */
    char device_id[65];                   /* [A-Za-z0-9_-]{1,64} */
    char access_key[128];
    char secret_key[128];
    char session_token[2048];             /* empty: none */
    char ca_file[IVCS_CFG_STR_MAX];       /* empty: system CA store */
    int verify_tls;                       /* 1 (default): verify cert + host */
    int virtual_host;                     /* 0 (default): path-style addressing */
    uint32_t plan_poll_s;                 /* plan.json poll interval, default 60 */
    uint32_t slice_ms;                    /* slice target duration, default 4000 */
} ivcs_config_s;

/* Fills *cfg with the defaults (region us-east-1, verify on, 60 s, 4000 ms). */
IVCS_API void ivcs_config_defaults(ivcs_config_s *cfg);

/* Checks a configuration: endpoint scheme and host, bucket and device_id
 * syntax, keys present, numbers in range. On error writes a one-line reason
 * (never a secret) into err if err != NULL. */
IVCS_API IVCS_MUST_CHECK int ivcs_config_validate(const ivcs_config_s *cfg, char *err,
                                                  size_t err_len);

/* Parses the JSON configuration (ARCHITECTURE.md section 7) over the
 * defaults, then validates it. Unknown keys and wrong types are errors
 * (IVCS_ERR_CONFIG) with the offending key named in err. */
IVCS_API IVCS_MUST_CHECK int ivcs_config_parse(ivcs_config_s *cfg, const char *json, size_t len,
                                               char *err, size_t err_len);

/* As ivcs_config_parse, reading the file at path (IVCS_ERR_IO if unreadable). */
IVCS_API IVCS_MUST_CHECK int ivcs_config_load(ivcs_config_s *cfg, const char *path, char *err,
                                              size_t err_len);

#ifdef __cplusplus
}
#endif
#endif /* IVCS_H */
