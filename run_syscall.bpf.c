// SPDX-License-Identifier: MIT
/* A syscall program (Linux 5.14+; older kernels do not know the type) that returns a constant.
 * No includes. */
#define SEC(name) __attribute__((section(name), used))

SEC("syscall")
int run_syscall_const(void *ctx)
{
	return 7;
}

char _license[] SEC("license") = "GPL";
