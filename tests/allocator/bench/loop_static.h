/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * Allocator benchmark (scripts/bench_allocator.py), not a test: the loop of
 * every static_malloc variant, static_malloc(64) + one 8-byte write +
 * static_free, BENCH_K times per run. The file that includes this defines
 * the variant's STATIC_MALLOC_* options first, then names its program with
 * BENCH_STATIC(name). The same loop as loop_baseline.bpf.c.
 */
#include "static_malloc.h"

#define BENCH_K	64
#define BLOCK	64

#define bench_barrier_var(x) asm volatile("" : "+r"(x))

__u64 failures = 0;

/* The loop: iteration i allocates `size` bytes (an expression of i). */
#define BENCH_LOOP(name, size)						\
SEC("xdp")								\
int name(struct xdp_md *ctx)						\
{									\
	__u32 i;							\
	__u64 __heap *p;						\
									\
	_Pragma("clang loop unroll(disable)")				\
	for (i = 0; i < BENCH_K; i++) {					\
		bench_barrier_var(i);					\
		p = static_malloc(size);				\
		if (!p) {						\
			__sync_fetch_and_add(&failures, 1);		\
			continue;					\
		}							\
		*(volatile __u64 __heap *)p = i;	/* use the block */ \
		static_free(p);						\
	}								\
	return XDP_PASS;						\
}

#define BENCH_STATIC(name) BENCH_LOOP(name, BLOCK)

/*
 * Mixed sizes: the same loop, but iteration i asks for one of 16, 64, 200
 * and 512 bytes in turn (a run-time size; the write is the first word).
 */
#define BENCH_MIXED_SIZES 0x4019080200000000ULL	/* 8-byte words, one per byte (top four) */
#define BENCH_MIXED_SIZE(i) (((BENCH_MIXED_SIZES >> (32 + 8 * ((i) & 3))) & 0xff) * 8)
#define BENCH_STATIC_MIXED(name) BENCH_LOOP(name, BENCH_MIXED_SIZE(i))

char LICENSE[] SEC("license") = "GPL";
