/* no_io_uring.c - runs a program with io_uring_setup refused, as under
 * Docker's default seccomp profile: no_io_uring [-e ERRNO] PROGRAM [ARGS...] */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "no_io_uring.h"

int main(int argc, char **argv)
{
    int err = EPERM, i = 1;
    if (argc > 2 && !strcmp(argv[1], "-e")) {
        err = atoi(argv[2]);
        i = 3;
    }
    if (i >= argc || err <= 0 || err > 4095) {
        fprintf(stderr, "usage: no_io_uring [-e ERRNO (default EPERM)] PROGRAM [ARGS...]\n");
        return 2;
    }
    if (ivcs_test_refuse_io_uring(err) < 0) {
        perror("no_io_uring: seccomp");
        return 127;
    }
    execvp(argv[i], argv + i);
    perror("no_io_uring: exec");
    return 127;
}
