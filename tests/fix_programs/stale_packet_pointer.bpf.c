// stale_packet_pointer.bpf.c: an XDP program that checks the Ethernet header,
// then calls bpf_xdp_adjust_tail() (a helper that may move or resize the packet)
// and reads the header through the pointer it had before. Every packet pointer
// is invalid after such a helper; the fix reloads data/data_end and checks again.
// Written for verifier-doctor's tests (issue 23: stale packet pointer).
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

SEC("xdp")
int trim_and_check(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (bpf_xdp_adjust_tail(ctx, 0))
		return XDP_PASS;
	return eth->h_proto == bpf_htons(ETH_P_IP) ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
