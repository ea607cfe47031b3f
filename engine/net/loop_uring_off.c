/* loop_uring_off.c - stands in for loop_uring.c in a build configured with
 * -DIVCS_IO_URING=OFF (no liburing: epoll only, e.g. firmware whose kernel
 * predates io_uring). The io_uring backend then answers as a kernel without
 * io_uring does (ENOSYS): `auto` falls back to epoll and says why, a forced
 * io_uring fails with IVCS_ERR_IO_BACKEND. CMakeLists.txt compiles exactly
 * one of the two files. */
#include <errno.h>

#include "engine/net/loop_internal.h"
#include "iv_err.h"

int ivcs_loop_uring_new(ivcs_loop **out, const ivcs_allocator_s *alloc, unsigned entries,
                        int *sys_errno)
{
    (void)out;
    (void)alloc;
    (void)entries;
    *sys_errno = ENOSYS;
    return IV_ERR_SYS_COMMUNICATE_FAIL;
}
