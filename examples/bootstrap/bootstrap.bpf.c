// SPDX-License-Identifier: GPL-2.0
/* The BPF side of a small libbpf-bootstrap style tool: it reports every exec and every
 * unlink to user space through a ring buffer, and counts packets per IP protocol in XDP.
 *
 * vmlinux.h is not in this folder: `vdoctor try` makes it from the kernel's BTF.
 * Build with -D BOOTSTRAP_SKIP_BOUNDS_CHECK to see the verifier refuse the XDP program. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "bootstrap.h"

#define ETH_P_IP 0x0800

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, __u64);
} packets_per_proto SEC(".maps");

/* Reserves an event in the ring buffer and fills what every event has; NULL when it is full. */
static __always_inline struct event *new_event(enum event_kind kind, struct task_struct *task)
{
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);

	if (!e)
		return NULL;
	e->kind = kind;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	bpf_get_current_comm(&e->comm, sizeof(e->comm));
	return e;
}

SEC("tp/sched/sched_process_exec")
int handle_exec(struct trace_event_raw_sched_process_exec *ctx)
{
	unsigned int filename_at = ctx->__data_loc_filename & 0xFFFF;
	struct event *e = new_event(EVENT_EXEC, (struct task_struct *)bpf_get_current_task());

	if (!e)
		return 0;
	bpf_probe_read_str(&e->filename, sizeof(e->filename), (void *)ctx + filename_at);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

/* struct filename lost its `name` pointer in Linux 7.2: this flavour (CO-RE ignores the
 * ___old suffix) compiles against any vmlinux.h, and the load relocates it to the kernel's. */
struct filename___old {
	const char *name;
} __attribute__((preserve_access_index));

SEC("fentry/do_unlinkat")
int BPF_PROG(handle_unlink, int dfd, struct filename *name)
{
	struct event *e = new_event(EVENT_UNLINK, bpf_get_current_task_btf());

	if (!e)
		return 0;
	bpf_probe_read_kernel_str(&e->filename, sizeof(e->filename), BPF_CORE_READ((struct filename___old *)name, name));
	bpf_ringbuf_submit(e, 0);
	return 0;
}

SEC("xdp")
int count_protocols(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	__u32 proto;
	__u64 *count;

#ifndef BOOTSTRAP_SKIP_BOUNDS_CHECK
	if ((void *)(ip + 1) > data_end)
		return XDP_PASS;
#endif
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	proto = ip->protocol;
	count = bpf_map_lookup_elem(&packets_per_proto, &proto);
	if (count)
		*count += 1;
	return XDP_PASS;
}
