/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/* Misuse on purpose: double, interior and foreign frees are counted and ignored. */
#include "sm_test.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64[8]);
} other SEC(".maps");

/* vdoctor-test: expect 0 */
SEC("xdp")
int frees_rejected(struct xdp_md *ctx)
{
	struct static_malloc_stats s0, s1;
	__u64 *a, *b, *c, *foreign, stack[4] = {};
	__u32 k = 0;

	CHECK(1, snap(&s0) == 0);
	a = static_malloc(64);
	b = static_malloc(64);
	CHECK(2, a && b);
	a[0] = 11;
	b[0] = 22;
	static_free(a);
	static_free(a);				/* double free */
	static_free((__u8 *)b + 8);		/* interior pointer */
	static_free((__u8 *)b + 3);		/* misaligned interior pointer */
	foreign = bpf_map_lookup_elem(&other, &k);
	CHECK(3, foreign != NULL);
	static_free(foreign);			/* another map's memory */
	static_free(stack);			/* the stack */
	CHECK(4, snap(&s1) == 0);
	CHECK(5, s1.rejected_frees - s0.rejected_frees == 5);
	CHECK(6, s1.frees - s0.frees == 1);
	CHECK_HEAP(7);
	/* b is intact and still live; a's block is reusable exactly once */
	CHECK(8, b[0] == 22);
	c = static_malloc(64);
	CHECK(9, c != NULL);
	CHECK(10, heap_off(c) != heap_off(b));
	static_free(b);
	static_free(c);
	static_free(b);				/* double free after reuse */
	CHECK(11, snap(&s1) == 0);
	CHECK(12, s1.rejected_frees - s0.rejected_frees == 6);
	CHECK(13, s1.bytes_in_use == s0.bytes_in_use);
	CHECK_HEAP(14);
	/* realloc of a freed pointer is rejected too, and returns NULL */
	CHECK(15, static_realloc(c, 128) == NULL);
	CHECK(16, snap(&s1) == 0);
	CHECK(17, s1.rejected_frees - s0.rejected_frees == 7);
	CHECK_HEAP(18);
	return 0;
}

/* vdoctor-test: expect 0 */
SEC("xdp")
int frees_scribbled_header(struct xdp_md *ctx)
{
	struct static_malloc_stats s0, s1;
	__u64 *a, *b;

	/* the user overwrites b's payload with a fake header for an address
	 * inside it, then frees that address: the live bitmap refuses it */
	CHECK(1, snap(&s0) == 0);
	a = static_malloc(64);
	b = static_malloc(64);
	CHECK(2, a && b);
	b[0] = 0;				/* fake prev_phys */
	b[1] = 48;				/* fake size, "allocated" */
	static_free(&b[2]);
	CHECK(3, snap(&s1) == 0);
	CHECK(4, s1.rejected_frees - s0.rejected_frees == 1);
	static_free(a);
	static_free(b);
	CHECK_HEAP(5);
	CHECK(6, snap(&s1) == 0);
	CHECK(7, s1.bytes_in_use == s0.bytes_in_use);
	return 0;
}

/* vdoctor-test: expect 0 */
SEC("xdp")
int check_detects_corruption(struct xdp_md *ctx)
{
	__u64 *a, *b;
	__u32 saved;

	/* the invariant walker must notice a broken header, and the heap
	 * must work again once it is repaired */
	a = static_malloc(64);
	b = static_malloc(64);
	CHECK(1, a && b);
	CHECK_HEAP(2);
	saved = ((__u32 *)b)[-1];		/* b's size | flags */
	((__u32 *)b)[-1] = 24;
	CHECK(3, static_malloc_check() != 0);
	((__u32 *)b)[-1] = saved;
	CHECK_HEAP(4);
	static_free(a);
	static_free(b);
	CHECK_HEAP(5);
	return 0;
}
