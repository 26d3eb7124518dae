// Fails before the verifier: the kernel refuses to create an array map with
// no entries, so libbpf reports "map 'empty': failed to create" and no
// program of the object is loaded.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 0);
	__type(key, __u32);
	__type(value, __u64);
} empty SEC(".maps");

SEC("xdp")
int map_create_fails(struct xdp_md *ctx)
{
	__u32 key = 0;

	return bpf_map_lookup_elem(&empty, &key) ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
