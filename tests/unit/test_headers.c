/* test_headers.c - the public headers match the vendor SDK's ABI, and every
 * error code has its own message.
 *
 * Firmware built against the vendor SDK's headers must work against ours
 * unchanged, so member offsets, struct sizes and enum values are part of the
 * contract. The expected numbers below are derived by hand from the vendor's
 * member lists (as in api/include/iv_cm.h, iv_cs.h) for x86_64 LP64
 * (pointers and uint64_t 8 bytes aligned to 8, uint32_t/int/enums 4 bytes
 * aligned to 4). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "iv_cm.h"
#include "iv_cs.h"
#include "iv_err.h"
#include "ivcs.h"
#include "ivcs_err.h"

#define CHECK_OFF(type, member, off) CHECK_EQ(offsetof(type, member), off)

#if defined(__x86_64__) && defined(__LP64__)
#define LP64_X86 1
#else
#define LP64_X86 0
#endif

TEST(enums_are_int_sized)
{
    CHECK_EQ(sizeof(iv_cm_aenc_type_e), 4);
    CHECK_EQ(sizeof(iv_cm_aac_type_e), 4);
    CHECK_EQ(sizeof(iv_cm_aenc_sample_rate_e), 4);
    CHECK_EQ(sizeof(iv_cm_aenc_bit_width_e), 4);
    CHECK_EQ(sizeof(iv_cm_aenc_mode_e), 4);
    CHECK_EQ(sizeof(iv_cm_stream_type_e), 4);
    CHECK_EQ(sizeof(iv_cm_venc_type_e), 4);
    CHECK_EQ(sizeof(iv_cm_frame_type_e), 4);
    CHECK_EQ(sizeof(iv_cs_type_e), 4);
    CHECK_EQ(sizeof(iv_err_code_e), 4);
}

TEST(aenc_pack_layout)
{
    if (!LP64_X86) return;
    /* uint8_t *pu8Addr          0  (8)
     * uint32_t u32Len           8  (4), 4 bytes padding: next is 8-aligned
     * uint64_t u64PTS          16  (8)  (u64TimeStamp: the same field)
     * uint32_t u32Seq          24  (4), tail padding to a multiple of 8
     * sizeof                   32 */
    CHECK_OFF(iv_cm_aenc_pack_s, pu8Addr, 0);
    CHECK_OFF(iv_cm_aenc_pack_s, u32Len, 8);
    CHECK_OFF(iv_cm_aenc_pack_s, u64PTS, 16);
    CHECK_OFF(iv_cm_aenc_pack_s, u64TimeStamp, 16);
    CHECK_OFF(iv_cm_aenc_pack_s, u32Seq, 24);
    CHECK_EQ(sizeof(iv_cm_aenc_pack_s), 32);
    CHECK_EQ(sizeof(((iv_cm_aenc_pack_s *)0)->u64PTS), 8);
    CHECK_EQ(sizeof(((iv_cm_aenc_pack_s *)0)->u64TimeStamp), 8);
}

TEST(aenc_pack_timestamp_alias)
{
    /* The seed's sample writes u64TimeStamp; the engine reads u64PTS. */
    iv_cm_aenc_pack_s a;
    memset(&a, 0, sizeof a);
    a.u64TimeStamp = 0x0123456789abcdefull;
    CHECK(a.u64PTS == 0x0123456789abcdefull);
    a.u64PTS = 42;
    CHECK(a.u64TimeStamp == 42);
}

TEST(venc_pack_layout)
{
    if (!LP64_X86) return;
    /* uint8_t *pu8Addr             0  (8)
     * uint32_t u32Len              8  (4), 4 bytes padding
     * uint64_t u64PTS             16  (8)
     * iv_cm_frame_type_e eFrameType 24 (4)
     * uint32_t u32Seq             28  (4)
     * sizeof                      32 */
    CHECK_OFF(iv_cm_venc_pack_s, pu8Addr, 0);
    CHECK_OFF(iv_cm_venc_pack_s, u32Len, 8);
    CHECK_OFF(iv_cm_venc_pack_s, u64PTS, 16);
    CHECK_OFF(iv_cm_venc_pack_s, eFrameType, 24);
    CHECK_OFF(iv_cm_venc_pack_s, u32Seq, 28);
    CHECK_EQ(sizeof(iv_cm_venc_pack_s), 32);
}

TEST(av_data_info_layout)
{
    /* Ten 4-byte members then uint32_t[4]; no padding anywhere:
     * eAudioType 0, u32AudioCodecOption 4, eAudioMode 8, eAudioBitWidth 12,
     * eAudioSampleRate 16, u32SampleNumPerFrame 20, eVideoType 24,
     * u32VideoWidth 28, u32VideoHeight 32, u32Framerate 36, u32Reserve 40..55;
     * sizeof 56. (Same on any ABI with 4-byte int.) */
    CHECK_OFF(iv_cm_av_data_info_s, eAudioType, 0);
    CHECK_OFF(iv_cm_av_data_info_s, u32AudioCodecOption, 4);
    CHECK_OFF(iv_cm_av_data_info_s, eAudioMode, 8);
    CHECK_OFF(iv_cm_av_data_info_s, eAudioBitWidth, 12);
    CHECK_OFF(iv_cm_av_data_info_s, eAudioSampleRate, 16);
    CHECK_OFF(iv_cm_av_data_info_s, u32SampleNumPerFrame, 20);
    CHECK_OFF(iv_cm_av_data_info_s, eVideoType, 24);
    CHECK_OFF(iv_cm_av_data_info_s, u32VideoWidth, 28);
    CHECK_OFF(iv_cm_av_data_info_s, u32VideoHeight, 32);
    CHECK_OFF(iv_cm_av_data_info_s, u32Framerate, 36);
    CHECK_OFF(iv_cm_av_data_info_s, u32Reserve, 40);
    CHECK_EQ(sizeof(((iv_cm_av_data_info_s *)0)->u32Reserve), 16);
    CHECK_EQ(sizeof(iv_cm_av_data_info_s), 56);
}

TEST(init_parm_layout)
{
    if (!LP64_X86) return;
    /* uint32_t u32MaxGopSize                 0  (4)
     * iv_cm_av_data_info_s av_fmt            4  (56, 4-aligned) -> ends at 60
     * 4 bytes padding: function pointers are 8-aligned
     * iv_cs_push_stream_start_cb            64  (8)
     * iv_cs_push_stream_stop_cb             72  (8)
     * iv_cs_event_capture_picture_cb        80  (8)
     * iv_cs_event_picture_result_cb         88  (8)
     * sizeof                                96 */
    CHECK_OFF(iv_cs_init_parm_s, u32MaxGopSize, 0);
    CHECK_OFF(iv_cs_init_parm_s, av_fmt, 4);
    CHECK_OFF(iv_cs_init_parm_s, iv_cs_push_stream_start_cb, 64);
    CHECK_OFF(iv_cs_init_parm_s, iv_cs_push_stream_stop_cb, 72);
    CHECK_OFF(iv_cs_init_parm_s, iv_cs_event_capture_picture_cb, 80);
    CHECK_OFF(iv_cs_init_parm_s, iv_cs_event_picture_result_cb, 88);
    CHECK_EQ(sizeof(iv_cs_init_parm_s), 96);
}

static int32_t cb_start(void) { return 0; }
static int32_t cb_stop(void) { return 0; }
static int32_t cb_capture(int32_t id, uint8_t **pic, int32_t *size)
{
    (void)id;
    *pic = NULL;
    *size = 0;
    return 0;
}
static int32_t cb_result(uint8_t **pic, int32_t err)
{
    (void)pic;
    return err;
}

TEST(init_parm_callback_prototypes)
{
    /* With -Werror these assignments only compile when the member types are
     * exactly the seed's prototypes. */
    iv_cs_init_parm_s p;
    memset(&p, 0, sizeof p);
    p.iv_cs_push_stream_start_cb = cb_start;
    p.iv_cs_push_stream_stop_cb = cb_stop;
    p.iv_cs_event_capture_picture_cb = cb_capture;
    p.iv_cs_event_picture_result_cb = cb_result;
    uint8_t *pic = (uint8_t *)&p;
    int32_t size = 1;
    CHECK_EQ(p.iv_cs_event_capture_picture_cb(3, &pic, &size), 0);
    CHECK(pic == NULL);
    CHECK_EQ(size, 0);
    CHECK_EQ(p.iv_cs_event_picture_result_cb(&pic, -7), -7);
    CHECK_EQ(p.iv_cs_push_stream_start_cb() + p.iv_cs_push_stream_stop_cb(), 0);
}

TEST(balance_info_layout)
{
    /* int cs_switch 0, int cs_days 4, iv_cs_type_e cs_type 8,
     * int free_trial_remaining_sec 12; sizeof 16. */
    CHECK_OFF(iv_cs_balance_info_s, cs_switch, 0);
    CHECK_OFF(iv_cs_balance_info_s, cs_days, 4);
    CHECK_OFF(iv_cs_balance_info_s, cs_type, 8);
    CHECK_OFF(iv_cs_balance_info_s, free_trial_remaining_sec, 12);
    CHECK_EQ(sizeof(iv_cs_balance_info_s), 16);
}

TEST(cm_enum_values)
{
    CHECK_EQ(IV_CM_AENC_TYPE_PCM, 0);
    CHECK_EQ(IV_CM_AENC_TYPE_G711A, 1);
    CHECK_EQ(IV_CM_AENC_TYPE_G711U, 2);
    CHECK_EQ(IV_CM_AENC_TYPE_G726, 3);
    CHECK_EQ(IV_CM_AENC_TYPE_AAC, 4);
    CHECK_EQ(IV_CM_AENC_TYPE_AMR, 5);
    CHECK_EQ(IV_CM_AENC_TYPE_ADPCMA, 6);
    CHECK_EQ(IV_CM_AENC_TYPE_BUTT, 7);

    CHECK_EQ(IV_CM_AAC_TYPE_NONE, 0);
    CHECK_EQ(IV_CM_AAC_TYPE_MAIN, 1);
    CHECK_EQ(IV_CM_AAC_TYPE_LC, 2);
    CHECK_EQ(IV_CM_AAC_TYPE_SSR, 3);
    CHECK_EQ(IV_CM_AAC_TYPE_LTP, 4);
    CHECK_EQ(IV_CM_AAC_TYPE_SBR, 5);
    CHECK_EQ(IV_CM_AAC_TYPE_SCALCBLE, 6);
    CHECK_EQ(IV_CM_AAC_TYPE_TWINVQ, 7);
    CHECK_EQ(IV_CM_AAC_TYPE_CELP, 8);
    CHECK_EQ(IV_CM_AAC_TYPE_HVXC, 9);
    CHECK_EQ(IV_CM_AAC_TYPE_BUTT, 10);

    CHECK_EQ(IV_CM_AENC_SAMPLE_RATE_8000, 8000);
    CHECK_EQ(IV_CM_AENC_SAMPLE_RATE_11025, 11025);
    CHECK_EQ(IV_CM_AENC_SAMPLE_RATE_12000, 12000);
    CHECK_EQ(IV_CM_AENC_SAMPLE_RATE_16000, 16000);
    CHECK_EQ(IV_CM_AENC_SAMPLE_RATE_22050, 22050);
    CHECK_EQ(IV_CM_AENC_SAMPLE_RATE_24000, 24000);
    CHECK_EQ(IV_CM_AENC_SAMPLE_RATE_32000, 32000);
    CHECK_EQ(IV_CM_AENC_SAMPLE_RATE_44100, 44100);
    CHECK_EQ(IV_CM_AENC_SAMPLE_RATE_48000, 48000);
    CHECK_EQ(IV_CM_AENC_SAMPLE_RATE_64000, 64000);
    CHECK_EQ(IV_CM_AENC_SAMPLE_RATE_96000, 96000);

    CHECK_EQ(IV_CM_AENC_BIT_WIDTH_8, 0);
    CHECK_EQ(IV_CM_AENC_BIT_WIDTH_16, 1);
    CHECK_EQ(IV_CM_AENC_BIT_WIDTH_24, 2);

    CHECK_EQ(IV_CM_AENC_MODE_MONO, 0);
    CHECK_EQ(IV_CM_AENC_MODE_STEREO, 1);

    CHECK_EQ(IV_CM_STREAM_TYPE_AUDIO, 0);
    CHECK_EQ(IV_CM_STREAM_TYPE_VIDEO, 1);

    CHECK_EQ(IV_CM_VENC_TYPE_H264, 0);
    CHECK_EQ(IV_CM_VENC_TYPE_H265, 1);
    CHECK_EQ(IV_CM_VENC_TYPE_MJPG, 2);

    CHECK_EQ(IV_CM_FRAME_TYPE_I, 0);
    CHECK_EQ(IV_CM_FRAME_TYPE_P, 1);
}

TEST(cs_type_values)
{
    CHECK_EQ(CS_TYPE_NONE, 0);
    CHECK_EQ(CS_TYPE_FULL_TIME, 1);
    CHECK_EQ(CS_TYPE_EVENT, 2);
    CHECK_EQ(CS_TYPE_FREE_TRIAL, 3);
}

TEST(vendor_error_values)
{
    CHECK_EQ(IV_ERR_NONE, 0);
    CHECK_EQ(IV_ERR_SYS_MALLOC_FAIL, -108);
    CHECK_EQ(IV_ERR_SYS_COMMUNICATE_FAIL, -109);
    CHECK_EQ(IV_ERR_SYS_COMMUNICATE_TIMEOUT, -110);
    CHECK_EQ(IV_ERR_CS_INIT_PRM_NULL, -600);
    CHECK_EQ(IV_ERR_CS_INIT_CB_NULL, -601);
    CHECK_EQ(IV_ERR_CS_INIT_PRM_RANGE, -602);
    CHECK_EQ(IV_ERR_CS_UPLOAD_AUTH_NOT_AVAILABLE, -603);
    CHECK_EQ(IV_ERR_CS_UPLOAD_OPEN_FILE_FAIL, -604);
    CHECK_EQ(IV_ERR_CS_PRM_NOT_AVAILABLE, -605);
    CHECK_EQ(IV_ERR_CS_PRM_MALLOC_FAIL, -606);
    CHECK_EQ(IV_ERR_CS_APPLY_NO_SERVICE, -607);
    CHECK_EQ(IV_ERR_CS_QUERY_SERVICE_TIMEOUT, -608);
    CHECK_EQ(IV_ERR_CS_EVENT_IS_VALID, -609);
    CHECK_EQ(IV_ERR_CS_INIT_REPEAT, -610);
    CHECK_EQ(IV_ERR_CS_NEED_IDR_FRAME, -611);
    CHECK_EQ(IV_ERR_CS_NO_BALANCE, -612);
    CHECK_EQ(IV_ERR_CS_HTTP_DATA_FAIL, -613);
    CHECK_EQ(IV_ERR_DEVICE_OFFLINE, -1001);
}

/* Every code of iv_err.h and ivcs_err.h with its symbolic name. */
#define C(x) {x, #x}
static const struct {
    int code;
    const char *name;
} all_codes[] = {
    C(IV_ERR_NONE),
    C(IV_ERR_SYS_MALLOC_FAIL),
    C(IV_ERR_SYS_COMMUNICATE_FAIL),
    C(IV_ERR_SYS_COMMUNICATE_TIMEOUT),
    C(IV_ERR_CS_INIT_PRM_NULL),
    C(IV_ERR_CS_INIT_CB_NULL),
    C(IV_ERR_CS_INIT_PRM_RANGE),
    C(IV_ERR_CS_UPLOAD_AUTH_NOT_AVAILABLE),
    C(IV_ERR_CS_UPLOAD_OPEN_FILE_FAIL),
    C(IV_ERR_CS_PRM_NOT_AVAILABLE),
    C(IV_ERR_CS_PRM_MALLOC_FAIL),
    C(IV_ERR_CS_APPLY_NO_SERVICE),
    C(IV_ERR_CS_QUERY_SERVICE_TIMEOUT),
    C(IV_ERR_CS_EVENT_IS_VALID),
    C(IV_ERR_CS_INIT_REPEAT),
    C(IV_ERR_CS_NEED_IDR_FRAME),
    C(IV_ERR_CS_NO_BALANCE),
    C(IV_ERR_CS_HTTP_DATA_FAIL),
    C(IV_ERR_DEVICE_OFFLINE),
    C(IVCS_ERR_FRAME_TOO_BIG),
    C(IVCS_ERR_BUFFER_FULL),
    C(IVCS_ERR_BAD_ANNEXB),
    C(IVCS_ERR_B_FRAME),
    C(IVCS_ERR_CODEC_MISMATCH),
    C(IVCS_ERR_BAD_ADTS),
    C(IVCS_ERR_PTS_BACKWARDS),
    C(IVCS_ERR_EVENT_ID_RANGE),
    C(IVCS_ERR_EVENT_ACTIVE),
    C(IVCS_ERR_EVENT_NOT_STARTED),
    C(IVCS_ERR_EVENT_TIME_MIX),
    C(IVCS_ERR_INVALID_ARG),
    C(IVCS_ERR_INCOMPLETE),
    C(IVCS_ERR_BAD_SPS),
    C(IVCS_ERR_FRAME_TYPE),
    C(IVCS_ERR_NO_PARAMS),
    C(IVCS_ERR_EMPTY_FRAME),
    C(IVCS_ERR_UNSUPPORTED),
    C(IVCS_ERR_WRITE),
    C(IVCS_ERR_IO),
    C(IVCS_ERR_CONFIG),
    C(IVCS_ERR_CONNECT),
    C(IVCS_ERR_RESOLVE),
    C(IVCS_ERR_TLS),
    C(IVCS_ERR_TLS_VERIFY),
    C(IVCS_ERR_TIMEOUT),
    C(IVCS_ERR_HTTP_PARSE),
    C(IVCS_ERR_HTTP_STATUS),
    C(IVCS_ERR_S3),
    C(IVCS_ERR_CANCELLED),
    C(IVCS_ERR_CLOSED),
    C(IVCS_ERR_XML),
    C(IVCS_ERR_TOO_LONG),
    C(IVCS_ERR_NOT_FOUND),
    C(IVCS_ERR_STATE),
    C(IVCS_ERR_AUDIO_FRAME_SIZE),
    C(IVCS_ERR_IO_BACKEND),
    C(IVCS_ERR_INTEGRITY),
};
#undef C
#define NCODES (sizeof all_codes / sizeof all_codes[0])

TEST(ivcs_codes_in_own_range)
{
    for (size_t i = 0; i < NCODES; i++) {
        if (strncmp(all_codes[i].name, "IVCS_ERR_", 9) != 0) continue;
        CHECK(all_codes[i].code <= -650 && all_codes[i].code >= -699);
    }
    /* Codes are unique. */
    for (size_t i = 0; i < NCODES; i++)
        for (size_t j = i + 1; j < NCODES; j++) CHECK(all_codes[i].code != all_codes[j].code);
}

TEST(every_code_has_a_distinct_message_and_its_name)
{
    const char *unknown = ivcs_strerror(123456);
    CHECK(unknown != NULL);
    for (size_t i = 0; i < NCODES; i++) {
        const char *msg = ivcs_strerror(all_codes[i].code);
        const char *name = ivcs_strerror_name(all_codes[i].code);
        CHECK(msg != NULL && name != NULL);
        if (!msg || !name) continue;
        if (!strcmp(msg, unknown) || strstr(msg, "unknown") || msg[0] == '\0') {
            fprintf(stderr, "  %s (%d) has no message of its own: '%s'\n", all_codes[i].name,
                    all_codes[i].code, msg);
            CHECK(0);
        }
        if (strcmp(name, all_codes[i].name) != 0) {
            fprintf(stderr, "  %d is named '%s', expected '%s'\n", all_codes[i].code, name,
                    all_codes[i].name);
            CHECK(0);
        }
        for (size_t j = 0; j < i; j++) {
            if (!strcmp(msg, ivcs_strerror(all_codes[j].code))) {
                fprintf(stderr, "  %s and %s share the message '%s'\n", all_codes[i].name,
                        all_codes[j].name, msg);
                CHECK(0);
            }
        }
    }
}

TEST(codes_outside_the_headers_are_unknown)
{
    /* Any code with a message must be one this test knows, so a code added to
     * the table without a header entry (or to a header without updating this
     * test) shows up here. */
    const char *unknown = ivcs_strerror(123456);
    for (int code = -2000; code <= 1000; code++) {
        int listed = 0;
        for (size_t i = 0; i < NCODES; i++) listed |= all_codes[i].code == code;
        const char *msg = ivcs_strerror(code);
        if (!listed && strcmp(msg, unknown) != 0) {
            fprintf(stderr, "  code %d has a message but is not in test_headers.c: %s\n", code,
                    msg);
            CHECK(0);
        }
        if (!listed) CHECK(!strcmp(ivcs_strerror_name(code), ivcs_strerror_name(123456)));
    }
    CHECK(ivcs_strerror(-2147483647 - 1) != NULL);
    CHECK(ivcs_strerror(2147483647) != NULL);
}

TEST(version_matches_macros)
{
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", IVCS_VERSION_MAJOR, IVCS_VERSION_MINOR,
             IVCS_VERSION_PATCH);
    CHECK(ivcs_version() != NULL);
    CHECK(!strcmp(ivcs_version(), want));
}

int main(void)
{
    RUN(enums_are_int_sized);
    RUN(aenc_pack_layout);
    RUN(aenc_pack_timestamp_alias);
    RUN(venc_pack_layout);
    RUN(av_data_info_layout);
    RUN(init_parm_layout);
    RUN(init_parm_callback_prototypes);
    RUN(balance_info_layout);
    RUN(cm_enum_values);
    RUN(cs_type_values);
    RUN(vendor_error_values);
    RUN(ivcs_codes_in_own_range);
    RUN(every_code_has_a_distinct_message_and_its_name);
    RUN(codes_outside_the_headers_are_unknown);
    RUN(version_matches_macros);
    return check_done();
}
