/* consumer.c - a program outside the ivcs tree, built against an installed
 * ivcs (tests/consumer/run.sh). It checks that the installed headers and the
 * library agree and that the public API links and runs. */
#include <stdio.h>
#include <string.h>

#include "iv_cs.h"
#include "ivcs.h"

int main(void)
{
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", IVCS_VERSION_MAJOR, IVCS_VERSION_MINOR,
             IVCS_VERSION_PATCH);
    const char *have = ivcs_version();
    const char *msg = ivcs_strerror(IV_ERR_CS_NEED_IDR_FRAME);
    const char *unknown = ivcs_strerror(123456);
    printf("ivcs %s: %d -> %s\n", have, IV_ERR_CS_NEED_IDR_FRAME, msg);
    if (strcmp(have, want) != 0) {
        fprintf(stderr, "consumer: library is %s, headers say %s\n", have, want);
        return 1;
    }
    if (!msg || !strcmp(msg, unknown) || !strcmp(ivcs_strerror(IVCS_ERR_CONFIG), unknown)) {
        fprintf(stderr, "consumer: ivcs_strerror has no message for a known code\n");
        return 1;
    }
    ivcs_config_s cfg;
    ivcs_config_defaults(&cfg);
    if (cfg.slice_ms != 4000 || ivcs_config_validate(&cfg, NULL, 0) != IVCS_ERR_CONFIG) {
        fprintf(stderr, "consumer: config defaults/validate misbehave\n");
        return 1;
    }
    iv_cs_init_parm_s parm; /* the seed's struct is usable from the header */
    memset(&parm, 0, sizeof parm);
    (void)parm;
    return 0;
}
