/* main.c - the ivcs command-line program: dispatches to tools/cmd_<name>.c. */
#include <stdio.h>
#include <string.h>

#include "ivcs.h"
#include "tools/cli_common.h"
#include "tools/commands.h"

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

/* One line per subcommand. */
static const command commands[] = {
    {"mux", ivcs_cmd_mux, "split raw H.264/H.265 (+ADTS AAC) into MPEG-TS slices"},
    {"push", ivcs_cmd_push, "sample firmware loop: push raw media through iv_cs_* to the cloud"},
    {"s3", ivcs_cmd_s3, "S3 put/get/ls/rm/head/presign over ivcs's transport"},
    {"plan", ivcs_cmd_plan, "get/set the device's plan.json and its retention lifecycle rule"},
    {"ls", ivcs_cmd_ls, "days and time ranges a device recorded (from the bucket)"},
    {"events", ivcs_cmd_events, "a device's events (records, times, pictures)"},
    {"playlist", ivcs_cmd_playlist, "HLS VOD playlist of presigned URLs for a range or event"},
    {"export", ivcs_cmd_export, "download a range into one MPEG-TS file"},
    {"spool", ivcs_cmd_spool, "list or verify a local spool directory (spool_dir)"},
    {"serve", ivcs_cmd_serve, "the web viewer: timeline, events, playback in the browser"},
    {"cors", ivcs_cmd_cors, "set the bucket's CORS rule for the web viewer's origin"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: ivcs <command> [options]   (ivcs <command> --help, ivcs help CMD)\n\n"
                 "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "  %-10s %s\n", "version", "print the library version (also --version)");
    fprintf(out, "  %-10s %s\n", "help", "this list; help CMD: the help of CMD (as CMD --help)");
    fprintf(out, "\n-v (before or right after the command): say which I/O backend runs and\n"
                 "why.\n");
    fprintf(out, "\nexit: 0 ok, 1 failure, 2 usage error, 3 partly done (push: frames\n"
                 "refused; plan set: no bucket lifecycle): see each command's help.\n");
}

static int version_help(void)
{
    printf("usage: ivcs version   (also ivcs --version)\n\n"
           "Prints 'ivcs X.Y.Z', the version of the library.\nexit: 0\n");
    return 0;
}

/* Removes a "-v"/"--verbose" at argv[i], if there is one. */
static int take_verbose(int *argc, char **argv, int i)
{
    if (i >= *argc || (strcmp(argv[i], "-v") && strcmp(argv[i], "--verbose"))) return 0;
    memmove(argv + i, argv + i + 1, sizeof *argv * (size_t)(*argc - i));
    (*argc)--;
    return 1;
}

int main(int argc, char **argv)
{
    /* -v before the command or as its first option: the I/O backend in
     * use and why, printed once (tools/cli_common.h). */
    ivcs_cli_verbose = take_verbose(&argc, argv, 1);
    ivcs_cli_verbose |= take_verbose(&argc, argv, 2);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
        (!strcmp(argv[1], "help") && argc == 2)) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "help")) {
        /* ivcs help CMD [OP]: CMD --help */
        if (!strcmp(argv[2], "version")) return version_help();
        if (!strcmp(argv[2], "help")) {
            usage(stdout);
            return 0;
        }
        for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
            if (!strcmp(argv[2], commands[i].name)) {
                char help[] = "--help";
                char *av[] = {argv[2], help, NULL};
                return commands[i].run(2, av);
            }
        fprintf(stderr, "ivcs: no command '%s' (ivcs help: the list)\n", argv[2]);
        return 2;
    }
    if (!strcmp(argv[1], "version") && argc > 2 && (!strcmp(argv[2], "--help") ||
                                                    !strcmp(argv[2], "-h")))
        return version_help();
    if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
        printf("ivcs %s\n", ivcs_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "ivcs: unknown command '%s'\nivcs: see 'ivcs help'\n", argv[1]);
    return 2;
}
