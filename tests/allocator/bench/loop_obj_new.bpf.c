/* SPDX-License-Identifier: (MIT OR GPL-2.0-only) */
/*
 * Allocator benchmark (scripts/bench_allocator.py), not a test: the kernel's
 * own allocator for BPF programs, bpf_obj_new(64-byte struct) + one 8-byte
 * write + bpf_obj_drop, BENCH_K times per run. kfuncs, kernel 6.2+ (XDP may
 * call them); the type must be in the program's BTF (built with -g). The
 * same loop as loop_baseline.bpf.c.
 *
 * Our own minimal declarations (the pattern of the kernel selftests, not
 * their header): bpf_obj_new_impl takes the local BTF id of the type and a
 * meta pointer the verifier fills in (pass NULL).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#define BENCH_K	64

#define bench_barrier_var(x) asm volatile("" : "+r"(x))

extern void *bpf_obj_new_impl(__u64 local_type_id, void *meta) __ksym;
extern void bpf_obj_drop_impl(void *kptr, void *meta) __ksym;

#define obj_new(type) ((type *)bpf_obj_new_impl(bpf_core_type_id_local(type), NULL))
#define obj_drop(p) bpf_obj_drop_impl(p, NULL)

struct bench_block {
	__u64 word[8];		/* 64 bytes, as static_malloc(64) */
};

__u64 failures = 0;

SEC("xdp")
int bench_obj_new(struct xdp_md *ctx)
{
	struct bench_block *p;
	__u32 i;

#pragma clang loop unroll(disable)
	for (i = 0; i < BENCH_K; i++) {
		bench_barrier_var(i);
		p = obj_new(struct bench_block);
		if (!p) {
			__sync_fetch_and_add(&failures, 1);
			continue;
		}
		*(volatile __u64 *)&p->word[0] = i;	/* use the block */
		obj_drop(p);
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
