/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/* calloc zeroes reused blocks and refuses overflow; realloc keeps contents. */
#include "arena_test.h"

/* vdoctor-test: expect 0 since 6.9 */
SEC("xdp")
int calloc_zeroes(struct xdp_md *ctx)
{
	__u64 __heap *p, *q;
	int i;

	p = static_malloc(256);
	CHECK(1, p != NULL);
	for (i = 0; i < 32; i++)
		p[i] = ~0ULL;
	static_free(p);
	q = static_calloc(32, 8);
	CHECK(2, q == p);			/* the same block, reused */
	for (i = 0; i < 32; i++)
		CHECK(3, q[i] == 0);
	static_free(q);
	CHECK(4, static_calloc(1ULL << 33, 1ULL << 33) == NULL);	/* overflows */
	CHECK(5, static_calloc(STATIC_MALLOC_HEAP_SIZE, 2) == NULL);	/* more than the heap */
	q = static_calloc(0, 8);		/* like malloc(0): a unique block */
	CHECK(6, q != NULL);
	static_free(q);
	CHECK_HEAP(7);
	return 0;
}

/* vdoctor-test: expect 0 since 6.9 */
SEC("tc")
int realloc_keeps(struct __sk_buff *skb)
{
	struct static_malloc_stats *s = stats();
	__u64 __heap *p, *q, *r;
	__u64 in_use;
	int i;

	CHECK(1, s != NULL);
	in_use = s->bytes_in_use;
	p = static_realloc(NULL, 40);		/* realloc(NULL, n) is malloc(n) */
	CHECK(2, p != NULL);
	for (i = 0; i < 5; i++)
		p[i] = 100 + i;
	q = static_realloc(p, 48);		/* same 64-byte block: in place */
	CHECK(3, q == p);
	r = static_realloc(q, 5000);		/* grows into two pages */
	CHECK(4, r != NULL && r != q);
	for (i = 0; i < 5; i++)
		CHECK(5, r[i] == 100 + i);
	r[600] = 7;
	q = static_realloc(r, 100);		/* shrinks: moves to a small block */
	CHECK(6, q != NULL);
	for (i = 0; i < 5; i++)
		CHECK(7, q[i] == 100 + i);
	p = static_realloc(q, 2 * STATIC_MALLOC_HEAP_SIZE);	/* fails ... */
	CHECK(8, p == NULL);
	CHECK(9, q[4] == 104);			/* ... and q is untouched */
	CHECK(10, static_realloc(q, 0) == NULL);	/* frees q */
	CHECK(11, s->bytes_in_use == in_use);
	CHECK(12, static_realloc((void __heap *)0x40, 8) == NULL);	/* not from the heap */
	CHECK_HEAP(13);
	return 0;
}
