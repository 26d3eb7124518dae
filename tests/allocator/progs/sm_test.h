/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * Shared helpers of the allocator's in-kernel tests.
 *
 * Every program tagged `vdoctor-test: expect 0` returns 0 when all of its
 * checks pass and the number of the first failing check otherwise, so a
 * failure names the check. Results come back through return values and the
 * `static_stats` map, never trace_pipe.
 */
#ifndef SM_TEST_H
#define SM_TEST_H

#ifndef STATIC_MALLOC_HEAP_SIZE
#define STATIC_MALLOC_HEAP_SIZE 16384
#endif
/* The walker's verifier cost is ~250 insns per block it may walk, in every
 * program that calls it: most tests hold few blocks (a program that fills
 * the heap with small blocks defines more before including this). */
#ifndef STATIC_MALLOC_CHECK_MAX
#define STATIC_MALLOC_CHECK_MAX 128
#endif
/* The heap walker after every allocator call, unless a test breaks the heap
 * on purpose (SM_TEST_NO_DEBUG). */
#ifndef SM_TEST_NO_DEBUG
#define STATIC_MALLOC_DEBUG
#endif
#include "static_malloc.h"

/* Check n failed: return n; a rule the walker saw broken after an allocator
 * call (STATIC_MALLOC_DEBUG): return 1000 + the rule. */
#define CHECK(n, cond)						\
	do {							\
		if (static_malloc_debug_rule())			\
			return 1000 + static_malloc_debug_rule();	\
		if (!(cond))					\
			return (n);				\
	} while (0)

/* The heap's own invariant walker must agree after every step. */
#define CHECK_HEAP(n) CHECK(n, static_malloc_check() == 0)

static __always_inline struct static_malloc_stats *stats(void)
{
	__u32 k = 0;

	return bpf_map_lookup_elem(&static_stats, &k);
}

/* A copy of the counters, to compare before and after a step. */
static __always_inline int snap(struct static_malloc_stats *out)
{
	struct static_malloc_stats *s = stats();

	if (!s)
		return -1;
	__builtin_memcpy(out, s, sizeof(*out));
	return 0;
}

/* Offset of a heap pointer from the start of the heap (tests only). */
static __always_inline __u64 heap_off(const void *p)
{
	struct __sm_heap *h = __sm_get_heap();

	return h ? __sm_offset(h, p) : ~0ULL;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";

#endif
