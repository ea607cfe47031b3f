/* loop_internal.h - what loop.c shares with the two backends: the loop's
 * common head, the backend operations table and the errno mapping. */
#ifndef IVCS_NET_LOOP_INTERNAL_H
#define IVCS_NET_LOOP_INTERNAL_H

#include "engine/net/loop.h"

typedef struct ivcs_loop_backend_ops {
    void (*destroy)(ivcs_loop *l);
    int (*connect)(ivcs_loop *l, ivcs_loop_op *op, int fd, const struct sockaddr_storage *addr,
                   socklen_t addr_len, uint32_t timeout_ms);
    int (*send)(ivcs_loop *l, ivcs_loop_op *op, int fd, const void *buf, size_t len,
                uint32_t timeout_ms);
    int (*recv)(ivcs_loop *l, ivcs_loop_op *op, int fd, void *buf, size_t len,
                uint32_t timeout_ms);
    int (*timer)(ivcs_loop *l, ivcs_loop_op *op, uint32_t ms);
    int (*cancel)(ivcs_loop *l, ivcs_loop_op *op);
    int (*run_once)(ivcs_loop *l, int wait_ms);
    /* a file operation (op->file, fd, iov, off, datasync set); NULL: the
     * synchronous path (ivcs_loop_file_now, completed at the next run) */
    int (*file)(ivcs_loop *l, ivcs_loop_op *op);
} ivcs_loop_backend_ops;

/* The first member of each backend's loop struct. */
struct ivcs_loop {
    const ivcs_loop_backend_ops *ops;
    const ivcs_allocator_s *alloc;
    unsigned pending;
    int backend; /* IVCS_IO_URING or IVCS_IO_EPOLL */
    ivcs_loop_op *sync_head, *sync_tail; /* file ops done synchronously */
    uint64_t ring_file_ops;
    char note[IVCS_IO_NOTE_MAX];
};

/* Each backend's constructor: 0 and *out, or a negative code. The io_uring
 * one returns -errno of a refused setup or probe as *sys_errno (0 else). */
int ivcs_loop_uring_new(ivcs_loop **out, const ivcs_allocator_s *alloc, unsigned entries,
                        int *sys_errno);
int ivcs_loop_epoll_new(ivcs_loop **out, const ivcs_allocator_s *alloc);

/* The loop's result for a failed operation's errno (positive), setting
 * op->sys_errno. ECANCELED/EINTR: cancelled if op->cancelled, else timed
 * out (io_uring's linked timeout). */
int ivcs_loop_map_errno(ivcs_loop_op *op, int err);

/* Runs a file operation's syscall now: bytes written / 0, or -errno. */
int ivcs_loop_file_now(ivcs_loop_op *op);
/* The callback's result for a file operation's raw result. */
int ivcs_loop_file_result(ivcs_loop_op *op, int res);
/* The synchronous path: runs op now, its callback at the next run_once. */
void ivcs_loop_file_sync(ivcs_loop *l, ivcs_loop_op *op);

#endif
