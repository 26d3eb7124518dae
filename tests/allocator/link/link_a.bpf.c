/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * One of two objects that both include static_malloc.h and are linked with
 * `bpftool gen object linked.o link_a.o link_b.o` (tests/test_allocator.py).
 * The header's maps and functions are weak, so the linked object has one
 * heap: a block one object allocates is freed by the other, and the two
 * never hand out the same block. Both must use the same configuration.
 */
#define STATIC_MALLOC_HEAP_SIZE 16384
#include "static_malloc.h"

/* Global (not static) functions: link_b.bpf.c calls them by name. They take
 * and return heap offsets, as a global BPF function returns only numbers. */
__attribute__((noinline)) __u64 link_a_alloc(__u64 tag)
{
	struct __sm_heap *h = __sm_get_heap();
	__u64 *p = static_malloc(64);

	if (!p || !h)
		return 0;
	p[0] = tag;
	p[7] = tag;
	return __sm_offset(h, p);
}

/* The tag of the block at off, 0 if its two copies disagree. */
__attribute__((noinline)) __u64 link_a_tag(__u64 off)
{
	struct __sm_heap *h = __sm_get_heap();
	__u64 *p;

	if (!h)
		return 0;
	p = __sm_bound(h, off, 64);
	if (!p)
		return 0;
	return p[0] == p[7] ? p[0] : 0;
}

__attribute__((noinline)) __u64 link_a_free(__u64 off)
{
	struct __sm_heap *h = __sm_get_heap();
	__u64 *p;

	if (!h)
		return 1;
	p = __sm_bound(h, off, 8);
	if (!p)
		return 1;
	static_free(p);
	return 0;
}
