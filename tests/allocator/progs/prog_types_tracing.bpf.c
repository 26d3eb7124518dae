/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * Program types that may not take a bpf_spin_lock ("tracing progs cannot use
 * bpf_spin_lock yet", "socket filter progs cannot use bpf_spin_lock yet")
 * use STATIC_MALLOC_PERCPU. All must load; socket and raw_tp also run
 * (raw_tp: BPF_PROG_TEST_RUN with repeat 0 and a 16-byte ctx_in; the kernel
 * refuses repeat != 0 for raw_tp, which is all bpftool sends).
 */
#define STATIC_MALLOC_PERCPU
#define STATIC_MALLOC_HEAP_SIZE 4096
#include "prog_types.h"

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
