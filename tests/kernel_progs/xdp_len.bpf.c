// Accepted: returns the packet's length, so a test run proves the packet arrived.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_len(struct xdp_md *ctx)
{
	return ctx->data_end - ctx->data;
}

char LICENSE[] SEC("license") = "GPL";
