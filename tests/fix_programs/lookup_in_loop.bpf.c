// lookup_in_loop.bpf.c: an XDP program that sums four counters, looking each up
// in a loop and reading it without a NULL check. The fix checks the pointer in
// the loop and goes on with the next iteration when it is NULL.
// Written for verifier-doctor's tests (issue 23: a NULL check inside a loop).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

SEC("xdp")
int sum_counters(struct xdp_md *ctx)
{
	__u64 total = 0;
	__u32 i;

	for (i = 0; i < 4; i++) {
		__u64 *count = bpf_map_lookup_elem(&counters, &i);

		total += *count;
	}
	return total ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
