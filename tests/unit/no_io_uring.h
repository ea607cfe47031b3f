/* no_io_uring.h - refuse io_uring_setup to this process and its children with
 * errno err (as Docker's default seccomp profile does, EPERM), via seccomp. */
#ifndef IVCS_TEST_NO_IO_URING_H
#define IVCS_TEST_NO_IO_URING_H

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* 0, or -1 with errno set. Irreversible for the calling thread's process
 * (and everything it execs): run it in a child. */
static inline int ivcs_test_refuse_io_uring(int err)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ((unsigned)err & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {.len = (unsigned short)(sizeof f / sizeof f[0]), .filter = f};
    /* no_new_privs lets an unprivileged process install a filter */
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return -1;
    return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

/* 1 if a child can install the filter. 0 (after printing why `test` skips)
 * where seccomp filters cannot be installed at all: qemu-user refuses
 * PR_SET_SECCOMP (a guest filter would judge the emulator's own host
 * system calls), as does a kernel built without CONFIG_SECCOMP_FILTER. */
static inline int ivcs_test_seccomp_usable(const char *test)
{
#ifdef IVCS_IO_URING_OFF
    printf("SKIP %s: built with IVCS_IO_URING=OFF: no io_uring backend to refuse\n", test);
    return 0;
#endif
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) _exit(ivcs_test_refuse_io_uring(EPERM) < 0 ? errno & 0x7f : 0);
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st)) return 1; /* let the test say */
    if (WEXITSTATUS(st) == 0) return 1;
    printf("SKIP %s: cannot install a seccomp filter here (%s): qemu-user, or a kernel "
           "without CONFIG_SECCOMP_FILTER\n",
           test, strerror(WEXITSTATUS(st)));
    return 0;
}

#endif
