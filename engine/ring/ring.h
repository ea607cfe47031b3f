/*
 * ring.h - lock-free single-producer single-consumer frame ring
 * (docs/ARCHITECTURE.md section 3).
 *
 * Threads. A ring has exactly ONE producer thread and ONE consumer thread
 * at a time. Every function below says which of the two may call it
 * ("producer", "consumer", or "either"). Calling a producer function from
 * two threads at once, or a consumer function from two threads at once, is
 * a data race. Handing a role to another thread needs a synchronisation of
 * the caller's own (a mutex, a thread join). Initialisation happens before
 * either thread starts using the ring (e.g. before pthread_create).
 *
 * Memory. The ring never allocates. The caller gives one block of
 * ivcs_ring_mem_size(capacity) bytes, aligned to IVCS_RING_MEM_ALIGN; it
 * holds the control block (head and tail each on their own cache line)
 * followed by `capacity` data bytes. ivcs_ring_capacity_for() tells the
 * largest ring that fits in a budget.
 *
 * Positions. Producer and consumer count bytes with free-running 64-bit
 * positions (never wrapped; masked by the power-of-two capacity to find the
 * byte). Three positions matter:
 *
 *     tail <= read cursor <= head
 *     tail:   everything before it is free (only the consumer moves it,
 *             with ivcs_ring_release)
 *     read:   the consumer's private cursor for ivcs_ring_next
 *     head:   everything before it is published (the producer moves it,
 *             with ivcs_ring_commit / ivcs_ring_push)
 *
 * Records. A record is a 24-byte header (ivcs_ring_rec_s) followed by its
 * payload, padded to 8 bytes; headers and payloads are 8-byte aligned in
 * memory. A record is always contiguous (zero copy): when it does not fit
 * before the end of the buffer, a padding record fills the end and the
 * record starts at offset 0. The consumer never sees padding; it is part of
 * the bytes a release frees. A record takes at most half the ring
 * (ivcs_ring_max_payload), which guarantees that it fits, wherever the
 * head is, once the consumer has released everything; anything larger is
 * IVCS_ERR_FRAME_TOO_BIG, never "try again".
 *
 * Producer:
 *
 *     void *p;
 *     int rc = ivcs_ring_reserve(r, max_len, &p);   // 0, FRAME_TOO_BIG, BUFFER_FULL
 *     ... write up to max_len bytes at p ...
 *     ivcs_ring_rec_s rec = {.len = n, .type = t, .pts = pts, .seq = seq};
 *     if (ivcs_ring_commit(r, &rec) == 1) wake the consumer (eventfd write);
 *
 * or ivcs_ring_push(r, &rec, data) to copy. Nothing is visible to the
 * consumer before the commit; a reservation that is not committed is
 * forgotten by the next reserve.
 *
 * Consumer: records are read without freeing them, so a slice can be
 * re-read for an upload retry, and freed only when it is no longer needed:
 *
 *     uint64_t start = ivcs_ring_read_pos(r);
 *     ivcs_ring_view_s v;
 *     while (ivcs_ring_next(r, &v) == 1) use(v.rec, v.data);  // no freeing
 *     ... upload fails: ivcs_ring_seek(r, start) and read again ...
 *     ... upload done:  ivcs_ring_release(r, v.next)        // frees up to there
 *
 * Dropping a run of records is just a release past them. A view's pointers
 * stay valid until the consumer releases the record.
 *
 * Wake-up (Dekker style: each side stores its own variable, then loads the
 * other's, both with seq_cst accesses, which forbid the store->load
 * reordering that acquire/release allow; in their single total order one
 * store comes first, so at least one side sees the other's store):
 *
 *     consumer (ivcs_ring_prepare_sleep)         producer (ivcs_ring_commit)
 *     ----------------------------------         ---------------------------
 *     store sleeping = 1          (seq_cst)      write the record
 *     load head                   (seq_cst)      store head         (seq_cst)
 *     unread records? clear the flag,            load sleeping      (seq_cst)
 *       return 1: do not block                   set? claim it (exchange to 0)
 *     else return 0: block on the eventfd,         and return 1: the caller
 *       then ivcs_ring_cancel_sleep                writes the eventfd
 *
 * So either the consumer sees the new record and does not block, or the
 * producer sees the flag and wakes it: no lost wake-up. A commit that finds
 * the flag set claims it, so one sleep costs at most one eventfd write
 * however many records arrive. A spurious wake-up is possible (a commit
 * claims the flag just as prepare_sleep finds data) and harmless. A
 * consumer serving several rings calls prepare_sleep on each and blocks
 * only if all return 0 (calling cancel_sleep on the others otherwise). It
 * must not block while holding records the producer needs the space of,
 * unless something else (an upload completion) will wake it.
 *
 * Positions are 64-bit and never wrap in practice (2^64 bytes). No access
 * takes a lock on any target: where 64-bit atomics are not lock-free
 * (32-bit MIPS) the shared words hold the low 32 bits and each side widens
 * them from its own position (ring.c, pub_t); only 32-bit atomics are
 * needed there.
 */
#ifndef IVCS_RING_RING_H
#define IVCS_RING_RING_H

#include <stddef.h>
#include <stdint.h>

#include "ivcs_base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The control block is private (C11 atomics); rings live in caller memory. */
typedef struct ivcs_ring_s ivcs_ring_s;

/* The header in front of every record, as the consumer sees it in the
 * ring. All fields but kind are the producer's, passed through unchanged. */
typedef struct ivcs_ring_rec_s {
    uint32_t len;  /* payload bytes */
    uint8_t type;  /* caller-defined (e.g. video/audio frame type) */
    uint8_t flags; /* caller-defined (e.g. key frame) */
    uint16_t kind; /* owned by the ring: ignored on commit, 0 in every record seen */
    uint64_t pts;  /* caller-defined timestamp */
    uint32_t seq;  /* caller-defined sequence number */
    uint32_t user; /* caller-defined */
} ivcs_ring_rec_s;

#define IVCS_RING_HDR_SIZE 24u
#define IVCS_RING_ALIGN 8u
#define IVCS_RING_MEM_ALIGN 64u           /* alignment of the block given to init */
#define IVCS_RING_MIN_CAPACITY 64u        /* data bytes; a power of two */
#define IVCS_RING_MAX_CAPACITY (1u << 31) /* keeps every length in 32 bits */

/* A record the consumer is looking at. Pointers stay valid until the
 * consumer releases a position past `pos`. */
typedef struct ivcs_ring_view_s {
    const ivcs_ring_rec_s *rec; /* the header, inside the ring */
    const uint8_t *data;        /* rec->len payload bytes, 8-byte aligned */
    uint64_t pos;               /* position of the record (after any padding) */
    uint64_t next;              /* position right after it */
} ivcs_ring_view_s;

#ifdef __cplusplus
static_assert(sizeof(ivcs_ring_rec_s) == IVCS_RING_HDR_SIZE, "ring header layout");
#else
_Static_assert(sizeof(ivcs_ring_rec_s) == IVCS_RING_HDR_SIZE, "ring header layout");
#endif

/* Bytes one record with a payload of len bytes takes in the ring (header +
 * payload rounded up to 8). Either thread; pure. */
static inline uint64_t ivcs_ring_record_size(uint64_t len)
{
    return IVCS_RING_HDR_SIZE + ((len + (IVCS_RING_ALIGN - 1)) & ~(uint64_t)(IVCS_RING_ALIGN - 1));
}

/* ---------------------------------------------------------------- memory */

/* Bytes of memory a ring of `capacity` data bytes needs (control block +
 * data), or 0 if capacity is not a power of two in
 * [IVCS_RING_MIN_CAPACITY, IVCS_RING_MAX_CAPACITY]. */
size_t ivcs_ring_mem_size(size_t capacity);

/* The largest valid capacity whose ring fits in mem_len bytes; 0 if even
 * the smallest does not. Rings are powers of two, so up to half a budget
 * may be left over: the caller decides what to do with it. */
size_t ivcs_ring_capacity_for(size_t mem_len);

/* Builds an empty ring in mem (mem_len >= ivcs_ring_mem_size(capacity),
 * aligned to IVCS_RING_MEM_ALIGN) and stores it in *out. The ring lives in
 * mem, which the caller keeps until both threads are done with the ring;
 * there is nothing to clean up. Re-initialising is allowed while neither
 * thread uses the ring. Returns 0 or IVCS_ERR_INVALID_ARG. */
IVCS_MUST_CHECK int ivcs_ring_init(ivcs_ring_s **out, void *mem, size_t mem_len, size_t capacity);

/* ---------------------------------------------------------------- producer */

/* Producer. Reserves room for one record with a payload of up to len bytes
 * and sets *payload to where the payload goes (8-byte aligned, len bytes
 * writable); nothing becomes visible until ivcs_ring_commit. Any earlier
 * uncommitted reservation is forgotten. Returns 0;
 * IVCS_ERR_FRAME_TOO_BIG if len > ivcs_ring_max_payload() (it never fits);
 * IVCS_ERR_BUFFER_FULL if it does not fit now (it will once the consumer
 * has released enough); IVCS_ERR_INVALID_ARG for NULL arguments. On error
 * *payload is NULL. Never blocks, never allocates. */
IVCS_MUST_CHECK int ivcs_ring_reserve(ivcs_ring_s *r, size_t len, void **payload);

/* Producer. Publishes the reserved record with the header *rec (rec->len
 * <= the reserved length; a shorter record gives the rest back; rec->kind
 * is ignored). Returns 1 if the consumer is asleep and must be woken (the
 * caller writes its eventfd; this call has cleared the flag), 0 if not,
 * IVCS_ERR_STATE if nothing is reserved, IVCS_ERR_INVALID_ARG if rec is
 * NULL or rec->len exceeds the reservation (the reservation stays open). */
IVCS_MUST_CHECK int ivcs_ring_commit(ivcs_ring_s *r, const ivcs_ring_rec_s *rec);

/* Producer. Reserve + copy rec->len bytes from data + commit. Returns what
 * ivcs_ring_commit returns (1: wake the consumer, 0) or the error of
 * ivcs_ring_reserve. data may be NULL when rec->len is 0. */
IVCS_MUST_CHECK int ivcs_ring_push(ivcs_ring_s *r, const ivcs_ring_rec_s *rec, const void *data);

/* ---------------------------------------------------------------- consumer */

/* Consumer. The record at position pos (a record position or `next` from a
 * view, ivcs_ring_read_pos(), or a release position), skipping padding.
 * Does not move the read cursor and frees nothing. Returns 1 and fills *v,
 * 0 if nothing is published at pos yet, IVCS_ERR_INVALID_ARG if pos is
 * outside [released, head] or not 8-aligned, or the bytes there do not
 * look like a record (best effort: a wrong position is a caller bug). */
IVCS_MUST_CHECK int ivcs_ring_peek(ivcs_ring_s *r, uint64_t pos, ivcs_ring_view_s *v);

/* Consumer. ivcs_ring_peek at the read cursor, then moves the cursor past
 * the record. Frees nothing. Returns 1 and fills *v, or 0 if no unread
 * record is published. */
IVCS_MUST_CHECK int ivcs_ring_next(ivcs_ring_s *r, ivcs_ring_view_s *v);

/* Consumer. The read cursor: where ivcs_ring_next reads next. */
uint64_t ivcs_ring_read_pos(const ivcs_ring_s *r);

/* Consumer. Moves the read cursor to pos, a record boundary in
 * [released, head] (e.g. to re-read a slice for a retry). Returns 0 or
 * IVCS_ERR_INVALID_ARG (cursor unchanged). */
IVCS_MUST_CHECK int ivcs_ring_seek(ivcs_ring_s *r, uint64_t pos);

/* Consumer. Frees every byte before up_to (a record boundary in
 * [released, head], typically view.next), handing the space back to the
 * producer. If the read cursor was before up_to it moves to up_to, so a
 * release past unread records drops them. The consumer must not touch the
 * freed records' views afterwards. Returns 0 or IVCS_ERR_INVALID_ARG. */
IVCS_MUST_CHECK int ivcs_ring_release(ivcs_ring_s *r, uint64_t up_to);

/* Consumer. Position up to which everything has been released. */
uint64_t ivcs_ring_release_pos(const ivcs_ring_s *r);

/* Consumer. Published bytes from the read cursor to the head (0: nothing
 * unread). */
size_t ivcs_ring_unread(const ivcs_ring_s *r);

/* Consumer. Announces that the consumer is about to block. Returns 0: the
 * flag is set and no unread record is published, so the consumer may block
 * (on the eventfd the producer's caller writes when commit returns 1), then
 * call ivcs_ring_cancel_sleep. Returns 1: unread records are there; the
 * flag is cleared again and the consumer must not block. */
int ivcs_ring_prepare_sleep(ivcs_ring_s *r);

/* Consumer. Clears the sleeping flag (after waking, or when it decided not
 * to block after all). */
void ivcs_ring_cancel_sleep(ivcs_ring_s *r);

/* ---------------------------------------------------------------- either */

/* Either. Data bytes of the ring. */
size_t ivcs_ring_capacity(const ivcs_ring_s *r);

/* Either. The largest payload a record may have: half the ring minus a
 * header. */
size_t ivcs_ring_max_payload(const ivcs_ring_s *r);

/* Either. Bytes published and not yet released (records + padding), and
 * the capacity minus that. A snapshot: the other thread may change it at
 * once, but only in the caller's favour when the caller is the producer
 * (free only grows) or the consumer (used only grows). The free bytes are
 * not all usable by one record: it must be contiguous. */
size_t ivcs_ring_used(const ivcs_ring_s *r);
size_t ivcs_ring_free(const ivcs_ring_s *r);

/* Consumer. Position up to which records are published. */
uint64_t ivcs_ring_head_pos(const ivcs_ring_s *r);

/* Producer. Position up to which this producer has committed records (the
 * head as the producer knows it). */
uint64_t ivcs_ring_pushed_pos(const ivcs_ring_s *r);

#ifdef __cplusplus
}
#endif
#endif /* IVCS_RING_RING_H */
