/* test_spool.c - the crash-safe spool (engine/spool/spool.h): format,
 * write/read/remove, oldest-first order, eviction, bounds, locking, caches,
 * power cuts simulated at every byte of an entry (truncation, bit flips,
 * missing rename), and real small / read-only filesystems (tmpfs; skipped
 * when not root or mount is not allowed). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "engine/net/hash.h"
#include "engine/net/loop.h"
#include "engine/spool/spool.h"

#include <signal.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>

static char g_dir[256];

static void mkdir_tmp(char *out, size_t n)
{
    snprintf(out, n, "/tmp/ivcs_spool_XXXXXX");
    if (!mkdtemp(out)) {
        perror("mkdtemp");
        exit(1);
    }
}

static void rm_dir(const char *dir)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

static int put_res;
static int put_calls;
static void on_done(ivcs_spool_put_s *p, int res)
{
    (void)p;
    put_res = res;
    put_calls++;
}

static int lost_calls[3];
static uint64_t lost_frames;
static void on_lost(void *ctx, const ivcs_spool_entry_s *e, int why)
{
    (void)ctx;
    if (why >= 0 && why < 3) lost_calls[why]++;
    lost_frames += e->frames;
}

static ivcs_spool *open_spool(const char *dir, uint64_t max, int deep)
{
    ivcs_spool_config_s c = {dir, max, deep, 1, on_lost, NULL};
    ivcs_spool *s = NULL;
    int rc = ivcs_spool_open(&s, &check_alloc, &c, NULL);
    if (rc != 0) fprintf(stderr, "open %s: %d\n", dir, rc);
    return s;
}

/* body of entry i: deterministic bytes */
static void fill(uint8_t *b, size_t n, unsigned i)
{
    for (size_t k = 0; k < n; k++) b[k] = (uint8_t)(k * 31u + i * 7u + (k >> 8));
}

/* writes one entry synchronously (two body pieces); returns the put result */
static int put_one(ivcs_spool *s, unsigned i, const uint8_t *body, size_t n, uint64_t *seq)
{
    char key[64];
    snprintf(key, sizeof key, "dev/ch0/2026-12-04/slice-%04u.ts", i);
    uint8_t md5[16];
    ivcs_md5(body, n, md5);
    struct iovec iov[2] = {{(void *)body, n / 3}, {(void *)(body + n / 3), n - n / 3}};
    char meta[16];
    snprintf(meta, sizeof meta, "m%u", i);
    ivcs_spool_put_s p = {0};
    p.kind = IVCS_SPOOL_SLICE;
    p.created_ms = 1764800000000LL + i;
    p.key = key;
    p.key_len = strlen(key);
    p.meta = meta;
    p.meta_len = strlen(meta);
    p.body = iov;
    p.body_cnt = 2;
    p.md5 = md5;
    p.frames = 10 + i;
    p.done = on_done;
    int rc = ivcs_spool_put(s, &p);
    if (rc != 0) return rc;
    put_res = 1;
    ivcs_spool_drain(s);
    if (seq) *seq = p.seq;
    return put_res;
}

static int count_files(const char *dir, const char *suffix)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "ls -1 '%s' | grep -c '%s$'", dir, suffix);
    FILE *f = popen(cmd, "r");
    int n = -1;
    if (f) {
        if (fscanf(f, "%d", &n) != 1) n = -1;
        pclose(f);
    }
    return n;
}

static void entry_path(const char *dir, uint64_t seq, int tmp, char *out, size_t n)
{
    char name[IVCS_SPOOL_NAME_LEN + 1];
    ivcs_spool_entry_name(seq, tmp, name);
    snprintf(out, n, "%s/%s", dir, name);
}

/* ---------------------------------------------------------------- format */

TEST(crc32c_known_vectors)
{
    CHECK_EQ(ivcs_crc32c(0, "123456789", 9), 0xE3069283u);
    CHECK_EQ(ivcs_crc32c(0, "", 0), 0);
    uint8_t b[1000];
    fill(b, sizeof b, 3);
    /* chained == one shot, at any split and alignment */
    for (size_t cut = 0; cut <= sizeof b; cut += 37)
        CHECK_EQ(ivcs_crc32c(ivcs_crc32c(0, b, cut), b + cut, sizeof b - cut),
                 ivcs_crc32c(0, b, sizeof b));
}

TEST(names_parse_only_our_own)
{
    char n[IVCS_SPOOL_NAME_LEN + 1];
    uint64_t seq;
    int tmp;
    ivcs_spool_entry_name(0x1234abcdULL, 0, n);
    CHECK(!strcmp(n, "e000000001234abcd.ivs"));
    CHECK_EQ(ivcs_spool_parse_name(n, &seq, &tmp), 0);
    CHECK_EQ(seq, 0x1234abcdULL);
    CHECK_EQ(tmp, 0);
    CHECK_EQ(ivcs_spool_parse_name("e000000001234abcd.tmp", &seq, &tmp), 0);
    CHECK_EQ(tmp, 1);
    CHECK_EQ(ivcs_spool_parse_name("e000000001234ABCD.ivs", &seq, &tmp), -1);
    CHECK_EQ(ivcs_spool_parse_name("e000000001234abcd.ivsx", &seq, &tmp), -1);
    CHECK_EQ(ivcs_spool_parse_name("../etc/passwd", &seq, &tmp), -1);
    CHECK_EQ(ivcs_spool_parse_name("plan.cache", &seq, &tmp), -1);
}

/* ---------------------------------------------------------------- basics */

TEST(put_read_remove_oldest_first_and_reopen)
{
    ivcs_spool *s = open_spool(g_dir, 0, 1);
    CHECK(s != NULL);
    if (!s) return;
    static uint8_t body[3][300000];
    uint64_t seq[3];
    for (unsigned i = 0; i < 3; i++) {
        fill(body[i], sizeof body[i], i);
        CHECK_EQ(put_one(s, i, body[i], sizeof body[i] - i * 1000, &seq[i]), 0);
    }
    ivcs_spool_stats_s st;
    ivcs_spool_get_stats(s, &st);
    CHECK_EQ(st.entries, 3);
    CHECK_EQ(st.written, 3);
    CHECK_EQ(st.oldest_ms, 1764800000000LL);
    CHECK(seq[0] < seq[1] && seq[1] < seq[2]);
    CHECK_EQ(count_files(g_dir, ".ivs"), 3);
    CHECK_EQ(count_files(g_dir, ".tmp"), 0);
    ivcs_spool_close(s);

    s = open_spool(g_dir, 0, 1);
    CHECK(s != NULL);
    if (!s) return;
    ivcs_spool_get_stats(s, &st);
    CHECK_EQ(st.recovered, 3);
    CHECK_EQ(st.discarded_corrupt + st.discarded_tmp, 0);
    CHECK_EQ(st.next_seq, seq[2] + 1);
    static uint8_t buf[400000];
    uint64_t after = 0;
    for (unsigned i = 0; i < 3; i++) {
        ivcs_spool_entry_s e;
        CHECK_EQ(ivcs_spool_next(s, after, 0, &e), 0);
        CHECK_EQ(e.seq, seq[i]);
        CHECK_EQ(e.frames, 10 + i);
        ivcs_spool_hdr_s h;
        const uint8_t *k, *m, *b;
        CHECK_EQ(ivcs_spool_read(s, e.seq, buf, sizeof buf, &h, &k, &m, &b), 0);
        CHECK_EQ(h.body_len, sizeof body[i] - i * 1000);
        CHECK(memcmp(b, body[i], (size_t)h.body_len) == 0);
        char key[64];
        snprintf(key, sizeof key, "dev/ch0/2026-12-04/slice-%04u.ts", i);
        CHECK_EQ(h.key_len, strlen(key));
        CHECK(memcmp(k, key, h.key_len) == 0);
        CHECK(h.meta_len == 2 && m[0] == 'm');
        uint8_t md5[16];
        ivcs_md5(body[i], (size_t)h.body_len, md5);
        CHECK(memcmp(md5, h.md5, 16) == 0);
        after = e.seq;
    }
    ivcs_spool_entry_s e;
    CHECK_EQ(ivcs_spool_next(s, after, 0, &e), IVCS_ERR_NOT_FOUND);
    CHECK_EQ(ivcs_spool_next(s, 0, 1u << IVCS_SPOOL_EVENT, &e), IVCS_ERR_NOT_FOUND);
    /* too small a buffer: refused, header still told */
    ivcs_spool_hdr_s h;
    const uint8_t *k, *m, *b;
    CHECK_EQ(ivcs_spool_read(s, seq[0], buf, 1000, &h, &k, &m, &b), IVCS_ERR_TOO_LONG);
    CHECK_EQ(h.seq, seq[0]);
    CHECK_EQ(ivcs_spool_remove(s, seq[1]), 0);
    CHECK_EQ(ivcs_spool_remove(s, seq[1]), IVCS_ERR_NOT_FOUND);
    CHECK_EQ(ivcs_spool_read(s, seq[1], buf, sizeof buf, &h, &k, &m, &b), IVCS_ERR_NOT_FOUND);
    CHECK_EQ(ivcs_spool_remove(s, seq[0]), 0);
    ivcs_spool_get_stats(s, &st);
    CHECK_EQ(st.entries, 1);
    CHECK_EQ(st.oldest_ms, 1764800000002LL);
    CHECK_EQ(st.discarded_corrupt, 0);
    CHECK_EQ(ivcs_spool_remove(s, seq[2]), 0);
    ivcs_spool_get_stats(s, &st);
    CHECK_EQ(st.entries, 0);
    CHECK_EQ(st.bytes, 0);
    CHECK_EQ(st.oldest_ms, 0);
    ivcs_spool_close(s);
    CHECK_EQ(count_files(g_dir, ".ivs"), 0);
}

TEST(bounds_queue_size_and_args)
{
    ivcs_spool *s = open_spool(g_dir, 1 << 20, 0);
    CHECK(s != NULL);
    if (!s) return;
    static uint8_t body[1000];
    uint8_t md5[16] = {0};
    struct iovec iov = {body, sizeof body};
    static ivcs_spool_put_s p[IVCS_SPOOL_QUEUE_MAX + 1];
    put_calls = 0;
    for (unsigned i = 0; i <= IVCS_SPOOL_QUEUE_MAX; i++) {
        memset(&p[i], 0, sizeof p[i]);
        p[i].kind = IVCS_SPOOL_EVENT;
        p[i].key = "k";
        p[i].key_len = 1;
        p[i].body = &iov;
        p[i].body_cnt = 1;
        p[i].md5 = md5;
        p[i].done = on_done;
        int rc = ivcs_spool_put(s, &p[i]);
        CHECK_EQ(rc, i < IVCS_SPOOL_QUEUE_MAX ? 0 : IVCS_ERR_BUFFER_FULL);
    }
    CHECK(ivcs_spool_poll(s) > 0); /* one step, not all */
    ivcs_spool_drain(s);
    CHECK_EQ(put_calls, IVCS_SPOOL_QUEUE_MAX);
    /* too large for the budget; empty key; bad kind */
    static uint8_t big[(1 << 20) + 1];
    struct iovec bigv = {big, sizeof big};
    ivcs_spool_put_s q = p[0];
    q.body = &bigv;
    CHECK_EQ(ivcs_spool_put(s, &q), IVCS_ERR_TOO_LONG);
    q = p[0];
    q.key_len = 0;
    CHECK_EQ(ivcs_spool_put(s, &q), IVCS_ERR_TOO_LONG);
    q = p[0];
    q.kind = IVCS_SPOOL_PLAN;
    CHECK_EQ(ivcs_spool_put(s, &q), IVCS_ERR_INVALID_ARG);
    ivcs_spool_stats_s st;
    ivcs_spool_get_stats(s, &st);
    CHECK_EQ(st.put_refused, 3);
    /* clean up what we wrote */
    ivcs_spool_entry_s e;
    while (ivcs_spool_next(s, 0, 0, &e) == 0) CHECK_EQ(ivcs_spool_remove(s, e.seq), 0);
    ivcs_spool_close(s);
}

TEST(eviction_oldest_whole_entries_counted)
{
    /* budget for ~3.5 entries of 100 kB: the 5th put evicts the oldest two */
    ivcs_spool *s = open_spool(g_dir, 350000, 0);
    CHECK(s != NULL);
    if (!s) return;
    static uint8_t body[100000];
    uint64_t seq[6];
    memset(lost_calls, 0, sizeof lost_calls);
    lost_frames = 0;
    for (unsigned i = 0; i < 6; i++) {
        fill(body, sizeof body, i);
        CHECK_EQ(put_one(s, i, body, sizeof body, &seq[i]), 0);
    }
    ivcs_spool_stats_s st;
    ivcs_spool_get_stats(s, &st);
    CHECK_EQ(st.entries, 3);
    CHECK_EQ(st.evicted, 3);
    CHECK(st.bytes <= 350000);
    CHECK_EQ(lost_calls[1], 3);
    CHECK_EQ(lost_frames, 10 + 11 + 12);
    ivcs_spool_entry_s e;
    CHECK_EQ(ivcs_spool_next(s, 0, 0, &e), 0);
    CHECK_EQ(e.seq, seq[3]);
    CHECK_EQ(count_files(g_dir, ".ivs"), 3);
    while (ivcs_spool_next(s, 0, 0, &e) == 0) CHECK_EQ(ivcs_spool_remove(s, e.seq), 0);
    ivcs_spool_close(s);
}

TEST(lock_missing_dir_and_foreign_files)
{
    ivcs_spool *a = open_spool(g_dir, 0, 0), *b = NULL;
    CHECK(a != NULL);
    ivcs_spool_config_s c = {g_dir, 0, 0, 1, NULL, NULL};
    CHECK_EQ(ivcs_spool_open(&b, &check_alloc, &c, NULL), IVCS_ERR_STATE);
    CHECK(b == NULL);
    ivcs_spool_close(a);
    int fault = 0;
    c.dir = "/nonexistent/ivcs-spool";
    CHECK_EQ(ivcs_spool_open(&b, &check_alloc, &c, &fault), IVCS_ERR_IO);
    CHECK_EQ(fault, IVCS_SPOOL_FAULT_MISSING);
    /* files that are not ours are neither read nor removed */
    char p[512];
    snprintf(p, sizeof p, "%s/notes.txt", g_dir);
    FILE *f = fopen(p, "w");
    fputs("hello", f);
    fclose(f);
    snprintf(p, sizeof p, "%s/e00000000000000zz.ivs", g_dir);
    f = fopen(p, "w");
    fputs("x", f);
    fclose(f);
    a = open_spool(g_dir, 0, 1);
    CHECK(a != NULL);
    ivcs_spool_stats_s st;
    ivcs_spool_get_stats(a, &st);
    CHECK_EQ(st.entries + st.discarded_corrupt + st.discarded_tmp, 0);
    ivcs_spool_close(a);
    CHECK(access(p, F_OK) == 0);
    unlink(p);
    snprintf(p, sizeof p, "%s/notes.txt", g_dir);
    CHECK(access(p, F_OK) == 0);
    unlink(p);
}

TEST(cache_files_round_trip_and_corruption)
{
    ivcs_spool *s = open_spool(g_dir, 0, 0);
    CHECK(s != NULL);
    if (!s) return;
    const char *plan = "{\"cs_switch\":1,\"cs_type\":2}";
    char data[256], tag[64];
    size_t len;
    int64_t t;
    CHECK_EQ(ivcs_spool_cache_get(s, IVCS_SPOOL_PLAN, data, sizeof data, &len, tag, sizeof tag,
                                  &t),
             IVCS_ERR_NOT_FOUND);
    CHECK_EQ(ivcs_spool_cache_put(s, IVCS_SPOOL_PLAN, "\"etag-1\"", plan, strlen(plan), 1234), 0);
    CHECK_EQ(ivcs_spool_cache_put(s, IVCS_SPOOL_BALANCE, "", "bal", 3, 99), 0);
    CHECK_EQ(ivcs_spool_cache_get(s, IVCS_SPOOL_PLAN, data, sizeof data, &len, tag, sizeof tag,
                                  &t),
             0);
    CHECK_EQ(len, strlen(plan));
    CHECK(!strcmp(data, plan));
    CHECK(!strcmp(tag, "\"etag-1\""));
    CHECK_EQ(t, 1234);
    CHECK_EQ(ivcs_spool_cache_get(s, IVCS_SPOOL_BALANCE, data, sizeof data, &len, tag,
                                  sizeof tag, &t),
             0);
    CHECK(len == 3 && !memcmp(data, "bal", 3) && t == 99);
    CHECK_EQ(ivcs_spool_cache_get(s, IVCS_SPOOL_PLAN, data, 4, &len, tag, sizeof tag, &t),
             IVCS_ERR_TOO_LONG);
    /* a flipped byte: refused, removed, counted */
    char p[512];
    snprintf(p, sizeof p, "%s/plan.cache", g_dir);
    int fd = open(p, O_RDWR);
    uint8_t c;
    CHECK(pread(fd, &c, 1, IVCS_SPOOL_HDR_LEN + 3) == 1);
    c ^= 0x10;
    CHECK(pwrite(fd, &c, 1, IVCS_SPOOL_HDR_LEN + 3) == 1);
    close(fd);
    CHECK_EQ(ivcs_spool_cache_get(s, IVCS_SPOOL_PLAN, data, sizeof data, &len, tag, sizeof tag,
                                  &t),
             IVCS_ERR_NOT_FOUND);
    CHECK(access(p, F_OK) != 0);
    ivcs_spool_stats_s st;
    ivcs_spool_get_stats(s, &st);
    CHECK_EQ(st.discarded_corrupt, 1);
    ivcs_spool_close(s);
    snprintf(p, sizeof p, "%s/balance.cache", g_dir);
    unlink(p);
}

/* ---------------------------------------------------------------- power cuts */

/* Three entries; the middle one (the "newest" for a cut during its write,
 * or any damaged one) is replaced by bytes of variant v; the others must
 * survive and the damaged one must never come back as data. */
static uint8_t pc_body[3][2000];
static uint8_t *pc_file;
static size_t pc_len;
static uint64_t pc_seq[3];

static void pc_setup(void)
{
    ivcs_spool *s = open_spool(g_dir, 0, 0);
    for (unsigned i = 0; i < 3; i++) {
        fill(pc_body[i], sizeof pc_body[i], 40 + i);
        (void)put_one(s, 40 + i, pc_body[i], sizeof pc_body[i], &pc_seq[i]);
    }
    ivcs_spool_close(s);
    char p[512];
    entry_path(g_dir, pc_seq[1], 0, p, sizeof p);
    pc_file = check_read_file(p, &pc_len);
}

static void pc_cleanup(void)
{
    for (int i = 0; i < 3; i++)
        for (int t = 0; t < 2; t++) {
            char p[512];
            entry_path(g_dir, pc_seq[i], t, p, sizeof p);
            unlink(p);
        }
    free(pc_file);
    pc_file = NULL;
}

/* writes data as entry seq[1] (as .tmp if tmp), opens (deep or not), reads
 * everything; returns the number of entries whose data came back, and
 * checks nothing wrong came back. *discarded = corrupt + tmp discarded. */
static int pc_trial(const uint8_t *data, size_t n, int tmp, int deep, uint64_t *discarded)
{
    char p[512];
    entry_path(g_dir, pc_seq[1], 0, p, sizeof p);
    unlink(p);
    entry_path(g_dir, pc_seq[1], tmp, p, sizeof p);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (n && write(fd, data, n) != (ssize_t)n) CHECK(0);
    close(fd);
    ivcs_spool *s = open_spool(g_dir, 0, deep);
    if (!s) {
        CHECK(0);
        return -1;
    }
    static uint8_t buf[8192];
    int good = 0;
    uint64_t after = 0;
    ivcs_spool_entry_s e;
    while (ivcs_spool_next(s, after, 0, &e) == 0) {
        after = e.seq;
        ivcs_spool_hdr_s h;
        const uint8_t *k, *m, *b;
        int rc = ivcs_spool_read(s, e.seq, buf, sizeof buf, &h, &k, &m, &b);
        if (rc == IVCS_ERR_NOT_FOUND) continue;
        CHECK_EQ(rc, 0);
        int i = e.seq == pc_seq[0] ? 0 : e.seq == pc_seq[1] ? 1 : e.seq == pc_seq[2] ? 2 : -1;
        CHECK(i >= 0);
        if (i < 0) continue;
        /* what comes back is exactly what was put */
        CHECK_EQ(h.body_len, sizeof pc_body[i]);
        CHECK(memcmp(b, pc_body[i], sizeof pc_body[i]) == 0);
        good++;
    }
    ivcs_spool_stats_s st;
    ivcs_spool_get_stats(s, &st);
    *discarded = st.discarded_corrupt + st.discarded_tmp;
    ivcs_spool_close(s);
    /* entries 0 and 2 must always be there again for the next trial */
    return good;
}

TEST(power_cut_truncation_at_every_byte)
{
    pc_setup();
    CHECK(pc_file != NULL);
    if (!pc_file) return;
    int bad = 0;
    for (size_t cut = 0; cut < pc_len; cut++) {
        for (int deep = 0; deep < 2; deep++) {
            uint64_t disc = 0;
            int good = pc_trial(pc_file, cut, 0, deep, &disc);
            /* the two intact neighbours always land, the torn one never */
            if (good != 2 || disc != 1) {
                if (bad++ < 5)
                    fprintf(stderr, "cut %zu deep %d: good %d discarded %llu\n", cut, deep, good,
                            (unsigned long long)disc);
            }
        }
    }
    /* padded (a length that is too long) */
    uint8_t *pad = calloc(1, pc_len + 1);
    memcpy(pad, pc_file, pc_len);
    uint64_t disc;
    CHECK_EQ(pc_trial(pad, pc_len + 1, 0, 0, &disc), 2);
    CHECK_EQ(disc, 1);
    free(pad);
    /* and the intact file is accepted */
    CHECK_EQ(pc_trial(pc_file, pc_len, 0, 1, &disc), 3);
    CHECK_EQ(disc, 0);
    CHECK_EQ(bad, 0);
    pc_cleanup();
}

TEST(power_cut_bit_flips_at_every_byte)
{
    pc_setup();
    CHECK(pc_file != NULL);
    if (!pc_file) return;
    uint8_t *f = malloc(pc_len);
    int bad = 0;
    for (size_t at = 0; at < pc_len; at++) {
        memcpy(f, pc_file, pc_len);
        f[at] ^= (uint8_t)(1u << (at % 8));
        for (int deep = 0; deep < 2; deep++) {
            uint64_t disc = 0;
            int good = pc_trial(f, pc_len, 0, deep, &disc);
            if (good != 2 || disc != 1) {
                if (bad++ < 5)
                    fprintf(stderr, "flip at %zu deep %d: good %d discarded %llu\n", at, deep,
                            good, (unsigned long long)disc);
            }
        }
    }
    CHECK_EQ(bad, 0);
    free(f);
    pc_cleanup();
}

TEST(power_cut_missing_rename)
{
    pc_setup();
    CHECK(pc_file != NULL);
    if (!pc_file) return;
    /* the whole entry written and synced, but still under its .tmp name:
     * discarded (never half-trusted), and the later entry still lands */
    uint64_t disc;
    CHECK_EQ(pc_trial(pc_file, pc_len, 1, 0, &disc), 2);
    CHECK_EQ(disc, 1);
    char p[512];
    entry_path(g_dir, pc_seq[1], 1, p, sizeof p);
    CHECK(access(p, F_OK) != 0); /* removed */
    /* a half-written .tmp as well */
    CHECK_EQ(pc_trial(pc_file, pc_len / 2, 1, 1, &disc), 2);
    CHECK_EQ(disc, 1);
    pc_cleanup();
}

/* ---------------------------------------------------------------- real filesystems */

static int mount_tmpfs(const char *dir, const char *size)
{
    if (geteuid() != 0) return -1;
    char opts[64];
    snprintf(opts, sizeof opts, "size=%s,mode=0700", size);
    return mount("tmpfs", dir, "tmpfs", 0, opts);
}

TEST(small_filesystem_fills_up)
{
    char d[64];
    mkdir_tmp(d, sizeof d);
    if (mount_tmpfs(d, "1m") != 0) {
        fprintf(stderr, "skip small_filesystem_fills_up: cannot mount tmpfs (%s)\n",
                strerror(errno));
        rmdir(d);
        return;
    }
    ivcs_spool *s = open_spool(d, 0, 0); /* no budget: the disk is the limit */
    CHECK(s != NULL);
    if (s) {
        static uint8_t body[200000];
        int ok = 0, full = 0;
        for (unsigned i = 0; i < 12 && !full; i++) {
            fill(body, sizeof body, i);
            int rc = put_one(s, i, body, sizeof body, NULL);
            if (rc == 0)
                ok++;
            else {
                CHECK_EQ(rc, IVCS_ERR_IO);
                full = 1;
            }
        }
        ivcs_spool_stats_s st;
        ivcs_spool_get_stats(s, &st);
        CHECK(full);
        CHECK(ok >= 3);
        CHECK_EQ(st.fault, IVCS_SPOOL_FAULT_FULL);
        CHECK_EQ(st.fault_errno, ENOSPC);
        CHECK_EQ(st.put_failed, 1);
        CHECK_EQ(st.entries, (uint64_t)ok);
        CHECK_EQ(count_files(d, ".tmp"), 0); /* the failed write left nothing */
        /* freeing the oldest makes room again; the rest reads back intact */
        ivcs_spool_entry_s e;
        CHECK_EQ(ivcs_spool_next(s, 0, 0, &e), 0);
        CHECK_EQ(ivcs_spool_remove(s, e.seq), 0);
        fill(body, sizeof body, 99);
        CHECK_EQ(put_one(s, 99, body, sizeof body, NULL), 0);
        ivcs_spool_get_stats(s, &st);
        CHECK_EQ(st.fault, 0);
        static uint8_t buf[210000];
        uint64_t after = 0;
        int read_ok = 0;
        while (ivcs_spool_next(s, after, 0, &e) == 0) {
            ivcs_spool_hdr_s h;
            const uint8_t *k, *m, *b;
            if (ivcs_spool_read(s, e.seq, buf, sizeof buf, &h, &k, &m, &b) == 0) read_ok++;
            after = e.seq;
        }
        CHECK_EQ(read_ok, ok);
        ivcs_spool_close(s);
    }
    CHECK_EQ(umount(d), 0);
    rmdir(d);
}

TEST(read_only_filesystem)
{
    char d[64];
    mkdir_tmp(d, sizeof d);
    if (mount_tmpfs(d, "2m") != 0) {
        fprintf(stderr, "skip read_only_filesystem: cannot mount tmpfs (%s)\n", strerror(errno));
        rmdir(d);
        return;
    }
    static uint8_t body[50000];
    fill(body, sizeof body, 5);
    ivcs_spool *s = open_spool(d, 0, 0);
    CHECK(s != NULL);
    if (s) CHECK_EQ(put_one(s, 5, body, sizeof body, NULL), 0);
    CHECK_EQ(mount("tmpfs", d, "tmpfs", MS_REMOUNT | MS_RDONLY, "size=2m"), 0);
    /* the open spool: writes fail with a read-only fault, reads go on */
    if (s) {
        CHECK_EQ(put_one(s, 6, body, sizeof body, NULL), IVCS_ERR_IO);
        ivcs_spool_stats_s st;
        ivcs_spool_get_stats(s, &st);
        CHECK_EQ(st.fault, IVCS_SPOOL_FAULT_RDONLY);
        CHECK_EQ(st.entries, 1);
        ivcs_spool_close(s);
    }
    /* opened again while read-only: readable, and says so */
    int fault = -1;
    ivcs_spool_config_s c = {d, 0, 1, 0, NULL, NULL};
    s = NULL;
    CHECK_EQ(ivcs_spool_open(&s, &check_alloc, &c, &fault), 0);
    if (s) {
        ivcs_spool_stats_s st;
        ivcs_spool_get_stats(s, &st);
        CHECK_EQ(st.fault, IVCS_SPOOL_FAULT_RDONLY);
        CHECK_EQ(st.recovered, 1);
        ivcs_spool_entry_s e;
        static uint8_t buf[60000];
        ivcs_spool_hdr_s h;
        const uint8_t *k, *m, *b;
        CHECK_EQ(ivcs_spool_next(s, 0, 0, &e), 0);
        CHECK_EQ(ivcs_spool_read(s, e.seq, buf, sizeof buf, &h, &k, &m, &b), 0);
        CHECK(memcmp(b, body, sizeof body) == 0);
        CHECK_EQ(ivcs_spool_cache_put(s, IVCS_SPOOL_PLAN, "", "x", 1, 1), IVCS_ERR_IO);
        ivcs_spool_close(s);
    }
    CHECK_EQ(umount(d), 0);
    rmdir(d);
}

/* ---------------------------------------------------------------- loop */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int loop_ticks;
static void on_tick(ivcs_loop_op *op, int res)
{
    ivcs_loop *l = op->arg;
    loop_ticks++;
    if (res == 0) (void)!ivcs_loop_timer(l, op, 10); /* again in 10 ms */
}

/* One entry (with its fsyncs) written through loop l: ivcs_spool_poll and
 * ivcs_loop_run_once (10 ms) in turn, as the engine thread does, with a 10
 * ms timer ticking. Returns the put result; *longest: the longest single
 * poll + run_once, *took: the whole write (ms). */
static int put_through_loop(ivcs_spool *s, ivcs_loop *l, const uint8_t *body, size_t n,
                            int64_t *longest, int64_t *took)
{
    uint8_t md5[16];
    ivcs_md5(body, n, md5);
    struct iovec iov = {(void *)body, n};
    ivcs_spool_put_s p = {0};
    p.kind = IVCS_SPOOL_SLICE;
    p.created_ms = 1764800000000LL;
    p.key = "dev/ch0/2026-12-04/slice-loop.ts";
    p.key_len = strlen(p.key);
    p.body = &iov;
    p.body_cnt = 1;
    p.md5 = md5;
    p.done = on_done;
    ivcs_loop_op tick = {.cb = on_tick, .arg = l};
    loop_ticks = 0;
    if (ivcs_loop_timer(l, &tick, 10) != 0) return -1;
    int rc = ivcs_spool_put(s, &p);
    if (rc != 0) return rc;
    put_res = 1;
    int64_t t0 = now_ms();
    *longest = 0;
    while (put_res == 1 && now_ms() - t0 < 20000) {
        int64_t a = now_ms();
        (void)ivcs_spool_poll(s);
        (void)ivcs_loop_run_once(l, 10);
        if (now_ms() - a > *longest) *longest = now_ms() - a;
    }
    *took = now_ms() - t0;
    (void)ivcs_loop_cancel(l, &tick);
    for (int i = 0; i < 100 && ivcs_loop_pending(l); i++) (void)ivcs_loop_run_once(l, 10);
    return put_res;
}

TEST(writes_and_fsyncs_go_through_the_loop)
{
    /* the engine's way: the write, fdatasync and directory fsync of an
     * entry are file ops of its loop; on io_uring the kernel runs them
     * (counted by the loop), on epoll they run at submission and complete
     * at the next run; the entry is the same either way */
    char d[64];
    mkdir_tmp(d, sizeof d);
    ivcs_spool_config_s c = {d, 0, 1, 0, on_lost, NULL}; /* with the fsyncs */
    ivcs_spool *s = NULL;
    ivcs_loop *l = NULL;
    CHECK_EQ(ivcs_spool_open(&s, &check_alloc, &c, NULL), 0);
    CHECK_EQ(ivcs_loop_new(&l, &check_alloc, 8), 0);
    if (!s || !l) return;
    ivcs_spool_set_loop(s, l);
    static uint8_t body[3 << 20]; /* three 1 MiB write steps and a bit */
    fill(body, sizeof body, 5);
    int64_t longest = 0, took = 0;
    CHECK_EQ(put_through_loop(s, l, body, sizeof body, &longest, &took), 0);
    ivcs_spool_stats_s st;
    ivcs_spool_get_stats(s, &st);
    CHECK_EQ(st.written, 1);
    CHECK_EQ(st.fsyncs, 2);
    CHECK_EQ(st.loop_ops, 4 + 2); /* 4 writes (header and key first), 2 fsyncs */
    if (ivcs_loop_backend(l) == IVCS_IO_URING)
        CHECK_EQ(ivcs_loop_ring_file_ops(l), st.loop_ops);
    else
        CHECK_EQ(ivcs_loop_ring_file_ops(l), 0);
    fprintf(stderr, "  %s: %llu file ops through the ring\n",
            ivcs_loop_backend(l) == IVCS_IO_URING ? "io_uring" : "epoll",
            (unsigned long long)ivcs_loop_ring_file_ops(l));
    ivcs_loop_destroy(l);
    ivcs_spool_close(s);
    /* what is on disk is a complete, verified entry */
    s = NULL;
    CHECK_EQ(ivcs_spool_open(&s, &check_alloc, &c, NULL), 0);
    if (!s) return;
    ivcs_spool_get_stats(s, &st);
    CHECK_EQ(st.recovered, 1);
    ivcs_spool_entry_s x;
    CHECK_EQ(ivcs_spool_next(s, 0, ~0u, &x), 0);
    static uint8_t buf[(3 << 20) + 4096];
    ivcs_spool_hdr_s h;
    const uint8_t *k, *m, *b;
    CHECK_EQ(ivcs_spool_read(s, x.seq, buf, sizeof buf, &h, &k, &m, &b), 0);
    CHECK_EQ(h.body_len, sizeof body);
    CHECK(b && memcmp(b, body, sizeof body) == 0);
    ivcs_spool_close(s);
    rm_dir(d);
}

#define FUSE_SUPER_MAGIC 0x65735546

/* A loop on io_uring and tests/unit/faultfs.py mounted at mnt over back
 * (fsync_s: seconds an fsync sleeps; read_s: seconds a read sleeps, "0"
 * none): the shim's pid, or -1 with a skip said (no io_uring, root,
 * /dev/fuse or IVCS_SOURCE_DIR) or the mount failed (CHECKed). */
static pid_t faultfs_mount(ivcs_loop **l, char *back, char *mnt, const char *fsync_s,
                           const char *read_s)
{
    const char *src = getenv("IVCS_SOURCE_DIR");
    *l = NULL;
    CHECK_EQ(ivcs_loop_new(l, &check_alloc, 8), 0);
    if (!*l) return -1;
    if (ivcs_loop_backend(*l) != IVCS_IO_URING || geteuid() != 0 || !src ||
        access("/dev/fuse", R_OK | W_OK) != 0) {
        fprintf(stderr, "skip: needs io_uring, root, /dev/fuse and IVCS_SOURCE_DIR\n");
        ivcs_loop_destroy(*l);
        *l = NULL;
        return -1;
    }
    char shim[512];
    mkdir_tmp(back, 64);
    mkdir_tmp(mnt, 64);
    snprintf(shim, sizeof shim, "%s/tests/unit/faultfs.py", src);
    pid_t pid = fork();
    if (pid == 0) {
        execl("/usr/bin/python3", "python3", shim, back, mnt, fsync_s, "-", read_s, (char *)NULL);
        _exit(127);
    }
    CHECK(pid > 0);
    struct statfs fs = {0};
    for (int i = 0; i < 100; i++) { /* mounted within 10 s */
        if (statfs(mnt, &fs) == 0 && fs.f_type == FUSE_SUPER_MAGIC) break;
        usleep(100000);
    }
    CHECK_EQ((long)fs.f_type, (long)FUSE_SUPER_MAGIC);
    return pid;
}

static void faultfs_umount(ivcs_loop *l, pid_t pid, const char *back, const char *mnt)
{
    ivcs_loop_destroy(l);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "fusermount -u '%s'", mnt);
    if (system(cmd) != 0) kill(pid, SIGTERM);
    int status = 0;
    (void)waitpid(pid, &status, 0);
    rmdir(mnt);
    rm_dir(back);
}

/* A spool in mnt on loop l holding one entry of body[0..n) (filled from
 * seed), written through the loop (put_through_loop: *longest, *took);
 * NULL if it could not be opened. */
static ivcs_spool *spool_with_entry(const char *mnt, ivcs_loop *l, uint8_t *body, size_t n,
                                    int seed, int64_t *longest, int64_t *took)
{
    ivcs_spool_config_s c = {mnt, 0, 1, 0, on_lost, NULL};
    ivcs_spool *s = NULL;
    CHECK_EQ(ivcs_spool_open(&s, &check_alloc, &c, NULL), 0);
    if (!s) return NULL;
    ivcs_spool_set_loop(s, l);
    fill(body, n, seed);
    CHECK_EQ(put_through_loop(s, l, body, n, longest, took), 0);
    return s;
}

TEST(slow_fsync_does_not_stall_the_loop)
{
    /* the spool on a FUSE file system whose fsync sleeps 2 s
     * (faultfs.py): through io_uring the engine thread's loop goes on
     * ticking while the kernel waits for the disk (before: ivcs_spool_poll
     * blocked the thread in fdatasync for the 2 s) */
    char back[64], mnt[64];
    ivcs_loop *l;
    pid_t pid = faultfs_mount(&l, back, mnt, "2", "0");
    if (pid <= 0) return;
    static uint8_t body[200000];
    int64_t longest = 0, took = 0;
    ivcs_spool *s = spool_with_entry(mnt, l, body, sizeof body, 9, &longest, &took);
    if (s) {
        fprintf(stderr, "  entry written in %lld ms (slow fdatasync), longest loop turn "
                "%lld ms, %d timer ticks meanwhile\n", (long long)took, (long long)longest,
                loop_ticks);
        CHECK(took >= 1900);      /* the fdatasync really took 2 s */
        CHECK(longest < 500);     /* and no turn of the loop waited for it */
        CHECK(loop_ticks >= 50);  /* the 10 ms timer went on meanwhile */
        ivcs_spool_close(s);
    }
    faultfs_umount(l, pid, back, mnt);
}

static int read_res;
static void on_read(ivcs_loop_op *op, int res)
{
    (void)op;
    read_res = res;
}

TEST(slow_read_does_not_stall_the_loop)
{
    /* the engine's backfill reads an entry the same way: ivcs_spool_read_begin,
     * preadv through the loop until it is whole, ivcs_spool_read_end; on a
     * FUSE file system whose reads sleep 1 s, the loop goes on ticking */
    char back[64], mnt[64];
    ivcs_loop *l;
    pid_t pid = faultfs_mount(&l, back, mnt, "0", "1");
    if (pid <= 0) return;
    static uint8_t body[200000], buf[210000];
    int64_t longest = 0, took = 0;
    ivcs_spool *s = spool_with_entry(mnt, l, body, sizeof body, 11, &longest, &took);
    if (s) {
        ivcs_spool_entry_s x;
        CHECK_EQ(ivcs_spool_next(s, 0, ~0u, &x), 0);
        ivcs_spool_hdr_s h;
        int fd = -1;
        uint64_t size = 0, got = 0;
        CHECK_EQ(ivcs_spool_read_begin(s, x.seq, sizeof buf, &fd, &size, &h), 0);
        uint64_t ring0 = ivcs_loop_ring_file_ops(l);
        ivcs_loop_op tick = {.cb = on_tick, .arg = l}, rd = {.cb = on_read};
        loop_ticks = 0;
        CHECK_EQ(ivcs_loop_timer(l, &tick, 10), 0);
        int64_t t0 = now_ms();
        longest = 0;
        int err = 0, reads = 0;
        while (fd >= 0 && got < size && !err && now_ms() - t0 < 20000) {
            struct iovec iov = {buf + got, (size_t)(size - got)};
            read_res = 1;
            CHECK_EQ(ivcs_loop_preadv(l, &rd, fd, &iov, 1, got), 0);
            reads++;
            while (read_res == 1 && now_ms() - t0 < 20000) {
                int64_t a = now_ms();
                (void)ivcs_loop_run_once(l, 10);
                if (now_ms() - a > longest) longest = now_ms() - a;
            }
            if (read_res <= 0) err = read_res < 0 ? rd.sys_errno : EIO;
            else got += (uint64_t)read_res;
        }
        took = now_ms() - t0;
        (void)ivcs_loop_cancel(l, &tick);
        for (int i = 0; i < 100 && ivcs_loop_pending(l); i++) (void)ivcs_loop_run_once(l, 10);
        const uint8_t *k, *m, *b;
        CHECK_EQ(ivcs_spool_read_end(s, x.seq, fd, buf, size, got, err, &h, &k, &m, &b), 0);
        CHECK(b && h.body_len == sizeof body && memcmp(b, body, sizeof body) == 0);
        fprintf(stderr, "  entry read in %lld ms (%d preadv through the ring, slow reads), "
                "longest loop turn %lld ms, %d timer ticks meanwhile\n", (long long)took,
                (int)(ivcs_loop_ring_file_ops(l) - ring0), (long long)longest, loop_ticks);
        CHECK(ivcs_loop_ring_file_ops(l) - ring0 >= (uint64_t)reads);
        CHECK(took >= 900);      /* the read really waited for the disk */
        CHECK(longest < 500);    /* and no turn of the loop did */
        /* the 10 ms timer went on meanwhile (before IOSQE_ASYNC the kernel
         * read FUSE inline in the submit: 2 s in ivcs_loop_preadv, 2 ticks) */
        CHECK(loop_ticks >= 30);
        ivcs_spool_close(s);
    }
    faultfs_umount(l, pid, back, mnt);
}

int main(void)
{
    mkdir_tmp(g_dir, sizeof g_dir);
    RUN(crc32c_known_vectors);
    RUN(names_parse_only_our_own);
    RUN(put_read_remove_oldest_first_and_reopen);
    RUN(bounds_queue_size_and_args);
    RUN(eviction_oldest_whole_entries_counted);
    RUN(lock_missing_dir_and_foreign_files);
    RUN(cache_files_round_trip_and_corruption);
    RUN(power_cut_truncation_at_every_byte);
    RUN(power_cut_bit_flips_at_every_byte);
    RUN(power_cut_missing_rename);
    RUN(small_filesystem_fills_up);
    RUN(read_only_filesystem);
    RUN(writes_and_fsyncs_go_through_the_loop);
    RUN(slow_fsync_does_not_stall_the_loop);
    RUN(slow_read_does_not_stall_the_loop);
    rm_dir(g_dir);
    return check_done();
}
