/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/* Exhaust the heap with 64-byte blocks, free them all, take the whole heap. */
#define STATIC_MALLOC_CHECK_MAX 1024	/* it fills the heap with small blocks */
#include "sm_test.h"

struct blk {
	struct blk *next;
	__u64 body[7];
};

#define BLOCK_NEED (sizeof(struct blk) + 8)
#define MAX_BLOCKS (STATIC_MALLOC_HEAP_SIZE / BLOCK_NEED)

/* vdoctor-test: expect 0 */
SEC("xdp")
int exhaust_and_recover(struct xdp_md *ctx)
{
	struct static_malloc_stats s0, s1;
	struct blk *head = NULL, *b, *n;
	__u64 *all;
	int i, count = 0, freed = 0;

	CHECK(1, snap(&s0) == 0);
	CHECK(2, s0.bytes_in_use == 0);
	for (i = 0; i < MAX_BLOCKS + 8; i++) {
		b = static_malloc(sizeof(*b));
		if (!b)
			break;
		b->next = head;
		b->body[6] = i;
		head = b;
		count++;
	}
	CHECK(3, count == MAX_BLOCKS);
	CHECK(4, static_malloc(sizeof(struct blk)) == NULL);	/* full */
	CHECK_HEAP(5);
	/* free them all, following the list with static_ptr */
	b = head;
	for (i = 0; i < MAX_BLOCKS + 8 && b; i++) {
		n = static_ptr(b->next);
		CHECK(6, b->body[6] == count - 1 - i);
		static_free(b);
		freed++;
		b = n;
	}
	CHECK(7, freed == count);
	CHECK_HEAP(8);
	/* full recovery: all of it coalesced back into one block */
	all = static_malloc(STATIC_MALLOC_HEAP_SIZE - 8);
	CHECK(9, all != NULL);
	all[0] = 1;
	all[(STATIC_MALLOC_HEAP_SIZE - 8) / 8 - 1] = 2;
	CHECK(10, static_malloc(0) == NULL);
	static_free(all);
	CHECK_HEAP(11);
	CHECK(12, snap(&s1) == 0);
	CHECK(13, s1.bytes_in_use == 0);
	CHECK(14, s1.allocations - s0.allocations == s1.frees - s0.frees);
	CHECK(15, s1.peak_bytes >= STATIC_MALLOC_HEAP_SIZE - 8);
	return 0;
}
