/* cmd_spool.c - ivcs spool ls|verify DIR: what a local spool holds, for
 * support staff. Reads only: nothing in DIR is changed, locked or removed
 * (the engine's own open discards what is broken). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "engine/spool/spool.h"
#include "ivcs.h"
#include "tools/cli_common.h"
#include "tools/commands.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: ivcs spool ls DIR\n"
            "       ivcs spool verify DIR\n"
            "\n"
            "Inspects the spool directory of an engine (config spool_dir) without changing\n"
            "it. ls: one line per entry, oldest first: seq, kind (slice, event, picture),\n"
            "recording time (UTC), bytes, frames, object key; unfinished writes (.tmp,\n"
            "discarded by the next engine start) and entries whose header or size is wrong\n"
            "are listed as 'tmp' / 'bad'; then the cached plan and balance answer, and a\n"
            "total. verify: reads every entry whole and checks its CRC32C and Content-MD5\n"
            "as well; prints the bad ones and a total.\n"
            "Files in DIR that are not spool entries are ignored.\n"
            "exit: 0 ok, 1 DIR unreadable or (verify) a bad or unfinished entry, 2 usage\n");
}

static const char *kind_name(uint32_t k)
{
    switch (k) {
    case IVCS_SPOOL_SLICE:
        return "slice";
    case IVCS_SPOOL_EVENT:
        return "event";
    case IVCS_SPOOL_PICTURE:
        return "picture";
    case IVCS_SPOOL_PLAN:
        return "plan";
    case IVCS_SPOOL_BALANCE:
        return "balance";
    }
    return "?";
}

typedef struct {
    uint64_t seq;
    int tmp;
} name_s;

static int cmp_name(const void *a, const void *b)
{
    const name_s *x = a, *y = b;
    if (x->seq != y->seq) return x->seq < y->seq ? -1 : 1;
    return x->tmp - y->tmp;
}

/* the key of an entry (at most IVCS_SPOOL_KEY_MAX bytes), printable */
static void read_key(int fd, const ivcs_spool_hdr_s *h, char *out)
{
    uint32_t n = h->key_len;
    ssize_t r = pread(fd, out, n, IVCS_SPOOL_HDR_LEN);
    if (r < 0) r = 0;
    for (ssize_t i = 0; i < r; i++)
        if ((unsigned char)out[i] < 0x20 || (unsigned char)out[i] == 0x7f) out[i] = '?';
    out[r] = 0;
}

static void show_cache(int dfd, const char *name)
{
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return;
    ivcs_spool_hdr_s h;
    static uint8_t scratch[IVCS_SPOOL_SCRATCH];
    char t[32], tag[IVCS_SPOOL_KEY_MAX + 1];
    if (ivcs_spool_check_fd(fd, 1, scratch, &h) != 0) {
        printf("%s: bad (discarded by the next engine start)\n", name);
    } else {
        read_key(fd, &h, tag);
        printf("%s: %llu bytes, fetched %s, etag %s\n", name, (unsigned long long)h.body_len,
               ivcs_cli_iso(h.created_ms, t, sizeof t), tag[0] ? tag : "-");
    }
    close(fd);
}

static int run(const char *op, const char *dir)
{
    int deep = !strcmp(op, "verify");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        fprintf(stderr, "ivcs spool: %s: %s\n", dir, strerror(errno));
        return IVCS_EXIT_FAIL;
    }
    int d2 = dup(dfd);
    DIR *d = d2 >= 0 ? fdopendir(d2) : NULL;
    if (!d) {
        fprintf(stderr, "ivcs spool: %s: %s\n", dir, strerror(errno));
        if (d2 >= 0) close(d2);
        close(dfd);
        return IVCS_EXIT_FAIL;
    }
    size_t n = 0, cap = 0;
    name_s *names = NULL;
    struct dirent *de;
    while ((de = readdir(d)) && n < IVCS_SPOOL_ENTRIES_MAX) {
        name_s x;
        if (ivcs_spool_parse_name(de->d_name, &x.seq, &x.tmp) != 0) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 256;
            name_s *nn = realloc(names, cap * sizeof *nn);
            if (!nn) {
                fprintf(stderr, "ivcs spool: out of memory\n");
                free(names);
                closedir(d);
                close(dfd);
                return IVCS_EXIT_FAIL;
            }
            names = nn;
        }
        names[n++] = x;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_name);
    /* a running engine holds the lock */
    int lfd = openat(dfd, "spool.lock", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (lfd >= 0) {
        if (flock(lfd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK)
            printf("(in use by a running engine: entries may change while listed)\n");
        close(lfd);
    }
    static uint8_t scratch[IVCS_SPOOL_SCRATCH];
    uint64_t good = 0, bad = 0, tmp = 0, bytes = 0, frames = 0;
    int64_t oldest = 0;
    for (size_t i = 0; i < n; i++) {
        char name[IVCS_SPOOL_NAME_LEN + 1], t[32];
        ivcs_spool_entry_name(names[i].seq, names[i].tmp, name);
        if (names[i].tmp) {
            tmp++;
            printf("%llu tmp %s (unfinished write)\n", (unsigned long long)names[i].seq, name);
            continue;
        }
        int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        ivcs_spool_hdr_s h;
        int rc = fd < 0 ? IVCS_ERR_IO : ivcs_spool_check_fd(fd, deep, scratch, &h);
        if (rc == 0 && h.seq != names[i].seq) rc = IVCS_ERR_INVALID_ARG;
        if (rc != 0) {
            bad++;
            printf("%llu bad %s (%s)\n", (unsigned long long)names[i].seq, name,
                   rc == IVCS_ERR_IO ? "unreadable" : deep ? "header, size, CRC or MD5" :
                                                              "header or size");
        } else {
            char key[IVCS_SPOOL_KEY_MAX + 1];
            read_key(fd, &h, key);
            uint64_t size = IVCS_SPOOL_HDR_LEN + h.key_len + h.meta_len + h.body_len;
            good++;
            bytes += size;
            frames += h.frames;
            if (!oldest || h.created_ms < oldest) oldest = h.created_ms;
            if (!deep)
                printf("%llu %s %s %llu %u %s\n", (unsigned long long)h.seq, kind_name(h.kind),
                       ivcs_cli_iso(h.created_ms, t, sizeof t), (unsigned long long)size,
                       h.frames, key);
        }
        if (fd >= 0) close(fd);
    }
    free(names);
    if (!deep) {
        show_cache(dfd, "plan.cache");
        show_cache(dfd, "balance.cache");
    }
    close(dfd);
    char t[32];
    printf("%s: %llu entries ok (%llu bytes, %llu frames, oldest %s), %llu bad, %llu "
           "unfinished\n",
           deep ? "verify" : "total", (unsigned long long)good, (unsigned long long)bytes,
           (unsigned long long)frames, oldest ? ivcs_cli_iso(oldest, t, sizeof t) : "-",
           (unsigned long long)bad, (unsigned long long)tmp);
    return deep && (bad || tmp) ? IVCS_EXIT_FAIL : IVCS_EXIT_OK;
}

int ivcs_cmd_spool(int argc, char **argv)
{
    const char *op = NULL, *dir = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (ivcs_cli_is_help(a)) {
            usage(stdout);
            return IVCS_EXIT_OK;
        }
        if (a[0] == '-' && a[1]) return ivcs_cli_bad_option("spool", a, "");
        if (!op)
            op = a;
        else if (!dir)
            dir = a;
        else
            return ivcs_cli_usage_error("spool", "unexpected argument '%s'", a);
    }
    if (!op) return ivcs_cli_usage_error("spool", "ls or verify is required");
    if (strcmp(op, "ls") && strcmp(op, "verify"))
        return ivcs_cli_usage_error("spool", "unknown operation '%s' (ls or verify)", op);
    if (!dir) return ivcs_cli_usage_error("spool", "DIR is required");
    return run(op, dir);
}
