/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * One program that exercises a heap variant end to end; included by
 * percpu.bpf.c and nolock.bpf.c after they pick their configuration.
 */
/* Its loops of ~700 calls are too many branches for the verifier with a
 * walker call after each; it checks the heap at every step instead. */
#define STATIC_MALLOC_CHECK_MAX 1024	/* it fills the heap with small blocks */
/* 8 KiB: a loop of one call per 24 bytes of heap stays within the 8192 jumps
 * that 5.10 to 6.12 follow without a pruning point. */
#ifndef STATIC_MALLOC_HEAP_SIZE
#define STATIC_MALLOC_HEAP_SIZE 8192
#endif
#define SM_TEST_NO_DEBUG
#include "sm_test.h"

struct vnode {
	__u64 value;
	struct vnode __heap *next;
};

static __always_inline int variant_suite(void)
{
	struct static_malloc_stats s0, s1;
	struct vnode __heap *head = NULL, *n, *next;
	__u64 sum = 0, *big, *z;
	int i, count = 0;

	CHECK(1, snap(&s0) == 0);
	CHECK(2, s0.bytes_in_use == 0);
	/* fill the heap with a list, then walk and free it */
	for (i = 0; i < STATIC_MALLOC_HEAP_SIZE / 24 + 2; i++) {
		n = static_malloc(sizeof(*n));
		if (!n)
			break;
		n->value = i;
		n->next = head;
		head = n;
		count++;
	}
	CHECK(3, count == STATIC_MALLOC_HEAP_SIZE / 24);
	CHECK_HEAP(4);
	n = head;
	for (i = 0; i < STATIC_MALLOC_HEAP_SIZE / 24 + 2 && n; i++) {
		sum += n->value;
		next = static_ptr(n->next);
		static_free(n);
		n = next;
	}
	CHECK(5, sum == (__u64)count * (count - 1) / 2);
	CHECK_HEAP(6);
	/* whole heap again, calloc zeroes it, double free ignored */
	big = static_malloc(STATIC_MALLOC_HEAP_SIZE - 8);
	CHECK(7, big != NULL);
	big[0] = 5;
	static_free(big);
	static_free(big);
	z = static_calloc(4, 8);
	CHECK(8, z != NULL);
	CHECK(9, z[0] == 0 && z[3] == 0);
	z = static_realloc(z, 64);
	CHECK(10, z != NULL);
	static_free(z);
	CHECK_HEAP(11);
	CHECK(12, snap(&s1) == 0);
	CHECK(13, s1.bytes_in_use == 0);
	CHECK(14, s1.rejected_frees - s0.rejected_frees == 1);
	CHECK(15, s1.allocations - s0.allocations == (__u64)count + 2);
	CHECK(16, s1.frees - s0.frees == (__u64)count + 2);
	CHECK(17, s1.contended == s0.contended);
	return 0;
}
