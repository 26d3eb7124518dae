// malloc_list_walk.bpf.c: a short list built with malloc and walked through its
// next pointers, as in user space. `vdoctor fix` renames malloc/free to the
// shipped allocator; the walk's `n = n->next` then loads a pointer from heap
// memory, which the verifier sees as a number, and fix wraps it in static_ptr().
// Written for verifier-doctor's tests (issue 23: scalar from map memory).

struct item {
	struct item *next;
	__u32 value;
};

SEC("xdp")
int sum_list(struct xdp_md *ctx)
{
	struct item *first = malloc(sizeof(*first));
	struct item *second;
	struct item *n;
	__u32 total = 0;
	int i;

	if (!first)
		return XDP_PASS;
	second = malloc(sizeof(*second));
	if (!second) {
		free(first);
		return XDP_PASS;
	}
	first->value = 1;
	first->next = second;
	second->value = 2;
	second->next = 0;
	n = first;
	for (i = 0; i < 4 && n; i++) {
		total += n->value;
		n = n->next;
	}
	free(second);
	free(first);
	return total == 3 ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
