/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * Issue 21, point 7: the allocator in plain C loops, as a user writes them.
 * A list of LOOP_N nodes built, walked and freed. The including file defines LOOP_N
 * (default 1000) and, for the arena backend, STATIC_MALLOC_ARENA.
 * Each program returns 0, or the number of the check that failed.
 */
#ifndef LOOP_N
#define LOOP_N 1000
#endif
#ifndef STATIC_MALLOC_HEAP_SIZE
#define STATIC_MALLOC_HEAP_SIZE (256 * 1024)
#endif
#include "static_malloc.h"

static __always_inline struct static_malloc_stats *loop_stats(void)
{
	__u32 k = 0;

	return bpf_map_lookup_elem(&static_stats, &k);
}

/* This CPU's bytes in use (the tests run each program on one CPU). */
static __always_inline __u64 in_use(void)
{
	struct static_malloc_stats *s = loop_stats();

	return s ? s->bytes_in_use : ~0ULL;
}

struct node {
	__u64 value;
	struct node __heap *next;
};

/* vdoctor-test: expect 0 */
SEC("xdp")
int list_loops(struct xdp_md *ctx)
{
	struct node __heap *head = NULL, *n, *next;
	__u64 sum = 0, before = in_use();
	int i;

	for (i = 0; i < LOOP_N; i++) {
		n = static_malloc(sizeof(*n));
		if (!n)
			return 1;
		n->value = i + 1;
		n->next = head;
		head = n;
	}
	n = head;
	for (i = 0; i < LOOP_N && n; i++) {
		sum += n->value;
		n = static_ptr(n->next);
	}
	if (n || sum != (__u64)LOOP_N * (LOOP_N + 1) / 2)
		return 2;
	n = head;
	for (i = 0; i < LOOP_N && n; i++) {
		next = static_ptr(n->next);
		static_free(n);
		n = next;
	}
	if (n)
		return 3;
	if (in_use() != before)
		return 4;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
