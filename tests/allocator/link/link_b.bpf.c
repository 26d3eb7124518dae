/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/* The other half of link_a.bpf.c: the program, which uses both objects' code. */
#include "sm_test.h"

extern __u64 link_a_alloc(__u64 tag);
extern __u64 link_a_tag(__u64 off);
extern __u64 link_a_free(__u64 off);

/* Run by tests/test_allocator.py on the linked object only. */
SEC("xdp")
int link_main(struct xdp_md *ctx)
{
	struct static_malloc_stats s0, s1;
	struct __sm_heap *h;
	__u64 a_off, *a, *b;

	CHECK(1, snap(&s0) == 0);
	a_off = link_a_alloc(0x5a5a);		/* a block from link_a's code */
	CHECK(2, a_off != 0);
	b = static_malloc(64);			/* and one from this object's */
	CHECK(3, b != NULL);
	b[0] = 0xb0b0;
	b[7] = 0xb0b0;
	CHECK(4, heap_off(b) != a_off);		/* one heap: never the same block */
	CHECK(5, link_a_tag(a_off) == 0x5a5a);	/* b's writes did not land in a */
	CHECK(6, link_a_tag(heap_off(b)) == 0xb0b0); /* link_a sees b's block */
	h = __sm_get_heap();
	CHECK(7, h != NULL);
	a = __sm_bound(h, a_off, 64);
	CHECK(8, a != NULL && a[0] == 0x5a5a);
	static_free(a);				/* allocated there, freed here */
	CHECK(9, link_a_free(heap_off(b)) == 0);	/* and the other way round */
	CHECK(10, snap(&s1) == 0);
	CHECK(11, s1.allocations - s0.allocations == 2);
	CHECK(12, s1.frees - s0.frees == 2);
	CHECK(13, s1.rejected_frees == s0.rejected_frees);
	CHECK(14, s1.bytes_in_use == s0.bytes_in_use);
	CHECK_HEAP(15);
	return 0;
}
