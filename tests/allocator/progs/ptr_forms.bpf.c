/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * static_ptr on every form of pointer (static_malloc.h, API): a pointer the
 * verifier still tracks (a local from static_malloc, the head of a list
 * built in a loop), one loaded from memory (n->next), NULL, and pointers
 * that are not into the heap (a number, the stack, the context), which give
 * NULL back; in loops and across function calls.
 */
#include "sm_test.h"

struct node {
	__u64 value;
	struct node __heap *next;
};

#define LEN 20

__u64 stored_head;

/* Sum of the values of the list at n, followed with static_ptr. */
static __always_inline __u64 walk_sum(struct node __heap *n)
{
	__u64 sum = 0;
	int i;

	for (i = 0; i < LEN + 1 && n; i++) {
		sum += n->value;
		n = static_ptr(n->next);
	}
	return sum;
}

/* The list walked in a function of its own: head arrives as a pointer the
 * verifier tracks (a static subprogram keeps the register's type). */
static __attribute__((noinline)) __u64 sum_list(struct node __heap *head)
{
	return walk_sum(static_ptr(head));
}

/* The same walk from a number (a global function's argument is a scalar). */
__attribute__((noinline)) __u64 sum_list_global(__u64 head)
{
	return walk_sum(static_ptr((struct node __heap *)head));
}

/* vdoctor-test: expect 0 */
SEC("xdp")
int ptr_forms(struct xdp_md *ctx)
{
	struct node __heap *head = NULL, *n, *next, *p;
	struct static_malloc_stats after;
	__u64 stack_word = 7;
	int i;

	/* the list: b->next = head; head = b; in a loop */
	for (i = 1; i <= LEN; i++) {
		n = static_malloc(sizeof(*n));
		CHECK(1, n != NULL);
		n->value = i;
		n->next = head;
		head = n;
	}
	/* a tracked pointer, walked here, in a static function and in a global one */
	p = static_ptr(head);
	CHECK(2, p != NULL && p == head);	/* 5.10 learns nothing from p == head */
	CHECK(3, p->value == LEN);
	CHECK(4, walk_sum(static_ptr(head)) == LEN * (LEN + 1) / 2);
	CHECK(5, sum_list(head) == LEN * (LEN + 1) / 2);
	/* a global function takes numbers only: the head goes through memory */
	*(volatile __u64 *)&stored_head = (__u64)head;
	CHECK(6, sum_list_global(*(volatile __u64 *)&stored_head) == LEN * (LEN + 1) / 2);
	/* a tracked pointer of every node, in a loop (static_ptr of static_ptr);
	 * static_ptr may return NULL, so its result is checked before ->next */
	n = static_ptr(head);
	for (i = 0; i < LEN + 1 && n; i++) {
		p = static_ptr(n);
		n = p ? static_ptr(p->next) : NULL;
	}
	CHECK(7, n == NULL && i == LEN);
	/* NULL and what is not in the heap */
	CHECK(8, static_ptr((struct node __heap *)NULL) == NULL);
	CHECK(9, static_ptr((struct node __heap *)0x1000) == NULL);
	CHECK(10, static_ptr((struct node __heap *)~0ULL) == NULL);
	CHECK(11, static_ptr((struct node __heap *)&stack_word) == NULL);
	CHECK(12, static_ptr((struct node __heap *)ctx) == NULL);
	/* an interior pointer into a block is still a heap pointer */
	CHECK(13, static_ptr_sized((__u64 __heap *)&head->next, 8) == (__u64 __heap *)&head->next);
	/* free through static_ptr while walking */
	n = static_ptr(head);
	for (i = 0; i < LEN + 1 && n; i++) {
		next = static_ptr(n->next);
		static_free(n);
		n = next;
	}
	CHECK_HEAP(14);
	CHECK(15, snap(&after) == 0 && after.bytes_in_use == 0 && after.rejected_frees == 0);
	return 0;
}
