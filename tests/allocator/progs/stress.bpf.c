/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * Multi-CPU stress of the shared default heap.
 *
 * Workload, per run: ROUNDS rounds; each round allocates four blocks of
 * 16, 40, 200 and 1000 bytes, fills every block entirely with a tag unique
 * to this CPU, run, round and block, checks all four tags after all four
 * allocations, then frees them in one of two orders picked at random. Two runners (threads or processes calling
 * BPF_PROG_TEST_RUN with repeat N) on different CPUs share the heap; a
 * block handed out twice shows up as a foreign tag. Returns 0, or the
 * number of the failed check (20 + slot: tag mismatch). A round whose allocation fails
 * gives back what it got and counts in `stress_failed`; the heap never
 * runs short here, so that is a busy heap reported as out of memory, which
 * the allocator must never do (the test asserts none). Afterwards
 * `static_stats`, summed over the CPUs, must show allocations == frees ==
 * every request, bytes_in_use == 0, rejected_frees == 0 and no failed
 * allocation, and a run on a packet whose byte 14 is 1 (the heap's
 * invariant walker, on the same maps) must return 0.
 * tests/test_allocator.py runs it on two CPUs at once; run alone (the
 * tagged run) it checks the same on one CPU.
 */
#define STATIC_MALLOC_HEAP_SIZE 65536
#include "static_malloc.h"

#define ROUNDS 4

__u64 stress_failed;	/* rounds that found an allocation failed */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} stress_runs SEC(".maps");

#define FILL(p, n, tag)							\
	do {								\
		p = static_malloc(n);					\
		if (p)							\
			for (i = 0; i < (n) / 8; i++)			\
				*(volatile __u64 *)&p[i] = (tag);	\
	} while (0)

#define BAD_TAG(p, n, tag)						\
	({								\
		int ___bad = 0;						\
		for (i = 0; i < (n) / 8; i++)				\
			if (p[i] != (tag))				\
				___bad = 1;				\
		___bad;							\
	})

/* The heap walker's verdict, asked for by byte 14 of the test packet. */
static __always_inline int stress_wants_check(struct xdp_md *ctx)
{
	__u8 *data = (__u8 *)(long)ctx->data, *end = (__u8 *)(long)ctx->data_end;

	return data + 15 <= end && data[14] == 1;
}

/* vdoctor-test: expect 0 */
SEC("xdp")
int stress_shared(struct xdp_md *ctx)
{
	__u64 *a, *b, *c, *d, *runs, base;
	__u32 k = 0;
	int round, i;

	if (stress_wants_check(ctx))
		return static_malloc_check() ? 30 : 0;
	runs = bpf_map_lookup_elem(&stress_runs, &k);
	if (!runs)
		return 1;
	*runs += 1;
	base = ((__u64)bpf_get_smp_processor_id() << 48) | (*runs << 16);
	for (round = 0; round < ROUNDS; round++) {
		__u64 t = base | (round << 8);

		FILL(a, 16, t | 1);
		FILL(b, 40, t | 2);
		FILL(c, 200, t | 3);
		FILL(d, 1000, t | 4);
		if (!a || !b || !c || !d) {
			/* a spurious NULL (the test fails on it): give back, go on */
			__sync_fetch_and_add(&stress_failed, 1);
			static_free(a);
			static_free(b);
			static_free(c);
			static_free(d);
			continue;
		}
		if (BAD_TAG(a, 16, t | 1))
			return 20;
		if (BAD_TAG(b, 40, t | 2))
			return 21;
		if (BAD_TAG(c, 200, t | 3))
			return 22;
		if (BAD_TAG(d, 1000, t | 4))
			return 23;
		if (bpf_get_prandom_u32() & 1) {
			static_free(d);
			static_free(b);
			static_free(a);
			static_free(c);
		} else {
			static_free(a);
			static_free(c);
			static_free(d);
			static_free(b);
		}
	}
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
