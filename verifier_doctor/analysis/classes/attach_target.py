"""attach-target: a tracing, LSM, struct_ops or extension program aimed at a target it cannot attach to"""

from __future__ import annotations

from ..lesson import Fix, Lesson
from .base import ErrorClass

CLASS = ErrorClass(
    name="attach-target",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(
        "bpf_check_attach_btf_id",
        "bpf_check_attach_target",
        "bpf_lsm_verify_prog",
        "btf_check_func_type_match",
        "btf_distill_func_proto",
        "check_attach_btf_id",
        "check_attach_modify_return",
        "check_struct_ops_btf_id",
        "get_kern_ctx_btf_id",
    ),
    # Messages of this class printed by functions whose other messages are another's.
    messages=(
        "freplace programs with >%d args not supported yet",
    ),
    lesson=Lesson(
        "attach-target",
        "A tracing, LSM, struct_ops or extension program aimed at a target it cannot attach to",
        "Programs that attach through BTF (fentry/fexit/fmod_ret, tp_btf, lsm, struct_ops, freplace, "
        "iter) are checked against their target when they load, before any instruction is walked: the "
        "section name names a kernel function, hook, struct member or program, and the verifier looks it "
        "up in the kernel's BTF and checks that this program type may attach there. It could not: the "
        "target does not exist in this kernel, is not a function, is on the deny list (some functions "
        "may never be traced), or its prototype does not fit what the program declares.",
        (
            Fix("Check that the target exists in the running kernel (`bpftool btf dump file "
                "/sys/kernel/btf/vmlinux | grep FUNC.*name`), spelled as the kernel spells it; inlined or "
                "static functions often have no BTF entry and cannot be traced with fentry: use a kprobe.",
                'SEC("fentry/tcp_v4_connectx")   /* no such function */\n'
                "int BPF_PROG(on_connect, struct sock *sk)",
                'SEC("fentry/tcp_v4_connect")\n'
                "int BPF_PROG(on_connect, struct sock *sk)"),
            Fix("Declare the program's arguments as the target's prototype has them (BPF_PROG with the "
                "same types and count); an extension (freplace) must match the replaced function exactly."),
        ),
        ("5.5: fentry/fexit and BTF-typed tracing.", "5.7: LSM programs (CONFIG_BPF_LSM).",
         "6.x: deny lists for functions that must never be traced or modified."),
    ),
)
