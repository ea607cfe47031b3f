/* outfile.c - a user-named output file written safely (see outfile.h). */
#include "tools/outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int ivcs_outfile_open(ivcs_outfile_s *o, const char *path)
{
    memset(o, 0, sizeof *o);
    o->fd = -1;
    o->path = path;
    if (!path || !path[0]) {
        errno = EINVAL;
        return -1;
    }
    if (!strcmp(path, "-")) {
        o->fd = STDOUT_FILENO;
        o->is_stdout = 1;
        return 0;
    }
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
        if (S_ISDIR(st.st_mode)) {
            errno = EISDIR;
            return -1;
        }
        /* A device or FIFO: it just gets the bytes. */
        o->fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        return o->fd < 0 ? -1 : 0;
    }
    size_t n = strlen(path);
    o->tmp = malloc(n + sizeof ".XXXXXX.part");
    if (!o->tmp) return -1;
    memcpy(o->tmp, path, n);
    memcpy(o->tmp + n, ".XXXXXX.part", sizeof ".XXXXXX.part");
    /* O_EXCL: the temporary file is ours, so removing it is safe. */
    o->fd = mkostemps(o->tmp, 5, O_CLOEXEC);
    if (o->fd < 0) {
        int e = errno;
        free(o->tmp);
        o->tmp = NULL;
        errno = e;
        return -1;
    }
    mode_t um = umask(0);
    umask(um);
    if (fchmod(o->fd, 0666 & ~um) != 0) {
        int e = errno;
        ivcs_outfile_abort(o);
        errno = e;
        return -1;
    }
    o->seekable = 1;
    return 0;
}

int ivcs_outfile_commit(ivcs_outfile_s *o)
{
    int rc = 0, e = 0;
    if (o->tmp) {
        if (fsync(o->fd) != 0) rc = -1, e = errno;
        if (close(o->fd) != 0 && rc == 0) rc = -1, e = errno;
        o->fd = -1;
        if (rc == 0 && rename(o->tmp, o->path) != 0) rc = -1, e = errno;
        if (rc != 0) unlink(o->tmp);
        free(o->tmp);
        o->tmp = NULL;
    } else if (!o->is_stdout && o->fd >= 0) {
        if (close(o->fd) != 0) rc = -1, e = errno;
        o->fd = -1;
    }
    if (rc) errno = e;
    return rc;
}

void ivcs_outfile_abort(ivcs_outfile_s *o)
{
    if (!o->is_stdout && o->fd >= 0) close(o->fd);
    o->fd = -1;
    if (o->tmp) {
        unlink(o->tmp);
        free(o->tmp);
        o->tmp = NULL;
    }
}
