// heap_list_head.bpf.c: a list of nodes from the shipped allocator whose head is
// kept in a global. A pointer loaded back from map memory (globals live in a map)
// is a plain number to the verifier, so `cur->hits += 1` is refused; the fix is
// the allocator's static_ptr(), which turns a heap address back into a pointer.
// Written for verifier-doctor's tests (issue 23: scalar from map memory).
#include "static_malloc.h"

struct node {
	struct node *next;
	__u64 hits;
};

struct node *head;

SEC("xdp")
int count_on_head(struct xdp_md *ctx)
{
	struct node *fresh;
	struct node *cur = head;

	if (cur) {
		cur->hits += 1;
		return XDP_PASS;
	}
	fresh = static_malloc(sizeof(*fresh));
	if (!fresh)
		return XDP_PASS;
	fresh->next = 0;
	fresh->hits = 1;
	head = fresh;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
