// submit_unchecked.bpf.c: an XDP program that reserves a ring buffer record and
// hands it to bpf_ringbuf_submit() without checking it: the reservation fails
// when the buffer is full, and the helper refuses a pointer that may be NULL
// (a helper-arg rejection). The fix checks the pointer after the reservation.
// Written for verifier-doctor's tests (issue 23: NULL passed to a helper).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} arrivals SEC(".maps");

SEC("xdp")
int note_arrival(struct xdp_md *ctx)
{
	__u32 *queue = bpf_ringbuf_reserve(&arrivals, sizeof(*queue), 0);

	bpf_ringbuf_submit(queue, 0);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
