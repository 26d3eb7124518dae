// Programs that take a context rather than a packet, to test-run each kind:
// raw_tp and syscall run (and return 7 and 5); a tracepoint program cannot be
// test-run, and the runner must say so.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("raw_tp/sys_enter")
int raw_tp_seven(void *ctx)
{
	return 7;
}

SEC("syscall")
int syscall_five(void *ctx)
{
	return 5;
}

SEC("tracepoint/syscalls/sys_enter_getpid")
int tracepoint_zero(void *ctx)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
