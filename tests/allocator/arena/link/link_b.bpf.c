/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/* The other half: it refers to link_a's heap instead of bringing a copy. */
#define STATIC_MALLOC_ARENA_EXTERN
#define ARENA_TEST_NO_LICENSE
#include "arena_test.h"

struct pair {
	__u64 value;
	struct pair __heap *other;
};

__attribute__((noinline)) int link_b_side(struct pair __heap *p __arg_arena)
{
	struct pair __heap *q = static_malloc(sizeof(*q));

	if (!q)
		return 1;
	q->value = p->value + 1;
	q->other = p;
	p->other = q;
	return 0;
}
