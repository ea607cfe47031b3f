/*
 * loop.h - the io_uring event loop of the transport.
 *
 * One thread owns a loop (and its ring) and calls every function here; no
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

#include "ivcs_base.h"

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
    /* private */
    struct __kernel_timespec ts;
    uint8_t active;
    uint8_t cancelled;
    uint8_t timer;
};

/* Creates a loop with a ring of `entries` submission slots (0: 64). */
IVCS_MUST_CHECK int ivcs_loop_new(ivcs_loop **out, const ivcs_allocator_s *alloc,
                                  unsigned entries);
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

/* Asks the kernel to cancel op; its callback then runs with
 * IVCS_ERR_CANCELLED (or its result, if it completed first). A no-op for an
 * op that is not pending. */
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
