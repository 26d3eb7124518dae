/* Program types libbpf loads with a BTF attach target: tp_btf and iter (no trampoline),
 * fentry, fexit, fmod_ret and lsm (a BPF trampoline), a sleepable lsm.s in a '?' section,
 * struct_ops programs (a tcp_congestion_ops; attaching would register it), and a freplace
 * program that replaces the global function target_fn of the XDP program beside it. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("tp_btf/sched_switch")
int BPF_PROG(on_switch, bool preempt, struct task_struct *prev, struct task_struct *next)
{
	return 0;
}

SEC("iter/task")
int each_task(struct bpf_iter__task *ctx)
{
	return 0;
}

SEC("fentry/do_unlinkat")
int BPF_PROG(on_unlink, int dfd, struct filename *name)
{
	return 0;
}

SEC("fexit/do_unlinkat")
int BPF_PROG(after_unlink, int dfd, struct filename *name, long ret)
{
	return 0;
}

/* A sleepable program takes only hooks the kernel allows it: this LSM hook is one. */
SEC("?lsm.s/bprm_committed_creds")
int BPF_PROG(sleepable_exec, struct linux_binprm *bprm)
{
	return 0;
}

SEC("fmod_ret/security_path_unlink")
int BPF_PROG(ret_unlink, const struct path *dir, struct dentry *dentry, int ret)
{
	return ret;
}

SEC("lsm/file_open")
int BPF_PROG(on_file_open, struct file *file)
{
	return 0;
}

SEC("struct_ops/vd_init")
void BPF_PROG(vd_init, struct sock *sk)
{
}

SEC("struct_ops/vd_ssthresh")
__u32 BPF_PROG(vd_ssthresh, struct sock *sk)
{
	return 2;
}

SEC("struct_ops/vd_undo_cwnd")
__u32 BPF_PROG(vd_undo_cwnd, struct sock *sk)
{
	return 2;
}

SEC("struct_ops/vd_cong_avoid")
void BPF_PROG(vd_cong_avoid, struct sock *sk, __u32 ack, __u32 acked)
{
}

SEC(".struct_ops")
struct tcp_congestion_ops vd_cc = {
	.init = (void *)vd_init,
	.ssthresh = (void *)vd_ssthresh,
	.undo_cwnd = (void *)vd_undo_cwnd,
	.cong_avoid = (void *)vd_cong_avoid,
	.name = "vd_cc",
};

__noinline int target_fn(int x)
{
	return x + 1;
}

SEC("xdp")
int calls_target(struct xdp_md *ctx)
{
	return target_fn(ctx->rx_queue_index) > 0 ? XDP_PASS : XDP_DROP;
}

SEC("freplace/target_fn")
int replaces_target(int x)
{
	return x;
}
