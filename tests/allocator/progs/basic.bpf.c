/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/* malloc/free basics: alignment, reuse, malloc(0), too large, free(NULL). */
#include "sm_test.h"

struct pair {
	__u64 a;
	__u32 b;
	__u8 c;
};

/* vdoctor-test: expect 0 */
SEC("xdp")
int basic_malloc_free(struct xdp_md *ctx)
{
	struct static_malloc_stats s0, s1;
	struct pair *p, *q;
	__u64 off;

	CHECK(1, snap(&s0) == 0);
	p = static_malloc(sizeof(*p));
	CHECK(2, p != NULL);
	p->a = 0x1122334455667788ULL;
	p->b = 7;
	p->c = 9;
	CHECK(3, p->a == 0x1122334455667788ULL && p->b == 7 && p->c == 9);
	off = heap_off(p);
	CHECK(4, (off & 7) == 0);		/* 8-byte aligned */
	CHECK_HEAP(5);
	static_free(p);
	CHECK_HEAP(6);
	/* freed memory is reused: the same block comes back */
	q = static_malloc(sizeof(*q));
	CHECK(7, q != NULL);
	CHECK(8, heap_off(q) == off);
	static_free(q);
	CHECK(9, snap(&s1) == 0);
	CHECK(10, s1.allocations - s0.allocations == 2);
	CHECK(11, s1.frees - s0.frees == 2);
	CHECK(12, s1.bytes_in_use == s0.bytes_in_use);
	CHECK(13, s1.rejected_frees == s0.rejected_frees);
	CHECK(14, s1.peak_bytes >= 16);
	return 0;
}

/* vdoctor-test: expect 0 */
SEC("xdp")
int basic_malloc_zero(struct xdp_md *ctx)
{
	void *a, *b;

	/* documented: malloc(0) returns a unique non-NULL pointer */
	a = static_malloc(0);
	b = static_malloc(0);
	CHECK(1, a != NULL);
	CHECK(2, b != NULL);
	CHECK(3, heap_off(a) != heap_off(b));
	*(__u64 *)a = 1;			/* 8 usable bytes */
	*(__u64 *)b = 2;
	CHECK(4, *(__u64 *)a == 1);
	static_free(a);
	static_free(b);
	CHECK_HEAP(5);
	return 0;
}

/* vdoctor-test: expect 0 */
SEC("xdp")
int basic_too_large(struct xdp_md *ctx)
{
	struct static_malloc_stats s0, s1;
	volatile __u64 huge = ~0ULL;

	CHECK(1, snap(&s0) == 0);
	CHECK(2, static_malloc(STATIC_MALLOC_HEAP_SIZE + 1) == NULL);
	CHECK(3, static_malloc(STATIC_MALLOC_HEAP_SIZE) == NULL);	/* header needs 8 */
	CHECK(4, static_malloc(huge) == NULL);
	CHECK(5, static_malloc(1ULL << 32) == NULL);
	CHECK(6, snap(&s1) == 0);
	CHECK(7, s1.failed_allocations - s0.failed_allocations == 4);
	CHECK(8, s1.allocations == s0.allocations);
	CHECK_HEAP(9);
	return 0;
}

/* vdoctor-test: expect 0 */
SEC("xdp")
int basic_free_null(struct xdp_md *ctx)
{
	struct static_malloc_stats s0, s1;

	CHECK(1, snap(&s0) == 0);
	static_free(NULL);
	CHECK(2, snap(&s1) == 0);
	CHECK(3, s1.frees == s0.frees && s1.rejected_frees == s0.rejected_frees);
	CHECK_HEAP(4);
	return 0;
}

/* vdoctor-test: expect 0 */
SEC("xdp")
int basic_runtime_size(struct xdp_md *ctx)
{
	/* a size the verifier does not know: [p, p + 8) is accessible */
	__u64 n = bpf_get_prandom_u32() & 255;
	__u64 *p = static_malloc(n);

	CHECK(1, p != NULL);
	*p = n;
	CHECK(2, *p == n);
	static_free(p);
	CHECK_HEAP(3);
	return 0;
}
