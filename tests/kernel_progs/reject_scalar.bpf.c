// Rejected: dereferences a number read from the context ("invalid mem access 'scalar'").
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int reject_scalar(struct xdp_md *ctx)
{
	long addr = ctx->rx_queue_index;

	return *(volatile int *)addr;
}

char LICENSE[] SEC("license") = "GPL";
