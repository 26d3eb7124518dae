// SPDX-License-Identifier: MIT
/* Two programs in one object: `reject_scalar_deref` dereferences a number the verifier only
 * knows as a scalar ("R1 invalid mem access 'scalar'", 'inv' before 5.18), and `accept_pass`
 * is fine; each is loaded alone, so the rejection must not hide the acceptance. */
#define SEC(name) __attribute__((section(name), used))

struct xdp_md {
	unsigned int data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex;
};

static unsigned int (*bpf_get_prandom_u32)(void) = (void *)7; /* BPF_FUNC_get_prandom_u32 */

SEC("xdp")
int reject_scalar_deref(struct xdp_md *ctx)
{
	unsigned long addr = bpf_get_prandom_u32();

	return *(volatile int *)addr;
}

SEC("xdp")
int accept_pass(struct xdp_md *ctx)
{
	return 2; /* XDP_PASS */
}

char _license[] SEC("license") = "Dual MIT/GPL";
