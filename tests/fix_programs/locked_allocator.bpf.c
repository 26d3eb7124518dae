// locked_allocator.bpf.c: an XDP program that wraps each allocator call in a
// bpf_spin_lock of its own, for thread safety, as a user coming from C would.
// After `vdoctor fix` renames malloc/free, the verifier refuses the calls under
// the lock ("function calls are not allowed while holding a lock"); the
// allocator is thread-safe by itself, so fix moves the calls out of the lock.
// Written for verifier-doctor's tests (issue 21, point 5).

struct guard {
	struct bpf_spin_lock lock;
	__u32 allocations;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct guard);
} guards SEC(".maps");

struct point {
	__u32 x;
	__u32 y;
};

SEC("xdp")
int count_points(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct guard *g = bpf_map_lookup_elem(&guards, &zero);

	if (!g)
		return XDP_PASS;
	bpf_spin_lock(&g->lock);
	struct point *p = malloc(sizeof(*p));
	bpf_spin_unlock(&g->lock);
	if (!p)
		return XDP_PASS;
	p->x = ctx->ingress_ifindex;
	p->y = p->x + 1;
	bpf_spin_lock(&g->lock);
	free(p);
	bpf_spin_unlock(&g->lock);
	__sync_fetch_and_add(&g->allocations, 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
