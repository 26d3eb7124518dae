"""untrusted-pointer: a kernel pointer the verifier cannot trust where a trusted or referenced one is required"""

from __future__ import annotations

from ...model import KernelMessage, OpKind, ProgramTrace
from ..finders import stack_object_call
from ..findings import Culprit, ErrorInfo
from ..lesson import Fix, Lesson
from ..provenance import Follow
from .base import ErrorClass


def first_argument(trace: ProgramTrace, message: KernelMessage | None) -> str | None:
    """A release function's message names no register ("release kernel function
    bpf_task_release expects refcounted PTR_TO_BTF_ID"): the object is its argument, R1."""
    return "R1" if trace.steps and trace.steps[-1].insn.kind is OpKind.CALL else None


def culprit(trace: ProgramTrace, error: ErrorInfo) -> Culprit | None:
    """For a dynptr released that holds no reference: the call that made it (the object is
    followed back otherwise)."""
    return stack_object_call(trace, "the dynptr was made here, without a reference", first=True)


CLASS = ErrorClass(
    name="untrusted-pointer",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(
        "check_map_kptr_access",
        "check_ptr_to_btf_access",
        "map_kptr_match_type",
        "process_kptr_func",
        "ref_convert_owning_non_owning",
        "ref_set_non_owning",
        "validate_ref_obj",
    ),
    # Messages of this class printed by functions whose other messages are another's.
    messages=(
        "%s is neither owning or non-owning ref",
        "%s must be a rcu pointer",
        "%s must be referenced or trusted",
        "R%d must be a rcu pointer",
        "R%d must be referenced",
        "R%d must be referenced or trusted",
        "R%d must be referenced when passed to release function",
        "allocated object must be referenced",
        "arg %d is an unacquired reference",
        "arg#%d is neither owning or non-owning ref",
        "arg#0 no referenced kptr at map value offset=%llu",
        "expected an RCU CS when using %s",
        "func %s#%d reference has not been acquired before",
        "kernel func %s requires RCU critical section protection",
        "kfunc %s#%d reference has not been acquired before",
        "kptr access cannot have variable offset",
        "kptr access size must be BPF_DW",
        "kptr cannot be accessed indirectly by helper",
        "rbtree_remove node input must be non-owning ref",
        "release helper %s expects referenced PTR_TO_BTF_ID passed to %s",
        "release kernel function %s expects refcounted PTR_TO_BTF_ID",
        "release kfunc %s expects referenced PTR_TO_BTF_ID passed to %s",
    ),
    follow=Follow.VALUE,
    register_when_unnamed=first_argument,
    culprit=culprit,
    lesson=Lesson(
        "untrusted-pointer",
        "A kernel pointer the verifier cannot trust where a trusted or referenced one is required",
        "kfuncs and some helpers take kernel objects only as pointers the verifier trusts: ones it got "
        "from the program's own arguments in tp_btf/fentry/lsm programs, from an acquire kfunc "
        "(bpf_task_acquire, bpf_cgroup_from_id) that returned a reference the program holds, or inside "
        "an RCU read section for RCU-protected fields. A pointer walked to through other fields, loaded "
        "from a map without a kptr, or whose reference was already released is untrusted, and a release "
        "function needs the reference it gave out.",
        (
            Fix("Acquire a reference and pass that: `t = bpf_task_acquire(p); if (!t) return 0; ...; "
                "bpf_task_release(t);`, or read RCU-protected fields between bpf_rcu_read_lock() and "
                "bpf_rcu_read_unlock().",
                "struct task_struct *parent = task->real_parent;   /* walked: untrusted */\n"
                "bpf_task_release(parent);",
                "struct task_struct *parent;\n"
                "bpf_rcu_read_lock();\n"
                "parent = bpf_task_acquire(task->real_parent);\n"
                "bpf_rcu_read_unlock();\n"
                "if (!parent) return 0;\n"
                "bpf_task_release(parent);"),
            Fix("Keep kernel objects across runs as kptrs in a map value (`struct task_struct __kptr *t;`, "
                "bpf_kptr_xchg), not as raw pointers."),
        ),
        ("5.19: kptrs in map values.", "6.2: trusted pointers and acquire/release kfuncs (KF_TRUSTED_ARGS).",
         "6.4: RCU-protected pointers (KF_RCU)."),
    ),
)
