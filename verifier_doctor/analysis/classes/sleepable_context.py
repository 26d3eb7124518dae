"""sleepable-context: something that may sleep, called where the program must not sleep (or the reverse)"""

from __future__ import annotations

from ...model import ProgramTrace
from ..finders import region_opener
from ..findings import Culprit, ErrorInfo
from ..lesson import Fix, Lesson
from .base import ErrorClass

_NO_SLEEP_REGIONS = ("bpf_rcu_read_lock", "bpf_preempt_disable", "bpf_local_irq_save", "bpf_spin_lock",
                     "bpf_res_spin_lock")


def culprit(trace: ProgramTrace, error: ErrorInfo) -> Culprit | None:
    """The call that opened the region where sleeping is not allowed (none: the whole program
    is not sleepable)."""
    return region_opener(trace, _NO_SLEEP_REGIONS, "sleeping is not allowed from here on")


CLASS = ErrorClass(
    name="sleepable-context",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(),
    # Messages of this class printed by functions whose other messages are another's.
    messages=(
        "global functions that may sleep are not allowed in non-sleepable context",
        "%s is not sleepable",
        "Only fentry/fexit/fmod_ret and lsm programs can be sleepable",
        "Only fentry/fexit/fmod_ret, lsm, and kprobe/uprobe programs can be sleepable",
        "Only fentry/fexit/fmod_ret, lsm, iter, uprobe, and struct_ops programs can be sleepable",
        "Program of this type cannot be sleepable",
        "Sleepable program cannot attach to non-faultable tracepoint %s",
        "Sleepable programs can only use array and hash maps",
        "Sleepable programs can only use array, hash, and ringbuf maps",
        "Sleepable programs can only use array, hash, ringbuf and local storage maps",
        "Sleepable programs can only use preallocated hash maps",
        "Syscall programs can only be sleepable",
        "helper call might sleep in a non-sleepable prog",
        "kernel func %s is sleepable within %s",
        "kernel func %s is sleepable within non-preemptible region",
        "kernel function %s is sleepable but the program is not",
        "program must be sleepable to call sleepable kfunc %s",
        "sleepable global function %s() called in %s",
        "sleepable helper %s#%d in %s",
        "sleepable helper %s#%d in non-preemptible region",
    ),
    culprit=culprit,
    lesson=Lesson(
        "sleepable-context",
        "Something that may sleep, called where the program must not sleep (or the reverse)",
        "Some helpers and kfuncs may sleep (bpf_copy_from_user, bpf_d_path in some hooks, "
        "bpf_get_user_pages...), so only sleepable programs may call them: those loaded with the "
        "sleepable flag (`SEC(\"fentry.s/...\")`, `lsm.s/`, `uprobe.s/`, `iter.s/`, syscall programs), "
        "and even there not inside an RCU read section, with preemption or interrupts disabled, or while "
        "holding a lock. This program calls one from a context where sleeping is not allowed, or is "
        "sleepable and uses a map or attach point that a sleepable program may not.",
        (
            Fix("Load the program as sleepable (the `.s` section suffix) where its attach point allows it.",
                'SEC("fentry/do_unlinkat")\n'
                "int BPF_PROG(f, int dfd, struct filename *name)\n"
                "{ bpf_copy_from_user(buf, sizeof(buf), uptr); ... }",
                'SEC("fentry.s/do_unlinkat")\n'
                "int BPF_PROG(f, int dfd, struct filename *name)\n"
                "{ bpf_copy_from_user(buf, sizeof(buf), uptr); ... }"),
            Fix("Move the sleeping call out of bpf_rcu_read_lock()/bpf_spin_lock regions, or use the "
                "non-sleeping variant (bpf_probe_read_user instead of bpf_copy_from_user)."),
        ),
        ("5.10: sleepable fentry/fexit/lsm programs.", "6.x: sleepable uprobes, iterators, kfuncs (KF_SLEEPABLE)."),
    ),
)
