/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * Default heap (bpf_spin_lock in the map value) in every program type that
 * may take a bpf_spin_lock. All must load; xdp, tc and cgroup_skb also run.
 */
#define STATIC_MALLOC_HEAP_SIZE 4096
#include "static_malloc.h"

static __always_inline int roundtrip(void)
{
	__u64 *p = static_malloc(16), *q;

	if (!p)
		return 1;
	p[0] = 1;
	p[1] = 2;
	q = static_realloc(p, 48);
	if (!q)
		return 2;
	if (q[0] != 1 || q[1] != 2)
		return 3;
	static_free(q);
	q = static_calloc(2, 8);
	if (!q || q[1])
		return 4;
	static_free(q);
	return 0;
}

/* vdoctor-test: expect 0 */
SEC("xdp")
int types_xdp(struct xdp_md *ctx)
{
	return roundtrip();
}

/* vdoctor-test: expect 0 */
SEC("tc")
int types_tc(struct __sk_buff *skb)
{
	return roundtrip();
}

/* vdoctor-test: expect 1 (cgroup_skb returns 1 for "allow") */
SEC("cgroup_skb/ingress")
int types_cgroup_skb(struct __sk_buff *skb)
{
	return roundtrip() == 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
