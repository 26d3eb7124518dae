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
 *   bench_percpu_slot  the least a per-CPU malloc + free can do: look up this
 *                CPU's map value, take the block parked in its one slot, write
 *                into it, look the CPU's value up again and park the block
 *                back. Nothing is checked (no size classes, no guard against an
 *                interrupting program, no double-free test, no counters): a
 *                floor for any design with per-CPU state, not an allocator.
 *   bench_shared_slot  the same with the slot in a global (.bss) variable
 *                instead of a per-CPU value: no lookup, and wrong as soon as
 *                two CPUs use it. A floor for the rest of the work.
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

struct one_slot {
	__u64 off;
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct one_slot);
} bench_cpu_slot SEC(".maps");

struct one_slot bench_global_slot;
__u8 bench_slot_heap[ARENA_BYTES] __attribute__((aligned(8)));

static __always_inline struct one_slot *cpu_slot(void)
{
	__u32 k = 0;

	return bpf_map_lookup_elem(&bench_cpu_slot, &k);
}

static __always_inline struct one_slot *get_slot(int percpu)
{
	return percpu ? cpu_slot() : &bench_global_slot;
}

/* One iteration of the slot loops: malloc(64) from the slot, a write, free. */
static __always_inline void slot_iteration(int percpu, __u32 i)
{
	struct one_slot *s = get_slot(percpu);	/* malloc */
	__u64 off;

	if (!s) {
		__sync_fetch_and_add(&failures, 1);
		return;
	}
	off = *(volatile __u64 *)&s->off;
	*(volatile __u64 *)&s->off = 0;
	off &= ARENA_BYTES - BLOCK;		/* in bounds, aligned */
	*(volatile __u64 *)(bench_slot_heap + off) = i;
	s = get_slot(percpu);			/* free */
	if (!s) {
		__sync_fetch_and_add(&failures, 1);
		return;
	}
	*(volatile __u64 *)&s->off = off;
}

static __always_inline int slot_loop(int percpu)
{
	__u32 i;

#pragma clang loop unroll(disable)
	for (i = 0; i < BENCH_K; i++) {
		bench_barrier_var(i);
		slot_iteration(percpu, i);
	}
	return XDP_PASS;
}

SEC("xdp")
int bench_percpu_slot(struct xdp_md *ctx)
{
	return slot_loop(1);
}

SEC("xdp")
int bench_shared_slot(struct xdp_md *ctx)
{
	return slot_loop(0);
}

char LICENSE[] SEC("license") = "GPL";
