/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * Default heap (bpf_spin_lock in the map value) in every program type that
 * may take a bpf_spin_lock. All must load; xdp, tc and cgroup_skb also run.
 */
#define STATIC_MALLOC_HEAP_SIZE 4096
#include "prog_types.h"

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
