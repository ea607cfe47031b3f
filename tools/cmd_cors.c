/* cmd_cors.c - `ivcs cors`: the bucket CORS rule that lets the web viewer's
 * page (`ivcs serve`) fetch media straight from the bucket. */
#include <stdio.h>
#include <string.h>

#include "tools/cli_common.h"
#include "tools/commands.h"
#include "ivcs_viewer.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ivcs cors --config FILE (--origin URL ... | --remove)\n"
            "\n"
            "Sets the bucket's CORS rule of this device's web viewer (ID\n"
            "'ivcs-web:{prefix}{device}/') to allow GET and HEAD from each --origin\n"
            "(scheme://host[:port] as the browser shows it, e.g. http://127.0.0.1:8080, or\n"
            "'*'; up to 16), or removes it (--remove). Every other CORS rule of the bucket\n"
            "is kept byte for byte. `ivcs serve --cors` does the same for its own origin.\n"
            "exit: 0 ok, 1 S3 error or the server has no bucket CORS, 2 usage\n");
}

int ivcs_cmd_cors(int argc, char **argv)
{
    const char *config = NULL, *origins[16];
    size_t n = 0;
    int remove = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (ivcs_cli_is_help(a)) {
            usage(stdout);
            return 0;
        } else if (v && !strcmp(a, "--config")) {
            config = v;
            i++;
        } else if (v && !strcmp(a, "--origin")) {
            if (n == 16) return ivcs_cli_usage_error("cors", "at most 16 --origin");
            origins[n++] = v;
            i++;
        } else if (!strcmp(a, "--remove")) {
            remove = 1;
        } else {
            return ivcs_cli_bad_option("cors", a, "--config --origin");
        }
    }
    if (!!n == !!remove) return ivcs_cli_usage_error("cors", "give --origin URL or --remove");
    ivcs_cli_s c;
    int ret = ivcs_cli_open(&c, "cors", config);
    if (ret) return ret;
    ret = ivcs_cli_viewer(&c);
    if (ret == 0) {
        int rc = ivcs_viewer_cors_set(c.viewer, origins, n);
        if (rc == IVCS_ERR_INVALID_ARG) {
            ivcs_cli_close(&c);
            return ivcs_cli_usage_error("cors", "bad --origin: expected scheme://host[:port] or *");
        }
        if (rc < 0)
            ret = ivcs_cli_fail_viewer(&c, "cors", rc);
        else if (n)
            printf("CORS rule set: GET/HEAD from %zu origin%s\n", n, n == 1 ? "" : "s");
        else
            printf("CORS rule removed\n");
    }
    ivcs_cli_close(&c);
    return ret;
}
