/* cmd_mux.c - `ivcs mux`: raw elementary streams to MPEG-TS slices. */
#include <stdio.h>

#include "tools/commands.h"

int ivcs_cmd_mux(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "ivcs mux: under construction\n");
    return 1;
}
