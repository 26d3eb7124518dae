// Rejected three times alike: three programs share one helper function that dereferences a
// number read from the context ("invalid mem access 'scalar'"); `try` names the three under
// one diagnosis.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

static __noinline int peek_queue(struct xdp_md *ctx)
{
	long addr = ctx->rx_queue_index;

	return *(volatile int *)addr;
}

SEC("xdp")
int peek_first(struct xdp_md *ctx)
{
	return peek_queue(ctx);
}

SEC("xdp")
int peek_second(struct xdp_md *ctx)
{
	return peek_queue(ctx);
}

SEC("xdp")
int peek_third(struct xdp_md *ctx)
{
	return peek_queue(ctx);
}

char LICENSE[] SEC("license") = "GPL";
