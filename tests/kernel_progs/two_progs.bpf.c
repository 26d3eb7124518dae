// Two programs in one object: `good` is accepted, `bad` is rejected (reads R3
// before anything wrote it), so loading each on its own must report both.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int good(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("xdp")
int bad(struct xdp_md *ctx)
{
	int ret;

	asm volatile("r0 = r3" : "=r"(ret));
	return ret;
}

char LICENSE[] SEC("license") = "GPL";
