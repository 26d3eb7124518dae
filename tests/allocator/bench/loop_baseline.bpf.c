/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * Allocator benchmark (scripts/bench_allocator.py), not a test: the two
 * reference loops.
 *
 *   bench_empty  the loop alone: BENCH_K iterations of nothing, kept by a
 *                barrier. Its per-iteration cost is subtracted from the others.
 *   bench_bump   a bump-pointer "allocation" of 64 bytes per iteration from an
 *                arena in a map value (the state, `top`, lives in the map and is
 *                read and written through volatile accesses, as an allocator's
 *                state would be), plus one 8-byte write into the block. The
 *                arena is reset at the start of every run; "free" is a no-op.
 *
 * Every bench_* program runs the same loop: BENCH_K iterations, not unrolled,
 * returns XDP_PASS, and counts failed allocations in the global `failures`
 * (atomically, so that the verifier's states stay the same on both paths and
 * the 64 iterations verify in linear time).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define BENCH_K		64
#define BLOCK		64
#define ARENA_BYTES	(BENCH_K * BLOCK)

/* Forget what the compiler knows about x, emitting nothing (libbpf's barrier_var). */
#define bench_barrier_var(x) asm volatile("" : "+r"(x))

struct bump_arena {
	__u64 top;
	__u8 mem[ARENA_BYTES] __attribute__((aligned(8)));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bump_arena);
} bench_bump_arena SEC(".maps");

__u64 failures = 0;

SEC("xdp")
int bench_empty(struct xdp_md *ctx)
{
	__u32 i;

#pragma clang loop unroll(disable)
	for (i = 0; i < BENCH_K; i++)
		bench_barrier_var(i);
	return XDP_PASS;
}

SEC("xdp")
int bench_bump(struct xdp_md *ctx)
{
	struct bump_arena *a;
	__u32 i, k = 0;
	__u64 off;

	a = bpf_map_lookup_elem(&bench_bump_arena, &k);
	if (!a)
		return XDP_ABORTED;
	*(volatile __u64 *)&a->top = 0;			/* reset per run */
#pragma clang loop unroll(disable)
	for (i = 0; i < BENCH_K; i++) {
		bench_barrier_var(i);
		off = *(volatile __u64 *)&a->top;	/* malloc(64) */
		if (off > ARENA_BYTES - BLOCK) {
			__sync_fetch_and_add(&failures, 1);
			continue;
		}
		*(volatile __u64 *)&a->top = off + BLOCK;
		*(volatile __u64 *)(a->mem + off) = i;	/* use the block */
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
