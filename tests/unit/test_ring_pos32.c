/* test_ring_pos32.c - the ring as it is built for targets without lock-free
 * 64-bit atomics (32-bit MIPS): positions published as 32-bit words and
 * widened by each side (engine/ring/ring.c, pub_t). IVCS_RING_POS32 forces
 * that form here, on whatever target runs the tests, and all of
 * test_ring.c runs against it, including positions_cross_the_32_bit_wrap
 * (2^32 bytes through a 64 KiB ring). The ring's functions come from the
 * included ring.c, so the copy in libivcs.a is not linked. */
#define IVCS_RING_POS32 1
#include "engine/ring/ring.c"

/* The form under test is the 32-bit one. */
_Static_assert(sizeof(((struct ivcs_ring_s *)0)->head) == 4, "32-bit published head");
_Static_assert(sizeof(((struct ivcs_ring_s *)0)->tail) == 4, "32-bit published tail");

#include "test_ring.c"
