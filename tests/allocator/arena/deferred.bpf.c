/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * A heap busy on this very CPU, on purpose: the lock word is set to this CPU
 * and this CPU's guard is taken, as if this program had interrupted an
 * allocator call (a perf_event in NMI does), so the CPU's cache is not ours. Waiting could never end, so nothing waits: frees are deferred (and
 * a second free of a deferred block is refused), a malloc returns NULL
 * counted as contended.
 * Then the lock is let go and the next holder gives the deferred blocks back.
 */
#include "arena_test.h"

/* vdoctor-test: expect 0 since 6.9 */
SEC("xdp")
int deferred_when_busy(struct xdp_md *ctx)
{
	struct __sm_arena __heap *a = &__sm_heap_arena;
	struct static_malloc_stats *s = stats(), before;
	struct __sm_cpu *m = __sm_this_cpu();
	__u64 __heap *p, *q, *r, *big;
	__u64 link;

	CHECK(1, s != NULL && m != NULL);
	before = *s;
	p = static_malloc(64);
	q = static_malloc(2048);			/* a class no CPU caches: its free takes the lock */
	big = static_malloc(3 * 4096);
	CHECK(2, p && q && big);
	q[0] = 7;

	a->lock = bpf_get_smp_processor_id() + 1;	/* held by the program we "interrupted" */
	m->guard = 1;					/* ... which holds this CPU's cache too */
	static_free(p);					/* deferred */
	static_free(big);				/* deferred too (a run of pages) */
	CHECK(3, s->frees - before.frees == 2 && s->contended - before.contended == 2);
	static_free(p);					/* a double free of a deferred block */
	static_free(big);
	CHECK(4, s->rejected_frees - before.rejected_frees == 2);
	CHECK(5, static_malloc_check() == 8);		/* busy: the walker cannot take the lock */
	CHECK(6, static_realloc(p, 32) == NULL);	/* p is freed already: refused */
	r = static_malloc(48);				/* the holder cannot run: no wait, NULL */
	CHECK(7, r == NULL);
	CHECK(8, s->failed_allocations - before.failed_allocations == 1);
	CHECK(9, s->contended - before.contended == 5);	/* the 4 frees and the malloc */
	a->lock = 0;
	m->guard = 0;

	CHECK_HEAP(11);					/* walks the pages and the deferred list */
	link = big[0];					/* big was deferred last: the list's head */
	big[0] = 0x12345;				/* written after its free: the list is broken */
	CHECK(12, static_malloc_check() == 10);
	big[0] = link;
	static_free(p);					/* double free with the lock free: refused */
	CHECK(13, s->rejected_frees - before.rejected_frees == 4);
	CHECK(14, s->bytes_in_use - before.bytes_in_use == 2048);	/* q's block only */
	static_free(q);					/* takes the lock: gives the deferred back first */
	CHECK(15, (__u32)a->deferred == 0);
	CHECK(16, s->bytes_in_use == before.bytes_in_use);
	big = static_malloc(8 * 4096);			/* the pages are back */
	CHECK(17, big != NULL);
	static_free(big);
	CHECK_HEAP(18);
	return 0;
}
