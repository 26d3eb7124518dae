/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * The fast slots (the per-CPU cache's first level, inline at each call
 * site) with a heap whose size is a power of two and all sixteen slots:
 * a freed small block lands in its size's slot and the next malloc of that
 * size takes it back; a full slot sends the next free to the deeper cache;
 * interior and out-of-heap offsets are refused; and a program that finds
 * this CPU's guard taken (as one that interrupts an allocator call does)
 * neither takes nor parks a block, fails its malloc, sends its free to the
 * heap, counts both in `contended`, and leaves the guard as it found it.
 * Returns 0, or the number of the failed check.
 */
#define STATIC_MALLOC_HEAP_SIZE 65536
#include "sm_test.h"

_Static_assert(__SM_FAST_K == 16, "the 64 KiB heap has all sixteen fast slots");

#define SMALL 40	/* a 48-byte block: k = 6, fast[5] */
#define SLOT 5

/* vdoctor-test: expect 0 */
SEC("xdp")
int fast_slots_and_guard(struct xdp_md *ctx)
{
	struct __sm_cpu *c = __sm_get_cpu();
	struct static_malloc_stats s0, s1;
	__u64 *a, *b, *x, oa, ob;

	CHECK(1, c != NULL);
	c->fast[SLOT] = 0;
	a = static_malloc(SMALL);
	b = static_malloc(SMALL);
	CHECK(2, a && b);
	oa = heap_off(a);
	ob = heap_off(b);
	static_free(a);
	CHECK(3, c->fast[SLOT] == oa);		/* parked in its slot */
	static_free(b);				/* slot full: the deeper cache */
	CHECK(4, c->fast[SLOT] == oa);
	CHECK_HEAP(5);
	x = static_malloc(SMALL);
	CHECK(6, x && heap_off(x) == oa);	/* the slot's block came back */
	CHECK(7, c->fast[SLOT] == 0);
	static_free(x);
	CHECK(8, c->fast[SLOT] == oa);
	static_free(x);				/* a parked block freed again */
	CHECK(9, c->fast[SLOT] == oa);
	CHECK_HEAP(10);
	/* an interior and a misaligned pointer: refused, slot unchanged */
	CHECK(24, snap(&s0) == 0);
	x = static_malloc(SMALL);
	CHECK(25, x && c->fast[SLOT] == 0);
	static_free((char *)x + 8);
	static_free((char *)x + 4);
	CHECK(26, snap(&s1) == 0 && s1.rejected_frees - s0.rejected_frees == 2);
	CHECK(27, c->fast[SLOT] == 0);
	static_free(x);
	CHECK(28, c->fast[SLOT] == oa);

	/* the guard taken: nothing moves in or out of the slot */
	CHECK(11, snap(&s0) == 0);
	x = static_malloc(2 * SMALL);		/* live, from the heap */
	CHECK(12, x != NULL);
	c->guard = 1;
	a = static_malloc(SMALL);
	CHECK(13, a == NULL);
	CHECK(14, c->fast[SLOT] == oa && c->guard == 1);
	static_free(x);				/* to the heap, not parked */
	CHECK(15, c->guard == 1);
	c->guard = 0;
	CHECK(16, snap(&s1) == 0);
	CHECK(17, s1.contended - s0.contended == 2);
	CHECK(18, s1.frees - s0.frees == 1 && s1.failed_allocations == s0.failed_allocations);
	CHECK_HEAP(19);
	x = static_malloc(2 * SMALL);		/* x went back to the heap: here again */
	CHECK(20, x != NULL);
	static_free(x);
	CHECK_HEAP(21);
	x = static_malloc(SMALL);
	CHECK(22, x && heap_off(x) == oa);
	static_free(x);
	CHECK_HEAP(23);
	return 0;
}

/*
 * The slots of larger blocks (129..1024 bytes with this heap's 2 KiB cache
 * budget, in the global functions): a freed 200-byte request's block waits
 * in big[0] and comes back only to a malloc of exactly its size; its
 * range's slot full, the next goes to the heap; a parked one freed again or
 * realloc'ed is refused; blocks above the last range go to the heap; and a
 * malloc that finds the heap short takes the parked ones back.
 */
/* vdoctor-test: expect 0 */
SEC("xdp")
int big_slots(struct xdp_md *ctx)
{
	struct __sm_cpu *c = __sm_get_cpu();
	struct static_malloc_stats s0, s1;
	__u64 *a, *b, *x, *all, oa;

	CHECK(1, c != NULL);
	CHECK(2, __SM_BIG_N == 3);
	c->big[0] = 0;
	a = static_malloc(200);			/* a 208-byte block: big[0] */
	b = static_malloc(200);
	CHECK(3, a && b);
	oa = heap_off(a);
	static_free(a);
	CHECK(4, c->big[0] == oa);
	static_free(b);				/* big[0] full: to the heap */
	CHECK(5, c->big[0] == oa);
	CHECK_HEAP(6);
	x = static_malloc(208);			/* same range, another size: not it */
	CHECK(7, x && heap_off(x) != oa && c->big[0] == oa);
	static_free(x);
	CHECK(8, snap(&s0) == 0);
	static_free(a);				/* parked: a double free */
	CHECK(9, static_realloc(a, 300) == NULL);
	CHECK(10, snap(&s1) == 0 && s1.rejected_frees - s0.rejected_frees == 2);
	x = static_malloc(200);
	CHECK(11, x && heap_off(x) == oa && c->big[0] == 0);
	static_free(x);
	CHECK(12, c->big[0] == oa);
	x = static_malloc(1500);		/* above big[2]'s range */
	CHECK(13, x != NULL);
	static_free(x);
	CHECK(14, c->big[3] == 0);
	CHECK_HEAP(15);
	/* 14: a big slot that names a block not parked */
	c->big[1] = heap_off(b);
	CHECK(16, static_malloc_check() == 14);
	c->big[1] = 0;
	CHECK_HEAP(17);
	/* the whole heap: the parked block must come back first */
	all = static_malloc(STATIC_MALLOC_HEAP_SIZE - 8);
	CHECK(18, all != NULL && c->big[0] == 0);
	static_free(all);
	CHECK_HEAP(19);
	return 0;
}
