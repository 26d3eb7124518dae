/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/* One half of a link (bpftool gen object): this object holds the heap. */
#include "arena_test.h"

struct pair {
	__u64 value;
	struct pair __heap *other;
};

__attribute__((noinline)) int link_b_side(struct pair __heap *p __arg_arena);

SEC("xdp")
int link_main(struct xdp_md *ctx)
{
	struct pair __heap *p = static_malloc(sizeof(*p));
	struct static_malloc_stats *counters;

	CHECK(1, p != NULL);
	p->value = 7;
	p->other = NULL;
	CHECK(2, link_b_side(p) == 0);		/* b allocates from the same heap */
	CHECK(3, p->other && p->other->value == 8);
	static_free(p->other);
	static_free(p);
	CHECK_HEAP(4);
	/* One lookup, checked: 6.12's verifier takes every array lookup for a possible NULL,
	 * even with a constant key in range, so a second call would need its own check. */
	counters = stats();
	CHECK(5, counters && counters->bytes_in_use == 0);
	return 0;
}
