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
