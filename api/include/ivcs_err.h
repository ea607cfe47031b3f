/*
 * ivcs_err.h - ivcs's own error codes, in the range -650..-699 that the
 * vendor leaves free. They say precisely what went wrong where no vendor
 * code does. Every function of ivcs returns 0 (IV_ERR_NONE) or a negative
 * code from iv_err.h or from here; ivcs_strerror() has a message for each.
 */
#ifndef IVCS_ERR_H
#define IVCS_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    IVCS_ERR_FRAME_TOO_BIG = -650,     /* a frame larger than the ring can ever hold */
    IVCS_ERR_BUFFER_FULL = -651,       /* the ring has no room for this frame now */
    IVCS_ERR_BAD_ANNEXB = -652,        /* video is not an Annex-B byte stream */
    IVCS_ERR_B_FRAME = -653,           /* a B-slice: only I and P are supported */
    IVCS_ERR_CODEC_MISMATCH = -654,    /* stream does not match the format given at init */
    IVCS_ERR_BAD_ADTS = -655,          /* malformed AAC ADTS header */
    IVCS_ERR_PTS_BACKWARDS = -656,     /* PTS lower than the previous frame's */
    IVCS_ERR_EVENT_ID_RANGE = -657,    /* event id outside 1..16 */
    IVCS_ERR_EVENT_ACTIVE = -658,      /* event already started */
    IVCS_ERR_EVENT_NOT_STARTED = -659, /* stop without a start */
    IVCS_ERR_EVENT_TIME_MIX = -660,    /* one relative and one absolute time */
    IVCS_ERR_INVALID_ARG = -661,       /* a NULL pointer or a value out of range */
    IVCS_ERR_INCOMPLETE = -662,        /* a parser needs more bytes */
    IVCS_ERR_BAD_SPS = -663,           /* SPS/VPS/PPS that cannot be parsed */
    IVCS_ERR_FRAME_TYPE = -664,        /* eFrameType disagrees with the NAL units */
    IVCS_ERR_NO_PARAMS = -665,         /* an I-frame without SPS/PPS (and VPS for H.265) */
    IVCS_ERR_EMPTY_FRAME = -666,       /* zero-length or NULL frame */
    IVCS_ERR_UNSUPPORTED = -667,       /* a codec or feature ivcs does not handle */
    IVCS_ERR_WRITE = -668,             /* an output callback or file write failed */
    IVCS_ERR_IO = -669,                /* a file could not be read */
    IVCS_ERR_CONFIG = -670,            /* bad configuration (file or struct) */
    IVCS_ERR_CONNECT = -671,           /* TCP connect failed or was refused */
    IVCS_ERR_RESOLVE = -672,           /* host name could not be resolved */
    IVCS_ERR_TLS = -673,               /* TLS handshake or record error */
    IVCS_ERR_TLS_VERIFY = -674,        /* server certificate not trusted or wrong host */
    IVCS_ERR_TIMEOUT = -675,           /* an operation ran past its timeout */
    IVCS_ERR_HTTP_PARSE = -676,        /* malformed HTTP response */
    IVCS_ERR_HTTP_STATUS = -677,       /* HTTP error status (see the S3 error code) */
    IVCS_ERR_S3 = -678,                /* S3 error response */
    IVCS_ERR_CANCELLED = -679,         /* operation cancelled */
    IVCS_ERR_CLOSED = -680,            /* peer closed the connection */
    IVCS_ERR_XML = -681,               /* malformed S3 XML */
    IVCS_ERR_TOO_LONG = -682,          /* a name, key or header exceeds its limit */
    IVCS_ERR_NOT_FOUND = -683,         /* the object or resource does not exist */
    IVCS_ERR_STATE = -684,             /* call not valid in the current state */
    IVCS_ERR_AUDIO_FRAME_SIZE = -685,  /* a G.711/PCM frame that is not 1024 samples per channel */
    IVCS_ERR_IO_BACKEND = -686,        /* the I/O backend asked for cannot start (io_uring refused) */
    IVCS_ERR_INTEGRITY = -687,         /* the server stored other bytes than were sent (ETag is not their MD5) */
} ivcs_err_e;

#ifdef __cplusplus
}
#endif
#endif /* IVCS_ERR_H */
