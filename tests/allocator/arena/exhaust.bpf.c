/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/* Fill the heap, give everything back, then take it whole. */
#include "arena_test.h"

#define SMALL 2048	/* blocks per page: 2 */

/* vdoctor-test: expect 0 since 6.9 */
SEC("xdp")
int exhaust_and_reuse(struct xdp_md *ctx)
{
	char __heap *blocks[2 * (STATIC_MALLOC_HEAP_SIZE / 4096)];
	const int n = 2 * (STATIC_MALLOC_HEAP_SIZE / 4096);
	char __heap *p, *whole;
	int i;

	for (i = 0; i < n; i++) {
		p = static_malloc(SMALL);
		CHECK(1, p != NULL);
		CHECK(2, ((__u64)p & 7) == 0);
		p[0] = i;
		p[SMALL - 1] = i;
		blocks[i] = p;
	}
	CHECK(3, static_malloc(16) == NULL);		/* full */
	CHECK(4, static_malloc(0) == NULL);
	for (i = 0; i < n; i++)
		CHECK(5, blocks[i][0] == (char)i && blocks[i][SMALL - 1] == (char)i);
	CHECK_HEAP(6);
	for (i = 0; i < n; i++)
		static_free(blocks[i]);
	CHECK_HEAP(7);
	whole = static_malloc(STATIC_MALLOC_HEAP_SIZE);	/* empty slabs went back */
	CHECK(8, whole != NULL);
	whole[STATIC_MALLOC_HEAP_SIZE - 1] = 1;
	CHECK(9, static_malloc(1) == NULL);
	static_free(whole);
	CHECK(10, static_malloc(STATIC_MALLOC_HEAP_SIZE + 1) == NULL);
	p = static_malloc(0);				/* a unique 16-byte block */
	whole = static_malloc(0);
	CHECK(11, p != NULL && whole != NULL && p != whole);
	static_free(p);
	static_free(whole);
	CHECK_HEAP(12);
	return 0;
}
