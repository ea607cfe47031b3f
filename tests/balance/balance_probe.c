/*
 * balance_probe.c - runs iv_cs_get_balance_info / iv_cs_init / iv_cs_exit
 * in the order given on the command line and prints one JSON line per
 * step, so a test can check the seed's plan query before and after
 * iv_cs_init, blocking and cached:
 *
 *   balance_probe STEP...
 *     config:PATH   use the ivcs JSON config PATH from now on ($IVCS_CONFIG)
 *     get:T         iv_cs_get_balance_info(&info, T): rc, the info, ms taken
 *     init          iv_cs_init (H.264 + AAC 48 kHz stereo, 1 MiB budget)
 *     exit          iv_cs_exit
 *     wait          read one line from stdin (the caller changes something)
 *
 * Exit code 0 when every step ran (the results are for the caller to
 * judge), 2 for a bad command line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iv_cs.h"
#include "ivcs.h"

static int32_t cb_void(void)
{
    return 0;
}
static int32_t cb_pic(int32_t id, uint8_t **pic, int32_t *size)
{
    (void)id;
    *pic = NULL;
    *size = 0;
    return 0;
}
static int32_t cb_res(uint8_t **pic, int32_t err)
{
    (void)pic;
    (void)err;
    return 0;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strncmp(a, "config:", 7)) {
            setenv("IVCS_CONFIG", a + 7, 1);
            printf("{\"op\":\"config\"}\n");
        } else if (!strncmp(a, "get:", 4)) {
            uint32_t t = (uint32_t)strtoul(a + 4, NULL, 10);
            iv_cs_balance_info_s b;
            memset(&b, 0x5A, sizeof b); /* every field must be written */
            double t0 = now_ms();
            int rc = iv_cs_get_balance_info(&b, t);
            printf("{\"op\":\"get\",\"timeout\":%u,\"rc\":%d,\"cs_switch\":%d,\"cs_type\":%d,"
                   "\"cs_days\":%d,\"free_trial_remaining_sec\":%d,\"ms\":%.1f}\n",
                   t, rc, b.cs_switch, (int)b.cs_type, b.cs_days, b.free_trial_remaining_sec,
                   now_ms() - t0);
        } else if (!strcmp(a, "init")) {
            iv_cs_init_parm_s p;
            memset(&p, 0, sizeof p);
            p.u32MaxGopSize = 1 << 20;
            p.av_fmt.eVideoType = IV_CM_VENC_TYPE_H264;
            p.av_fmt.u32Framerate = 25;
            p.av_fmt.eAudioType = IV_CM_AENC_TYPE_AAC;
            p.av_fmt.eAudioSampleRate = IV_CM_AENC_SAMPLE_RATE_48000;
            p.av_fmt.eAudioMode = IV_CM_AENC_MODE_STEREO;
            p.iv_cs_push_stream_start_cb = cb_void;
            p.iv_cs_push_stream_stop_cb = cb_void;
            p.iv_cs_event_capture_picture_cb = cb_pic;
            p.iv_cs_event_picture_result_cb = cb_res;
            printf("{\"op\":\"init\",\"rc\":%d}\n", (int)iv_cs_init(&p));
        } else if (!strcmp(a, "wait")) {
            char line[64];
            printf("{\"op\":\"wait\"}\n");
            fflush(stdout);
            if (!fgets(line, sizeof line, stdin)) return 2;
            continue;
        } else if (!strcmp(a, "exit")) {
            printf("{\"op\":\"exit\",\"rc\":%d}\n", (int)iv_cs_exit());
        } else {
            fprintf(stderr, "usage: balance_probe [config:PATH|get:T|init|exit]...\n");
            return 2;
        }
        fflush(stdout);
    }
    return 0;
}
