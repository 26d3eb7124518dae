// Accepted: returns XDP_PASS, prints one line, counts its runs in a global.
// tests/test_kernel_host.py: accepted, retval 2, printed "vdoctor-pass 42", runs == repeat.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 runs;

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	__sync_fetch_and_add(&runs, 1);
	bpf_printk("vdoctor-pass %d", 42);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
