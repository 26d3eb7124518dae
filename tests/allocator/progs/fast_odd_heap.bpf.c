/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * The fast slots with a heap whose size is not a power of two (12 KiB):
 * its cache budget (768 bytes) holds the slots of 16..104-byte blocks, so
 * a 104-byte block is parked in its slot and a 112-byte one goes to the
 * deeper cache; free's range test is a branch here, and it refuses an
 * interior and a misaligned pointer. Returns 0, or the number of the failed
 * check.
 */
#define STATIC_MALLOC_HEAP_SIZE (12 * 1024)
#include "sm_test.h"

_Static_assert(__SM_FAST_K == 13, "a 768-byte cache budget holds thirteen fast slots");

/* vdoctor-test: expect 0 */
SEC("xdp")
int fast_slots_odd_heap(struct xdp_md *ctx)
{
	struct __sm_cpu *c = __sm_get_cpu();
	struct static_malloc_stats s0, s1;
	__u64 *a, *b, oa;

	CHECK(1, c != NULL);
	a = static_malloc(96);			/* a 104-byte block, k = 13 */
	b = static_malloc(104);			/* 112 bytes, k = 14: no slot */
	CHECK(2, a && b);
	oa = heap_off(a);
	static_free(a);
	CHECK(3, c->fast[12] == oa);
	static_free(b);
	CHECK(4, c->fast[13] == 0);
	CHECK_HEAP(5);
	a = static_malloc(96);
	CHECK(6, a && heap_off(a) == oa && c->fast[12] == 0);
	/* an interior and a misaligned pointer into a live block: refused,
	 * counted, and the slot stays empty */
	CHECK(7, snap(&s0) == 0);
	static_free((char *)a + 8);
	static_free((char *)a + 4);
	CHECK(8, snap(&s1) == 0 && s1.rejected_frees - s0.rejected_frees == 2);
	CHECK(9, c->fast[12] == 0);
	static_free(a);
	CHECK(10, c->fast[12] == oa);
	CHECK_HEAP(11);
	return 0;
}
