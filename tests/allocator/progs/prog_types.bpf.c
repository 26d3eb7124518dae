/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * The default heap, with no configuration, in the eight common program types,
 * all in one object sharing one heap. All must load; xdp, tc, cgroup_skb,
 * socket and raw_tp also run (raw_tp: BPF_PROG_TEST_RUN with repeat 0 and a
 * ctx_in; bpftool sends repeat >= 1, so run_progs.sh only loads it).
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

/* vdoctor-test: expect 0 */
SEC("socket")
int types_socket(struct __sk_buff *skb)
{
	return roundtrip();
}

/* vdoctor-test: load */
SEC("kprobe/do_nanosleep")
int types_kprobe(void *ctx)
{
	return roundtrip();
}

/* vdoctor-test: load */
SEC("tracepoint/syscalls/sys_enter_nanosleep")
int types_tracepoint(void *ctx)
{
	return roundtrip();
}

/* vdoctor-test: expect 0 */
SEC("raw_tp/sys_enter")
int types_raw_tp(void *ctx)
{
	return roundtrip();
}

/* vdoctor-test: load */
SEC("perf_event")
int types_perf_event(void *ctx)
{
	return roundtrip();
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
