/* so_error_probe.h - does getsockopt(SO_ERROR) answer in this target's
 * errno numbers? A kernel always does. qemu-user 7.2 (Debian 12) passes the
 * host's value through untranslated, which is wrong wherever the target
 * numbers errno differently from x86: on MIPS ECONNREFUSED is 146, but a
 * refused connect reads back 111. The epoll backend learns a connect's
 * result from SO_ERROR, so tests that check how a refused connect is
 * reported skip (saying why) under such an emulator; everywhere else, and
 * on the real hardware, they run. */
#ifndef IVCS_TEST_SO_ERROR_PROBE_H
#define IVCS_TEST_SO_ERROR_PROBE_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

/* 1 if a refused nonblocking connect reads back ECONNREFUSED from SO_ERROR
 * (or the probe cannot tell), 0 (after printing the reason) if not. */
static int so_error_is_native(const char *test)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    int l = socket(AF_INET, SOCK_STREAM, 0);
    if (l < 0) return 1;
    int ok = bind(l, (struct sockaddr *)&a, sizeof a) == 0 &&
             getsockname(l, (struct sockaddr *)&a, &al) == 0;
    close(l); /* nothing listens at a now */
    int fd = ok ? socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0) : -1;
    if (fd < 0) return 1;
    int err = 0;
    socklen_t el = sizeof err;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0 && errno == EINPROGRESS) {
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        if (poll(&p, 1, 2000) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 &&
            err != 0 && err != ECONNREFUSED) {
            printf("SKIP %s: getsockopt(SO_ERROR) says %d for a refused connect, not "
                   "ECONNREFUSED (%d): an emulator that does not translate errno "
                   "(qemu-user 7.2 on MIPS)\n",
                   test, err, ECONNREFUSED);
            close(fd);
            return 0;
        }
    }
    close(fd);
    return 1;
}

#endif
