/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * static_malloc_check() names each broken invariant: the program breaks the
 * free lists' links, a bitmap, the lists' count and this CPU's cache, one
 * at a time, asks the walker for the rule's number, and repairs the heap;
 * and STATIC_MALLOC_DEBUG (sm_test.h) records a rule an allocator call saw.
 * Returns 0, or the number of the failed check.
 */
#include "sm_test.h"

_Static_assert(600 + 8 > __SM_BIG_MAX, "the blocks of this test are not cached");

#define HEAP_U32(o) (*(__u32 *)(h->mem + ((o) & (STATIC_MALLOC_HEAP_SIZE - 4))))

/* vdoctor-test: expect 0 */
SEC("xdp")
int check_rules(struct xdp_md *ctx)
{
	struct __sm_heap *h = __sm_get_heap();
	struct __sm_cpu *c = __sm_get_cpu();
	__u64 *a, *b, *m, *d, *e, *x, ob, od;
	__u32 saved, bits;

	CHECK(1, h && c);
	/* five blocks not cached (above the largest slot, __SM_BIG_MAX); b and d
	 * freed: one list, d -> b */
	a = static_malloc(600);
	b = static_malloc(600);
	m = static_malloc(600);
	d = static_malloc(600);
	e = static_malloc(600);
	CHECK(2, a && b && m && d && e);
	static_free(b);
	static_free(d);
	CHECK_HEAP(3);
	ob = heap_off(b);
	od = heap_off(d);
	CHECK(4, ob < STATIC_MALLOC_HEAP_SIZE && od < STATIC_MALLOC_HEAP_SIZE);

	/* 11: a back link that names the wrong node */
	saved = HEAP_U32(ob + 4);
	HEAP_U32(ob + 4) = 8;
	CHECK(5, static_malloc_check() == 11);
	HEAP_U32(ob + 4) = saved;
	CHECK_HEAP(6);

	/* 12: the bit of an empty list (list 0: no block is that small) */
	bits = h->sl_map[0];
	h->sl_map[0] = bits | 1;
	CHECK(7, static_malloc_check() == 12);
	h->sl_map[0] = bits;
	CHECK_HEAP(8);

	/* STATIC_MALLOC_DEBUG: any allocator call on a broken heap keeps the rule */
	h->sl_map[0] = bits | 1;
	static_free(NULL);
	h->sl_map[0] = bits;
	if (c->debug_rule != 12)
		return 16;
	c->debug_rule = 0;
	CHECK_HEAP(17);

	/* 13: b dropped from its list (d's link to it cut), bits still right */
	saved = HEAP_U32(od);
	CHECK(9, saved == ob);
	HEAP_U32(od) = 0;
	CHECK(10, static_malloc_check() == 13);
	HEAP_U32(od) = saved;
	CHECK_HEAP(11);

	/* 14: this CPU's cache: a parked block's bytes miscounted */
	x = static_malloc(64);
	CHECK(12, x != NULL);
	static_free(x);
	c->bytes += 8;
	CHECK(13, static_malloc_check() == 14);
	c->bytes -= 8;
	CHECK_HEAP(14);

	/* 14 too: a fast slot that names a block not parked (b is free) */
	saved = c->fast[(64 + 8) / 8 - 1];
	c->fast[(64 + 8) / 8 - 1] = ob;
	CHECK(18, static_malloc_check() == 14);
	c->fast[(64 + 8) / 8 - 1] = saved;
	CHECK_HEAP(19);

	static_free(a);
	static_free(m);
	static_free(e);
	CHECK_HEAP(15);
	return 0;
}
