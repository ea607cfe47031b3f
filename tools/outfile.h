/* outfile.h - where a command writes a file the user named (`ivcs s3 get
 * -o`, `ivcs export --out`, event pictures): a regular file (or a new
 * name) is written to a temporary file beside it, created by us
 * (O_EXCL), and renamed over PATH only when complete; on failure only that
 * temporary file is removed, never PATH. "-" is standard output; a path
 * that exists and is not a regular file (a character device such as
 * /dev/null, a FIFO) is written in place and never removed. */
#ifndef IVCS_TOOLS_OUTFILE_H
#define IVCS_TOOLS_OUTFILE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ivcs_outfile_s {
    int fd;          /* write here */
    const char *path;
    char *tmp;       /* the temporary file we created, NULL when written in place */
    int is_stdout;
    int seekable;    /* a regular file: pwrite/ftruncate work */
} ivcs_outfile_s;

/* Opens path for writing as described above. 0, or -1 with errno set
 * (EISDIR for a directory). */
int ivcs_outfile_open(ivcs_outfile_s *o, const char *path);

/* Completes the file: flushes it and renames the temporary file over path.
 * 0, or -1 with errno set (the temporary file is then removed). */
int ivcs_outfile_commit(ivcs_outfile_s *o);

/* Gives up: closes, and removes the temporary file if there is one. PATH
 * itself is never touched. */
void ivcs_outfile_abort(ivcs_outfile_s *o);

#ifdef __cplusplus
}
#endif
#endif
