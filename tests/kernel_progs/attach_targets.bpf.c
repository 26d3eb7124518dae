/* Programs libbpf loads against a target of their own: struct_ops programs (a
 * tcp_congestion_ops; attaching would register it), and a freplace program that replaces
 * the global function target_fn of the XDP program beside it. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("struct_ops/vd_init")
void BPF_PROG(vd_init, struct sock *sk)
{
}

SEC("struct_ops/vd_ssthresh")
__u32 BPF_PROG(vd_ssthresh, struct sock *sk)
{
	return 2;
}

SEC("struct_ops/vd_undo_cwnd")
__u32 BPF_PROG(vd_undo_cwnd, struct sock *sk)
{
	return 2;
}

SEC("struct_ops/vd_cong_avoid")
void BPF_PROG(vd_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
}

SEC(".struct_ops")
struct tcp_congestion_ops vd_cc = {
	.init = (void *)vd_init,
	.ssthresh = (void *)vd_ssthresh,
	.undo_cwnd = (void *)vd_undo_cwnd,
	.cong_avoid = (void *)vd_cong_avoid,
	.name = "vd_cc",
};

__noinline int target_fn(int x)
{
	return x + 1;
}

SEC("xdp")
int calls_target(struct xdp_md *ctx)
{
	return target_fn(ctx->rx_queue_index) > 0 ? XDP_PASS : XDP_DROP;
}

SEC("freplace/target_fn")
int replaces_target(int x)
{
	return x;
}
