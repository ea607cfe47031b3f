/*
 * ivcs_config.h - the cloud configuration shared by the recording engine
 * (ivcs.h) and the viewer (ivcs_viewer.h): endpoint, bucket, keys, TLS.
 *
 * Conventions: as ivcs_base.h; the caller owns every struct it passes.
 */
#ifndef IVCS_CONFIG_H
#define IVCS_CONFIG_H

#include "ivcs_base.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IVCS_CFG_STR_MAX 256

/* The event-loop backend (config key "io_backend"; docs/TRANSPORT.md). The
 * environment variable IVCS_IO_BACKEND, when set, overrides the config. */
typedef enum {
    IVCS_IO_AUTO = 0,  /* io_uring; epoll when io_uring is refused or missing */
    IVCS_IO_URING = 1, /* io_uring only: IVCS_ERR_IO_BACKEND if it cannot start */
    IVCS_IO_EPOLL = 2, /* epoll with nonblocking sockets */
} ivcs_io_backend_e;
#define IVCS_IO_NOTE_MAX 192

/* "auto", "io_uring" or "epoll"; "?" for any other value. */
IVCS_API const char *ivcs_io_backend_name(int backend);
/* Why the last event loop made on the calling thread (by ivcs_engine_new,
 * iv_cs_init, a plan query, a viewer...) runs the backend it does, or why it
 * could not start, e.g. "io_uring_setup refused (EPERM): blocked by a
 * seccomp profile or kernel.io_uring_disabled? using epoll". "" when
 * io_uring started as asked or no loop was made. Never NULL. */
IVCS_API const char *ivcs_io_backend_note(void);

/* How a slice upload is protected end to end against corruption in flight
 * (config key "integrity"; docs/TRANSPORT.md, "Integrity"). Each mode makes
 * the body in one pass from the ring except IVCS_INTEGRITY_MD5. */
typedef enum {
    IVCS_INTEGRITY_AUTO = 0,           /* probe the server at start, pick the cheapest it checks */
    IVCS_INTEGRITY_MD5 = 1,            /* Content-MD5, computed in a first pass (the old way) */
    IVCS_INTEGRITY_SHA256_CHUNKED = 2, /* streaming SigV4: every 64 KiB chunk signed */
    IVCS_INTEGRITY_CRC32C_TRAILER = 3, /* aws-chunked with an x-amz-checksum-crc32c trailer */
    IVCS_INTEGRITY_MD5_ETAG = 4,       /* MD5 while sending, compared with the reply's ETag */
} ivcs_integrity_e;
#define IVCS_INTEGRITY_MAX 4

/* "auto", "md5", "sha256-chunked", "crc32c-trailer", "md5-etag"; "?" otherwise. */
IVCS_API const char *ivcs_integrity_name(int mode);

typedef struct ivcs_config_s {
    char endpoint[IVCS_CFG_STR_MAX]; /* "https://host:port" */
    char region[64];                 /* e.g. "us-east-1" */
    char bucket[64];                 /* S3 bucket */
    char prefix[IVCS_CFG_STR_MAX];   /* key prefix, may be empty */
    char device_id[65];              /* [A-Za-z0-9_-]{1,64} */
    char access_key[128];
    char secret_key[128];
    char session_token[2048];       /* empty: none */
    char ca_file[IVCS_CFG_STR_MAX]; /* empty: system CA store */
    int verify_tls;                 /* 1 (default): verify cert + host */
    int virtual_host;               /* 0 (default): path-style addressing */
    uint32_t plan_poll_s;           /* plan.json poll interval, default 60 */
    uint32_t slice_ms;              /* slice target duration, default 4000 */
    int io_backend;                 /* ivcs_io_backend_e, default IVCS_IO_AUTO */
    /* Local spool (docs/ARCHITECTURE.md section 11): slices that cannot be
     * uploaded are kept here and backfilled later; the last plan.json too.
     * Empty (default): no spool. An absolute path of an existing directory
     * that the engine owns. */
    char spool_dir[IVCS_CFG_STR_MAX];
    uint32_t spool_max_mb;   /* spool size limit, 1..1048576 MiB (0: 1024) */
    uint32_t backfill_share; /* % of upload time backfill may take while live
                              * slices wait, 1..100 (0: 50) */
    int integrity;           /* ivcs_integrity_e, default IVCS_INTEGRITY_AUTO */
} ivcs_config_s;

/* Fills *cfg with the defaults (region us-east-1, verify on, 60 s, 4000 ms,
 * no spool, spool_max_mb 1024, backfill_share 50, integrity auto). */
IVCS_API void ivcs_config_defaults(ivcs_config_s *cfg);

/* Checks a configuration: endpoint scheme and host, bucket and device_id
 * syntax, keys present, numbers in range. On error writes a one-line reason
 * (never a secret) into err if err != NULL. */
IVCS_API IVCS_MUST_CHECK int ivcs_config_validate(const ivcs_config_s *cfg, char *err,
                                                  size_t err_len);

/* Parses the JSON configuration (docs/ARCHITECTURE.md section 7) over the
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
#endif /* IVCS_CONFIG_H */
