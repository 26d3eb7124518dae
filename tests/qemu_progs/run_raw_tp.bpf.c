// SPDX-License-Identifier: MIT
/* A raw tracepoint program (Linux 4.17+, test runs 5.10+) that returns a constant, and a
 * kprobe program, a type BPF_PROG_TEST_RUN does not run. No includes. */
#define SEC(name) __attribute__((section(name), used))

SEC("raw_tp/sys_enter")
int run_raw_tp_const(void *ctx)
{
	return 42;
}

SEC("kprobe/do_nanosleep")
int run_kprobe_not_runnable(void *ctx)
{
	return 0;
}

char _license[] SEC("license") = "GPL";
