/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/* The user's case done right: a linked list in the heap, followed with static_ptr. */
#include "sm_test.h"

struct node {
	__u64 value;
	struct node __heap *next;
};

#define LEN 50

/* vdoctor-test: expect 0 */
SEC("xdp")
int list_follow(struct xdp_md *ctx)
{
	struct node __heap *head = NULL, *n, *next;
	struct static_malloc_stats after;
	__u64 sum = 0, count = 0;
	int i;

	for (i = 1; i <= LEN; i++) {
		n = static_malloc(sizeof(*n));
		CHECK(1, n != NULL);
		n->value = i;
		n->next = head;
		head = n;
	}
	/* walk: every n->next is a scalar to the verifier until static_ptr */
	n = head;
	for (i = 0; i < LEN + 1 && n; i++) {
		sum += n->value;
		count++;
		n = static_ptr(n->next);
	}
	CHECK(2, count == LEN);
	CHECK(3, sum == LEN * (LEN + 1) / 2);
	/* static_ptr refuses what is not in the heap */
	CHECK(4, static_ptr((struct node *)0x1000) == NULL);
	CHECK(5, static_ptr((struct node *)~0ULL) == NULL);
	/* free while walking */
	n = head;
	for (i = 0; i < LEN + 1 && n; i++) {
		next = static_ptr(n->next);
		static_free(n);
		n = next;
	}
	CHECK_HEAP(6);
	CHECK(7, snap(&after) == 0 && after.bytes_in_use == 0);
	return 0;
}
