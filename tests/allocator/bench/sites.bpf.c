/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * Allocator benchmark (scripts/bench_allocator.py), not a test: what each
 * call site of static_malloc / static_free costs the verifier. The script
 * loads each program and subtracts the "processed N insns" of one from the
 * next:
 *
 *   sites_none                      no call site (the scaffolding alone)
 *   sites_pair1, sites_pair2        1 or 2 x { p = static_malloc(64); if (p) { write; static_free(p); } }
 *   sites_malloc1, sites_malloc2    1 or 2 x { p = static_malloc(64); if (p) write; }   (leaks; never run)
 *   sites_free1, sites_free2
 *                                   sites_malloc1, then 1 or 2 static_free(p)
 *
 * The first call site of each function also pays for verifying the global
 * function __sm_malloc_off / __sm_free_off, once per program; later sites pay
 * only for their inline wrapper. The programs are loaded, never run.
 */
#include "static_malloc.h"

#define BLOCK 64

#define MALLOC_SITE(p)						\
	do {							\
		p = static_malloc(BLOCK);			\
		if (p)						\
			*(volatile __u64 *)p = 1;		\
	} while (0)

#define PAIR_SITE(p)						\
	do {							\
		p = static_malloc(BLOCK);			\
		if (p) {					\
			*(volatile __u64 *)p = 1;		\
			static_free(p);				\
		}						\
	} while (0)

SEC("xdp")
int sites_none(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int sites_pair1(struct xdp_md *ctx)
{
	__u64 *p;

	PAIR_SITE(p);
	return XDP_PASS;
}

SEC("xdp")
int sites_pair2(struct xdp_md *ctx)
{
	__u64 *p, *q;

	PAIR_SITE(p);
	PAIR_SITE(q);
	return XDP_PASS;
}

SEC("xdp")
int sites_malloc1(struct xdp_md *ctx)
{
	__u64 *p;

	MALLOC_SITE(p);
	return XDP_PASS;
}

SEC("xdp")
int sites_malloc2(struct xdp_md *ctx)
{
	__u64 *p, *q;

	MALLOC_SITE(p);
	MALLOC_SITE(q);
	return XDP_PASS;
}

SEC("xdp")
int sites_free1(struct xdp_md *ctx)
{
	__u64 *p;

	MALLOC_SITE(p);
	static_free(p);
	return XDP_PASS;
}

SEC("xdp")
int sites_free2(struct xdp_md *ctx)
{
	__u64 *p;

	MALLOC_SITE(p);
	static_free(p);
	static_free(p);			/* a second site (a double free at run time; never run) */
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
