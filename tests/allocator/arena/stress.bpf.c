/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * Two CPUs at once on one heap (the test runs this on each CPU together):
 * every run takes 16 blocks of mixed sizes (16 bytes to two pages), writes a
 * tag of its CPU, run and slot at both ends of each, checks every tag, then
 * frees them in an order that differs from the allocation order. A block
 * handed out twice shows as a foreign tag (20 + slot); a malloc that returns
 * NULL, although both CPUs' blocks fit in the heap with room to spare, as
 * 10 + slot (every later run returns the first failure). While one CPU holds the heap's lock the other's mallocs wait and
 * its frees are deferred: the counters (read by the test) say how often.
 */
#define STATIC_MALLOC_HEAP_SIZE (256 * 1024)	/* both CPUs at their peak fit */
#include "arena_test.h"

#define SLOTS 16

static const __u32 sizes[SLOTS] = {
	16, 24, 40, 64, 100, 128, 200, 256, 500, 512, 1000, 2048, 3000, 4096, 6000, 8192,
};

__u64 runs[2];	/* per CPU 0/1: runs done, so every run's tag differs */
int failure;	/* the first failed check of any run: BPF_PROG_TEST_RUN returns
		 * only the last run's value, so every run returns this */

static __always_inline int fail(int check)
{
	if (!failure)
		failure = check;
	return failure;
}

/* vdoctor-test: expect 0 since 6.9 */
SEC("xdp")
int stress_shared(struct xdp_md *ctx)
{
	__u64 __heap *blocks[SLOTS];
	__u32 cpu = bpf_get_smp_processor_id() & 1;
	__u64 tag, words;
	int i, failed_at;

	tag = ((__u64)cpu << 48) | (runs[cpu]++ << 8);
	for (i = 0; i < SLOTS; i++) {
		blocks[i] = static_malloc(sizes[i]);
		if (!blocks[i])
			break;
		words = sizes[i] / 8;
		blocks[i][0] = tag | i;
		blocks[i][words - 1] = tag | i;
	}
	if (i < SLOTS) {
		/* the heap has room for both CPUs' blocks: a NULL here is a spurious
		 * out-of-memory (a busy heap must be waited out, never reported) */
		failed_at = i;
		while (--i >= 0)
			static_free(blocks[i]);
		return fail(10 + failed_at);
	}
	for (i = 0; i < SLOTS; i++) {
		words = sizes[i] / 8;
		if (blocks[i][0] != (tag | i) || blocks[i][words - 1] != (tag | i))
			return fail(20 + i);
	}
	for (i = 0; i < SLOTS; i++)
		static_free(blocks[(i * 5) % SLOTS]);
	return failure;
}
