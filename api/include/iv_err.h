/*
 * iv_err.h - error codes of the IoT video device SDK (the part ivcs uses).
 * Values are the vendor's. ivcs's own, more precise codes (-650..-699) are
 * in ivcs_err.h; every code has a message from ivcs_strerror().
 */
#ifndef IV_ERR_H
#define IV_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    IV_ERR_NONE = 0,

    IV_ERR_SYS_MALLOC_FAIL = -108,
    IV_ERR_SYS_COMMUNICATE_FAIL = -109,
    IV_ERR_SYS_COMMUNICATE_TIMEOUT = -110,

    IV_ERR_CS_INIT_PRM_NULL = -600,
    IV_ERR_CS_INIT_CB_NULL = -601,
    IV_ERR_CS_INIT_PRM_RANGE = -602,
    IV_ERR_CS_UPLOAD_AUTH_NOT_AVAILABLE = -603,
    IV_ERR_CS_UPLOAD_OPEN_FILE_FAIL = -604,
    IV_ERR_CS_PRM_NOT_AVAILABLE = -605,
    IV_ERR_CS_PRM_MALLOC_FAIL = -606,
    IV_ERR_CS_APPLY_NO_SERVICE = -607,
    IV_ERR_CS_QUERY_SERVICE_TIMEOUT = -608,
    IV_ERR_CS_EVENT_IS_VALID = -609,
    IV_ERR_CS_INIT_REPEAT = -610,
    IV_ERR_CS_NEED_IDR_FRAME = -611,
    IV_ERR_CS_NO_BALANCE = -612,
    IV_ERR_CS_HTTP_DATA_FAIL = -613,

    IV_ERR_DEVICE_OFFLINE = -1001
} iv_err_code_e;

#ifdef __cplusplus
}
#endif
#endif /* IV_ERR_H */
