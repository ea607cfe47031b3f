/*
 * seed_sample.c - firmware code written the way the vendor's cloud-storage
 * sample uses the iv_cs API (seed document, "示例代码", and the init struct).
 *
 * It is compiled, never linked or run: the point is that such firmware
 * source builds against ivcs's headers unchanged, warning-free. Kept close to
 * the vendor's style on purpose (u64TimeStamp for audio, u64PTS for video,
 * the four callbacks in the struct's order, pacing by timestamp).
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "iv_cm.h"
#include "iv_cs.h"
#include "iv_err.h"

#define AUDIO_FRAME_MAX (8 * 1024)
#define VIDEO_FRAME_MAX (512 * 1024)

static uint8_t audio_frame_buf[AUDIO_FRAME_MAX];
static uint8_t video_frame_buf[VIDEO_FRAME_MAX];
static uint8_t event_picture[64 * 1024];
static volatile int run_flag = 1;
static volatile int push_enabled = 0;

static int32_t cloud_storage_push_stream_start_cb(void)
{
    printf("cloud storage: start pushing\n");
    push_enabled = 1;
    return IV_ERR_NONE;
}

static int32_t cloud_storage_push_stream_stop_cb(void)
{
    printf("cloud storage: stop pushing\n");
    push_enabled = 0;
    return IV_ERR_NONE;
}

static int32_t cloud_storage_capture_picture_cb(int32_t event_id, uint8_t **pic, int32_t *size)
{
    if (event_id == 2) { /* this event has no picture */
        *pic = NULL;
        *size = 0;
        return IV_ERR_NONE;
    }
    *pic = event_picture;
    *size = (int32_t)sizeof(event_picture);
    return IV_ERR_NONE;
}

static int32_t cloud_storage_picture_result_cb(uint8_t **pic, int32_t err_code)
{
    printf("picture %p uploaded: %d\n", (void *)*pic, err_code);
    return IV_ERR_NONE;
}

static void get_aac_frame(uint8_t *buf, uint32_t *len)
{
    memset(buf, 0, 7);
    *len = 7;
}

static void get_video_frame_h264(uint8_t *buf, uint32_t *len, iv_cm_frame_type_e *frame_type)
{
    static const uint8_t idr[] = {0, 0, 0, 1, 0x65, 0x88};
    memcpy(buf, idr, sizeof idr);
    *len = sizeof idr;
    *frame_type = IV_CM_FRAME_TYPE_I;
}

static int compare_time_stamp(uint64_t frame_count_audio, double audio_time_base,
                              uint64_t frame_count_video, double video_time_base)
{
    double ta = (double)frame_count_audio * audio_time_base;
    double tv = (double)frame_count_video * video_time_base;
    return ta < tv ? -1 : (ta > tv ? 1 : 0);
}

static void sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

int cloud_storage_sample(void);

int cloud_storage_sample(void)
{
    iv_cs_balance_info_s balance_info;
    iv_err_code_e ret;

    /* optional: query the plan before init */
    if (iv_cs_get_balance_info(&balance_info, 5) == IV_ERR_NONE && balance_info.cs_switch == 1 &&
        balance_info.cs_type == CS_TYPE_FULL_TIME) {
        printf("full-time plan, %d days\n", balance_info.cs_days);
    }

    iv_cs_init_parm_s cs_init_parm;
    memset(&cs_init_parm, 0, sizeof(cs_init_parm));
    cs_init_parm.u32MaxGopSize = 800 * 1024;
    cs_init_parm.av_fmt.eAudioType = IV_CM_AENC_TYPE_AAC;
    cs_init_parm.av_fmt.u32AudioCodecOption = IV_CM_AAC_TYPE_LC;
    cs_init_parm.av_fmt.eAudioMode = IV_CM_AENC_MODE_STEREO;
    cs_init_parm.av_fmt.eAudioBitWidth = IV_CM_AENC_BIT_WIDTH_16;
    cs_init_parm.av_fmt.eAudioSampleRate = IV_CM_AENC_SAMPLE_RATE_48000;
    cs_init_parm.av_fmt.u32SampleNumPerFrame = 1024;
    cs_init_parm.av_fmt.eVideoType = IV_CM_VENC_TYPE_H264;
    cs_init_parm.av_fmt.u32VideoWidth = 640;
    cs_init_parm.av_fmt.u32VideoHeight = 360;
    cs_init_parm.av_fmt.u32Framerate = 25;
    cs_init_parm.iv_cs_push_stream_start_cb = cloud_storage_push_stream_start_cb;
    cs_init_parm.iv_cs_push_stream_stop_cb = cloud_storage_push_stream_stop_cb;
    cs_init_parm.iv_cs_event_capture_picture_cb = cloud_storage_capture_picture_cb;
    cs_init_parm.iv_cs_event_picture_result_cb = cloud_storage_picture_result_cb;

    ret = iv_cs_init(&cs_init_parm);
    if (ret != IV_ERR_NONE) {
        printf("iv_cs_init failed: %d\n", ret);
        return ret;
    }
    iv_cs_set_trans_time(10000, 5000);

    iv_cm_aenc_pack_s audio_pack;
    iv_cm_venc_pack_s video_pack;
    uint32_t audio_len = 0, video_len = 0;
    iv_cm_frame_type_e frame_type;
    uint32_t frame_count_a = 0, frame_count_v = 0;
    uint64_t frame_count_audio = 0, frame_count_video = 0;
    const double audio_time_base = 1024 / 48.0, video_time_base = 1000 / 25.0;

    iv_cs_event_start(1);
    iv_cs_event_start_ext(2, 15, 15);

    /* push: the caller keeps audio and video in time order */
    while (run_flag) {
        if (compare_time_stamp(frame_count_audio, audio_time_base, frame_count_video,
                               video_time_base) <= 0) {
            frame_count_audio += 1;
            get_aac_frame(audio_frame_buf, &audio_len);
            audio_pack.pu8Addr = audio_frame_buf;
            audio_pack.u32Len = audio_len;
            audio_pack.u64TimeStamp = (uint64_t)(frame_count_a * 1024 / 48.0);
            audio_pack.u32Seq = frame_count_a;
            iv_cs_push_stream(IV_CM_STREAM_TYPE_AUDIO, &audio_pack);
            frame_count_a++;
        } else {
            frame_count_video += 1;
            get_video_frame_h264(video_frame_buf, &video_len, &frame_type);
            video_pack.pu8Addr = video_frame_buf;
            video_pack.u32Len = video_len;
            video_pack.eFrameType = frame_type;
            video_pack.u64PTS = (uint64_t)(frame_count_v * 1000 / 25.0);
            video_pack.u32Seq = frame_count_v;
            ret = iv_cs_push_stream(IV_CM_STREAM_TYPE_VIDEO, &video_pack);
            if (ret == IV_ERR_CS_NEED_IDR_FRAME) printf("waiting for the next I-frame\n");
            frame_count_v++;
        }
        if (!push_enabled || frame_count_v > 250) run_flag = 0;
        sleep_ms(10);
    }

    iv_cs_event_stop(1);
    iv_cs_event_stop_ext(2, 0, 0);
    return iv_cs_exit();
}
