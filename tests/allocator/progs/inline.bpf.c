/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * STATIC_MALLOC_INLINE: the per-CPU cache's fast paths at the call site.
 * The same contract as the default build: reuse, a rejected double free of
 * a parked block, an interior free, a run-time size, counters that add up.
 */
#define STATIC_MALLOC_INLINE
#include "sm_test.h"

#define ROUNDS 64

/* vdoctor-test: expect 0 */
SEC("xdp")
int inline_pairs(struct xdp_md *ctx)
{
	struct static_malloc_stats s0, s1;
	__u64 *p, first = 0;
	int i;

	CHECK(1, snap(&s0) == 0);
#pragma clang loop unroll(disable)
	for (i = 0; i < ROUNDS; i++) {
		p = static_malloc(64);
		CHECK(2, p != NULL);
		p[0] = i;
		p[7] = i;
		if (i == 0)
			first = heap_off(p);
		else
			CHECK(3, heap_off(p) == first);	/* the parked block, every time */
		static_free(p);
	}
	CHECK(4, snap(&s1) == 0);
	CHECK(5, s1.allocations - s0.allocations == ROUNDS);
	CHECK(6, s1.frees - s0.frees == ROUNDS);
	CHECK(7, s1.bytes_in_use == s0.bytes_in_use);
	CHECK_HEAP(8);
	return 0;
}

/* vdoctor-test: expect 0 */
SEC("xdp")
int inline_misuse(struct xdp_md *ctx)
{
	struct static_malloc_stats s0, s1;
	volatile __u64 runtime_size = 24;
	__u64 *a, *b, *c;

	CHECK(1, snap(&s0) == 0);
	a = static_malloc(40);
	CHECK(2, a != NULL);
	static_free(a);				/* parked */
	static_free(a);				/* double free: rejected */
	b = static_malloc(40);
	CHECK(3, b != NULL && b == a);		/* 5.10 and 6.1 learn nothing from b == a */
	static_free((__u8 *)b + 8);		/* interior pointer: rejected */
	static_free(NULL);			/* nothing */
	c = static_malloc(runtime_size);	/* a size the verifier does not know */
	CHECK(4, c != NULL);
	c[0] = 1;				/* [c, c + 8) is always allowed */
	static_free(c);
	static_free(b);
	CHECK(5, snap(&s1) == 0);
	CHECK(6, s1.rejected_frees - s0.rejected_frees == 2);
	CHECK(7, s1.bytes_in_use == s0.bytes_in_use);
	CHECK(8, s1.allocations - s0.allocations == s1.frees - s0.frees);
	CHECK_HEAP(9);
	return 0;
}
