/* loop.c - io_uring event loop: connect/send/recv with linked timeouts. */
#include "engine/net/loop.h"

#include <errno.h>
#include <liburing.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/core/alloc.h"

/* Completions with this user_data (linked timeouts, cancel requests) carry
 * no callback: their effect shows on the operation they target. */
#define LOOP_NO_CB 0

struct ivcs_loop {
    struct io_uring ring;
    const ivcs_allocator_s *alloc;
    unsigned pending;
};

int ivcs_loop_new(ivcs_loop **out, const ivcs_allocator_s *alloc, unsigned entries)
{
    if (!out) return IVCS_ERR_INVALID_ARG;
    alloc = ivcs_allocator_or_default(alloc);
    ivcs_loop *l = ivcs_alloc(alloc, sizeof *l, _Alignof(ivcs_loop));
    if (!l) return IV_ERR_SYS_MALLOC_FAIL;
    memset(l, 0, sizeof *l);
    l->alloc = alloc;
    int rc = io_uring_queue_init(entries ? entries : 64, &l->ring, 0);
    if (rc < 0) {
        ivcs_free(alloc, l, sizeof *l);
        return rc == -ENOMEM ? IV_ERR_SYS_MALLOC_FAIL : IVCS_ERR_UNSUPPORTED;
    }
    *out = l;
    return 0;
}

void ivcs_loop_destroy(ivcs_loop *l)
{
    if (!l) return;
    io_uring_queue_exit(&l->ring);
    ivcs_free(l->alloc, l, sizeof *l);
}

unsigned ivcs_loop_pending(const ivcs_loop *l)
{
    return l->pending;
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

static struct io_uring_sqe *get_sqe(ivcs_loop *l)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);
    if (!sqe) {
        /* SQ full: push what is queued to the kernel to make room. */
        io_uring_submit(&l->ring);
        sqe = io_uring_get_sqe(&l->ring);
    }
    return sqe;
}

/* Space for an operation and, with a timeout, its linked timeout: both must
 * be taken together or the link would attach to an unrelated sqe. */
static int reserve(ivcs_loop *l, unsigned n)
{
    if (io_uring_sq_space_left(&l->ring) < n) io_uring_submit(&l->ring);
    return io_uring_sq_space_left(&l->ring) >= n ? 0 : IV_ERR_SYS_COMMUNICATE_FAIL;
}

static void arm(ivcs_loop *l, ivcs_loop_op *op, struct io_uring_sqe *sqe, uint32_t timeout_ms)
{
    op->active = 1;
    op->cancelled = 0;
    op->timer = 0;
    op->sys_errno = 0;
    io_uring_sqe_set_data(sqe, op);
    l->pending++;
    if (timeout_ms) {
        sqe->flags |= IOSQE_IO_LINK;
        op->ts.tv_sec = timeout_ms / 1000;
        op->ts.tv_nsec = (long long)(timeout_ms % 1000) * 1000000;
        struct io_uring_sqe *t = io_uring_get_sqe(&l->ring);
        io_uring_prep_link_timeout(t, &op->ts, 0);
        io_uring_sqe_set_data64(t, LOOP_NO_CB);
    }
}

int ivcs_loop_connect(ivcs_loop *l, ivcs_loop_op *op, int fd, const struct sockaddr_storage *addr,
                      socklen_t addr_len, uint32_t timeout_ms)
{
    if (!l || !op || !op->cb || op->active || fd < 0) return IVCS_ERR_INVALID_ARG;
    if (reserve(l, timeout_ms ? 2 : 1) < 0) return IV_ERR_SYS_COMMUNICATE_FAIL;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);
    io_uring_prep_connect(sqe, fd, (const struct sockaddr *)addr, addr_len);
    arm(l, op, sqe, timeout_ms);
    return 0;
}

int ivcs_loop_send(ivcs_loop *l, ivcs_loop_op *op, int fd, const void *buf, size_t len,
                   uint32_t timeout_ms)
{
    if (!l || !op || !op->cb || op->active || fd < 0) return IVCS_ERR_INVALID_ARG;
    if (reserve(l, timeout_ms ? 2 : 1) < 0) return IV_ERR_SYS_COMMUNICATE_FAIL;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);
    io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL);
    arm(l, op, sqe, timeout_ms);
    return 0;
}

int ivcs_loop_recv(ivcs_loop *l, ivcs_loop_op *op, int fd, void *buf, size_t len,
                   uint32_t timeout_ms)
{
    if (!l || !op || !op->cb || op->active || fd < 0) return IVCS_ERR_INVALID_ARG;
    if (reserve(l, timeout_ms ? 2 : 1) < 0) return IV_ERR_SYS_COMMUNICATE_FAIL;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);
    io_uring_prep_recv(sqe, fd, buf, len, 0);
    arm(l, op, sqe, timeout_ms);
    return 0;
}

int ivcs_loop_timer(ivcs_loop *l, ivcs_loop_op *op, uint32_t ms)
{
    if (!l || !op || !op->cb || op->active) return IVCS_ERR_INVALID_ARG;
    struct io_uring_sqe *sqe = get_sqe(l);
    if (!sqe) return IV_ERR_SYS_COMMUNICATE_FAIL;
    op->ts.tv_sec = ms / 1000;
    op->ts.tv_nsec = (long long)(ms % 1000) * 1000000;
    io_uring_prep_timeout(sqe, &op->ts, 0, 0);
    arm(l, op, sqe, 0);
    op->timer = 1;
    return 0;
}

int ivcs_loop_cancel(ivcs_loop *l, ivcs_loop_op *op)
{
    if (!l || !op) return IVCS_ERR_INVALID_ARG;
    if (!op->active || op->cancelled) return 0;
    struct io_uring_sqe *sqe = get_sqe(l);
    if (!sqe) return IV_ERR_SYS_COMMUNICATE_FAIL;
    op->cancelled = 1;
    io_uring_prep_cancel(sqe, op, 0);
    io_uring_sqe_set_data64(sqe, LOOP_NO_CB);
    return 0;
}

static int map_result(ivcs_loop_op *op, int res)
{
    if (op->timer) {
        /* A timer that expires completes with -ETIME: that is success. */
        if (res == -ETIME || res >= 0) return 0;
        return op->cancelled ? IVCS_ERR_CANCELLED : IV_ERR_SYS_COMMUNICATE_FAIL;
    }
    if (res >= 0) return res;
    op->sys_errno = -res;
    switch (-res) {
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

int ivcs_loop_run_once(ivcs_loop *l, int wait_ms)
{
    if (!l) return IVCS_ERR_INVALID_ARG;
    struct io_uring_cqe *cqe = NULL;
    int rc;
    if (wait_ms < 0) {
        rc = io_uring_submit_and_wait(&l->ring, 1);
    } else if (wait_ms == 0) {
        rc = io_uring_submit(&l->ring);
    } else {
        struct __kernel_timespec ts = {.tv_sec = wait_ms / 1000,
                                       .tv_nsec = (long long)(wait_ms % 1000) * 1000000};
        io_uring_submit(&l->ring);
        rc = io_uring_wait_cqe_timeout(&l->ring, &cqe, &ts);
        if (rc == -ETIME) rc = 0;
    }
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) return IV_ERR_SYS_COMMUNICATE_FAIL;
    int ran = 0;
    /* Callbacks may queue new sqes but never touch the CQ, so taking one
     * cqe at a time and marking it seen before the callback is safe. */
    while (io_uring_peek_cqe(&l->ring, &cqe) == 0 && cqe) {
        uint64_t ud = io_uring_cqe_get_data64(cqe);
        int res = cqe->res;
        io_uring_cqe_seen(&l->ring, cqe);
        if (ud == LOOP_NO_CB) continue;
        ivcs_loop_op *op = (ivcs_loop_op *)(uintptr_t)ud;
        op->active = 0;
        l->pending--;
        int r = map_result(op, res);
        op->cb(op, r);
        ran++;
    }
    return ran;
}
