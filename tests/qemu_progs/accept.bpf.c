// SPDX-License-Identifier: MIT
/* Accepted on every kernel of the matrix: a bounded loop over a stack array and one helper.
 * No includes, so it builds with nothing but clang -target bpf. */
#define SEC(name) __attribute__((section(name), used))

struct xdp_md {
	unsigned int data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex;
};

static unsigned int (*bpf_get_prandom_u32)(void) = (void *)7; /* BPF_FUNC_get_prandom_u32 */

SEC("xdp")
int accept_sum(struct xdp_md *ctx)
{
	unsigned char bytes[16];
	unsigned int sum = 0;

	for (int i = 0; i < 16; i++)
		bytes[i] = (unsigned char)bpf_get_prandom_u32();
#pragma clang loop unroll(full)
	for (int i = 0; i < 16; i++)
		sum += bytes[i];
	return sum & 1 ? 2 /* XDP_PASS */ : 1 /* XDP_DROP */;
}

char _license[] SEC("license") = "Dual MIT/GPL";
