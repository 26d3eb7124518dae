/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * The per-CPU cache of freed small blocks (blocks of 16..128 bytes, at most
 * __SM_DEPTH of one size, STATIC_MALLOC_CACHE_BYTES in all): LIFO reuse,
 * misuse of a parked block, a full cache, and a heap that needs the parked
 * blocks back.
 */
#include "sm_test.h"

#define SMALL 40			/* a 48-byte block: cached */

/* vdoctor-test: expect 0 */
SEC("xdp")
int cache_reuse_and_misuse(struct xdp_md *ctx)
{
	struct static_malloc_stats s0, s1;
	__u64 *a, *b, off;
	int i;

	CHECK(1, snap(&s0) == 0);
	a = static_malloc(SMALL);
	CHECK(2, a != NULL);
	off = heap_off(a);
	static_free(a);				/* parked on this CPU */
	b = static_malloc(SMALL);
	CHECK(3, b != NULL);
	CHECK(4, heap_off(b) == off);		/* the parked block came back */
	static_free(b);
	static_free(b);				/* double free of a parked block */
	CHECK(5, snap(&s1) == 0);
	CHECK(6, s1.rejected_frees - s0.rejected_frees == 1);
	CHECK(7, static_realloc(b, 2 * SMALL) == NULL);	/* realloc of a parked block */
	CHECK(8, snap(&s1) == 0);
	CHECK(9, s1.rejected_frees - s0.rejected_frees == 2);
	/* calloc takes the dirty parked block and still zeroes it */
	a = static_malloc(SMALL);
	CHECK(10, a != NULL);
	for (i = 0; i < SMALL / 8; i++)
		a[i] = ~0ULL;
	static_free(a);
	b = static_calloc(SMALL / 8, 8);
	CHECK(11, b != NULL);
	CHECK(12, heap_off(b) == off);
	for (i = 0; i < SMALL / 8; i++)
		CHECK(13, b[i] == 0);
	static_free(b);
	CHECK_HEAP(14);
	CHECK(15, snap(&s1) == 0);
	CHECK(16, s1.bytes_in_use == s0.bytes_in_use);
	CHECK(17, s1.allocations - s0.allocations == s1.frees - s0.frees);
	return 0;
}

#define MANY 8				/* more than __SM_DEPTH of one size */

/* vdoctor-test: expect 0 */
SEC("xdp")
int cache_full_then_heap(struct xdp_md *ctx)
{
	__u64 *p[MANY], offs[MANY];
	int i, j;

	for (i = 0; i < MANY; i++) {
		p[i] = static_malloc(SMALL);
		CHECK(1, p[i] != NULL);
		*p[i] = i;
		offs[i] = heap_off(p[i]);
	}
	for (i = 0; i < MANY; i++)		/* __SM_DEPTH parked, the rest to the heap */
		static_free(p[i]);
	CHECK_HEAP(2);
	for (i = 0; i < MANY; i++) {
		p[i] = static_malloc(SMALL);
		CHECK(3, p[i] != NULL);
	}
	for (i = 0; i < MANY; i++)		/* no block handed out twice */
		for (j = i + 1; j < MANY; j++)
			CHECK(4, heap_off(p[i]) != heap_off(p[j]));
	for (i = 0; i < MANY; i++)
		static_free(p[i]);
	CHECK_HEAP(5);
	return 0;
}

/* vdoctor-test: expect 0 */
SEC("xdp")
int cache_flushed_when_heap_is_short(struct xdp_md *ctx)
{
	__u64 *p[4], *all;
	int i;

	for (i = 0; i < 4; i++) {
		p[i] = static_malloc(SMALL);
		CHECK(1, p[i] != NULL);
	}
	for (i = 0; i < 4; i++)			/* all four parked */
		static_free(p[i]);
	/* the whole heap: only possible once the parked blocks are merged back */
	all = static_malloc(STATIC_MALLOC_HEAP_SIZE - 8);
	CHECK(2, all != NULL);
	all[0] = 1;
	static_free(all);
	CHECK_HEAP(3);
	return 0;
}
