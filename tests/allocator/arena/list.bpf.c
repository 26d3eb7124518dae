/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/* The user's own style: a linked list followed with plain ->next, no static_ptr. */
#include "arena_test.h"

struct node {
	__u64 value;
	struct node __heap *next;
};

#define LEN 50

/* After list_keep: the list's head, and an arena address in its user form
 * (its upper 32 bits are those of libbpf's mapping of the arena), for user
 * space to walk the list through the arena's mmap. */
__u64 kept_head;
__u64 heap_user;
__u64 __heap anchor;

static __always_inline struct node __heap *build(int len)
{
	struct node __heap *head = NULL, *n;
	int i;

	for (i = 1; i <= len; i++) {
		n = static_malloc(sizeof(*n));
		if (!n)
			return NULL;
		n->value = i;
		n->next = head;
		head = n;
	}
	return head;
}

/* vdoctor-test: expect 0 since 6.9 */
SEC("xdp")
int list_walk(struct xdp_md *ctx)
{
	struct node __heap *head, *n, *next;
	__u64 sum = 0, count = 0;
	int i;

	head = build(LEN);
	CHECK(1, head != NULL);
	for (n = head, i = 0; n && i < LEN + 1; n = n->next, i++) {
		sum += n->value;
		count++;
	}
	CHECK(2, count == LEN);
	CHECK(3, sum == LEN * (LEN + 1) / 2);
	CHECK_HEAP(4);
	for (n = head, i = 0; n && i < LEN + 1; n = next, i++) {
		next = n->next;
		static_free(n);
	}
	CHECK_HEAP(5);
	return 0;
}

/* vdoctor-test: expect 0 since 6.9 */
SEC("tc")
int list_keep(struct __sk_buff *skb)
{
	struct node __heap *head;

	if (kept_head)
		return 0;	/* one list per load: user space reads it */
	head = build(LEN);
	CHECK(1, head != NULL);
	kept_head = (__u64)head;
	heap_user = (__u64)&anchor;
	return 0;
}
