/* errors.c - ivcs_strerror(): one message and one name per error code. */
#include "ivcs_base.h"

typedef struct {
    int code;
    const char *name;
    const char *msg;
} err_entry;

#define E(code, msg) {code, #code, msg}
static const err_entry err_table[] = {
    E(IV_ERR_NONE, "success"),
    E(IV_ERR_SYS_MALLOC_FAIL, "memory allocation failed"),
    E(IV_ERR_SYS_COMMUNICATE_FAIL, "communication failed"),
    E(IV_ERR_SYS_COMMUNICATE_TIMEOUT, "communication timed out"),
    E(IV_ERR_CS_INIT_PRM_NULL, "init parameter is NULL"),
    E(IV_ERR_CS_INIT_CB_NULL, "a required callback is NULL"),
    E(IV_ERR_CS_INIT_PRM_RANGE, "an init parameter is out of range"),
    E(IV_ERR_CS_UPLOAD_AUTH_NOT_AVAILABLE, "upload credentials not available"),
    E(IV_ERR_CS_UPLOAD_OPEN_FILE_FAIL, "could not open a slice or picture for upload"),
    E(IV_ERR_CS_PRM_NOT_AVAILABLE, "cloud storage is not initialised"),
    E(IV_ERR_CS_PRM_MALLOC_FAIL, "cloud storage allocation failed"),
    E(IV_ERR_CS_APPLY_NO_SERVICE, "no active cloud-storage plan"),
    E(IV_ERR_CS_QUERY_SERVICE_TIMEOUT, "plan query timed out; cached info returned"),
    E(IV_ERR_CS_EVENT_IS_VALID, "event state invalid for this call"),
    E(IV_ERR_CS_INIT_REPEAT, "iv_cs_init called twice"),
    E(IV_ERR_CS_NEED_IDR_FRAME, "an I-frame is needed before more P-frames"),
    E(IV_ERR_CS_NO_BALANCE, "no available balance"),
    E(IV_ERR_CS_HTTP_DATA_FAIL, "HTTP send failed"),
    E(IV_ERR_DEVICE_OFFLINE, "device offline"),
    E(IVCS_ERR_FRAME_TOO_BIG, "frame is larger than the ring can ever hold"),
    E(IVCS_ERR_BUFFER_FULL, "ring buffer full"),
    E(IVCS_ERR_BAD_ANNEXB, "video frame is not a valid Annex-B byte stream"),
    E(IVCS_ERR_B_FRAME, "B-slices are not supported (I and P only)"),
    E(IVCS_ERR_CODEC_MISMATCH, "stream does not match the format given at init"),
    E(IVCS_ERR_BAD_ADTS, "malformed AAC ADTS header"),
    E(IVCS_ERR_PTS_BACKWARDS, "PTS went backwards"),
    E(IVCS_ERR_EVENT_ID_RANGE, "event id out of range 1..16"),
    E(IVCS_ERR_EVENT_ACTIVE, "event already started"),
    E(IVCS_ERR_EVENT_NOT_STARTED, "event stopped without a start"),
    E(IVCS_ERR_EVENT_TIME_MIX, "event times mix relative and absolute values"),
    E(IVCS_ERR_INVALID_ARG, "invalid argument"),
    E(IVCS_ERR_INCOMPLETE, "input incomplete: more bytes needed"),
    E(IVCS_ERR_BAD_SPS, "parameter set (VPS/SPS/PPS) cannot be parsed"),
    E(IVCS_ERR_FRAME_TYPE, "frame type disagrees with the NAL units"),
    E(IVCS_ERR_NO_PARAMS, "I-frame without its parameter sets (SPS/PPS, VPS for H.265)"),
    E(IVCS_ERR_EMPTY_FRAME, "empty frame"),
    E(IVCS_ERR_UNSUPPORTED, "unsupported codec or feature"),
    E(IVCS_ERR_WRITE, "output write failed"),
    E(IVCS_ERR_IO, "file could not be read"),
    E(IVCS_ERR_CONFIG, "invalid configuration"),
    E(IVCS_ERR_CONNECT, "connection failed"),
    E(IVCS_ERR_RESOLVE, "host name could not be resolved"),
    E(IVCS_ERR_TLS, "TLS error"),
    E(IVCS_ERR_TLS_VERIFY, "server certificate verification failed"),
    E(IVCS_ERR_TIMEOUT, "operation timed out"),
    E(IVCS_ERR_HTTP_PARSE, "malformed HTTP response"),
    E(IVCS_ERR_HTTP_STATUS, "HTTP error status"),
    E(IVCS_ERR_S3, "S3 error response"),
    E(IVCS_ERR_CANCELLED, "operation cancelled"),
    E(IVCS_ERR_CLOSED, "connection closed by peer"),
    E(IVCS_ERR_XML, "malformed S3 XML"),
    E(IVCS_ERR_TOO_LONG, "name, key or header too long"),
    E(IVCS_ERR_NOT_FOUND, "not found"),
    E(IVCS_ERR_STATE, "call not valid in the current state"),
    E(IVCS_ERR_AUDIO_FRAME_SIZE, "G.711/PCM audio frame is not 1024 samples per channel"),
    E(IVCS_ERR_IO_BACKEND, "the I/O backend cannot start: io_uring is refused or missing "
                           "(set io_backend to epoll or auto)"),
    E(IVCS_ERR_INTEGRITY, "integrity check failed: the server's ETag is not the MD5 of the bytes sent"),
};
#undef E

static const err_entry *find(int code)
{
    for (size_t i = 0; i < sizeof err_table / sizeof err_table[0]; i++)
        if (err_table[i].code == code) return &err_table[i];
    return NULL;
}

const char *ivcs_strerror(int code)
{
    const err_entry *e = find(code);
    return e ? e->msg : "unknown error";
}

const char *ivcs_strerror_name(int code)
{
    const err_entry *e = find(code);
    return e ? e->name : "IVCS_ERR_UNKNOWN";
}

const char *ivcs_version(void)
{
    return IVCS_VERSION_STRING;
}
