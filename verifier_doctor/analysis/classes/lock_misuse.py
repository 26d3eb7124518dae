"""lock-misuse: a bpf_spin_lock used where or how the verifier forbids it"""

from __future__ import annotations

from ...model import ProgramTrace, Step
from ..finders import region_opener
from ..findings import Culprit, ErrorInfo, FixSite
from ..lesson import Fix, Lesson
from ..provenance import Origin, previous_step
from .base import ErrorClass

_LOCK_HELPERS = ("bpf_spin_lock", "bpf_res_spin_lock", "bpf_rcu_read_lock", "bpf_preempt_disable")


def culprit(trace: ProgramTrace, error: ErrorInfo) -> Culprit | None:
    """The call that took the lock (or opened the RCU or no-preemption region) still in force."""
    return region_opener(trace, _LOCK_HELPERS, Origin.LOCK_TAKEN.value)


# The allocator verifier-doctor ships (allocator_c/): its calls are inlined into the caller,
# so the log names the header as the rejected instruction's file (v6.2+ print file names).
ALLOCATOR_HEADER = "static_malloc.h"


def _in_allocator(step: Step | None) -> bool:
    return step is not None and step.source is not None and step.source.file is not None \
        and step.source.file.rsplit("/", 1)[-1] == ALLOCATOR_HEADER


def _allocator_entry(trace: ProgramTrace) -> tuple[Step, Step | None] | None:
    """When the rejected call is inside the shipped allocator: the first step of the
    allocator's code on the way there, and the program's own step before it (the log names
    the lines it ran, not the line of the call, whose code is all the header's)."""
    failing = trace.steps[-1] if trace.steps else None
    if not _in_allocator(failing):
        return None
    entry = failing
    step, _ = previous_step(trace, failing)
    while step is not None and (_in_allocator(step) or step.source is None):
        if _in_allocator(step):
            entry = step
        step, _ = previous_step(trace, step)
    return entry, step


def _after(before: Step | None) -> str:
    if before is None or before.source is None:
        return ""
    line = f"line {before.source.line} " if before.source.line else ""
    return f" after {line}(`{before.source.text.strip()}`)"


def allocator_in_lock(trace: ProgramTrace, error: ErrorInfo) -> str | None:
    """A call of the shipped allocator under the program's own lock (issue 21): say it needs none."""
    found = _allocator_entry(trace)
    if found is None:
        return None
    return (f"The rejected call is inside the allocator verifier-doctor ships ({ALLOCATOR_HEADER}), which the "
            f"program calls{_after(found[1])}: static_malloc, static_free and the others are thread-safe (the "
            "heap takes its own lock), so the program's bpf_spin_lock around them is not needed; take the "
            "call out of the locked region.")


def fix_site(trace: ProgramTrace, error: ErrorInfo, culprit: Culprit | None, provenance) -> FixSite | None:
    found = _allocator_entry(trace)
    if found is None:
        return None
    entry, before = found
    return FixSite(entry.insn.index, before.source if before is not None else entry.source,
                   f"move the allocator call{_after(before)} out of the locked region (before "
                   "bpf_spin_lock or after bpf_spin_unlock): the allocator is thread-safe")


CLASS = ErrorClass(
    name="lock-misuse",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(
        "check_reg_allocation_locked",
        "do_check_insn",
        "process_spin_lock",
    ),
    # Messages of this class printed by functions whose other messages are another's.
    messages=(
        "%d bpf_preempt_enable%s missing",
        "%s cannot be used inside bpf_preempt_disable-ed region",
        "%s cannot be used inside bpf_rcu_read_lock-ed region",
        "%s cannot be used inside bpf_spin_lock-ed region",
        "BPF_LD_[ABS|IND] cannot be used inside bpf_preempt_disable-ed region",
        "BPF_LD_[ABS|IND] cannot be used inside bpf_rcu_read_lock-ed region",
        "BPF_LD_[ABS|IND] cannot be used inside bpf_spin_lock-ed region",
        "Calling bpf_rcu_read_{lock,unlock} in unnecessary rbtree callback",
        "bpf_rcu_read_unlock is missing",
        "bpf_spin_lock at off=%d must be held for %s",
        "bpf_spin_lock cannot be accessed directly by load/store",
        "bpf_spin_unlock is missing",
        "can't res_spin_{lock,unlock} in rbtree cb",
        "can't spin_{lock,unlock} in rbtree cb",
        "global function calls are not allowed while holding a lock,\nuse static function instead",
        "global function calls are not allowed with preemption disabled,\nuse static function instead",
        "kernel func %s is sleepable within rcu_read_lock region",
        "nested rcu read lock (kernel function %s)",
        "sleepable helper %s#%d in rcu_read_lock region",
        "sleepable progs cannot use bpf_spin_lock yet",
        "socket filter progs cannot use bpf_spin_lock yet",
        "tail_call cannot be used inside bpf_preempt_disable-ed region",
        "tail_call cannot be used inside bpf_rcu_read_lock-ed region",
        "tail_call cannot be used inside bpf_spin_lock-ed region",
        "tracing progs cannot use bpf_spin_lock yet",
        "unmatched attempt to enable preemption (kernel function %s)",
        "unmatched rcu read unlock (kernel function %s)",
    ),
    culprit=culprit,
    reason_in_trace=allocator_in_lock,
    fix_site=fix_site,
    lesson=Lesson(
        "lock-misuse",
        "A bpf_spin_lock used where or how the verifier forbids it",
        "A bpf_spin_lock (5.1+) is checked strictly so a program can never sleep, loop or exit while "
        "holding it: it must sit inside a map value (of a map with BTF), only one lock may be held, "
        "no helper may be called while it is held, it must be released on every path before exit, "
        "and some program types (socket filters, tracing) may not use it at all. The verifier proved "
        "this program breaks one of these rules.",
        (
            Fix("Keep the critical section to plain loads and stores; call helpers before the lock or "
                "after the unlock.",
                "bpf_spin_lock(&v->lock);\n"
                "v->ts = bpf_ktime_get_ns();   /* a call */\n"
                "bpf_spin_unlock(&v->lock);",
                "__u64 now = bpf_ktime_get_ns();\n"
                "bpf_spin_lock(&v->lock);\n"
                "v->ts = now;\n"
                "bpf_spin_unlock(&v->lock);"),
            Fix("Unlock on every path before returning; where the lock is not allowed, use an atomic "
                "instead (`__sync_fetch_and_add`).",
                "bpf_spin_lock(&v->lock);\n"
                "if (v->n > LIMIT)\n"
                "        return 0;     /* still locked */",
                "bpf_spin_lock(&v->lock);\n"
                "full = v->n > LIMIT;\n"
                "bpf_spin_unlock(&v->lock);\n"
                "if (full) return 0;"),
        ),
    ),
)
