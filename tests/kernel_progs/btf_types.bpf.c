/* Program types libbpf loads with a BTF attach target: tp_btf and iter (no trampoline), and
 * fentry, fexit, fmod_ret and lsm (a BPF trampoline), a sleepable lsm.s in a '?' section. */
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
