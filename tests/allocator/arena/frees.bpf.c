/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/* Misuse on purpose: double, interior and foreign frees are counted and ignored. */
#include "arena_test.h"

char __heap outside[64];	/* arena memory, but not the heap */

/* vdoctor-test: expect 0 since 6.9 */
SEC("xdp")
int frees_misuse(struct xdp_md *ctx)
{
	struct static_malloc_stats *s = stats(), before;
	__u64 __heap *a, *b, *big, *again;

	CHECK(1, s != NULL);
	before = *s;
	static_free(NULL);	/* nothing at all */
	a = static_malloc(64);
	b = static_malloc(64);
	big = static_malloc(3 * 4096);
	CHECK(2, a && b && big);
	a[0] = 1;
	b[0] = 2;
	static_free(a);
	static_free(a);				/* double */
	static_free((char __heap *)b + 8);	/* interior */
	static_free((char __heap *)big + 4096);	/* a tail page of a big block */
	static_free(outside);			/* arena, not heap */
	static_free((void __heap *)0x1234);	/* nowhere */
	CHECK(3, s->rejected_frees - before.rejected_frees == 5);
	CHECK(4, s->frees - before.frees == 1);
	CHECK_HEAP(5);
	CHECK(6, b[0] == 2);			/* b is still live and intact */
	again = static_malloc(64);
	CHECK(7, again == a);			/* a's block was freed exactly once */
	CHECK(8, again != b);
	static_free(again);
	static_free(b);
	static_free(big);
	static_free(big);			/* double, of a big block */
	CHECK(9, s->rejected_frees - before.rejected_frees == 6);
	CHECK(10, s->bytes_in_use == before.bytes_in_use);
	CHECK_HEAP(11);
	return 0;
}
