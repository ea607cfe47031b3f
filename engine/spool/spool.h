/*
 * spool.h - a crash-safe spool of whole upload objects on local storage
 * (SD card, eMMC, disk): slices that could not be uploaded, event records,
 * event pictures, plus two small cache files (the last plan.json and the
 * last balance answer).
 *
 * Design (argued in docs/ARCHITECTURE.md section 11): one file per entry,
 * written once, sequentially, never rewritten in place:
 *
 *   1. create  DIR/e<seq:16 hex>.tmp        (O_CREAT|O_EXCL, 0600)
 *   2. write   header + key + meta + body   (large sequential writes)
 *   3. fdatasync the file
 *   4. rename  .tmp -> DIR/e<seq>.ivs
 *   5. fsync   DIR                          (the rename is durable)
 *
 * Two fsyncs per entry, whatever its size. An entry file is self-checking:
 * an 80-byte header with its own CRC32C, the exact lengths, the Content-MD5
 * of the body and a CRC32C over key + meta + body. After a power cut an
 * entry is therefore either complete and verified, or detected (wrong size,
 * bad CRC, left as .tmp = missing rename) and discarded (counted); a bad
 * entry never hides the entries after it because each is its own file.
 * Upload-then-unlink gives at-least-once PUTs of identical bytes under the
 * same key (a power cut between the 2xx and the unlink re-uploads the same
 * object: exactly one object in the bucket).
 *
 * Only names the spool makes itself are ever opened, renamed or deleted
 * (e<16 hex>.ivs / .tmp, plan.cache, balance.cache, spool.lock): nothing
 * read from a file names a path. Other files in DIR are left alone.
 * An exclusive flock on DIR/spool.lock keeps two processes apart.
 *
 * Threads: one owner thread (the engine thread) calls everything on a
 * spool. The write path is asynchronous: ivcs_spool_put queues (bounded,
 * never blocks), ivcs_spool_poll does a bounded step of disk work
 * (at most IVCS_SPOOL_STEP_BYTES written or one fsync/rename per call) and
 * reports completions through the put's callback. With a loop
 * (ivcs_spool_set_loop, as the engine does) the writes and fsyncs are loop
 * file ops (io_uring WRITEV/FSYNC, or the syscall under epoll); without
 * one, plain syscalls. Entry reads: ivcs_spool_read_begin/_end around the
 * caller's ivcs_loop_preadv (the engine's backfill), or ivcs_spool_read,
 * synchronous. Still plain syscalls: open/rename/unlink, the plan and
 * balance caches, and the scan at open.
 */
#ifndef IVCS_SPOOL_SPOOL_H
#define IVCS_SPOOL_SPOOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "ivcs_base.h"
#include "engine/core/crc32c.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ format */

#define IVCS_SPOOL_MAGIC "IVCSSPL1"
#define IVCS_SPOOL_HDR_LEN 80u
#define IVCS_SPOOL_VERSION 1u
#define IVCS_SPOOL_KEY_MAX 1024u           /* object key (or ETag for caches) */
#define IVCS_SPOOL_META_MAX 4096u          /* engine-defined metadata */
#define IVCS_SPOOL_BODY_MAX (256u << 20)   /* one entry's body */
#define IVCS_SPOOL_STEP_BYTES (1u << 20)   /* bytes written per poll step */
#define IVCS_SPOOL_QUEUE_MAX 16u           /* puts queued at once */
#define IVCS_SPOOL_ENTRIES_MAX (1u << 20)  /* entries kept (scan bound) */
#define IVCS_SPOOL_CACHE_MAX (64u << 10)   /* a cache file's body */

typedef enum {
    IVCS_SPOOL_SLICE = 1,   /* a TS slice, key = its object key */
    IVCS_SPOOL_EVENT = 2,   /* an event record (JSON) */
    IVCS_SPOOL_PICTURE = 3, /* an event picture */
    IVCS_SPOOL_PLAN = 4,    /* cache: last plan.json, key = its ETag */
    IVCS_SPOOL_BALANCE = 5, /* cache: last balance answer */
} ivcs_spool_kind_e;

/* The decoded header of an entry. */
typedef struct ivcs_spool_hdr_s {
    uint32_t kind;        /* ivcs_spool_kind_e */
    uint64_t seq;         /* order of writing; equals the file name's */
    int64_t created_ms;   /* UTC ms given at put (for a cache: fetch time) */
    uint32_t key_len;
    uint32_t meta_len;
    uint64_t body_len;
    uint8_t md5[16];      /* MD5 of the body: the Content-MD5 of the PUT */
    uint32_t data_crc;    /* CRC32C of key | meta | body */
    uint32_t frames;      /* media frames in the entry (accounting) */
    uint32_t channel;     /* the engine channel it belongs to */
} ivcs_spool_hdr_s;

/* What the spool keeps in memory per committed entry. */
typedef struct ivcs_spool_entry_s {
    uint64_t seq;
    int64_t created_ms;
    uint64_t size;        /* file size: header + key + meta + body */
    uint32_t kind;
    uint32_t frames;
    uint32_t channel;
} ivcs_spool_entry_s;

/* CRC-32C: ivcs_crc32c in engine/core/crc32c.h (included above). */

/* Writes the 80-byte header of h into out. */
void ivcs_spool_hdr_encode(const ivcs_spool_hdr_s *h, uint8_t out[IVCS_SPOOL_HDR_LEN]);

/* Decodes and checks a header: magic, version, its CRC, kind, and the
 * length limits. 0 or IVCS_ERR_INVALID_ARG. */
int ivcs_spool_hdr_decode(const uint8_t *in, size_t n, ivcs_spool_hdr_s *h);

/* The recovery parser over a whole entry file held in memory: header, exact
 * total length (a torn or padded file is refused), the data CRC, and with
 * check_md5 the body's MD5. 0, or IVCS_ERR_INVALID_ARG (corrupt). Points
 * key/meta/body into buf. Pure; any thread. */
int ivcs_spool_parse(const uint8_t *buf, size_t n, int check_md5, ivcs_spool_hdr_s *h,
                     const uint8_t **key, const uint8_t **meta, const uint8_t **body);

/* Checks an open entry file without changing it: header, exact size and,
 * with deep, the CRC and MD5 of the data, streamed through scratch
 * (IVCS_SPOOL_SCRATCH bytes; unused when !deep). *h is set whenever the
 * header decodes. 0, IVCS_ERR_INVALID_ARG (corrupt) or IVCS_ERR_IO. For the
 * scan at open and for tools (ivcs spool verify). */
#define IVCS_SPOOL_SCRATCH (1u << 20)
int ivcs_spool_check_fd(int fd, int deep, uint8_t *scratch, ivcs_spool_hdr_s *h);

/* ------------------------------------------------------------ spool */

typedef struct ivcs_spool ivcs_spool;

/* Why the storage failed (from errno), so the engine can act: FULL means
 * wait for space (evict or drop), the others mean RAM only and retry later. */
typedef enum {
    IVCS_SPOOL_OK = 0,
    IVCS_SPOOL_FAULT_FULL = 1,     /* ENOSPC, EDQUOT */
    IVCS_SPOOL_FAULT_RDONLY = 2,   /* EROFS, EACCES, EPERM */
    IVCS_SPOOL_FAULT_IO = 3,       /* EIO and anything else */
    IVCS_SPOOL_FAULT_MISSING = 4,  /* ENOENT, ENOTDIR: the directory is gone */
} ivcs_spool_fault_e;

ivcs_spool_fault_e ivcs_spool_fault_of_errno(int err);
const char *ivcs_spool_fault_name(ivcs_spool_fault_e f);

typedef struct ivcs_spool_config_s {
    const char *dir;        /* must exist (the spool does not create it) */
    uint64_t max_bytes;     /* 0: no limit; entries' file sizes count */
    int deep_scan;          /* 1: open reads every entry and checks its CRC
                             * (and MD5); 0: header + file size only, the CRC
                             * is checked when the entry is read */
    int no_sync;            /* tests and benchmarks only: skip the fsyncs */
    /* Called (owner thread) for every committed entry that leaves the spool
     * without ivcs_spool_remove: why = 1 evicted for max_bytes, 2 found
     * corrupt at read. Not called for what the scan at open discards (its
     * frames are unknown: the header may be the broken part). May be NULL. */
    void (*lost)(void *ctx, const ivcs_spool_entry_s *e, int why);
    void *ctx;
} ivcs_spool_config_s;

typedef struct ivcs_spool_stats_s {
    uint64_t entries;           /* committed entries now (caches not counted) */
    uint64_t bytes;             /* their file sizes */
    int64_t oldest_ms;          /* created_ms of the oldest entry, 0 if none */
    uint64_t next_seq;
    /* since open */
    uint64_t recovered;          /* valid entries found at open */
    uint64_t discarded_corrupt;  /* bad header/size/CRC/MD5 (open or read) */
    uint64_t discarded_tmp;      /* .tmp files at open (a rename never made) */
    uint64_t discarded_bytes;    /* file sizes of both kinds */
    uint64_t evicted;            /* oldest entries removed for max_bytes */
    uint64_t evicted_bytes;
    uint64_t written;            /* entries committed by puts */
    uint64_t written_bytes;
    uint64_t removed;            /* entries removed by ivcs_spool_remove */
    uint64_t put_failed;         /* puts that ended with an error */
    uint64_t put_refused;        /* puts refused at submission (queue full, too big) */
    uint64_t fsyncs;
    uint64_t loop_ops;           /* writes and fsyncs submitted to the loop */
    uint64_t scan_us;            /* duration of the scan at open */
    int fault;                   /* ivcs_spool_fault_e of the last error, 0 none */
    int fault_errno;
} ivcs_spool_stats_s;

/* Opens (scans, verifies, recovers) the spool in cfg->dir: removes .tmp
 * files and corrupt entries (counted), keeps the rest oldest first, takes
 * the lock. 0, IVCS_ERR_INVALID_ARG, IV_ERR_SYS_MALLOC_FAIL, IVCS_ERR_STATE
 * (locked by another process) or IVCS_ERR_IO (*fault_out, if not NULL,
 * says why). */
IVCS_MUST_CHECK int ivcs_spool_open(ivcs_spool **out, const ivcs_allocator_s *alloc,
                                    const ivcs_spool_config_s *cfg, int *fault_out);
/* Abandons queued puts (their callbacks do not run, their .tmp files are
 * removed), releases the lock, frees. NULL is fine. */
void ivcs_spool_close(ivcs_spool *s);

void ivcs_spool_get_stats(const ivcs_spool *s, ivcs_spool_stats_s *out);

/* The write path's pwritev, fdatasync and directory fsync go through loop
 * (engine/net/loop.h: io_uring, or the epoll backend's synchronous path)
 * instead of running on the caller: ivcs_spool_poll submits one and
 * returns 0 until its completion (a callback from ivcs_loop_run_once of
 * the same thread). The order stays write, fdatasync, rename, directory
 * fsync, each done before the next starts. NULL (the default): plain
 * syscalls in ivcs_spool_poll. The loop must outlive the writes: destroy
 * it (or let them finish) before ivcs_spool_close. */
struct ivcs_loop;
void ivcs_spool_set_loop(ivcs_spool *s, struct ivcs_loop *loop);

/* One queued write. Caller-owned; it and the buffers it points to must stay
 * untouched until done() has run. */
typedef struct ivcs_spool_put_s ivcs_spool_put_s;
struct ivcs_spool_put_s {
    uint32_t kind;              /* SLICE, EVENT or PICTURE */
    int64_t created_ms;
    const char *key;            /* the object key, 1..IVCS_SPOOL_KEY_MAX */
    size_t key_len;
    const void *meta;           /* may be NULL when meta_len is 0 */
    size_t meta_len;
    const struct iovec *body;   /* the body in pieces (e.g. a ring's two halves) */
    int body_cnt;
    const uint8_t *md5;         /* 16 bytes: the body's MD5, computed by the caller */
    uint32_t frames;            /* media frames in the body (kept in the header) */
    uint32_t channel;           /* kept in the header too */
    /* done(put, res): res 0 = durable (put->seq is its entry), or a negative
     * code (IVCS_ERR_IO; ivcs_spool_get_stats().fault says why). Runs from
     * ivcs_spool_poll only. */
    void (*done)(ivcs_spool_put_s *put, int res);
    void *arg;
    /* out / private */
    uint64_t seq;
    ivcs_spool_put_s *next_;
    uint64_t off_;
    uint64_t total_;
    uint32_t crc_;
    int stage_;
    int fd_;
    uint8_t hdr_[IVCS_SPOOL_HDR_LEN];
};

/* Queues p. Evicts the oldest whole entries first if the spool would pass
 * max_bytes (counted). 0, IVCS_ERR_BUFFER_FULL (IVCS_SPOOL_QUEUE_MAX puts
 * pending), IVCS_ERR_TOO_LONG (larger than max_bytes or the format limits),
 * IVCS_ERR_INVALID_ARG. Never blocks; does no I/O except evictions' unlinks. */
IVCS_MUST_CHECK int ivcs_spool_put(ivcs_spool *s, ivcs_spool_put_s *p);

/* Does one bounded step of queued work; returns the number of puts still
 * pending (0: idle). */
unsigned ivcs_spool_poll(ivcs_spool *s);

/* Runs ivcs_spool_poll until nothing is pending (tests, shutdown). */
void ivcs_spool_drain(ivcs_spool *s);

/* The oldest committed entry of any of the kinds in kind_mask (bit 1<<kind;
 * 0 = all) with seq > after: 0 and *e filled, or IVCS_ERR_NOT_FOUND. */
int ivcs_spool_next(const ivcs_spool *s, uint64_t after, uint32_t kind_mask,
                    ivcs_spool_entry_s *e);

/* Reads entry seq whole into buf (cap bytes, at least its file size:
 * header + key + meta + body) and verifies it (CRC, MD5). 0 with *h and
 * pointers into buf set; IVCS_ERR_NOT_FOUND (no such entry, or it was
 * corrupt: then it is removed and counted in discarded_corrupt);
 * IVCS_ERR_TOO_LONG (cap too small, *h still set); IVCS_ERR_IO. */
int ivcs_spool_read(ivcs_spool *s, uint64_t seq, uint8_t *buf, size_t cap, ivcs_spool_hdr_s *h,
                    const uint8_t **key, const uint8_t **meta, const uint8_t **body);

/* ivcs_spool_read in two steps, for a read through the loop (the engine's
 * backfill: ivcs_loop_preadv). begin opens entry seq and checks its size
 * against its record and cap: 0 with *fd (the caller's until end) and
 * *size set, else what ivcs_spool_read says (*fd -1). The caller reads
 * *size bytes from offset 0 of fd into buf, then end closes fd and
 * verifies: got the bytes read, err 0 or the errno of a failed read; the
 * results of ivcs_spool_read. If the entry was removed or evicted between
 * the two (reported then), sound bytes still give 0, and corrupt ones
 * IVCS_ERR_NOT_FOUND with nothing counted again. */
int ivcs_spool_read_begin(ivcs_spool *s, uint64_t seq, size_t cap, int *fd, uint64_t *size,
                          ivcs_spool_hdr_s *h);
int ivcs_spool_read_end(ivcs_spool *s, uint64_t seq, int fd, const uint8_t *buf, uint64_t size,
                        uint64_t got, int err, ivcs_spool_hdr_s *h, const uint8_t **key,
                        const uint8_t **meta, const uint8_t **body);

/* Removes entry seq (after its 2xx): one unlink, no fsync (a lost unlink
 * re-uploads identical bytes under the same key). 0 or IVCS_ERR_NOT_FOUND. */
int ivcs_spool_remove(ivcs_spool *s, uint64_t seq);

/* Cache files (synchronous, small; temp + fsync + rename + dir fsync).
 * kind PLAN or BALANCE; tag = the plan's ETag (may be empty); fetched_ms =
 * when it was received. 0, IVCS_ERR_TOO_LONG (over IVCS_SPOOL_CACHE_MAX),
 * IVCS_ERR_IO. */
IVCS_MUST_CHECK int ivcs_spool_cache_put(ivcs_spool *s, uint32_t kind, const char *tag,
                                         const void *data, size_t len, int64_t fetched_ms);
/* Reads a cache file: data (cap bytes; NUL-terminated when it fits),
 * *len, tag (tag_cap bytes, NUL-terminated), *fetched_ms. 0,
 * IVCS_ERR_NOT_FOUND (none, or corrupt: removed), IVCS_ERR_TOO_LONG. */
int ivcs_spool_cache_get(ivcs_spool *s, uint32_t kind, char *data, size_t cap, size_t *len,
                         char *tag, size_t tag_cap, int64_t *fetched_ms);

/* For tools: the entry file name of seq ("e%016llx.ivs"), 21 bytes + NUL. */
#define IVCS_SPOOL_NAME_LEN 21
void ivcs_spool_entry_name(uint64_t seq, int tmp, char out[IVCS_SPOOL_NAME_LEN + 1]);
/* Parses such a name: 0 (*seq, *tmp set) or -1 if it is not one. */
int ivcs_spool_parse_name(const char *name, uint64_t *seq, int *tmp);

#ifdef __cplusplus
}
#endif
#endif
