/* loop_uring.c - the io_uring backend of the loop (the default, fast path):
 * connect/send/recv with linked timeouts, timers, async cancel. */
#include <errno.h>
#include <liburing.h>
#include <string.h>

#include "engine/core/alloc.h"
#include "engine/net/loop_internal.h"

/* Completions with this user_data (linked timeouts, cancel requests) carry
 * no callback: their effect shows on the operation they target. */
#define LOOP_NO_CB 0

typedef struct {
    ivcs_loop base;
    struct io_uring ring;
    int file_ok; /* the kernel has IORING_OP_WRITEV, READV and FSYNC */
} uring_loop;

#define U(l) ((uring_loop *)(void *)(l))

static const ivcs_loop_backend_ops uring_ops;

/* The opcodes this file submits (kernel 5.6+: SEND/RECV and the probe). */
static int probe_ok(struct io_uring *ring)
{
    static const int need[] = {IORING_OP_CONNECT,       IORING_OP_SEND,    IORING_OP_RECV,
                               IORING_OP_TIMEOUT,       IORING_OP_LINK_TIMEOUT,
                               IORING_OP_ASYNC_CANCEL};
    struct io_uring_probe *p = io_uring_get_probe_ring(ring);
    if (!p) return 0;
    int ok = 1;
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++)
        if (!io_uring_opcode_supported(p, need[i])) ok = 0;
    io_uring_free_probe(p);
    return ok;
}

/* The file opcodes (5.1+): without them file ops take the synchronous path. */
static int probe_file_ok(struct io_uring *ring)
{
    struct io_uring_probe *p = io_uring_get_probe_ring(ring);
    if (!p) return 0;
    int ok = io_uring_opcode_supported(p, IORING_OP_WRITEV) &&
             io_uring_opcode_supported(p, IORING_OP_READV) &&
             io_uring_opcode_supported(p, IORING_OP_FSYNC);
    io_uring_free_probe(p);
    return ok;
}

int ivcs_loop_uring_new(ivcs_loop **out, const ivcs_allocator_s *alloc, unsigned entries,
                        int *sys_errno)
{
    *sys_errno = 0;
    uring_loop *l = ivcs_alloc(alloc, sizeof *l, _Alignof(uring_loop));
    if (!l) return IV_ERR_SYS_MALLOC_FAIL;
    memset(l, 0, sizeof *l);
    l->base.ops = &uring_ops;
    l->base.alloc = alloc;
    l->base.backend = IVCS_IO_URING;
    int rc = io_uring_queue_init(entries ? entries : 64, &l->ring, 0);
    if (rc == 0 && !probe_ok(&l->ring)) {
        io_uring_queue_exit(&l->ring);
        rc = -EOPNOTSUPP;
    }
    if (rc < 0) {
        ivcs_free(alloc, l, sizeof *l);
        *sys_errno = -rc;
        return IV_ERR_SYS_COMMUNICATE_FAIL;
    }
    l->file_ok = probe_file_ok(&l->ring);
    *out = &l->base;
    return 0;
}

static void uring_destroy(ivcs_loop *base)
{
    uring_loop *l = U(base);
    io_uring_queue_exit(&l->ring);
    ivcs_free(base->alloc, l, sizeof *l);
}

static struct io_uring_sqe *get_sqe(uring_loop *l)
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
static int reserve(uring_loop *l, unsigned n)
{
    if (io_uring_sq_space_left(&l->ring) < n) io_uring_submit(&l->ring);
    return io_uring_sq_space_left(&l->ring) >= n ? 0 : IV_ERR_SYS_COMMUNICATE_FAIL;
}

static void arm(uring_loop *l, ivcs_loop_op *op, struct io_uring_sqe *sqe, uint32_t timeout_ms)
{
    op->active = 1;
    op->cancelled = 0;
    op->timer = 0;
    op->sys_errno = 0;
    io_uring_sqe_set_data(sqe, op);
    l->base.pending++;
    if (timeout_ms) {
        sqe->flags |= IOSQE_IO_LINK;
        op->ts.tv_sec = timeout_ms / 1000;
        op->ts.tv_nsec = (long long)(timeout_ms % 1000) * 1000000;
        struct io_uring_sqe *t = io_uring_get_sqe(&l->ring);
        io_uring_prep_link_timeout(t, &op->ts, 0);
        io_uring_sqe_set_data64(t, LOOP_NO_CB);
    }
}

static int uring_connect(ivcs_loop *base, ivcs_loop_op *op, int fd,
                         const struct sockaddr_storage *addr, socklen_t addr_len,
                         uint32_t timeout_ms)
{
    uring_loop *l = U(base);
    if (reserve(l, timeout_ms ? 2 : 1) < 0) return IV_ERR_SYS_COMMUNICATE_FAIL;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);
    io_uring_prep_connect(sqe, fd, (const struct sockaddr *)addr, addr_len);
    arm(l, op, sqe, timeout_ms);
    return 0;
}

static int uring_send(ivcs_loop *base, ivcs_loop_op *op, int fd, const void *buf, size_t len,
                      uint32_t timeout_ms)
{
    uring_loop *l = U(base);
    if (reserve(l, timeout_ms ? 2 : 1) < 0) return IV_ERR_SYS_COMMUNICATE_FAIL;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);
    io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL);
    arm(l, op, sqe, timeout_ms);
    return 0;
}

static int uring_recv(ivcs_loop *base, ivcs_loop_op *op, int fd, void *buf, size_t len,
                      uint32_t timeout_ms)
{
    uring_loop *l = U(base);
    if (reserve(l, timeout_ms ? 2 : 1) < 0) return IV_ERR_SYS_COMMUNICATE_FAIL;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);
    io_uring_prep_recv(sqe, fd, buf, len, 0);
    arm(l, op, sqe, timeout_ms);
    return 0;
}

static int uring_timer(ivcs_loop *base, ivcs_loop_op *op, uint32_t ms)
{
    uring_loop *l = U(base);
    struct io_uring_sqe *sqe = get_sqe(l);
    if (!sqe) return IV_ERR_SYS_COMMUNICATE_FAIL;
    op->ts.tv_sec = ms / 1000;
    op->ts.tv_nsec = (long long)(ms % 1000) * 1000000;
    io_uring_prep_timeout(sqe, &op->ts, 0, 0);
    arm(l, op, sqe, 0);
    op->timer = 1;
    return 0;
}

static int uring_file(ivcs_loop *base, ivcs_loop_op *op)
{
    uring_loop *l = U(base);
    if (!l->file_ok || reserve(l, 1) < 0) return -1; /* the synchronous path */
    struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);
    if (op->file == 1)
        io_uring_prep_writev(sqe, op->fd, op->iov, (unsigned)op->iovcnt, op->off);
    else if (op->file == 3)
        io_uring_prep_readv(sqe, op->fd, op->iov, (unsigned)op->iovcnt, op->off);
    else
        io_uring_prep_fsync(sqe, op->fd, op->datasync ? IORING_FSYNC_DATASYNC : 0);
    /* straight to the kernel's workers: no attempt inline in the submit,
     * which a file system that ignores IOCB_NOWAIT (FUSE, measured) would
     * make block this thread for as long as the disk takes */
    sqe->flags |= IOSQE_ASYNC;
    arm(l, op, sqe, 0);
    op->ring = 1;
    /* submitted now: the kernel copies the iovec array, and the work
     * starts before the thread goes to sleep */
    io_uring_submit(&l->ring);
    return 0;
}

static int uring_cancel(ivcs_loop *base, ivcs_loop_op *op)
{
    uring_loop *l = U(base);
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
    return ivcs_loop_map_errno(op, -res);
}

static int uring_run_once(ivcs_loop *base, int wait_ms)
{
    uring_loop *l = U(base);
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
        l->base.pending--;
        if (op->file) {
            /* an opcode the kernel refuses for this file: the syscall */
            if (res == -EINVAL || res == -EOPNOTSUPP) res = ivcs_loop_file_now(op);
            else l->base.ring_file_ops++;
            op->ring = 0;
            op->cb(op, ivcs_loop_file_result(op, res));
            ran++;
            continue;
        }
        int r = map_result(op, res);
        op->cb(op, r);
        ran++;
    }
    return ran;
}

static const ivcs_loop_backend_ops uring_ops = {
    .destroy = uring_destroy,
    .connect = uring_connect,
    .send = uring_send,
    .recv = uring_recv,
    .timer = uring_timer,
    .cancel = uring_cancel,
    .run_once = uring_run_once,
    .file = uring_file,
};
