/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * Shared helpers of the arena backend's in-kernel tests: each program tagged
 * `vdoctor-test: expect 0` returns 0 when every check passed, else the
 * number of the first failing check.
 */
#ifndef ARENA_TEST_H
#define ARENA_TEST_H

#define STATIC_MALLOC_ARENA
#ifndef STATIC_MALLOC_HEAP_SIZE
#define STATIC_MALLOC_HEAP_SIZE (64 * 1024)
#endif
#include "static_malloc.h"

#define CHECK(n, cond)			\
	do {				\
		if (!(cond))		\
			return (n);	\
	} while (0)

#define CHECK_HEAP(n) CHECK(n, static_malloc_check() == 0)

static __always_inline struct static_malloc_stats *stats(void)
{
	__u32 k = 0;

	return bpf_map_lookup_elem(&static_stats, &k);
}

#ifndef ARENA_TEST_NO_LICENSE
char LICENSE[] SEC("license") = "Dual MIT/GPL";
#endif

#endif
