/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * The same program types with STATIC_MALLOC_PERCPU (one heap per CPU, no
 * lock at all). All must load; socket and raw_tp also run
 * (raw_tp: BPF_PROG_TEST_RUN with repeat 0 and a 16-byte ctx_in; the kernel
 * refuses repeat != 0 for raw_tp, which is all bpftool sends).
 */
#define STATIC_MALLOC_PERCPU
#define STATIC_MALLOC_HEAP_SIZE 4096
#include "prog_types.h"

/* vdoctor-test: expect 0 */
SEC("socket")
int pcpu_types_socket(struct __sk_buff *skb)
{
	return roundtrip();
}

/* vdoctor-test: load */
SEC("kprobe/do_nanosleep")
int pcpu_types_kprobe(void *ctx)
{
	return roundtrip();
}

/* vdoctor-test: load */
SEC("tracepoint/syscalls/sys_enter_nanosleep")
int pcpu_types_tracepoint(void *ctx)
{
	return roundtrip();
}

/* vdoctor-test: expect 0 */
SEC("raw_tp/sys_enter")
int pcpu_types_raw_tp(void *ctx)
{
	return roundtrip();
}

/* vdoctor-test: load */
SEC("perf_event")
int pcpu_types_perf_event(void *ctx)
{
	return roundtrip();
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
