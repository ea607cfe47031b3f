/* loop.c - the loop's common part: backend choice (config, $IVCS_IO_BACKEND,
 * io_uring probe and fallback), dispatch, resolve, sockets, errno mapping. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/core/alloc.h"
#include "engine/net/loop_internal.h"

/* The note of the last loop made on this thread (ivcs_io_backend_note). */
static _Thread_local char t_note[IVCS_IO_NOTE_MAX];

const char *ivcs_io_backend_name(int backend)
{
    switch (backend) {
    case IVCS_IO_AUTO: return "auto";
    case IVCS_IO_URING: return "io_uring";
    case IVCS_IO_EPOLL: return "epoll";
    default: return "?";
    }
}

const char *ivcs_io_backend_note(void)
{
    return t_note;
}

int ivcs_loop_uring_refusal(int err, int forced, char *note, size_t cap)
{
    const char *why;
    int fallback = 1;
    switch (err) {
    case EPERM:
        why = "io_uring_setup refused (EPERM): blocked by a seccomp profile or "
              "kernel.io_uring_disabled?";
        break;
    case ENOSYS:
        why = "io_uring_setup not implemented (ENOSYS): kernel before 5.1, built without "
              "io_uring, or an emulator (qemu-user)?";
        break;
    case EOPNOTSUPP:
        why = "io_uring lacks an operation ivcs needs (EOPNOTSUPP): kernel before 5.6?";
        break;
    case ENOMEM:
        why = "io_uring_setup out of locked memory (ENOMEM): RLIMIT_MEMLOCK (ulimit -l) too "
              "low for a kernel before 5.12?";
        break;
    default:
        why = NULL;
        fallback = 0;
        break;
    }
    if (note && cap) {
        if (why && forced) snprintf(note, cap, "%s set io_backend to epoll or auto", why);
        else if (why) snprintf(note, cap, "%s using epoll", why);
        else snprintf(note, cap, "io_uring_setup failed: %s", strerror(err));
    }
    return fallback;
}

/* The backend $IVCS_IO_BACKEND names, -1 if unset, -2 if it is garbage. */
static int env_backend(void)
{
    const char *v = getenv("IVCS_IO_BACKEND");
    if (!v || !v[0]) return -1;
    for (int b = IVCS_IO_AUTO; b <= IVCS_IO_EPOLL; b++)
        if (!strcmp(v, ivcs_io_backend_name(b))) return b;
    return -2;
}

int ivcs_loop_new_backend(ivcs_loop **out, const ivcs_allocator_s *alloc, unsigned entries,
                          int backend)
{
    t_note[0] = 0;
    if (!out) return IVCS_ERR_INVALID_ARG;
    *out = NULL;
    int env = env_backend();
    if (env == -2) {
        snprintf(t_note, sizeof t_note,
                 "IVCS_IO_BACKEND: expected auto, io_uring or epoll");
        return IVCS_ERR_CONFIG;
    }
    if (env >= 0) backend = env;
    if (backend < IVCS_IO_AUTO || backend > IVCS_IO_EPOLL) {
        snprintf(t_note, sizeof t_note, "io_backend %d: expected auto, io_uring or epoll",
                 backend);
        return IVCS_ERR_CONFIG;
    }
    alloc = ivcs_allocator_or_default(alloc);
    ivcs_loop *l = NULL;
    int rc;
    if (backend == IVCS_IO_EPOLL) {
        rc = ivcs_loop_epoll_new(&l, alloc);
        if (rc == 0) snprintf(t_note, sizeof t_note, "io_backend epoll asked for%s",
                              env >= 0 ? " (IVCS_IO_BACKEND)" : "");
    } else {
        int err = 0;
        rc = ivcs_loop_uring_new(&l, alloc, entries, &err);
        if (rc < 0 && err) {
            int fallback = ivcs_loop_uring_refusal(err, backend == IVCS_IO_URING, t_note,
                                                   sizeof t_note);
            if (backend == IVCS_IO_URING) rc = fallback ? IVCS_ERR_IO_BACKEND : rc;
            else if (fallback) rc = ivcs_loop_epoll_new(&l, alloc);
        }
    }
    if (rc < 0) return rc;
    snprintf(l->note, sizeof l->note, "%s", t_note);
    *out = l;
    return 0;
}

int ivcs_loop_new(ivcs_loop **out, const ivcs_allocator_s *alloc, unsigned entries)
{
    return ivcs_loop_new_backend(out, alloc, entries, IVCS_IO_AUTO);
}

void ivcs_loop_destroy(ivcs_loop *l)
{
    if (l) l->ops->destroy(l);
}

int ivcs_loop_backend(const ivcs_loop *l)
{
    return l->backend;
}

const char *ivcs_loop_note(const ivcs_loop *l)
{
    return l->note;
}

unsigned ivcs_loop_pending(const ivcs_loop *l)
{
    return l->pending;
}

int ivcs_loop_connect(ivcs_loop *l, ivcs_loop_op *op, int fd, const struct sockaddr_storage *addr,
                      socklen_t addr_len, uint32_t timeout_ms)
{
    if (!l || !op || !op->cb || op->active || fd < 0 || !addr) return IVCS_ERR_INVALID_ARG;
    op->file = 0;
    return l->ops->connect(l, op, fd, addr, addr_len, timeout_ms);
}

int ivcs_loop_send(ivcs_loop *l, ivcs_loop_op *op, int fd, const void *buf, size_t len,
                   uint32_t timeout_ms)
{
    if (!l || !op || !op->cb || op->active || fd < 0) return IVCS_ERR_INVALID_ARG;
    op->file = 0;
    return l->ops->send(l, op, fd, buf, len, timeout_ms);
}

int ivcs_loop_recv(ivcs_loop *l, ivcs_loop_op *op, int fd, void *buf, size_t len,
                   uint32_t timeout_ms)
{
    if (!l || !op || !op->cb || op->active || fd < 0) return IVCS_ERR_INVALID_ARG;
    op->file = 0;
    return l->ops->recv(l, op, fd, buf, len, timeout_ms);
}

int ivcs_loop_timer(ivcs_loop *l, ivcs_loop_op *op, uint32_t ms)
{
    if (!l || !op || !op->cb || op->active) return IVCS_ERR_INVALID_ARG;
    op->file = 0;
    return l->ops->timer(l, op, ms);
}

int ivcs_loop_cancel(ivcs_loop *l, ivcs_loop_op *op)
{
    if (!l || !op) return IVCS_ERR_INVALID_ARG;
    if (!op->active || op->cancelled) return 0;
    return l->ops->cancel(l, op);
}

int ivcs_loop_file_now(ivcs_loop_op *op)
{
    if (op->file == 1 || op->file == 3) {
        ssize_t w;
        do
            w = op->file == 1 ? pwritev(op->fd, op->iov, op->iovcnt, (off_t)op->off)
                              : preadv(op->fd, op->iov, op->iovcnt, (off_t)op->off);
        while (w < 0 && errno == EINTR);
        return w < 0 ? -errno : w > INT32_MAX ? INT32_MAX : (int)w;
    }
    int r;
    do
        r = op->datasync ? fdatasync(op->fd) : fsync(op->fd);
    while (r != 0 && errno == EINTR);
    return r != 0 ? -errno : 0;
}

int ivcs_loop_file_result(ivcs_loop_op *op, int res)
{
    if (res >= 0) return res;
    op->sys_errno = -res;
    return IVCS_ERR_IO;
}

void ivcs_loop_file_sync(ivcs_loop *l, ivcs_loop_op *op)
{
    op->res = ivcs_loop_file_now(op);
    op->ring = 0;
    op->active = 1;
    op->sync_next = NULL;
    if (l->sync_tail) l->sync_tail->sync_next = op;
    else l->sync_head = op;
    l->sync_tail = op;
    l->pending++;
}

static int file_op(ivcs_loop *l, ivcs_loop_op *op, int fd, int kind)
{
    op->fd = fd;
    op->file = (uint8_t)kind;
    op->sys_errno = 0;
    op->cancelled = 0;
    op->timer = 0;
    if (l->ops->file && l->ops->file(l, op) == 0) return 0;
    ivcs_loop_file_sync(l, op);
    return 0;
}

/* kind 1 pwritev, 3 preadv */
static int iov_op(ivcs_loop *l, ivcs_loop_op *op, int fd, const struct iovec *iov, int cnt,
                  uint64_t off, int kind)
{
    if (!l || !op || !op->cb || op->active || fd < 0 || cnt < 0 || (cnt && !iov))
        return IVCS_ERR_INVALID_ARG;
    op->iov = iov;
    op->iovcnt = cnt;
    op->off = off;
    return file_op(l, op, fd, kind);
}

int ivcs_loop_pwritev(ivcs_loop *l, ivcs_loop_op *op, int fd, const struct iovec *iov, int cnt,
                      uint64_t off)
{
    return iov_op(l, op, fd, iov, cnt, off, 1);
}

int ivcs_loop_preadv(ivcs_loop *l, ivcs_loop_op *op, int fd, const struct iovec *iov, int cnt,
                     uint64_t off)
{
    return iov_op(l, op, fd, iov, cnt, off, 3);
}

int ivcs_loop_fsync(ivcs_loop *l, ivcs_loop_op *op, int fd, int datasync)
{
    if (!l || !op || !op->cb || op->active || fd < 0) return IVCS_ERR_INVALID_ARG;
    op->datasync = datasync ? 1 : 0;
    return file_op(l, op, fd, 2);
}

uint64_t ivcs_loop_ring_file_ops(const ivcs_loop *l)
{
    return l ? l->ring_file_ops : 0;
}

int ivcs_loop_run_once(ivcs_loop *l, int wait_ms)
{
    if (!l) return IVCS_ERR_INVALID_ARG;
    int rc = l->ops->run_once(l, l->sync_head ? 0 : wait_ms);
    if (rc < 0) return rc;
    /* the ops done synchronously before this run (one a callback submits
     * now completes at the next run) */
    ivcs_loop_op *op = l->sync_head;
    l->sync_head = l->sync_tail = NULL;
    while (op) {
        ivcs_loop_op *next = op->sync_next;
        op->active = 0;
        l->pending--;
        op->cb(op, ivcs_loop_file_result(op, op->res));
        rc++;
        op = next;
    }
    return rc;
}

uint64_t ivcs_loop_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int ivcs_loop_resolve(const char *host, uint16_t port, struct sockaddr_storage *addr,
                      socklen_t *addr_len)
{
    if (!host || !addr || !addr_len) return IVCS_ERR_INVALID_ARG;
    char h[256];
    size_t n = strlen(host);
    /* "[::1]" as written in URLs. */
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        if (n - 2 >= sizeof h) return IVCS_ERR_TOO_LONG;
        memcpy(h, host + 1, n - 2);
        h[n - 2] = 0;
    } else {
        if (n >= sizeof h) return IVCS_ERR_TOO_LONG;
        memcpy(h, host, n + 1);
    }
    char svc[8];
    snprintf(svc, sizeof svc, "%u", (unsigned)port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV | AI_ADDRCONFIG;
    int rc = getaddrinfo(h, svc, &hints, &res);
    if (rc != 0 || !res) {
        /* AI_ADDRCONFIG hides loopback-only families on hosts without a
         * configured address of that family; retry without it. */
        hints.ai_flags = AI_NUMERICSERV;
        rc = getaddrinfo(h, svc, &hints, &res);
        if (rc != 0 || !res) return IVCS_ERR_RESOLVE;
    }
    memcpy(addr, res->ai_addr, res->ai_addrlen);
    *addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

int ivcs_loop_socket(const struct sockaddr_storage *addr)
{
    int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) return IV_ERR_SYS_COMMUNICATE_FAIL;
    int one = 1;
    /* Requests are written whole; Nagle would only delay the last segment. */
    (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

int ivcs_loop_map_errno(ivcs_loop_op *op, int err)
{
    op->sys_errno = err;
    switch (err) {
    case ECANCELED:
    case EINTR:
        /* Without a cancel request of ours, only the linked timeout can
         * have cancelled it. */
        return op->cancelled ? IVCS_ERR_CANCELLED : IVCS_ERR_TIMEOUT;
    case ETIME:
    case ETIMEDOUT:
        return IVCS_ERR_TIMEOUT;
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EADDRNOTAVAIL:
        return IVCS_ERR_CONNECT;
    case ECONNRESET:
    case EPIPE:
    case ECONNABORTED:
    case ENOTCONN:
        return IVCS_ERR_CLOSED;
    default:
        return IV_ERR_SYS_COMMUNICATE_FAIL;
    }
}
