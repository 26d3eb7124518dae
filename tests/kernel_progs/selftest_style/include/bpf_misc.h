/* The shape of the kernel selftests' bpf_misc.h, for one program of our own: test annotations
 * kept as BTF declaration tags, and the kfuncs the program calls declared with __ksym. */
#ifndef VD_BPF_MISC_H
#define VD_BPF_MISC_H

#define __msg(msg) __attribute__((btf_decl_tag("comment:test_expect_msg=" msg)))
#define __failure __attribute__((btf_decl_tag("comment:test_expect_failure")))
#define __success __attribute__((btf_decl_tag("comment:test_expect_success")))

struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym;
void bpf_task_release(struct task_struct *p) __ksym;

#endif
