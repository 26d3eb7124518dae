/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * The heap's lock held by someone else (here: the test takes the queue-map
 * lock itself, as a descheduled holder on another CPU would keep it): malloc
 * fails cleanly and counts as contended; free defers the block (a second
 * free of it is rejected); once the lock is free, the next call to the heap
 * gives the deferred block back and the heap is whole again.
 */
#define STATIC_MALLOC_SPIN_TRIES 16	/* give up quickly */
#define SM_TEST_NO_DEBUG		/* the walker cannot take the held lock */
#include "sm_test.h"

static __always_inline int hold_lock(void)
{
	__u32 one = 1;

	return bpf_map_push_elem(&__sm_lock_q, &one, 0);
}

static __always_inline void release_lock(void)
{
	__u32 v;

	bpf_map_pop_elem(&__sm_lock_q, &v);
}

/* vdoctor-test: expect 0 */
SEC("xdp")
int defer_while_busy(struct xdp_md *ctx)
{
	struct __sm_heap *h = __sm_get_heap();
	struct static_malloc_stats s0, s1;
	__u64 *big, *again, o;

	CHECK(1, h != NULL);
	CHECK(2, snap(&s0) == 0);
	big = static_malloc(1000);		/* not cached: freed into the heap */
	CHECK(3, big != NULL);
	o = heap_off(big);
	CHECK(4, hold_lock() == 0);
	CHECK(5, static_malloc(1000) == NULL);	/* busy: fails, contended */
	static_free(big);			/* busy: deferred */
	CHECK(6, o < STATIC_MALLOC_HEAP_SIZE && h->state[o >> 3 & (STATIC_MALLOC_HEAP_SIZE / 8 - 1)] == __SM_ST_DEFER);
	CHECK(7, h->deferred == 1);
	static_free(big);			/* a second free: rejected */
	release_lock();
	CHECK(8, static_malloc_check() == 0);	/* a deferred block counts as used */
	again = static_malloc(2000);		/* drains first */
	CHECK(9, again != NULL);
	CHECK(10, h->deferred == 0);
	static_free(again);
	CHECK(11, static_malloc_check() == 0);
	/* the whole heap is one free block again */
	again = static_malloc(STATIC_MALLOC_HEAP_SIZE - 8);
	CHECK(12, again != NULL);
	static_free(again);
	CHECK(13, snap(&s1) == 0);
	CHECK(14, s1.contended - s0.contended == 1 && s1.failed_allocations - s0.failed_allocations == 1);
	CHECK(15, s1.rejected_frees - s0.rejected_frees == 1);
	CHECK(16, s1.allocations - s0.allocations == s1.frees - s0.frees);
	CHECK(17, s1.bytes_in_use == s0.bytes_in_use);
	return 0;
}
