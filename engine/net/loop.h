/*
 * loop.h - the event loop of the transport, with two backends behind it:
 * io_uring (loop_uring.c, the default and fast path) and epoll with
 * nonblocking sockets (loop_epoll.c, where io_uring is refused or missing).
 * The backend is chosen when the loop is made (ivcs_loop_new_backend);
 * nothing above this interface knows which one runs.
 *
 * One thread owns a loop and calls every function here; no
 * function is thread-safe. Operations are described by caller-owned
 * ivcs_loop_op structs which must stay valid and untouched until their
 * callback has run. The callback runs from ivcs_loop_run_once() on the
 * owning thread, exactly once per submitted operation, with:
 *   res >= 0  the operation's result (bytes sent/received, 0 for connect);
 *   res < 0   IVCS_ERR_TIMEOUT (its timeout fired), IVCS_ERR_CANCELLED
 *             (ivcs_loop_cancel), IVCS_ERR_CONNECT, IVCS_ERR_CLOSED (reset,
 *             broken pipe) or IV_ERR_SYS_COMMUNICATE_FAIL; op->sys_errno
 *             then holds the errno for messages.
 * A callback may submit new operations and may free its op.
 */
#ifndef IVCS_NET_LOOP_H
#define IVCS_NET_LOOP_H

#include <linux/time_types.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "ivcs_config.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ivcs_loop ivcs_loop;
typedef struct ivcs_loop_op ivcs_loop_op;
typedef void (*ivcs_loop_cb)(ivcs_loop_op *op, int res);

struct ivcs_loop_op {
    ivcs_loop_cb cb;
    void *arg;            /* for the callback's use */
    int sys_errno;        /* errno of the last failure, 0 if none */
    /* private: both backends */
    uint8_t active;
    uint8_t cancelled;
    uint8_t timer;
    /* private: io_uring */
    struct __kernel_timespec ts;
    /* private: epoll */
    uint8_t kind, state;
    int fd, res;
    void *buf;
    size_t len;
    uint64_t deadline_ns;
    ivcs_loop_op *next, *prev;
    /* private: file operations */
    const struct iovec *iov;
    int iovcnt;
    uint8_t file; /* 1 pwritev, 2 fsync, 3 preadv */
    uint8_t datasync, ring;
    uint64_t off;
    ivcs_loop_op *sync_next;
};

/* Creates a loop: ivcs_loop_new_backend with IVCS_IO_AUTO. */
IVCS_MUST_CHECK int ivcs_loop_new(ivcs_loop **out, const ivcs_allocator_s *alloc,
                                  unsigned entries);
/* Creates a loop on the backend asked for (ivcs_io_backend_e), unless the
 * environment variable IVCS_IO_BACKEND ("auto", "io_uring", "epoll") is
 * set: it overrides the argument. entries: io_uring submission slots (0:
 * 64). IVCS_IO_AUTO tries io_uring and falls back to epoll when io_uring
 * is refused or missing (ivcs_loop_uring_refusal); a forced io_uring that
 * cannot start fails with IVCS_ERR_IO_BACKEND. Either way the reason is
 * in ivcs_loop_note() and in ivcs_io_backend_note() of the calling thread.
 * IVCS_ERR_CONFIG for a bad IVCS_IO_BACKEND or backend value. */
IVCS_MUST_CHECK int ivcs_loop_new_backend(ivcs_loop **out, const ivcs_allocator_s *alloc,
                                          unsigned entries, int backend);
/* IVCS_IO_URING or IVCS_IO_EPOLL: the backend the loop runs. */
int ivcs_loop_backend(const ivcs_loop *loop);
/* Why the loop runs this backend ("" when io_uring started as asked). */
const char *ivcs_loop_note(const ivcs_loop *loop);

/* The policy on an io_uring that cannot start with errno err (positive):
 * writes a one-line reason naming the cause into note (forced: the fix;
 * else: "using epoll") and returns 1 when auto falls back to epoll for it
 * (EPERM, ENOSYS, EOPNOTSUPP, ENOMEM), 0 when the error is not io_uring's
 * absence (e.g. EMFILE) and the loop fails instead. */
int ivcs_loop_uring_refusal(int err, int forced, char *note, size_t cap);
/* Destroys the loop; operations still pending are abandoned (their
 * callbacks never run), so the owner closes its sockets first. */
void ivcs_loop_destroy(ivcs_loop *loop);

/* Number of submitted operations whose callback has not run yet. */
unsigned ivcs_loop_pending(const ivcs_loop *loop);

/* Resolves host (numeric IPv4/IPv6 or a name, via getaddrinfo: blocking, a
 * control-path call) and port into *addr. IVCS_ERR_RESOLVE on failure. */
IVCS_MUST_CHECK int ivcs_loop_resolve(const char *host, uint16_t port,
                                      struct sockaddr_storage *addr, socklen_t *addr_len);

/* A new TCP stream socket for the family of addr (close-on-exec,
 * TCP_NODELAY); returns the fd or a negative code. */
IVCS_MUST_CHECK int ivcs_loop_socket(const struct sockaddr_storage *addr);

/* The operations. timeout_ms 0 means none; else the operation is cancelled
 * with IVCS_ERR_TIMEOUT after that long. addr and buf must stay valid until
 * the callback. Each returns 0 once queued (submitted at the next
 * ivcs_loop_run_once) or a negative code, in which case no callback runs. */
IVCS_MUST_CHECK int ivcs_loop_connect(ivcs_loop *loop, ivcs_loop_op *op, int fd,
                                      const struct sockaddr_storage *addr, socklen_t addr_len,
                                      uint32_t timeout_ms);
IVCS_MUST_CHECK int ivcs_loop_send(ivcs_loop *loop, ivcs_loop_op *op, int fd, const void *buf,
                                   size_t len, uint32_t timeout_ms);
IVCS_MUST_CHECK int ivcs_loop_recv(ivcs_loop *loop, ivcs_loop_op *op, int fd, void *buf,
                                   size_t len, uint32_t timeout_ms);
/* A timer: the callback gets 0 after ms milliseconds. */
IVCS_MUST_CHECK int ivcs_loop_timer(ivcs_loop *loop, ivcs_loop_op *op, uint32_t ms);

/* File operations (the spool's disk I/O; no timeout, not cancellable):
 * pwritev of iov[0..cnt) at offset off, preadv into iov[0..cnt) from
 * offset off (res: bytes read, possibly fewer than asked; 0 at the end of
 * the file), and fsync (datasync: fdatasync).
 * io_uring: IORING_OP_WRITEV / READV / FSYNC (IORING_FSYNC_DATASYNC),
 * run by the kernel while the thread goes on; an opcode the kernel lacks
 * or refuses (EINVAL, EOPNOTSUPP) and the epoll backend: the syscall runs
 * at once, on the calling thread, and the callback runs from the next
 * ivcs_loop_run_once (which then does not wait). res: bytes written (0 for
 * fsync), or IVCS_ERR_IO with op->sys_errno the errno. iov and what it
 * points to must stay valid until the callback. */
IVCS_MUST_CHECK int ivcs_loop_pwritev(ivcs_loop *loop, ivcs_loop_op *op, int fd,
                                      const struct iovec *iov, int cnt, uint64_t off);
IVCS_MUST_CHECK int ivcs_loop_preadv(ivcs_loop *loop, ivcs_loop_op *op, int fd,
                                     const struct iovec *iov, int cnt, uint64_t off);
IVCS_MUST_CHECK int ivcs_loop_fsync(ivcs_loop *loop, ivcs_loop_op *op, int fd, int datasync);
/* File operations the kernel completed through the ring (io_uring only;
 * the synchronous path does not count). */
uint64_t ivcs_loop_ring_file_ops(const ivcs_loop *loop);

/* Cancels op (io_uring: asks the kernel; epoll: at once); its callback then
 * runs from a later ivcs_loop_run_once with IVCS_ERR_CANCELLED (or its
 * result, if it completed first). A no-op for an op that is not pending. */
int ivcs_loop_cancel(ivcs_loop *loop, ivcs_loop_op *op);

/* Submits what is queued, waits up to wait_ms (-1: until something
 * completes; 0: no wait) and runs the callbacks of completed operations.
 * Returns the number of callbacks run or a negative code. */
int ivcs_loop_run_once(ivcs_loop *loop, int wait_ms);

/* Monotonic milliseconds, for deadlines. */
uint64_t ivcs_loop_now_ms(void);

#ifdef __cplusplus
}
#endif
#endif
