/* cmd_export.c - `ivcs export`: the slices of a time range downloaded and
 * joined into one MPEG-TS file. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/cli_common.h"
#include "tools/commands.h"
#include "tools/outfile.h"
#include "tools/timearg.h"
#include "ivcs_viewer.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ivcs export --config FILE [--day D | --from T --to T] --out FILE.ts\n"
            "                   [--channel N] [--gap-ms MS]\n"
            "\n"
            "Downloads every slice overlapping the range, in time order, into one MPEG-TS\n"
            "file (whole slices: the file may start before --from and end after --to; if\n"
            "the first slice continues a GOP, the slices back to its key frame are added so\n"
            "it decodes from the first frame). Slices of one boot continue each other's\n"
            "timestamps and continuity counters; at a new boot or a gap the timestamps\n"
            "jump, which ffmpeg and players handle as a discontinuity. The file is written\n"
            "as FILE.ts.XXXXXX.part and renamed when complete (-o is --out).\n"
            "--channel N: default 0. --gap-ms MS: default %u. --config: default\n"
            "$IVCS_CONFIG.\n"
            "%s%s"
            "exit: 0 ok, 1 nothing recorded / unknown device / S3 or write error, 2 usage\n",
            IVCS_VIEWER_GAP_MS, ivcs_cli_range_help(), ivcs_cli_time_help());
}

int ivcs_cmd_export(int argc, char **argv)
{
    const char *outp = NULL;
    uint32_t gap = IVCS_VIEWER_GAP_MS;
    ivcs_cli_scope_s sc = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int r = ivcs_cli_scope_opt("export", a, v, &sc);
        if (r < 0) return IVCS_EXIT_USAGE;
        if (r > 0) {
            i++;
            continue;
        }
        if (ivcs_cli_is_help(a)) {
            usage(stdout);
            return 0;
        } else if (v && (!strcmp(a, "--out") || !strcmp(a, "-o"))) {
            outp = v;
            i++;
        } else if (v && !strcmp(a, "--gap-ms")) {
            if (ivcs_cli_u32("export", a, v, 0, 86400000, &gap) < 0) return IVCS_EXIT_USAGE;
            i++;
        } else {
            return ivcs_cli_bad_option("export", a,
                                "--config --out -o --channel --gap-ms --day --from --to");
        }
    }
    if (!outp) {
        return ivcs_cli_usage_error("export", "--out FILE.ts is required");
    }
    if (ivcs_cli_range_finish("export", &sc.range) < 0) return IVCS_EXIT_USAGE;

    ivcs_cli_s c;
    int ret = ivcs_cli_open(&c, "export", sc.config);
    if (ret) return ret;
    ivcs_viewer_slices_s sl = {0};
    char a[32], b[32];
    ret = ivcs_cli_viewer(&c);
    if (ret) goto out;
    int rc = ivcs_viewer_list_slices(c.viewer, sc.ch, sc.range.from, sc.range.to,
                                     IVCS_VIEWER_FROM_KEYFRAME, &sl);
    if (rc < 0) {
        ret = ivcs_cli_fail_viewer(&c, "list slices", rc);
        goto out;
    }
    if (sl.n == 0) {
        char what[160];
        snprintf(what, sizeof what, "no recordings on channel %" PRIu32 " in %s .. %s", sc.ch,
                 ivcs_cli_iso(sc.range.from, a, sizeof a), ivcs_cli_iso(sc.range.to, b, sizeof b));
        ret = ivcs_cli_nothing(&c, what);
        goto out;
    }
    ivcs_outfile_s out;
    if (ivcs_outfile_open(&out, outp) < 0) {
        fprintf(stderr, "ivcs export: cannot write %s: %s\n", outp, strerror(errno));
        ret = IVCS_EXIT_FAIL;
        goto out;
    }
    uint64_t bytes = 0;
    rc = ivcs_viewer_export(c.viewer, sl.v, sl.n, out.fd, &bytes);
    if (rc == 0 && ivcs_outfile_commit(&out) != 0) rc = IVCS_ERR_WRITE;
    if (rc < 0) {
        int e = errno;
        ivcs_outfile_abort(&out);
        if (rc == IVCS_ERR_WRITE)
            fprintf(stderr, "ivcs export: writing %s failed: %s\n", outp, strerror(e));
        else
            ivcs_cli_fail_viewer(&c, "download", rc);
        ret = IVCS_EXIT_FAIL;
        goto out;
    }
    size_t breaks = 0;
    for (size_t i = 1; i < sl.n; i++)
        if (ivcs_viewer_is_break(&sl.v[i - 1], &sl.v[i], gap)) breaks++;
    const ivcs_viewer_slice_s *last = &sl.v[sl.n - 1];
    fprintf(stderr,
            "ivcs export: %s: %zu slices, %" PRIu64 " bytes, %s .. %s, %zu discontinuit%s\n", outp,
            sl.n, bytes, ivcs_cli_iso(sl.v[0].start_ms, a, sizeof a),
            ivcs_cli_iso(last->start_ms + last->dur_ms, b, sizeof b), breaks,
            breaks == 1 ? "y" : "ies");
out:
    ivcs_viewer_slices_free(&sl);
    ivcs_cli_close(&c);
    return ret;
}
