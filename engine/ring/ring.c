/*
 * ring.c - lock-free SPSC frame ring (see ring.h for the contract).
 *
 * After Concurrency Kit's ck_ring: the producer owns head, the consumer
 * owns tail, each on its own cache line; each side keeps a private copy of
 * the other's index and reloads it only when the copy says "no room" /
 * "nothing new", so in steady state a push touches one shared line.
 *
 * Ordering in one paragraph: the producer writes a record, then stores
 * head with release; the consumer loads head with acquire before reading
 * the record. The consumer reads the record, then stores tail with
 * release; the producer loads tail with acquire before overwriting those
 * bytes. The sleeping flag and head form a Dekker pair with seq_cst
 * accesses (see ivcs_ring_commit and ivcs_ring_prepare_sleep).
 */
#include "engine/ring/ring.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>

#define CACHE_LINE 64

/* ivcs_ring_rec_s.kind: a record, or padding up to the end of the buffer. */
#define KIND_RECORD 0
#define KIND_PAD 0x4450 /* "PD" */

/* Free-running positions are 64-bit and no access to them may take a lock.
 * Each side keeps its own position privately in 64 bits (p_head, c_tail)
 * and publishes it in `pub_t`: 64 bits where such atomics are lock-free
 * (x86-64, AArch64, ARMv7 with LDREXD/STREXD), else only the low 32 bits
 * (32-bit MIPS has no 64-bit LL/SC, and gcc's libatomic would take a lock).
 * The other side widens what it loads from a 64-bit position of its own
 * that is at most `cap` (< 2^31) away, so no information is lost:
 *   consumer: head = c_tail + (pub_t)(head_pub - (pub_t)c_tail)
 *   producer: tail = p_head - (pub_t)((pub_t)p_head - tail_pub)
 * since 0 <= head - tail <= cap at every instant. IVCS_RING_POS32 forces
 * the 32-bit form (tests/unit/test_ring_pos32.c runs it on every target). */
#if defined(IVCS_RING_POS32) || ATOMIC_LLONG_LOCK_FREE != 2
#define RING_POS32 1
typedef uint32_t pub_t;
_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "ivcs_ring needs lock-free 32-bit atomics");
#else
#define RING_POS32 0
typedef uint64_t pub_t;
#endif
_Static_assert(IVCS_RING_MAX_CAPACITY <= (1ull << 31), "head - tail fits a 32-bit word");

struct ivcs_ring_s {
    /* Line 0: written by init only, then read by both threads: never bounces. */
    uint8_t *buf;
    uint64_t cap;     /* data bytes, a power of two */
    uint64_t mask;    /* cap - 1 */
    uint64_t max_rec; /* largest record (header + padded payload): cap / 2 */

    /* Line 1: head, written by the producer on every commit, read by the
     * consumer only when it runs out of records it already knows about. */
    alignas(CACHE_LINE) _Atomic pub_t head; /* end of the published bytes */

    /* Line 2: the producer's private state. Not on head's line: the consumer
     * polling head must not pull it away between reserve and commit. */
    alignas(CACHE_LINE) uint64_t p_tail; /* tail as last loaded (<= the real one) */
    uint64_t p_head;                     /* head, exact (this thread writes it) */
    uint64_t res_pos;                    /* position of the reserved record's header */
    uint64_t res_size;                   /* bytes reserved; 0 when no reservation is open */
    uint64_t res_len;                    /* payload bytes promised to the caller */

    /* Line 3: tail, written by the consumer on release, read by the producer
     * only when its copy says the ring is full. */
    alignas(CACHE_LINE) _Atomic pub_t tail; /* everything before is free */

    /* Line 4: the consumer's private state. */
    alignas(CACHE_LINE) uint64_t c_head; /* head as last loaded (<= the real one) */
    uint64_t c_tail;                     /* tail, exact (this thread writes it) */
    uint64_t rd;                         /* read cursor, in [tail, c_head] */

    /* Line 5: set by the consumer around a sleep, read by the producer on
     * every commit. Its own line so setting it does not steal the hot ones. */
    alignas(CACHE_LINE) _Atomic uint32_t sleeping;
};

_Static_assert(offsetof(struct ivcs_ring_s, head) == 1 * CACHE_LINE, "head on its own line");
_Static_assert(offsetof(struct ivcs_ring_s, p_tail) == 2 * CACHE_LINE, "producer state apart");
_Static_assert(offsetof(struct ivcs_ring_s, tail) == 3 * CACHE_LINE, "tail on its own line");
_Static_assert(offsetof(struct ivcs_ring_s, c_head) == 4 * CACHE_LINE, "consumer state apart");
_Static_assert(offsetof(struct ivcs_ring_s, sleeping) == 5 * CACHE_LINE, "flag on its own line");
_Static_assert(sizeof(struct ivcs_ring_s) % IVCS_RING_MEM_ALIGN == 0, "data stays aligned");
_Static_assert(IVCS_RING_MEM_ALIGN >= CACHE_LINE, "lines need line alignment");
_Static_assert(offsetof(ivcs_ring_rec_s, kind) + sizeof(uint16_t) <= IVCS_RING_ALIGN,
               "a pad marker fits in the smallest gap before the end (8 bytes)");

static int valid_capacity(size_t c)
{
    return c >= IVCS_RING_MIN_CAPACITY && c <= IVCS_RING_MAX_CAPACITY && (c & (c - 1)) == 0;
}

size_t ivcs_ring_mem_size(size_t capacity)
{
    return valid_capacity(capacity) ? sizeof(struct ivcs_ring_s) + capacity : 0;
}

size_t ivcs_ring_capacity_for(size_t mem_len)
{
    if (mem_len < sizeof(struct ivcs_ring_s) + IVCS_RING_MIN_CAPACITY) return 0;
    size_t room = mem_len - sizeof(struct ivcs_ring_s);
    size_t c = IVCS_RING_MAX_CAPACITY;
    while (c > room)
        c >>= 1;
    return c;
}

int ivcs_ring_init(ivcs_ring_s **out, void *mem, size_t mem_len, size_t capacity)
{
    if (!out) return IVCS_ERR_INVALID_ARG;
    *out = NULL;
    if (!mem || (uintptr_t)mem % IVCS_RING_MEM_ALIGN != 0 || !valid_capacity(capacity) ||
        mem_len < ivcs_ring_mem_size(capacity))
        return IVCS_ERR_INVALID_ARG;
    ivcs_ring_s *r = mem;
    r->buf = (uint8_t *)mem + sizeof(struct ivcs_ring_s);
    r->cap = capacity;
    r->mask = capacity - 1;
    r->max_rec = capacity / 2;
    /* Plain initialisation: the caller publishes the ring to the two
     * threads with its own synchronisation (thread creation, a mutex). */
    atomic_init(&r->head, 0);
    r->p_tail = 0;
    r->p_head = 0;
    r->res_pos = 0;
    r->res_size = 0;
    r->res_len = 0;
    atomic_init(&r->tail, 0);
    r->c_head = 0;
    r->c_tail = 0;
    r->rd = 0;
    atomic_init(&r->sleeping, 0);
    *out = r;
    return 0;
}

/* ---------------------------------------------------------------- producer */

/* Marks [p, end of buffer) as padding. Only the first 8 bytes are written:
 * the gap may be that small, and the consumer looks at nothing else. */
static void write_pad(uint8_t *p, uint64_t room)
{
    ivcs_ring_rec_s pad = {.len = (uint32_t)room, .kind = KIND_PAD};
    memcpy(p, &pad, IVCS_RING_ALIGN);
}

int ivcs_ring_reserve(ivcs_ring_s *r, size_t len, void **payload)
{
    if (!payload) return IVCS_ERR_INVALID_ARG;
    *payload = NULL;
    if (!r) return IVCS_ERR_INVALID_ARG;
    r->res_size = 0; /* forget any earlier reservation: nothing of it was published */
    if (len > r->max_rec - IVCS_RING_HDR_SIZE) return IVCS_ERR_FRAME_TOO_BIG;

    uint64_t size = ivcs_ring_record_size(len);
    uint64_t head = r->p_head;
    uint64_t room = r->cap - (head & r->mask); /* contiguous bytes before the end */
    /* Not contiguous before the end: pad the end and start at offset 0. With
     * size <= cap / 2 this always fits in an emptied ring: either size <= room,
     * or room < cap / 2 and room + size < cap. */
    uint64_t need = size <= room ? size : room + size;
    if (head + need - r->p_tail > r->cap) {
        /* acquire: pairs with the release store of tail in ivcs_ring_release,
         * so the consumer's last reads of the bytes it freed happen before
         * our writes into them. */
        pub_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
        r->p_tail = head - (pub_t)((pub_t)head - t);
        if (head + need - r->p_tail > r->cap) return IVCS_ERR_BUFFER_FULL;
    }
    uint64_t at = head;
    if (size > room) {
        write_pad(r->buf + (head & r->mask), room);
        at += room;
    }
    r->res_pos = at;
    r->res_size = size;
    r->res_len = len;
    *payload = r->buf + (at & r->mask) + IVCS_RING_HDR_SIZE;
    return 0;
}

int ivcs_ring_commit(ivcs_ring_s *r, const ivcs_ring_rec_s *rec)
{
    if (!r || !rec) return IVCS_ERR_INVALID_ARG;
    if (r->res_size == 0) return IVCS_ERR_STATE;
    if (rec->len > r->res_len) return IVCS_ERR_INVALID_ARG;
    uint64_t size = ivcs_ring_record_size(rec->len);

    ivcs_ring_rec_s h = *rec;
    h.kind = KIND_RECORD;
    memcpy(r->buf + (r->res_pos & r->mask), &h, sizeof h);
    uint64_t end = r->res_pos + size;
    r->res_size = 0;
    r->p_head = end;

    /* seq_cst (a release store and more): as a release it publishes the
     * header, payload and any padding written above to a consumer that loads
     * head with acquire. As seq_cst it is one half of the Dekker pair: it and
     * the seq_cst load of `sleeping` below are ordered (store before load,
     * the one reordering release/acquire allow), against the consumer's
     * seq_cst store of `sleeping` then seq_cst load of head in
     * ivcs_ring_prepare_sleep. In the single total order of seq_cst
     * operations one of the two stores comes first, so the other side's load
     * sees it: the consumer sees this record, or we see its flag. (seq_cst
     * accesses rather than fences: same cost on x86, cheaper on ARMv8, and
     * ThreadSanitizer understands them.) */
    atomic_store_explicit(&r->head, (pub_t)end, memory_order_seq_cst);
    /* seq_cst: the load half of the pair above. */
    if (atomic_load_explicit(&r->sleeping, memory_order_seq_cst) == 0) return 0;
    /* relaxed: the flag guards no data (the consumer reloads head itself);
     * the exchange only decides which commit pays for the eventfd write. */
    return atomic_exchange_explicit(&r->sleeping, 0, memory_order_relaxed) != 0;
}

int ivcs_ring_push(ivcs_ring_s *r, const ivcs_ring_rec_s *rec, const void *data)
{
    if (!rec || (rec->len && !data)) return IVCS_ERR_INVALID_ARG;
    void *p;
    int rc = ivcs_ring_reserve(r, rec->len, &p);
    if (rc < 0) return rc;
    if (rec->len) memcpy(p, data, rec->len);
    return ivcs_ring_commit(r, rec);
}

/* ---------------------------------------------------------------- consumer */

/* The consumer's 64-bit head for a published value (see pub_t). */
static inline uint64_t widen_head(const ivcs_ring_s *r, pub_t h)
{
    return r->c_tail + (pub_t)(h - (pub_t)r->c_tail);
}

/* Reloads the consumer's copy of head. */
static uint64_t load_head(ivcs_ring_s *r)
{
    /* acquire: pairs with the store of head in ivcs_ring_commit, so every
     * record before the loaded head is fully visible to our reads. */
    r->c_head = widen_head(r, atomic_load_explicit(&r->head, memory_order_acquire));
    return r->c_head;
}

/* 1 if pos <= head, reloading head only when the copy is behind pos. */
static int head_covers(ivcs_ring_s *r, uint64_t pos)
{
    return pos <= r->c_head || pos <= load_head(r);
}

/* A position the consumer may use: 8-aligned, in [tail, head]. */
static int consumer_pos_ok(ivcs_ring_s *r, uint64_t pos)
{
    return (pos & (IVCS_RING_ALIGN - 1)) == 0 && pos >= r->c_tail && head_covers(r, pos);
}

static uint16_t kind_at(const uint8_t *p)
{
    uint16_t kind;
    memcpy(&kind, p + offsetof(ivcs_ring_rec_s, kind), sizeof kind);
    return kind;
}

int ivcs_ring_peek(ivcs_ring_s *r, uint64_t pos, ivcs_ring_view_s *v)
{
    if (!r || !v) return IVCS_ERR_INVALID_ARG;
    if (!consumer_pos_ok(r, pos)) return IVCS_ERR_INVALID_ARG;
    if (pos == r->c_head && pos == load_head(r)) return 0; /* nothing new */

    uint64_t off = pos & r->mask;
    if (kind_at(r->buf + off) == KIND_PAD) {
        /* Padding is published in the same commit as the record after it. */
        pos += r->cap - off;
        off = 0;
    }
    if (r->cap - off < IVCS_RING_HDR_SIZE) return IVCS_ERR_INVALID_ARG;
    const ivcs_ring_rec_s *h = (const ivcs_ring_rec_s *)(const void *)(r->buf + off);
    uint64_t next = pos + ivcs_ring_record_size(h->len);
    if (h->kind != KIND_RECORD || h->len > r->max_rec || next > r->c_head)
        return IVCS_ERR_INVALID_ARG; /* pos was not the start of a record */
    v->rec = h;
    v->data = (const uint8_t *)h + IVCS_RING_HDR_SIZE;
    v->pos = pos;
    v->next = next;
    return 1;
}

int ivcs_ring_next(ivcs_ring_s *r, ivcs_ring_view_s *v)
{
    if (!r) return IVCS_ERR_INVALID_ARG;
    int rc = ivcs_ring_peek(r, r->rd, v);
    if (rc == 1) r->rd = v->next;
    return rc;
}

uint64_t ivcs_ring_read_pos(const ivcs_ring_s *r)
{
    return r->rd;
}

int ivcs_ring_seek(ivcs_ring_s *r, uint64_t pos)
{
    if (!r || !consumer_pos_ok(r, pos)) return IVCS_ERR_INVALID_ARG;
    r->rd = pos;
    return 0;
}

int ivcs_ring_release(ivcs_ring_s *r, uint64_t up_to)
{
    if (!r || !consumer_pos_ok(r, up_to)) return IVCS_ERR_INVALID_ARG;
    if (r->rd < up_to) r->rd = up_to;
    /* release: every read of the freed records (the header reads above and
     * the caller's uses of its views) happens before the producer's acquire
     * load of tail, hence before it writes new records there. */
    r->c_tail = up_to;
    atomic_store_explicit(&r->tail, (pub_t)up_to, memory_order_release);
    return 0;
}

uint64_t ivcs_ring_release_pos(const ivcs_ring_s *r)
{
    return r->c_tail;
}

size_t ivcs_ring_unread(const ivcs_ring_s *r)
{
    /* relaxed: a count, no record is read on the strength of it; a later
     * load of head in this thread never returns less than c_head >= rd. */
    return (size_t)(widen_head(r, atomic_load_explicit(&r->head, memory_order_relaxed)) - r->rd);
}

int ivcs_ring_prepare_sleep(ivcs_ring_s *r)
{
    /* seq_cst store then seq_cst load: the consumer's half of the Dekker
     * pair described in ivcs_ring_commit. Either this load sees the head of
     * a commit that missed our flag, or that commit's load sees the flag. */
    atomic_store_explicit(&r->sleeping, 1, memory_order_seq_cst);
    /* seq_cst implies acquire: it also makes the records before head
     * visible, so c_head may be updated. */
    r->c_head = widen_head(r, atomic_load_explicit(&r->head, memory_order_seq_cst));
    if (r->c_head == r->rd) return 0;
    /* relaxed: the flag guards no data; a producer that already claimed it
     * causes one spurious wake-up, nothing worse. */
    atomic_store_explicit(&r->sleeping, 0, memory_order_relaxed);
    return 1;
}

void ivcs_ring_cancel_sleep(ivcs_ring_s *r)
{
    /* relaxed: see ivcs_ring_prepare_sleep. */
    atomic_store_explicit(&r->sleeping, 0, memory_order_relaxed);
}

/* ---------------------------------------------------------------- either */

size_t ivcs_ring_capacity(const ivcs_ring_s *r)
{
    return (size_t)r->cap;
}

size_t ivcs_ring_max_payload(const ivcs_ring_s *r)
{
    return (size_t)(r->max_rec - IVCS_RING_HDR_SIZE);
}

size_t ivcs_ring_used(const ivcs_ring_s *r)
{
    /* acquire on tail, then head: the consumer loaded a head >= tail before
     * storing tail (release), so after our acquire our head load cannot
     * return less than tail. Relaxed on head: nothing is read through it.
     * From a third thread head may have moved on past tail + cap: clamp.
     * The difference of the published words is the difference of the
     * positions (fewer than 2^32 bytes go by between the two loads). */
    pub_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    pub_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint64_t used = (pub_t)(head - tail);
    return (size_t)(used > r->cap ? r->cap : used);
}

size_t ivcs_ring_free(const ivcs_ring_s *r)
{
    return (size_t)r->cap - ivcs_ring_used(r);
}

uint64_t ivcs_ring_head_pos(const ivcs_ring_s *r)
{
    /* acquire: a caller may peek up to the position it returns. */
    return widen_head(r, atomic_load_explicit(&r->head, memory_order_acquire));
}

uint64_t ivcs_ring_pushed_pos(const ivcs_ring_s *r)
{
    return r->p_head;
}
