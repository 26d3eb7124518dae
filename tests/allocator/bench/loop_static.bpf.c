/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * Allocator benchmark (scripts/bench_allocator.py), not a test:
 * static_malloc(64) + one 8-byte write + static_free, BENCH_K times per run,
 * with the default (bpf_spin_lock) heap. The same loop as loop_baseline.bpf.c.
 */
#include "static_malloc.h"

#define BENCH_K	64
#define BLOCK	64

#define bench_barrier_var(x) asm volatile("" : "+r"(x))

__u64 failures = 0;

SEC("xdp")
int bench_static(struct xdp_md *ctx)
{
	__u32 i;
	__u64 *p;

#pragma clang loop unroll(disable)
	for (i = 0; i < BENCH_K; i++) {
		bench_barrier_var(i);
		p = static_malloc(BLOCK);
		if (!p) {
			__sync_fetch_and_add(&failures, 1);
			continue;
		}
		*(volatile __u64 *)p = i;		/* use the block */
		static_free(p);
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
