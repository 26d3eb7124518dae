/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * The allocator called from a function nested three deep (static_malloc.h,
 * LIMITS: its calls take up to 4 of the verifier's 8 call frames).
 */
#include "sm_test.h"

static __attribute__((noinline)) int depth3(int n)
{
	__u64 *p = static_malloc(200), *q;

	if (!p)
		return 1;
	p[0] = n;
	q = static_realloc(p, 400);
	if (!q)
		return 2;
	static_free(q);
	q = static_calloc(2, 300);
	if (!q)
		return 3;
	static_free(q);
	return static_malloc_check();
}

static __attribute__((noinline)) int depth2(int n)
{
	return depth3(n + 1);
}

static __attribute__((noinline)) int depth1(int n)
{
	return depth2(n + 1);
}

/* vdoctor-test: expect 0 */
SEC("xdp")
int frames_nested(struct xdp_md *ctx)
{
	return depth1(0);
}
