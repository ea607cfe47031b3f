/*
 * test_ring_stress.c - the SPSC ring with a real producer thread and a real
 * consumer thread, under ThreadSanitizer.
 *
 * The producer pushes N variable-size records (1..4 KiB, and now and then
 * one close to the maximum so padding and "full" happen all the time in a
 * 64 KiB ring), half by copy and half by reserve/commit with a shrunk
 * commit. Every header field and every payload byte is a function of the
 * record's sequence number; the consumer checks all of them, holds records
 * for a while without freeing them, sometimes re-reads a held run (an
 * upload retry), and sleeps on an eventfd with the ring's wake-up protocol
 * when there is nothing to read. A lost wake-up shows as a poll timeout
 * with records waiting, and fails the test.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "engine/ring/ring.h"

#define CAP (64u * 1024u)
#define TABLE (CAP + 4096u)

static uint8_t table[TABLE]; /* payload bytes: record seq copies table + off(seq) */
static ivcs_ring_s *ring;
static int efd;
/* ~10 s under TSan on 2 idle cores; more with argv[1] or IVCS_RING_STRESS_N */
static uint32_t nrec = 1000000;

/* Statistics (each written by one thread, read after join). */
static long p_full, p_wakes, p_reserved;
static long c_sleeps, c_retries, c_lost, c_bad, c_reread, c_releases;

static uint32_t mix(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

static uint32_t len_of(uint32_t seq)
{
    uint32_t h = mix(seq);
    if (h % 997 == 0) return (uint32_t)ivcs_ring_max_payload(ring) - (h >> 20) % 64;
    return 1 + (h >> 8) % 4096;
}

static uint32_t off_of(uint32_t seq)
{
    return mix(seq ^ 0xA5A5A5A5u) % (TABLE - CAP / 2);
}

static ivcs_ring_rec_s rec_of(uint32_t seq)
{
    ivcs_ring_rec_s r = {.len = len_of(seq),
                         .type = (uint8_t)seq,
                         .flags = (uint8_t)(seq >> 8),
                         .pts = (uint64_t)seq * 40 + 7,
                         .seq = seq,
                         .user = mix(seq + 1)};
    return r;
}

static void wake(void)
{
    uint64_t one = 1;
    if (write(efd, &one, sizeof one) != sizeof one) abort();
}

static void *producer(void *arg)
{
    (void)arg;
    for (uint32_t seq = 0; seq < nrec; seq++) {
        ivcs_ring_rec_s rec = rec_of(seq);
        const uint8_t *src = table + off_of(seq);
        for (;;) {
            int rc;
            if (seq & 1) {
                rc = ivcs_ring_push(ring, &rec, src);
            } else {
                /* reserve more than needed, write in place, commit less */
                size_t extra = mix(seq) % 128;
                size_t max = ivcs_ring_max_payload(ring);
                void *p;
                rc = ivcs_ring_reserve(ring, rec.len + extra > max ? max : rec.len + extra, &p);
                if (rc == 0) {
                    memcpy(p, src, rec.len);
                    rc = ivcs_ring_commit(ring, &rec);
                    p_reserved++;
                }
            }
            if (rc == 1) {
                p_wakes++;
                wake();
            }
            if (rc >= 0) break;
            if (rc != IVCS_ERR_BUFFER_FULL) {
                fprintf(stderr, "producer: seq %u: error %d\n", seq, rc);
                abort();
            }
            p_full++;
            sched_yield();
        }
    }
    return NULL;
}

/* Checks one record against what the producer must have written. */
static int verify(const ivcs_ring_view_s *v, uint32_t seq)
{
    ivcs_ring_rec_s e = rec_of(seq);
    const ivcs_ring_rec_s *h = v->rec;
    if (h->seq != e.seq || h->len != e.len || h->type != e.type || h->flags != e.flags ||
        h->pts != e.pts || h->user != e.user || h->kind != 0) {
        fprintf(stderr, "consumer: bad header at seq %u (got seq %u len %u)\n", seq, h->seq,
                h->len);
        return 0;
    }
    if ((uintptr_t)v->data % 8 != 0 || memcmp(v->data, table + off_of(seq), e.len) != 0) {
        fprintf(stderr, "consumer: bad payload at seq %u\n", seq);
        return 0;
    }
    return 1;
}

/* The held run [held_seq, seq) is "uploaded": one time in four the upload
 * "fails" first and the run is read again from the ring; then it is freed.
 * Returns 0 on a verification failure. */
static int finish_run(uint64_t *held_pos, uint32_t *held_seq, uint32_t seq, uint32_t *x)
{
    ivcs_ring_view_s v;
    *x = mix(*x + seq);
    if (*x % 4 == 0) {
        c_retries++;
        uint64_t end = ivcs_ring_read_pos(ring);
        if (ivcs_ring_seek(ring, *held_pos) != 0) return 0;
        for (uint32_t s = *held_seq; s < seq; s++) {
            if (ivcs_ring_next(ring, &v) != 1 || !verify(&v, s)) return 0;
            c_reread++;
        }
        if (ivcs_ring_read_pos(ring) != end) return 0;
    }
    *held_pos = ivcs_ring_read_pos(ring);
    *held_seq = seq;
    if (ivcs_ring_release(ring, *held_pos) != 0) return 0;
    c_releases++;
    return 1;
}

static void *consumer(void *arg)
{
    (void)arg;
    uint32_t seq = 0;      /* next record expected */
    uint32_t held_seq = 0; /* first record not released */
    uint64_t held_pos = ivcs_ring_read_pos(ring);
    uint32_t x = 99, hold = 8;
    int idle = 0;
    while (held_seq < nrec && c_bad == 0) {
        ivcs_ring_view_s v;
        int rc = ivcs_ring_next(ring, &v);
        if (rc < 0) {
            fprintf(stderr, "consumer: next: %d\n", rc);
            c_bad++;
            break;
        }
        if (rc == 1) {
            idle = 0;
            if (!verify(&v, seq)) {
                c_bad++;
                break;
            }
            seq++;
            if (seq - held_seq < hold && seq < nrec) continue;
            if (!finish_run(&held_pos, &held_seq, seq, &x)) break;
            hold = 1 + x % 48;
            continue;
        }
        /* Nothing to read. Finish what is held (a consumer that sleeps holding
         * space would starve the producer), spin a little, then sleep. */
        if (held_seq != seq && !finish_run(&held_pos, &held_seq, seq, &x)) break;
        if (++idle < 50) {
            sched_yield();
            continue;
        }
        if (ivcs_ring_prepare_sleep(ring) == 0) {
            c_sleeps++;
            struct pollfd pfd = {.fd = efd, .events = POLLIN};
            int n = poll(&pfd, 1, 2000);
            if (n == 0 && ivcs_ring_unread(ring) != 0) {
                fprintf(stderr, "consumer: lost wake-up (records waited 2 s)\n");
                c_lost++;
            }
            if (n > 0) {
                uint64_t cnt;
                if (read(efd, &cnt, sizeof cnt) != sizeof cnt) abort();
            }
        }
        ivcs_ring_cancel_sleep(ring);
        idle = 0;
    }
    if (seq != nrec || held_seq != nrec) c_bad++;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1) nrec = (uint32_t)strtoul(argv[1], NULL, 10);
    if (getenv("IVCS_RING_STRESS_N"))
        nrec = (uint32_t)strtoul(getenv("IVCS_RING_STRESS_N"), NULL, 10);
    for (uint32_t i = 0; i < TABLE; i++)
        table[i] = (uint8_t)mix(i * 2654435761u);

    size_t mem_len = ivcs_ring_mem_size(CAP);
    void *mem = aligned_alloc(IVCS_RING_MEM_ALIGN, mem_len);
    if (!mem || ivcs_ring_init(&ring, mem, mem_len, CAP) != 0) return 2;
    efd = eventfd(0, EFD_CLOEXEC);
    if (efd < 0) return 2;

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pthread_t pt, ct;
    if (pthread_create(&ct, NULL, consumer, NULL) || pthread_create(&pt, NULL, producer, NULL))
        return 2;
    pthread_join(pt, NULL);
    pthread_join(ct, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;

    uint64_t laps = ivcs_ring_head_pos(ring) / CAP;
    printf("%u records, %llu ring laps in %.2f s: producer %ld full, %ld reserve/commit, %ld "
           "wakes; consumer %ld sleeps, %ld releases, %ld retries (%ld re-read), %ld lost "
           "wake-ups, %ld bad\n",
           nrec, (unsigned long long)laps, s, p_full, p_reserved, p_wakes, c_sleeps, c_releases,
           c_retries, c_reread, c_lost, c_bad);
    int ok = c_bad == 0 && c_lost == 0 && ivcs_ring_used(ring) == 0 && ivcs_ring_unread(ring) == 0;
    /* the test must have exercised what it claims to */
    ok = ok && p_full > 0 && c_retries > 0 && p_reserved > 0 && laps > 1000;
    close(efd);
    free(mem);
    printf("%s\n", ok ? "1 passed, 0 failed" : "0 passed, 1 failed");
    return ok ? 0 : 1;
}
