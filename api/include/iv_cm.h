/*
 * iv_cm.h - common audio/video types of the IoT video device SDK.
 *
 * Names, member order and enum values follow the vendor's public header so
 * firmware written for the vendor SDK compiles against ivcs unchanged.
 * All PTS values are milliseconds.
 */
#ifndef IV_CM_H
#define IV_CM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    IV_CM_AENC_TYPE_PCM = 0,
    IV_CM_AENC_TYPE_G711A = 1,
    IV_CM_AENC_TYPE_G711U = 2,
    IV_CM_AENC_TYPE_G726 = 3,
    IV_CM_AENC_TYPE_AAC = 4,
    IV_CM_AENC_TYPE_AMR = 5,
    IV_CM_AENC_TYPE_ADPCMA = 6,
    IV_CM_AENC_TYPE_BUTT
} iv_cm_aenc_type_e;

typedef enum {
    IV_CM_AAC_TYPE_NONE = 0,
    IV_CM_AAC_TYPE_MAIN = 1,
    IV_CM_AAC_TYPE_LC = 2,
    IV_CM_AAC_TYPE_SSR = 3,
    IV_CM_AAC_TYPE_LTP = 4,
    IV_CM_AAC_TYPE_SBR = 5,
    IV_CM_AAC_TYPE_SCALCBLE = 6,
    IV_CM_AAC_TYPE_TWINVQ = 7,
    IV_CM_AAC_TYPE_CELP = 8,
    IV_CM_AAC_TYPE_HVXC = 9,
    IV_CM_AAC_TYPE_BUTT
} iv_cm_aac_type_e;

/* The value of each rate is the rate in Hz. */
typedef enum {
    IV_CM_AENC_SAMPLE_RATE_8000 = 8000,
    IV_CM_AENC_SAMPLE_RATE_11025 = 11025,
    IV_CM_AENC_SAMPLE_RATE_12000 = 12000,
    IV_CM_AENC_SAMPLE_RATE_16000 = 16000,
    IV_CM_AENC_SAMPLE_RATE_22050 = 22050,
    IV_CM_AENC_SAMPLE_RATE_24000 = 24000,
    IV_CM_AENC_SAMPLE_RATE_32000 = 32000,
    IV_CM_AENC_SAMPLE_RATE_44100 = 44100,
    IV_CM_AENC_SAMPLE_RATE_48000 = 48000,
    IV_CM_AENC_SAMPLE_RATE_64000 = 64000,
    IV_CM_AENC_SAMPLE_RATE_96000 = 96000,
    IV_CM_AENC_SAMPLE_RATE_BUTT
} iv_cm_aenc_sample_rate_e;

typedef enum {
    IV_CM_AENC_BIT_WIDTH_8 = 0,
    IV_CM_AENC_BIT_WIDTH_16 = 1,
    IV_CM_AENC_BIT_WIDTH_24 = 2,
    IV_CM_AENC_BIT_WIDTH_BUTT
} iv_cm_aenc_bit_width_e;

typedef enum {
    IV_CM_AENC_MODE_MONO = 0,
    IV_CM_AENC_MODE_STEREO = 1,
    IV_CM_AENC_MODE_BUTT
} iv_cm_aenc_mode_e;

typedef enum {
    IV_CM_STREAM_TYPE_AUDIO = 0,
    IV_CM_STREAM_TYPE_VIDEO = 1,
    IV_CM_STREAM_TYPE_BUTT
} iv_cm_stream_type_e;

typedef enum {
    IV_CM_VENC_TYPE_H264 = 0,
    IV_CM_VENC_TYPE_H265 = 1,
    IV_CM_VENC_TYPE_MJPG = 2,
    IV_CM_VENC_TYPE_BUTT
} iv_cm_venc_type_e;

/* No B-frames: video is I and P only. */
typedef enum {
    IV_CM_FRAME_TYPE_I = 0,
    IV_CM_FRAME_TYPE_P = 1,
    IV_CM_FRAME_TYPE_BUTT
} iv_cm_frame_type_e;

/* One encoded audio frame. The vendor's sample program names the PTS
 * member u64TimeStamp; both names refer to the same field. */
typedef struct iv_cm_aenc_pack_s {
    uint8_t *pu8Addr;
    uint32_t u32Len;
    union {
        uint64_t u64PTS;
        uint64_t u64TimeStamp;
    };
    uint32_t u32Seq;
} iv_cm_aenc_pack_s;

/* One encoded video frame (an access unit in Annex-B byte-stream format). */
typedef struct iv_cm_venc_pack_s {
    uint8_t *pu8Addr;
    uint32_t u32Len;
    uint64_t u64PTS;
    iv_cm_frame_type_e eFrameType;
    uint32_t u32Seq;
} iv_cm_venc_pack_s;

typedef struct iv_cm_av_data_info_s {
    iv_cm_aenc_type_e eAudioType;
    uint32_t u32AudioCodecOption; /* iv_cm_aac_type_e when eAudioType is AAC */
    iv_cm_aenc_mode_e eAudioMode;
    iv_cm_aenc_bit_width_e eAudioBitWidth;
    iv_cm_aenc_sample_rate_e eAudioSampleRate;
    uint32_t u32SampleNumPerFrame;
    iv_cm_venc_type_e eVideoType;
    uint32_t u32VideoWidth;
    uint32_t u32VideoHeight;
    uint32_t u32Framerate;
    uint32_t u32Reserve[4];
} iv_cm_av_data_info_s;

#ifdef __cplusplus
}
#endif
#endif /* IV_CM_H */
