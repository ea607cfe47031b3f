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
};

static void usage(FILE *out)
{
    fprintf(out, "usage: ivcs <command> [options]   (ivcs <command> --help)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "  %-10s %s\n", "version", "print the library version");
    fprintf(out, "\n-v (before or right after the command): say which I/O backend runs and "
                 "why\n");
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
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
        printf("ivcs %s\n", ivcs_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "ivcs: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
