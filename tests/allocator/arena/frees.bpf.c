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

/* The walker sees damage to the metadata (written here on purpose, then undone). */
/* vdoctor-test: expect 0 since 6.9 */
SEC("tc")
int check_sees_damage(struct __sk_buff *skb)
{
	struct __sm_arena __heap *a = &__sm_heap_arena;
	__u64 __heap *p = static_malloc(64);
	__u32 page, next;
	int ret = 0;

	CHECK(1, p != NULL);
	CHECK_HEAP(2);
	page = ((__u64)p - (__u32)(__u64)&a->data[0]) / 4096;
	a->page[page].count++;				/* free count vs bitmap */
	if (static_malloc_check() != 4)
		ret = 3;
	a->page[page].count--;
	a->page[page].bits[3] ^= 1;			/* a clear bit past the page's blocks ... */
	a->page[page].count++;				/* ... with the count kept right */
	if (!ret && static_malloc_check() != 5)
		ret = 4;
	a->page[page].bits[3] ^= 1;
	a->page[page].count--;
	next = a->page[page].next;
	a->page[page].next = page + 1;			/* a list that loops on itself */
	if (!ret && static_malloc_check() != 6)
		ret = 5;
	a->page[page].next = next;
	a->lock = bpf_get_smp_processor_id() + 1;	/* busy: held by a program this one interrupted */
	if (!ret && static_malloc_check() != 8)
		ret = 6;
	a->lock = 0;
	static_free(p);
	CHECK_HEAP(7);
	return ret;
}
