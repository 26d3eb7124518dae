/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/* calloc zeroing (also of reused blocks) and overflow; realloc in every case. */
/* The checks below name where blocks land (in place, right after), which
 * holds on a heap without blocks parked in the per-CPU cache; cache.bpf.c
 * tests the cache. */
#define STATIC_MALLOC_CACHE_BYTES 0
#include "sm_test.h"

#define N 200

/* vdoctor-test: expect 0 */
SEC("xdp")
int calloc_zero_after_reuse(struct xdp_md *ctx)
{
	__u8 *p, *q;
	__u64 off;
	int i;

	p = static_malloc(N);
	CHECK(1, p != NULL);
	for (i = 0; i < N; i++)
		p[i] = 0xab;
	off = heap_off(p);
	static_free(p);
	q = static_calloc(N / 4, 4);
	CHECK(2, q != NULL);
	CHECK(3, heap_off(q) == off);		/* the dirty block came back */
	for (i = 0; i < N; i++)
		CHECK(4, q[i] == 0);
	static_free(q);
	/* a large calloc goes through the 64-byte loop and its 8-byte tail */
	p = static_malloc(1000);
	CHECK(5, p != NULL);
	for (i = 0; i < 1000; i += 8)
		*(__u64 *)(p + i) = ~0ULL;
	static_free(p);
	q = static_calloc(1, 1000);
	CHECK(6, q != NULL);
	for (i = 0; i < 1000; i += 8)
		CHECK(7, *(__u64 *)(q + i) == 0);
	static_free(q);
	CHECK_HEAP(8);
	return 0;
}

/* vdoctor-test: expect 0 */
SEC("xdp")
int calloc_overflow(struct xdp_md *ctx)
{
	struct static_malloc_stats s0, s1;
	volatile __u64 big = 1ULL << 32;
	void *p;

	CHECK(1, snap(&s0) == 0);
	CHECK(2, static_calloc(big, big) == NULL);		/* 2^64 wraps to 0 */
	CHECK(3, static_calloc(~0ULL, 2) == NULL);
	CHECK(4, static_calloc(2, ~0ULL / 2 + 1) == NULL);	/* product wraps to 0 */
	CHECK(5, static_calloc(STATIC_MALLOC_HEAP_SIZE, 2) == NULL);
	CHECK(6, snap(&s1) == 0);
	CHECK(7, s1.failed_allocations - s0.failed_allocations == 4);
	p = static_calloc(0, 16);				/* like malloc(0) */
	CHECK(8, p != NULL);
	static_free(p);
	CHECK_HEAP(9);
	return 0;
}

/* vdoctor-test: expect 0 */
SEC("xdp")
int realloc_cases(struct xdp_md *ctx)
{
	struct static_malloc_stats s0, s1;
	__u64 *p, *q, *blocker, off;
	int i;

	CHECK(1, snap(&s0) == 0);
	/* realloc(NULL, n) is malloc(n) */
	p = static_realloc(NULL, 32);
	CHECK(2, p != NULL);
	for (i = 0; i < 4; i++)
		p[i] = 100 + i;
	off = heap_off(p);
	/* grow in place: the space after p is free */
	q = static_realloc(p, 64);
	CHECK(3, q != NULL);
	CHECK(4, heap_off(q) == off);
	for (i = 0; i < 4; i++)
		CHECK(5, q[i] == 100 + i);
	for (i = 4; i < 8; i++)
		q[i] = 100 + i;
	/* grow by moving: a live block sits right after */
	blocker = static_malloc(8);
	CHECK(6, blocker != NULL);
	CHECK(7, heap_off(blocker) == off + 64 + 8);
	p = static_realloc(q, 256);
	CHECK(8, p != NULL);
	CHECK(9, heap_off(p) != off);
	for (i = 0; i < 8; i++)
		CHECK(10, p[i] == 100 + i);
	/* shrink in place keeps the prefix */
	q = static_realloc(p, 24);
	CHECK(11, q != NULL);
	CHECK(12, heap_off(q) == heap_off(p));
	for (i = 0; i < 3; i++)
		CHECK(13, q[i] == 100 + i);
	CHECK_HEAP(14);
	/* failure leaves the block valid and untouched */
	p = static_realloc(q, STATIC_MALLOC_HEAP_SIZE * 2);
	CHECK(15, p == NULL);
	p = static_realloc(q, STATIC_MALLOC_HEAP_SIZE - 64);	/* fits no free block */
	CHECK(16, p == NULL);
	for (i = 0; i < 3; i++)
		CHECK(17, q[i] == 100 + i);
	CHECK_HEAP(18);
	/* realloc(p, 0) frees and returns NULL */
	CHECK(19, static_realloc(q, 0) == NULL);
	static_free(blocker);
	CHECK_HEAP(20);
	CHECK(21, snap(&s1) == 0);
	CHECK(22, s1.bytes_in_use == s0.bytes_in_use);
	CHECK(23, s1.allocations - s0.allocations == 3);	/* malloc, blocker, move */
	CHECK(24, s1.frees - s0.frees == 3);			/* move, realloc 0, blocker */
	CHECK(25, s1.rejected_frees == s0.rejected_frees);
	return 0;
}

/* vdoctor-test: expect 0 */
SEC("xdp")
int realloc_big_move(struct xdp_md *ctx)
{
	__u64 *p, *q, *blocker;
	int i;

	/* 600 bytes: two whole 256-byte copy steps and an 88-byte tail */
	p = static_malloc(600);
	CHECK(1, p != NULL);
	for (i = 0; i < 75; i++)
		p[i] = 0x5000 + i;
	blocker = static_malloc(8);
	CHECK(2, blocker != NULL);
	q = static_realloc(p, 1200);
	CHECK(3, q != NULL);
	CHECK(4, heap_off(q) != heap_off(p));
	for (i = 0; i < 75; i++)
		CHECK(5, q[i] == 0x5000 + i);
	q[149] = 1;				/* the new end is usable */
	static_free(q);
	static_free(blocker);
	CHECK_HEAP(6);
	return 0;
}
