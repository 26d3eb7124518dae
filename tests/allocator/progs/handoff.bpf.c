/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * Multi-CPU stress of the default heap with blocks freed on another CPU
 * than the one that allocated them.
 *
 * A mailbox of SLOTS words is shared by every CPU. Per run, ROUNDS times:
 * allocate a block of one of eight sizes (cached 16..128 and heap-sized
 * 200..1000), write a tag unique to this CPU, run and round into its
 * first, middle and last words (the tag also carries the size), swap it into a mailbox slot
 * (atomic exchange), and if the slot held a block (put there by any CPU),
 * check that block's three words carry one tag and free it here. Two runners on
 * two CPUs share the slots, so about half the frees are cross-CPU. Packet
 * byte 14 == 2 empties the mailbox (frees what is left); == 1 asks for the
 * heap walker's verdict. An allocation that fails counts in
 * `handoff_failed` (the heap never runs short here: the test asserts none). Returns 0,
 * or 11, 12 (a word out of bounds), 20 + k (a
 * block's words disagree: handed out twice), 30 (the heap walker).
 * tests/test_allocator.py runs it on two CPUs at once, then empties the
 * mailbox and checks that static_stats adds up (allocations == frees, no
 * byte in use, nothing failed, rejected or contended). Run alone (the tagged
 * run) it checks the same on one CPU. The exchange needs BPF_XCHG (5.12);
 * the allocator does not.
 */
#define STATIC_MALLOC_HEAP_SIZE 65536
#include "static_malloc.h"

#define ROUNDS	8
#define SLOTS	16
#define MAXB	1000

__u64 mailbox[SLOTS];
__u64 handoff_runs[64];
__u64 handoff_failed;	/* allocations that failed */

/* The eight sizes, in 8-byte words, one per byte: 16, 200, 40, 1000, 64, 128,
 * 24, 512 (a constant, not an array: clang 14 leaves a static const array's
 * .rodata without a size libbpf accepts). */
#define SIZES_IN_WORDS 0x400310087d051902ULL

static __always_inline int packet_byte14(struct xdp_md *ctx)
{
	__u8 *data = (__u8 *)(long)ctx->data, *end = (__u8 *)(long)ctx->data_end;

	return data + 15 <= end ? data[14] : 0;
}

/* Word i of the block at p (a run-time size: each word is bounded alone).
 * i is tested first: 6.12's verifier can lose the lower bound of the index
 * a run-time size gives (bounds tracked on a copy of it), and refuses p + i
 * ("unbounded min value"); 5.10, 6.1, 7.2 and 7.3 keep it. */
static __always_inline __u64 *word(__u64 *p, int i)
{
	if (i < 0 || i >= MAXB / 8)
		return NULL;
	return static_ptr_sized(p + i, 8);
}

/* Check the block loaded from a slot, then free it: 0, or 20 + why. */
static __always_inline int take_back(__u64 old)
{
	__u64 *q = static_ptr((__u64 *)old), *w, tag, n;
	int i;

	if (!q)
		return 21;			/* not a heap pointer: the slot was corrupted */
	tag = q[0];
	n = tag & 0xffff;			/* the block's size, in the tag */
	if (n < 16 || n > MAXB)
		return 22;
	w = word(q, n / 16);
	if (!w || *w != tag)
		return 23;			/* two owners wrote it */
	w = word(q, n / 8 - 1);
	if (!w || *w != tag)
		return 24;
	static_free(q);
	return 0;
}

/* vdoctor-test: expect 0 since 5.12 */
SEC("xdp")
int handoff(struct xdp_md *ctx)
{
	__u32 cpu = bpf_get_smp_processor_id() & 63, slot;
	__u64 *p, *w, old, tag, n, run;
	int round, i, err;

	if (packet_byte14(ctx) == 1)
		return static_malloc_check() ? 30 : 0;
	if (packet_byte14(ctx) == 2) {
		for (i = 0; i < SLOTS; i++) {
			old = __sync_lock_test_and_set(&mailbox[i], 0);
			if (old && (err = take_back(old)))
				return err;
		}
		return 0;
	}
	run = ++handoff_runs[cpu];
	for (round = 0; round < ROUNDS; round++) {
		n = ((SIZES_IN_WORDS >> (8 * ((run + round) & 7))) & 0xff) * 8;
		p = static_malloc(n);
		if (!p) {
			/* a spurious NULL (the test fails on it): go on */
			__sync_fetch_and_add(&handoff_failed, 1);
			continue;
		}
		tag = ((__u64)cpu << 56) | (run << 24) | ((__u64)round << 16) | n;
		p[0] = tag;
		w = word(p, n / 16);
		if (!w)
			return 11;
		*w = tag;
		w = word(p, n / 8 - 1);
		if (!w)
			return 12;
		*w = tag;
		slot = (run * 7 + round * 5 + cpu) % SLOTS;
		old = __sync_lock_test_and_set(&mailbox[slot], (__u64)p);
		if (old && (err = take_back(old)))
			return err;
	}
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
