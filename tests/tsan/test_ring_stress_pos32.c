/* test_ring_stress_pos32.c - test_ring_stress.c against the ring in the
 * form it has on targets without lock-free 64-bit atomics (32-bit MIPS):
 * head and tail published as 32-bit words and widened by each side
 * (engine/ring/ring.c, pub_t), forced here with IVCS_RING_POS32 so
 * ThreadSanitizer checks its orderings on whatever target runs the tests.
 * The ring's functions come from the included ring.c. */
#define IVCS_RING_POS32 1
#include "engine/ring/ring.c"

_Static_assert(sizeof(((struct ivcs_ring_s *)0)->head) == 4, "32-bit published head");

#include "test_ring_stress.c"
