// SPDX-License-Identifier: MIT
/* Test runs on every kernel of the matrix: each program returns a value computed from the
 * test packet (verifier_doctor/kernel/runner.py, default_packet(): 64 bytes, EtherType 0x0800,
 * IPv4, UDP), so a run that did not see that packet returns something else.
 * No includes, so it builds with nothing but clang -target bpf. */
#define SEC(name) __attribute__((section(name), used))

struct xdp_md {
	unsigned int data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex;
};

struct __sk_buff {
	unsigned int len;
};

/* 2 + the first byte of the EtherType (0x08): 10. */
SEC("xdp")
int run_xdp_ethertype(struct xdp_md *ctx)
{
	unsigned char *data = (unsigned char *)(long)ctx->data;
	unsigned char *end = (unsigned char *)(long)ctx->data_end;

	if (data + 14 > end)
		return 0;
	return 2 + data[12];
}

/* The packet's length plus its IP protocol (17, UDP): 81. */
SEC("xdp")
int run_xdp_length(struct xdp_md *ctx)
{
	unsigned char *data = (unsigned char *)(long)ctx->data;
	unsigned char *end = (unsigned char *)(long)ctx->data_end;

	if (data + 24 > end)
		return 0;
	return (int)(end - data) + data[23];
}

/* A tc program sees the same frame as an skb: its length, 64. */
SEC("tc")
int run_tc_len(struct __sk_buff *skb)
{
	return (int)skb->len;
}

char _license[] SEC("license") = "Dual MIT/GPL";
