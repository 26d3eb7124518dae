/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * A 1 MiB heap: the whole of it in one block, then 64 blocks of 16,000
 * bytes in a list followed with static_ptr, freed, and the whole heap again
 * (the frees merged it back into one block).
 */
#define STATIC_MALLOC_HEAP_SIZE (1024 * 1024)
#define SM_TEST_NO_DEBUG	/* a 1 MiB walk after every call: CHECK_HEAP instead */
#include "sm_test.h"

#define BIG	16000
#define COUNT	64

struct chunk {
	struct chunk __heap *next;
	__u64 words[BIG / 8 - 1];
};

/* vdoctor-test: expect 0 */
SEC("xdp")
int big_heap(struct xdp_md *ctx)
{
	struct chunk __heap *head = NULL, *n, *next;
	__u64 *all;
	int i, count = 0;

	all = static_malloc(STATIC_MALLOC_HEAP_SIZE - 8);
	CHECK(1, all != NULL);
	all[0] = 1;
	all[(STATIC_MALLOC_HEAP_SIZE - 16) / 8] = 2;	/* the heap's last word */
	CHECK(2, static_malloc(8) == NULL);		/* nothing left */
	static_free(all);
	CHECK_HEAP(3);
	for (i = 0; i < COUNT; i++) {
		n = static_malloc(sizeof(*n));
		if (!n)
			break;
		n->next = head;
		n->words[BIG / 8 - 2] = i;		/* the block's last word */
		head = n;
		count++;
	}
	CHECK(4, count == COUNT);
	CHECK_HEAP(5);
	n = static_ptr(head);
	for (i = 0; i < COUNT + 1 && n; i++) {
		if (n->words[BIG / 8 - 2] != COUNT - 1 - i)
			return 6;
		next = static_ptr(n->next);
		static_free(n);
		n = next;
	}
	CHECK(7, i == COUNT);
	CHECK_HEAP(8);
	all = static_malloc(STATIC_MALLOC_HEAP_SIZE - 8);
	CHECK(9, all != NULL);
	static_free(all);
	CHECK_HEAP(10);
	return 0;
}
