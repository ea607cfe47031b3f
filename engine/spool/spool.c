/* spool.c - the crash-safe spool (spool.h): scan/recovery at open, the
 * bounded asynchronous write path, oldest-first reads, removal, eviction,
 * cache files. Plain syscalls relative to the directory's fd. */
#include "engine/spool/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "engine/core/alloc.h"
#include "engine/net/hash.h"
#include "engine/net/loop.h"

#define BODY_IOV_MAX 8
#define READ_CHUNK IVCS_SPOOL_SCRATCH

enum { STAGE_CRC = 0, STAGE_OPEN, STAGE_WRITE, STAGE_SYNC, STAGE_COMMIT, STAGE_DIRSYNC };
enum { IO_IDLE = 0, IO_RUNNING, IO_DONE };

struct ivcs_spool {
    const ivcs_allocator_s *alloc;
    ivcs_spool_config_s cfg;
    int dirfd;
    int lockfd;
    /* committed entries, ascending seq; [lo, hi) with tombstones (size 0) */
    ivcs_spool_entry_s *ent;
    size_t lo, hi, cap;
    /* FIFO of queued puts */
    ivcs_spool_put_s *qhead, *qtail;
    unsigned queued;
    uint64_t pending_bytes;
    ivcs_spool_stats_s st;
    /* ivcs_spool_set_loop: the write path's file ops, one at a time */
    ivcs_loop *loop;
    ivcs_loop_op io;
    struct iovec io_iov[BODY_IOV_MAX + 3];
    int io_state, io_res;
};

ivcs_spool_fault_e ivcs_spool_fault_of_errno(int err)
{
    switch (err) {
    case 0:
        return IVCS_SPOOL_OK;
    case ENOSPC:
    case EDQUOT:
        return IVCS_SPOOL_FAULT_FULL;
    case EROFS:
    case EACCES:
    case EPERM:
        return IVCS_SPOOL_FAULT_RDONLY;
    case ENOENT:
    case ENOTDIR:
        return IVCS_SPOOL_FAULT_MISSING;
    default:
        return IVCS_SPOOL_FAULT_IO;
    }
}

const char *ivcs_spool_fault_name(ivcs_spool_fault_e f)
{
    switch (f) {
    case IVCS_SPOOL_OK:
        return "ok";
    case IVCS_SPOOL_FAULT_FULL:
        return "full";
    case IVCS_SPOOL_FAULT_RDONLY:
        return "read-only";
    case IVCS_SPOOL_FAULT_IO:
        return "io-error";
    case IVCS_SPOOL_FAULT_MISSING:
        return "missing";
    }
    return "?";
}

static int fail_errno(ivcs_spool *s, int err)
{
    s->st.fault = (int)ivcs_spool_fault_of_errno(err);
    s->st.fault_errno = err;
    return IVCS_ERR_IO;
}

static int do_sync(ivcs_spool *s, int fd, int data_only)
{
    if (s->cfg.no_sync) return 0;
    s->st.fsyncs++;
    return data_only ? fdatasync(fd) : fsync(fd);
}

void ivcs_spool_set_loop(ivcs_spool *s, ivcs_loop *loop)
{
    if (s && s->io_state != IO_RUNNING) s->loop = loop;
}

static void io_done(ivcs_loop_op *op, int res)
{
    ivcs_spool *s = op->arg;
    s->io_state = IO_DONE;
    s->io_res = res >= 0 ? res : -(op->sys_errno ? op->sys_errno : EIO);
}

/* One file op of the write path: kind 1 pwritev(iov, cnt, off), 2
 * fdatasync, 3 fsync. Returns 1 while it runs in the loop (ivcs_spool_poll
 * then returns 0: the completion wakes the loop), 0 when done with *res:
 * bytes written / 0, or -errno. Without a loop: the syscall, now. */
static int io_step(ivcs_spool *s, int kind, int fd, const struct iovec *iov, int cnt,
                   uint64_t off, int *res)
{
    if (kind != 1 && s->cfg.no_sync) {
        *res = 0;
        return 0;
    }
    if (!s->loop) {
        if (kind == 1) {
            ssize_t w = pwritev(fd, iov, cnt, (off_t)off);
            *res = w < 0 ? -errno : (int)w;
        } else {
            *res = do_sync(s, fd, kind == 2) != 0 ? -errno : 0;
        }
        return 0;
    }
    if (s->io_state == IO_RUNNING) return 1;
    if (s->io_state == IO_DONE) {
        s->io_state = IO_IDLE;
        *res = s->io_res;
        return 0;
    }
    memset(&s->io, 0, sizeof s->io);
    s->io.cb = io_done;
    s->io.arg = s;
    int rc;
    if (kind == 1) {
        memcpy(s->io_iov, iov, (size_t)cnt * sizeof *iov);
        rc = ivcs_loop_pwritev(s->loop, &s->io, fd, s->io_iov, cnt, off);
    } else {
        s->st.fsyncs++;
        rc = ivcs_loop_fsync(s->loop, &s->io, fd, kind == 2);
    }
    if (rc < 0) {
        *res = -EIO;
        return 0;
    }
    s->st.loop_ops++;
    s->io_state = IO_RUNNING;
    return 1;
}

/* ---------------------------------------------------------------- entries */

static size_t live_count(const ivcs_spool *s)
{
    return (size_t)s->st.entries;
}

static int ent_reserve(ivcs_spool *s)
{
    if (s->hi < s->cap) return 0;
    /* compact: drop what is before lo and the tombstones */
    size_t w = 0;
    for (size_t i = s->lo; i < s->hi; i++)
        if (s->ent[i].size) s->ent[w++] = s->ent[i];
    s->lo = 0;
    s->hi = w;
    if (s->hi < s->cap) return 0;
    size_t ncap = s->cap ? s->cap * 2 : 64;
    ivcs_spool_entry_s *n = ivcs_alloc(s->alloc, ncap * sizeof *n, _Alignof(ivcs_spool_entry_s));
    if (!n) return IV_ERR_SYS_MALLOC_FAIL;
    if (s->hi) memcpy(n, s->ent, s->hi * sizeof *n);
    ivcs_free(s->alloc, s->ent, s->cap * sizeof *s->ent);
    s->ent = n;
    s->cap = ncap;
    return 0;
}

static void update_oldest(ivcs_spool *s)
{
    while (s->lo < s->hi && s->ent[s->lo].size == 0) s->lo++;
    s->st.oldest_ms = s->lo < s->hi ? s->ent[s->lo].created_ms : 0;
    if (s->lo == s->hi) s->lo = s->hi = 0;
}

static ivcs_spool_entry_s *find_ent(const ivcs_spool *s, uint64_t seq)
{
    size_t a = s->lo, b = s->hi;
    while (a < b) {
        size_t m = a + (b - a) / 2;
        if (s->ent[m].seq < seq)
            a = m + 1;
        else
            b = m;
    }
    if (a < s->hi && s->ent[a].seq == seq && s->ent[a].size) return &s->ent[a];
    return NULL;
}

static void drop_ent(ivcs_spool *s, ivcs_spool_entry_s *e)
{
    s->st.entries--;
    s->st.bytes -= e->size;
    e->size = 0;
    update_oldest(s);
}

static void unlink_seq(ivcs_spool *s, uint64_t seq, int tmp)
{
    char name[IVCS_SPOOL_NAME_LEN + 1];
    ivcs_spool_entry_name(seq, tmp, name);
    (void)unlinkat(s->dirfd, name, 0);
}

/* removes the oldest entry (eviction), reporting it */
static void evict_oldest(ivcs_spool *s)
{
    update_oldest(s);
    if (s->lo >= s->hi) return;
    ivcs_spool_entry_s e = s->ent[s->lo];
    unlink_seq(s, e.seq, 0);
    s->st.evicted++;
    s->st.evicted_bytes += e.size;
    drop_ent(s, &s->ent[s->lo]);
    if (s->cfg.lost) s->cfg.lost(s->cfg.ctx, &e, 1);
}

/* ---------------------------------------------------------------- open */

static int cmp_ent(const void *a, const void *b)
{
    uint64_t x = ((const ivcs_spool_entry_s *)a)->seq, y = ((const ivcs_spool_entry_s *)b)->seq;
    return x < y ? -1 : x > y;
}

/* Reads fd fully (size bytes) in chunks, computing the CRC and the MD5 of
 * the part after the header + key + meta. 0 if both match h. */
static int deep_check(int fd, const ivcs_spool_hdr_s *h, uint8_t *buf)
{
    ivcs_digest_s md;
    if (ivcs_digest_init(&md, IVCS_DIGEST_MD5) != 0) return -1;
    (void)ivcs_digest_begin(&md);
    uint64_t off = IVCS_SPOOL_HDR_LEN, end = off + h->key_len + h->meta_len + h->body_len;
    uint64_t body_at = off + h->key_len + h->meta_len;
    uint32_t crc = 0;
    int rc = 0;
    while (off < end) {
        size_t want = end - off > READ_CHUNK ? READ_CHUNK : (size_t)(end - off);
        ssize_t r = pread(fd, buf, want, (off_t)off);
        if (r <= 0) {
            if (r < 0 && errno == EINTR) continue;
            rc = -1;
            break;
        }
        crc = ivcs_crc32c(crc, buf, (size_t)r);
        if (off + (uint64_t)r > body_at) {
            size_t skip = off >= body_at ? 0 : (size_t)(body_at - off);
            (void)ivcs_digest_update(&md, buf + skip, (size_t)r - skip);
        }
        off += (uint64_t)r;
    }
    uint8_t d[IVCS_MD5_LEN];
    if (rc == 0 && (ivcs_digest_final(&md, d) != 0 || crc != h->data_crc ||
                    memcmp(d, h->md5, 16) != 0))
        rc = -1;
    ivcs_digest_cleanup(&md);
    return rc;
}

int ivcs_spool_check_fd(int fd, int deep, uint8_t *scratch, ivcs_spool_hdr_s *h)
{
    memset(h, 0, sizeof *h);
    struct stat sb;
    if (fstat(fd, &sb) != 0) return IVCS_ERR_IO;
    if (!S_ISREG(sb.st_mode)) return IVCS_ERR_INVALID_ARG;
    uint8_t hb[IVCS_SPOOL_HDR_LEN];
    ivcs_spool_hdr_s t;
    if (pread(fd, hb, sizeof hb, 0) != (ssize_t)sizeof hb ||
        ivcs_spool_hdr_decode(hb, sizeof hb, &t) != 0)
        return IVCS_ERR_INVALID_ARG;
    *h = t;
    uint64_t total = (uint64_t)IVCS_SPOOL_HDR_LEN + t.key_len + t.meta_len + t.body_len;
    if ((uint64_t)sb.st_size != total) return IVCS_ERR_INVALID_ARG;
    if (deep && deep_check(fd, &t, scratch) != 0) return IVCS_ERR_INVALID_ARG;
    return 0;
}

/* Checks one committed entry file at open. 0 and *e, or -1 (corrupt). */
static int scan_one(ivcs_spool *s, const char *name, uint64_t seq, uint8_t *buf,
                    ivcs_spool_entry_s *e, uint64_t *size_out)
{
    *size_out = 0;
    int fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return -1;
    struct stat sb;
    if (fstat(fd, &sb) == 0) *size_out = (uint64_t)sb.st_size;
    ivcs_spool_hdr_s h;
    int rc = ivcs_spool_check_fd(fd, s->cfg.deep_scan, buf, &h);
    close(fd);
    if (rc != 0 || h.seq != seq || h.kind > IVCS_SPOOL_PICTURE) return -1;
    e->seq = seq;
    e->created_ms = h.created_ms;
    e->size = *size_out;
    e->kind = h.kind;
    e->frames = h.frames;
    e->channel = h.channel;
    return 0;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static int scan(ivcs_spool *s)
{
    int dfd = dup(s->dirfd);
    if (dfd < 0) return fail_errno(s, errno);
    DIR *d = fdopendir(dfd);
    if (!d) {
        int err = errno;
        close(dfd);
        return fail_errno(s, err);
    }
    rewinddir(d);
    uint8_t *buf = NULL;
    if (s->cfg.deep_scan) {
        buf = ivcs_alloc(s->alloc, READ_CHUNK, 64);
        if (!buf) {
            closedir(d);
            return IV_ERR_SYS_MALLOC_FAIL;
        }
    }
    int rc = 0;
    uint64_t max_seq = 0;
    int any = 0;
    struct dirent *de;
    /* bounded: a directory stuffed with other files is read at most this far */
    for (uint64_t iter = 0; iter < 4ull * IVCS_SPOOL_ENTRIES_MAX && (de = readdir(d)); iter++) {
        uint64_t seq;
        int tmp;
        if (ivcs_spool_parse_name(de->d_name, &seq, &tmp) != 0) continue;
        if (!any || seq > max_seq) max_seq = seq;
        any = 1;
        if (tmp) {
            struct stat sb;
            if (fstatat(s->dirfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0)
                s->st.discarded_bytes += (uint64_t)sb.st_size;
            (void)unlinkat(s->dirfd, de->d_name, 0);
            s->st.discarded_tmp++;
            continue;
        }
        ivcs_spool_entry_s e;
        uint64_t size;
        if (scan_one(s, de->d_name, seq, buf, &e, &size) != 0) {
            (void)unlinkat(s->dirfd, de->d_name, 0);
            s->st.discarded_corrupt++;
            s->st.discarded_bytes += size;
            continue;
        }
        if (live_count(s) >= IVCS_SPOOL_ENTRIES_MAX) continue; /* left on disk, not used */
        if ((rc = ent_reserve(s)) != 0) break;
        s->ent[s->hi++] = e;
        s->st.entries++;
        s->st.bytes += e.size;
        s->st.recovered++;
    }
    closedir(d);
    ivcs_free(s->alloc, buf, READ_CHUNK);
    if (rc) return rc;
    if (s->hi > s->lo) qsort(s->ent + s->lo, s->hi - s->lo, sizeof *s->ent, cmp_ent);
    s->st.next_seq = any ? max_seq + 1 : 1;
    update_oldest(s);
    if (!s->cfg.no_sync && (s->st.discarded_tmp || s->st.discarded_corrupt)) {
        s->st.fsyncs++;
        (void)fsync(s->dirfd);
    }
    return 0;
}

int ivcs_spool_open(ivcs_spool **out, const ivcs_allocator_s *alloc,
                    const ivcs_spool_config_s *cfg, int *fault_out)
{
    if (fault_out) *fault_out = 0;
    if (!out || !cfg || !cfg->dir || !cfg->dir[0]) return IVCS_ERR_INVALID_ARG;
    *out = NULL;
    alloc = ivcs_allocator_or_default(alloc);
    ivcs_spool *s = ivcs_alloc(alloc, sizeof *s, _Alignof(ivcs_spool));
    if (!s) return IV_ERR_SYS_MALLOC_FAIL;
    memset(s, 0, sizeof *s);
    s->alloc = alloc;
    s->cfg = *cfg;
    s->cfg.dir = NULL; /* not kept: the fd is */
    s->lockfd = -1;
    uint64_t t0 = now_us();
    int rc;
    s->dirfd = open(cfg->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dirfd < 0) {
        rc = fail_errno(s, errno);
        goto fail;
    }
    /* read-only fd: flock works on it, and it does not keep the file system
     * busy for a read-only remount */
    s->lockfd = openat(s->dirfd, "spool.lock", O_RDONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (s->lockfd < 0 && errno == EROFS) {
        /* a read-only spool can still be read (and backfilled once it is
         * writable again); the fault says writes will fail */
        (void)fail_errno(s, EROFS);
        s->lockfd = openat(s->dirfd, "spool.lock", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        /* none and none can be made: nobody else can write here either */
    } else if (s->lockfd < 0) {
        rc = fail_errno(s, errno);
        goto fail;
    }
    if (s->lockfd >= 0 && flock(s->lockfd, LOCK_EX | LOCK_NB) != 0) {
        rc = errno == EWOULDBLOCK ? IVCS_ERR_STATE : fail_errno(s, errno);
        goto fail;
    }
    struct statvfs vfs;
    if (fstatvfs(s->dirfd, &vfs) == 0 && (vfs.f_flag & ST_RDONLY)) (void)fail_errno(s, EROFS);
    if ((rc = scan(s)) != 0) goto fail;
    s->st.scan_us = now_us() - t0;
    *out = s;
    return 0;
fail:
    if (fault_out) *fault_out = s->st.fault;
    ivcs_spool_close(s);
    return rc;
}

void ivcs_spool_close(ivcs_spool *s)
{
    if (!s) return;
    for (ivcs_spool_put_s *p = s->qhead; p; p = p->next_) {
        if (p->fd_ >= 0) {
            close(p->fd_);
            unlink_seq(s, p->seq, 1);
        }
    }
    if (s->lockfd >= 0) close(s->lockfd);
    if (s->dirfd >= 0) close(s->dirfd);
    ivcs_free(s->alloc, s->ent, s->cap * sizeof *s->ent);
    ivcs_free(s->alloc, s, sizeof *s);
}

void ivcs_spool_get_stats(const ivcs_spool *s, ivcs_spool_stats_s *out)
{
    *out = s->st;
}

/* ---------------------------------------------------------------- write */

int ivcs_spool_put(ivcs_spool *s, ivcs_spool_put_s *p)
{
    if (!s || !p || !p->key || !p->md5 || p->body_cnt < 0 || p->body_cnt > BODY_IOV_MAX ||
        (p->body_cnt && !p->body) || (p->meta_len && !p->meta) || !p->done ||
        p->kind < IVCS_SPOOL_SLICE || p->kind > IVCS_SPOOL_PICTURE)
        return IVCS_ERR_INVALID_ARG;
    uint64_t body = 0;
    for (int i = 0; i < p->body_cnt; i++) body += p->body[i].iov_len;
    if (p->key_len == 0 || p->key_len > IVCS_SPOOL_KEY_MAX || p->meta_len > IVCS_SPOOL_META_MAX ||
        body > IVCS_SPOOL_BODY_MAX) {
        s->st.put_refused++;
        return IVCS_ERR_TOO_LONG;
    }
    uint64_t total = IVCS_SPOOL_HDR_LEN + p->key_len + p->meta_len + body;
    if (s->cfg.max_bytes && total > s->cfg.max_bytes) {
        s->st.put_refused++;
        return IVCS_ERR_TOO_LONG;
    }
    if (s->queued >= IVCS_SPOOL_QUEUE_MAX) {
        s->st.put_refused++;
        return IVCS_ERR_BUFFER_FULL;
    }
    if (s->cfg.max_bytes) {
        while (s->st.entries &&
               s->st.bytes + s->pending_bytes + total > s->cfg.max_bytes)
            evict_oldest(s);
        if (s->st.bytes + s->pending_bytes + total > s->cfg.max_bytes) {
            s->st.put_refused++; /* the queue itself fills the budget */
            return IVCS_ERR_BUFFER_FULL;
        }
    }
    while (live_count(s) + s->queued >= IVCS_SPOOL_ENTRIES_MAX && s->st.entries) evict_oldest(s);
    p->seq = s->st.next_seq++;
    p->next_ = NULL;
    p->off_ = 0;
    p->total_ = total;
    p->crc_ = 0;
    p->stage_ = STAGE_CRC;
    p->fd_ = -1;
    if (s->qtail)
        s->qtail->next_ = p;
    else
        s->qhead = p;
    s->qtail = p;
    s->queued++;
    s->pending_bytes += total;
    return 0;
}

/* the piece of [hdr | key | meta | body...] at logical offset off */
static int gather(const ivcs_spool_put_s *p, uint64_t off, size_t budget, struct iovec *iov)
{
    struct {
        const void *b;
        size_t n;
    } parts[BODY_IOV_MAX + 3];
    int np = 0;
    parts[np].b = p->hdr_, parts[np++].n = IVCS_SPOOL_HDR_LEN;
    parts[np].b = p->key, parts[np++].n = p->key_len;
    parts[np].b = p->meta, parts[np++].n = p->meta_len;
    for (int i = 0; i < p->body_cnt; i++)
        parts[np].b = p->body[i].iov_base, parts[np++].n = p->body[i].iov_len;
    int cnt = 0;
    uint64_t at = 0;
    for (int i = 0; i < np && budget; i++) {
        uint64_t end = at + parts[i].n;
        if (parts[i].n && off < end) {
            size_t skip = off > at ? (size_t)(off - at) : 0;
            size_t n = parts[i].n - skip;
            if (n > budget) n = budget;
            iov[cnt].iov_base = (void *)((const uint8_t *)parts[i].b + skip);
            iov[cnt++].iov_len = n;
            budget -= n;
            off += n;
        }
        at = end;
    }
    return cnt;
}

static void finish(ivcs_spool *s, ivcs_spool_put_s *p, int res)
{
    s->qhead = p->next_;
    if (!s->qhead) s->qtail = NULL;
    s->queued--;
    s->pending_bytes -= p->total_;
    if (res != 0) {
        if (p->fd_ >= 0) close(p->fd_);
        unlink_seq(s, p->seq, 1);
        s->st.put_failed++;
    }
    p->fd_ = -1;
    p->done(p, res);
}

unsigned ivcs_spool_poll(ivcs_spool *s)
{
    ivcs_spool_put_s *p = s->qhead;
    if (!p) return 0;
    char name[IVCS_SPOOL_NAME_LEN + 1], fin[IVCS_SPOOL_NAME_LEN + 1];
    switch (p->stage_) {
    case STAGE_CRC: {
        /* the CRC of key | meta | body, at most a step of bytes per call */
        uint64_t data_len = p->total_ - IVCS_SPOOL_HDR_LEN;
        struct iovec iov[BODY_IOV_MAX + 3];
        /* gather from the logical offset past the header */
        int n = gather(p, IVCS_SPOOL_HDR_LEN + p->off_, IVCS_SPOOL_STEP_BYTES, iov);
        for (int i = 0; i < n; i++) {
            p->crc_ = ivcs_crc32c(p->crc_, iov[i].iov_base, iov[i].iov_len);
            p->off_ += iov[i].iov_len;
        }
        if (p->off_ >= data_len) {
            ivcs_spool_hdr_s h;
            memset(&h, 0, sizeof h);
            h.kind = p->kind;
            h.seq = p->seq;
            h.created_ms = p->created_ms;
            h.key_len = (uint32_t)p->key_len;
            h.meta_len = (uint32_t)p->meta_len;
            h.body_len = p->total_ - IVCS_SPOOL_HDR_LEN - p->key_len - p->meta_len;
            memcpy(h.md5, p->md5, 16);
            h.data_crc = p->crc_;
            h.frames = p->frames;
            h.channel = p->channel;
            ivcs_spool_hdr_encode(&h, p->hdr_);
            p->off_ = 0;
            p->stage_ = STAGE_OPEN;
        }
        break;
    }
    case STAGE_OPEN:
        ivcs_spool_entry_name(p->seq, 1, name);
        p->fd_ = openat(s->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (p->fd_ < 0) {
            int err = errno;
            finish(s, p, fail_errno(s, err));
            break;
        }
        p->stage_ = STAGE_WRITE;
        break;
    case STAGE_WRITE: {
        struct iovec iov[BODY_IOV_MAX + 3];
        int n = gather(p, p->off_, IVCS_SPOOL_STEP_BYTES, iov), w = 0;
        if (io_step(s, 1, p->fd_, iov, n, p->off_, &w)) return 0; /* in the loop */
        if (w == -EINTR) break;
        if (w <= 0) {
            finish(s, p, fail_errno(s, w < 0 ? -w : EIO));
            break;
        }
        p->off_ += (uint64_t)w;
        if (p->off_ >= p->total_) p->stage_ = STAGE_SYNC;
        break;
    }
    case STAGE_SYNC: {
        int r = 0;
        if (io_step(s, 2, p->fd_, NULL, 0, 0, &r)) return 0;
        if (r != 0) {
            finish(s, p, fail_errno(s, -r));
            break;
        }
        p->stage_ = STAGE_COMMIT;
        break;
    }
    case STAGE_COMMIT:
        close(p->fd_);
        p->fd_ = -1;
        ivcs_spool_entry_name(p->seq, 1, name);
        ivcs_spool_entry_name(p->seq, 0, fin);
        if (renameat(s->dirfd, name, s->dirfd, fin) != 0) {
            int err = errno;
            (void)unlinkat(s->dirfd, fin, 0);
            finish(s, p, fail_errno(s, err));
            break;
        }
        p->stage_ = STAGE_DIRSYNC;
        break;
    case STAGE_DIRSYNC: {
        int r = 0;
        if (io_step(s, 3, s->dirfd, NULL, 0, 0, &r)) return 0;
        if (r != 0) {
            ivcs_spool_entry_name(p->seq, 0, fin);
            (void)unlinkat(s->dirfd, fin, 0);
            finish(s, p, fail_errno(s, -r));
            break;
        }
        int rc = ent_reserve(s);
        if (rc != 0) { /* durable but not tracked: the next open finds it */
            finish(s, p, rc);
            break;
        }
        ivcs_spool_entry_s *e = &s->ent[s->hi++];
        e->seq = p->seq;
        e->created_ms = p->created_ms;
        e->size = p->total_;
        e->kind = p->kind;
        e->frames = p->frames;
        e->channel = p->channel;
        s->st.entries++;
        s->st.bytes += p->total_;
        s->st.written++;
        s->st.written_bytes += p->total_;
        s->st.fault = 0;
        s->st.fault_errno = 0;
        update_oldest(s);
        finish(s, p, 0);
        break;
    }
    }
    return s->queued;
}

void ivcs_spool_drain(ivcs_spool *s)
{
    while (s->queued) {
        if (ivcs_spool_poll(s)) continue;
        /* an op in the loop: wait for its completion (a slow fsync is
         * waited for, as the synchronous path would) */
        if (s->io_state != IO_RUNNING || ivcs_loop_run_once(s->loop, 100) < 0) break;
    }
}

/* ---------------------------------------------------------------- read */

int ivcs_spool_next(const ivcs_spool *s, uint64_t after, uint32_t kind_mask,
                    ivcs_spool_entry_s *e)
{
    for (size_t i = s->lo; i < s->hi; i++) {
        const ivcs_spool_entry_s *x = &s->ent[i];
        if (!x->size || x->seq <= after) continue;
        if (kind_mask && !(kind_mask & (1u << x->kind))) continue;
        *e = *x;
        return 0;
    }
    return IVCS_ERR_NOT_FOUND;
}

static int read_all(int fd, uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return r < 0 ? -errno : -EIO;
        got += (size_t)r;
    }
    return 0;
}

/* Entry e turned out torn or corrupt (or vanished): removed, counted,
 * reported; IVCS_ERR_NOT_FOUND. */
static int discard_corrupt(ivcs_spool *s, ivcs_spool_entry_s *e, ivcs_spool_hdr_s *h)
{
    ivcs_spool_entry_s copy = *e;
    unlink_seq(s, copy.seq, 0);
    s->st.discarded_corrupt++;
    s->st.discarded_bytes += copy.size;
    drop_ent(s, e);
    if (s->cfg.lost) s->cfg.lost(s->cfg.ctx, &copy, 2);
    memset(h, 0, sizeof *h);
    return IVCS_ERR_NOT_FOUND;
}

int ivcs_spool_read_begin(ivcs_spool *s, uint64_t seq, size_t cap, int *fdp, uint64_t *size,
                          ivcs_spool_hdr_s *h)
{
    memset(h, 0, sizeof *h);
    *fdp = -1;
    *size = 0;
    ivcs_spool_entry_s *e = find_ent(s, seq);
    if (!e) return IVCS_ERR_NOT_FOUND;
    char name[IVCS_SPOOL_NAME_LEN + 1];
    ivcs_spool_entry_name(seq, 0, name);
    int fd = openat(s->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        int err = errno;
        if (err != ENOENT) return fail_errno(s, err);
        return discard_corrupt(s, e, h); /* vanished under us: gone */
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int err = errno;
        close(fd);
        return fail_errno(s, err);
    }
    if ((uint64_t)sb.st_size != e->size) {
        close(fd);
        return discard_corrupt(s, e, h);
    }
    if (e->size > cap) {
        uint8_t hb[IVCS_SPOOL_HDR_LEN];
        if (pread(fd, hb, sizeof hb, 0) == (ssize_t)sizeof hb)
            (void)ivcs_spool_hdr_decode(hb, sizeof hb, h);
        close(fd);
        return IVCS_ERR_TOO_LONG;
    }
    *fdp = fd;
    *size = e->size;
    return 0;
}

int ivcs_spool_read_end(ivcs_spool *s, uint64_t seq, int fd, const uint8_t *buf, uint64_t size,
                        uint64_t got, int err, ivcs_spool_hdr_s *h, const uint8_t **key,
                        const uint8_t **meta, const uint8_t **body)
{
    memset(h, 0, sizeof *h);
    if (fd >= 0) close(fd);
    if (err) return fail_errno(s, err);
    if (got == size && ivcs_spool_parse(buf, (size_t)size, 1, h, key, meta, body) == 0 &&
        h->seq == seq)
        return 0;
    ivcs_spool_entry_s *e = find_ent(s, seq);
    if (!e) { /* removed or evicted meanwhile (reported then): nothing left */
        memset(h, 0, sizeof *h);
        return IVCS_ERR_NOT_FOUND;
    }
    return discard_corrupt(s, e, h);
}

int ivcs_spool_read(ivcs_spool *s, uint64_t seq, uint8_t *buf, size_t cap, ivcs_spool_hdr_s *h,
                    const uint8_t **key, const uint8_t **meta, const uint8_t **body)
{
    int fd;
    uint64_t size;
    int rc = ivcs_spool_read_begin(s, seq, cap, &fd, &size, h);
    if (rc != 0) return rc;
    int r = read_all(fd, buf, (size_t)size);
    return ivcs_spool_read_end(s, seq, fd, buf, size, r < 0 ? 0 : size, r < 0 ? -r : 0, h, key,
                               meta, body);
}

int ivcs_spool_remove(ivcs_spool *s, uint64_t seq)
{
    ivcs_spool_entry_s *e = find_ent(s, seq);
    if (!e) return IVCS_ERR_NOT_FOUND;
    unlink_seq(s, seq, 0);
    s->st.removed++;
    drop_ent(s, e);
    return 0;
}

/* ---------------------------------------------------------------- caches */

static const char *cache_name(uint32_t kind, int tmp)
{
    if (kind == IVCS_SPOOL_PLAN) return tmp ? "plan.cache.tmp" : "plan.cache";
    return tmp ? "balance.cache.tmp" : "balance.cache";
}

int ivcs_spool_cache_put(ivcs_spool *s, uint32_t kind, const char *tag, const void *data,
                         size_t len, int64_t fetched_ms)
{
    if (!s || (kind != IVCS_SPOOL_PLAN && kind != IVCS_SPOOL_BALANCE) || (len && !data))
        return IVCS_ERR_INVALID_ARG;
    size_t tl = tag ? strlen(tag) : 0;
    if (len > IVCS_SPOOL_CACHE_MAX || tl > IVCS_SPOOL_KEY_MAX) return IVCS_ERR_TOO_LONG;
    ivcs_spool_hdr_s h;
    memset(&h, 0, sizeof h);
    h.kind = kind;
    h.created_ms = fetched_ms;
    h.key_len = (uint32_t)tl;
    h.body_len = len;
    if (ivcs_md5(data ? data : "", len, h.md5) != 0) return IVCS_ERR_IO;
    h.data_crc = ivcs_crc32c(ivcs_crc32c(0, tag ? tag : "", tl), data ? data : "", len);
    uint8_t hb[IVCS_SPOOL_HDR_LEN];
    ivcs_spool_hdr_encode(&h, hb);
    struct iovec iov[3] = {{hb, sizeof hb}, {(void *)(tag ? tag : ""), tl},
                           {(void *)(data ? data : ""), len}};
    int fd = openat(s->dirfd, cache_name(kind, 1),
                    O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) return fail_errno(s, errno);
    size_t total = sizeof hb + tl + len, done = 0;
    int err = 0;
    while (done < total) {
        struct iovec v[3];
        int n = 0;
        size_t at = 0;
        for (int i = 0; i < 3; i++) {
            size_t end = at + iov[i].iov_len;
            if (iov[i].iov_len && done < end) {
                size_t skip = done > at ? done - at : 0;
                v[n].iov_base = (uint8_t *)iov[i].iov_base + skip;
                v[n++].iov_len = iov[i].iov_len - skip;
            }
            at = end;
        }
        ssize_t w = pwritev(fd, v, n, (off_t)done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            err = w < 0 ? errno : EIO;
            break;
        }
        done += (size_t)w;
    }
    if (!err && do_sync(s, fd, 1) != 0) err = errno;
    close(fd);
    if (!err && renameat(s->dirfd, cache_name(kind, 1), s->dirfd, cache_name(kind, 0)) != 0)
        err = errno;
    if (!err && do_sync(s, s->dirfd, 0) != 0) err = errno;
    if (err) {
        (void)unlinkat(s->dirfd, cache_name(kind, 1), 0);
        return fail_errno(s, err);
    }
    return 0;
}

int ivcs_spool_cache_get(ivcs_spool *s, uint32_t kind, char *data, size_t cap, size_t *len,
                         char *tag, size_t tag_cap, int64_t *fetched_ms)
{
    if (!s || (kind != IVCS_SPOOL_PLAN && kind != IVCS_SPOOL_BALANCE) || !data || !len || !tag ||
        !tag_cap || !fetched_ms)
        return IVCS_ERR_INVALID_ARG;
    *len = 0;
    tag[0] = 0;
    *fetched_ms = 0;
    int fd = openat(s->dirfd, cache_name(kind, 0), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return errno == ENOENT ? IVCS_ERR_NOT_FOUND : fail_errno(s, errno);
    struct stat sb;
    size_t max = IVCS_SPOOL_HDR_LEN + IVCS_SPOOL_KEY_MAX + IVCS_SPOOL_CACHE_MAX;
    uint8_t *buf = NULL;
    int rc = IVCS_ERR_NOT_FOUND;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || (uint64_t)sb.st_size > max ||
        sb.st_size < (off_t)IVCS_SPOOL_HDR_LEN)
        goto bad;
    buf = ivcs_alloc(s->alloc, (size_t)sb.st_size, 16);
    if (!buf) {
        close(fd);
        return IV_ERR_SYS_MALLOC_FAIL;
    }
    ivcs_spool_hdr_s h;
    const uint8_t *k, *b;
    if (read_all(fd, buf, (size_t)sb.st_size) != 0 ||
        ivcs_spool_parse(buf, (size_t)sb.st_size, 1, &h, &k, NULL, &b) != 0 || h.kind != kind)
        goto bad;
    if (h.key_len >= tag_cap || h.body_len > cap) {
        rc = IVCS_ERR_TOO_LONG;
        goto out;
    }
    memcpy(tag, k, h.key_len);
    tag[h.key_len] = 0;
    memcpy(data, b, (size_t)h.body_len);
    if (h.body_len < cap) data[h.body_len] = 0;
    *len = (size_t)h.body_len;
    *fetched_ms = h.created_ms;
    rc = 0;
    goto out;
bad:
    (void)unlinkat(s->dirfd, cache_name(kind, 0), 0);
    s->st.discarded_corrupt++;
out:
    close(fd);
    if (buf) ivcs_free(s->alloc, buf, (size_t)sb.st_size);
    return rc;
}
