/* loop_epoll.c - the epoll backend of the loop (io_uring refused or missing):
 * nonblocking attempts first, edge-triggered epoll for the rest, deadlines. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "engine/core/alloc.h"
#include "engine/net/loop_internal.h"

/*
 * An operation is tried at the next ivcs_loop_run_once (as io_uring would
 * submit it then); if the socket is not ready (EAGAIN, EINPROGRESS) it is
 * parked on its fd until epoll reports the fd. A socket is registered once
 * per open file, edge-triggered for both directions, when an operation
 * first parks on it: an edge after a failed attempt always wakes the
 * parked operation, and closing the fd drops the registration (a new file
 * on the same number registers afresh: EPOLL_CTL_ADD, EEXIST means it
 * already is). Live operations (tried or not, parked, timers) are on one
 * list, scanned per run_once for first attempts and deadlines: the loop
 * serves a few connections and timers per channel, so a scan is cheaper
 * than a heap's bookkeeping. Completed operations wait on the done list
 * for their callback, which only run_once calls.
 */

enum { K_CONNECT = 1, K_SEND, K_RECV, K_TIMER };
enum { ST_IDLE = 0, ST_NEW, ST_PARKED, ST_TIMER, ST_DONE };

#define FD_SLOTS_MAX (1u << 22) /* the highest fd number the loop accepts */
#define EVENTS_MAX 64

typedef struct {
    ivcs_loop_op *rd, *wr;
} fd_slot;

typedef struct {
    ivcs_loop base;
    int epfd;
    ivcs_loop_op *live;              /* doubly linked by next/prev */
    ivcs_loop_op *done, *done_tail;  /* singly linked by next */
    fd_slot *slots;
    unsigned nslots;
    struct epoll_event ev[EVENTS_MAX];
} epoll_loop;

#define E(l) ((epoll_loop *)(void *)(l))

static const ivcs_loop_backend_ops epoll_ops;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int ivcs_loop_epoll_new(ivcs_loop **out, const ivcs_allocator_s *alloc)
{
    epoll_loop *l = ivcs_alloc(alloc, sizeof *l, _Alignof(epoll_loop));
    if (!l) return IV_ERR_SYS_MALLOC_FAIL;
    memset(l, 0, sizeof *l);
    l->base.ops = &epoll_ops;
    l->base.alloc = alloc;
    l->base.backend = IVCS_IO_EPOLL;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        int e = errno;
        ivcs_free(alloc, l, sizeof *l);
        return e == ENOMEM ? IV_ERR_SYS_MALLOC_FAIL : IV_ERR_SYS_COMMUNICATE_FAIL;
    }
    *out = &l->base;
    return 0;
}

static void epoll_destroy(ivcs_loop *base)
{
    epoll_loop *l = E(base);
    close(l->epfd);
    ivcs_free(base->alloc, l->slots, sizeof *l->slots * l->nslots);
    ivcs_free(base->alloc, l, sizeof *l);
}

static void live_add(epoll_loop *l, ivcs_loop_op *op)
{
    op->prev = NULL;
    op->next = l->live;
    if (l->live) l->live->prev = op;
    l->live = op;
}

static void live_del(epoll_loop *l, ivcs_loop_op *op)
{
    if (op->prev) op->prev->next = op->next;
    else l->live = op->next;
    if (op->next) op->next->prev = op->prev;
    op->next = op->prev = NULL;
}

/* Ends op with res: off the live list and its fd slot, onto the done list. */
static void complete(epoll_loop *l, ivcs_loop_op *op, int res)
{
    if (op->state == ST_PARKED && (unsigned)op->fd < l->nslots) {
        fd_slot *s = &l->slots[op->fd];
        if (s->rd == op) s->rd = NULL;
        if (s->wr == op) s->wr = NULL;
    }
    live_del(l, op);
    op->state = ST_DONE;
    op->res = res;
    op->next = NULL;
    if (l->done_tail) l->done_tail->next = op;
    else l->done = op;
    l->done_tail = op;
}

static void fail_errno(epoll_loop *l, ivcs_loop_op *op, int err)
{
    complete(l, op, ivcs_loop_map_errno(op, err));
}

/* Grows the slot table to hold fd. */
static int slots_reserve(epoll_loop *l, int fd)
{
    if ((unsigned)fd < l->nslots) return 0;
    if ((unsigned)fd >= FD_SLOTS_MAX) return IV_ERR_SYS_COMMUNICATE_FAIL;
    unsigned n = l->nslots ? l->nslots : 64;
    while (n <= (unsigned)fd) n *= 2;
    fd_slot *s = ivcs_alloc(l->base.alloc, sizeof *s * n, _Alignof(fd_slot));
    if (!s) return IV_ERR_SYS_MALLOC_FAIL;
    memset(s, 0, sizeof *s * n);
    if (l->slots) {
        memcpy(s, l->slots, sizeof *s * l->nslots);
        ivcs_free(l->base.alloc, l->slots, sizeof *l->slots * l->nslots);
    }
    l->slots = s;
    l->nslots = n;
    return 0;
}

/* Parks op on its fd until epoll reports it (an error completes op). */
static void park(epoll_loop *l, ivcs_loop_op *op)
{
    int rc = slots_reserve(l, op->fd);
    if (rc < 0) {
        op->sys_errno = rc == IV_ERR_SYS_MALLOC_FAIL ? ENOMEM : EMFILE;
        complete(l, op, rc);
        return;
    }
    fd_slot *s = &l->slots[op->fd];
    ivcs_loop_op **dir = op->kind == K_RECV ? &s->rd : &s->wr;
    if (*dir) {
        /* a second receive (or send) on one socket: the interface allows
         * it, ivcs never does it; refuse rather than lose one */
        op->sys_errno = EBUSY;
        complete(l, op, IV_ERR_SYS_COMMUNICATE_FAIL);
        return;
    }
    if (!s->rd && !s->wr) {
        struct epoll_event ev;
        memset(&ev, 0, sizeof ev);
        ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
        ev.data.fd = op->fd;
        if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, op->fd, &ev) < 0 && errno != EEXIST) {
            fail_errno(l, op, errno);
            return;
        }
    }
    *dir = op;
    op->state = ST_PARKED;
}

/* Tries op's I/O now: 1 if it completed (or failed), 0 if it must wait. */
static int attempt(epoll_loop *l, ivcs_loop_op *op)
{
    size_t len = op->len > INT_MAX ? INT_MAX : op->len;
    for (int tries = 0; tries < 4; tries++) {
        ssize_t n;
        switch (op->kind) {
        case K_SEND:
            n = send(op->fd, op->buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
            break;
        case K_RECV:
            n = recv(op->fd, op->buf, len, MSG_DONTWAIT);
            break;
        default: { /* K_CONNECT */
            if (op->state == ST_NEW) {
                int fl = fcntl(op->fd, F_GETFL);
                if (fl < 0 || (!(fl & O_NONBLOCK) && fcntl(op->fd, F_SETFL, fl | O_NONBLOCK) < 0)) {
                    fail_errno(l, op, errno);
                    return 1;
                }
                if (connect(op->fd, (const struct sockaddr *)op->buf, (socklen_t)op->len) == 0) {
                    complete(l, op, 0);
                    return 1;
                }
                /* EINTR: the connection goes on in the background */
                if (errno == EINPROGRESS || errno == EINTR) return 0;
                fail_errno(l, op, errno);
                return 1;
            }
            int err = 0;
            socklen_t el = sizeof err;
            if (getsockopt(op->fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0) err = errno;
            if (err) {
                fail_errno(l, op, err);
                return 1;
            }
            struct sockaddr_storage peer;
            socklen_t pl = sizeof peer;
            if (getpeername(op->fd, (struct sockaddr *)&peer, &pl) < 0) {
                if (errno == ENOTCONN) return 0; /* still connecting */
                fail_errno(l, op, errno);
                return 1;
            }
            complete(l, op, 0);
            return 1;
        }
        }
        if (n >= 0) {
            complete(l, op, (int)n);
            return 1;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        if (errno != EINTR) {
            fail_errno(l, op, errno);
            return 1;
        }
    }
    return 0;
}

static void queue(epoll_loop *l, ivcs_loop_op *op, int kind, int fd, void *buf, size_t len,
                  uint32_t timeout_ms)
{
    op->active = 1;
    op->cancelled = 0;
    op->timer = kind == K_TIMER;
    op->sys_errno = 0;
    op->kind = (uint8_t)kind;
    op->state = kind == K_TIMER ? ST_TIMER : ST_NEW;
    op->fd = fd;
    op->buf = buf;
    op->len = len;
    op->res = 0;
    op->deadline_ns = kind == K_TIMER || timeout_ms
                          ? now_ns() + (uint64_t)timeout_ms * 1000000u
                          : 0;
    live_add(l, op);
    l->base.pending++;
}

static int epoll_connect(ivcs_loop *base, ivcs_loop_op *op, int fd,
                         const struct sockaddr_storage *addr, socklen_t addr_len,
                         uint32_t timeout_ms)
{
    queue(E(base), op, K_CONNECT, fd, (void *)(uintptr_t)addr, addr_len, timeout_ms);
    return 0;
}

static int epoll_send(ivcs_loop *base, ivcs_loop_op *op, int fd, const void *buf, size_t len,
                      uint32_t timeout_ms)
{
    queue(E(base), op, K_SEND, fd, (void *)(uintptr_t)buf, len, timeout_ms);
    return 0;
}

static int epoll_recv(ivcs_loop *base, ivcs_loop_op *op, int fd, void *buf, size_t len,
                      uint32_t timeout_ms)
{
    queue(E(base), op, K_RECV, fd, buf, len, timeout_ms);
    return 0;
}

static int epoll_timer(ivcs_loop *base, ivcs_loop_op *op, uint32_t ms)
{
    queue(E(base), op, K_TIMER, -1, NULL, 0, ms);
    return 0;
}

static int epoll_cancel(ivcs_loop *base, ivcs_loop_op *op)
{
    /* A completed op keeps its result (as io_uring's would). */
    if (op->state == ST_DONE) return 0;
    op->cancelled = 1;
    op->sys_errno = ECANCELED;
    complete(E(base), op, IVCS_ERR_CANCELLED);
    return 0;
}

/* Tries the new operations (first pass only), ends those past their
 * deadline, and returns the nearest deadline left (0: none). */
static uint64_t scan(epoll_loop *l, int first)
{
    uint64_t now = now_ns(), next = 0;
    ivcs_loop_op *op = l->live, *nx;
    for (; op; op = nx) {
        nx = op->next;
        if (first && op->state == ST_NEW) {
            if (attempt(l, op)) continue;
            park(l, op);
            if (op->state == ST_DONE) continue;
        }
        if (!op->deadline_ns) continue;
        if (now >= op->deadline_ns) {
            if (op->timer) {
                complete(l, op, 0);
            } else {
                op->sys_errno = ETIMEDOUT;
                complete(l, op, IVCS_ERR_TIMEOUT);
            }
        } else if (!next || op->deadline_ns < next) {
            next = op->deadline_ns;
        }
    }
    return next;
}

static int epoll_run_once(ivcs_loop *base, int wait_ms)
{
    epoll_loop *l = E(base);
    uint64_t next = scan(l, 1);
    int timeout = wait_ms;
    if (l->done) {
        timeout = 0;
    } else if (next) {
        uint64_t now = now_ns();
        uint64_t ms = next > now ? (next - now + 999999u) / 1000000u : 0;
        if (timeout < 0 || ms < (uint64_t)timeout) timeout = (int)ms;
    }
    int n = epoll_wait(l->epfd, l->ev, EVENTS_MAX, timeout);
    if (n < 0 && errno != EINTR) return IV_ERR_SYS_COMMUNICATE_FAIL;
    for (int i = 0; i < n; i++) {
        int fd = l->ev[i].data.fd;
        uint32_t ev = l->ev[i].events;
        if (fd < 0 || (unsigned)fd >= l->nslots) continue;
        fd_slot *s = &l->slots[fd];
        if (s->rd && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP))) (void)attempt(l, s->rd);
        if (s->wr && (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) (void)attempt(l, s->wr);
    }
    if (n != 0 || timeout != 0) (void)scan(l, 0);
    /* Callbacks may queue (tried at the next run_once) or cancel others;
     * those already here run with their result. */
    ivcs_loop_op *op = l->done;
    l->done = l->done_tail = NULL;
    int ran = 0;
    while (op) {
        ivcs_loop_op *nx = op->next;
        op->next = NULL;
        op->active = 0;
        op->state = ST_IDLE;
        base->pending--;
        op->cb(op, op->res);
        ran++;
        op = nx;
    }
    return ran;
}

static const ivcs_loop_backend_ops epoll_ops = {
    .destroy = epoll_destroy,
    .connect = epoll_connect,
    .send = epoll_send,
    .recv = epoll_recv,
    .timer = epoll_timer,
    .cancel = epoll_cancel,
    .run_once = epoll_run_once,
};
