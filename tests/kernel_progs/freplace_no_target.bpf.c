/* A freplace program alone: nothing in its object holds the function it replaces. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

SEC("freplace/target_fn")
int replaces_nothing(int x)
{
	return x;
}
