// SPDX-License-Identifier: GPL-2.0
/* A program in the kernel selftests' style: vmlinux.h, bpf_misc.h from the project's own
 * include directory (-I), kfuncs declared __ksym, an expected failure in a SEC("?...")
 * section that libbpf would not load by default, and a value given with -D. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include "bpf_misc.h"

#ifndef EXPECTED_RET
#error "build with -D EXPECTED_RET=N"
#endif

char _license[] SEC("license") = "GPL";

SEC("tp_btf/task_newtask")
__success
int BPF_PROG(task_acquire_release, struct task_struct *task, u64 clone_flags)
{
	struct task_struct *acquired = bpf_task_acquire(task);

	if (!acquired)
		return 0;
	bpf_task_release(acquired);
	return 0;
}

SEC("?tp_btf/task_newtask")
__failure __msg("Unreleased reference")
int BPF_PROG(task_acquire_leak, struct task_struct *task, u64 clone_flags)
{
	struct task_struct *acquired = bpf_task_acquire(task);

	if (!acquired)
		return 0;
	return 0;  /* never released */
}

SEC("syscall")
__success
int expected_ret(void *ctx)
{
	return EXPECTED_RET;
}
