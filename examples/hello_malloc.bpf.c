// hello_malloc.bpf.c: the user's first program, as they would write it.
// It has no includes and calls malloc, which BPF does not have, so it does
// not build. `vdoctor fix examples/hello_malloc.bpf.c` adds
// #include "static_malloc.h" and renames the call; the result loads.

typedef struct vec2 {
	uint8_t x;
	uint8_t y;
} vec2_t;

int counter = 0;

SEC("xdp")
int hello(struct xdp_md *ctx)
{
	vec2_t *v = (vec2_t *)malloc(sizeof(vec2_t));

	bpf_printk("Hello World %d", counter);
	counter++;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
