"""unreleased-reference: a reference acquired and not released on some path"""

from __future__ import annotations

from ...model import ProgramTrace
from ..findings import Culprit, ErrorInfo
from ..lesson import Fix, Lesson
from ..provenance import Origin
from .base import ErrorClass


def culprit(trace: ProgramTrace, error: ErrorInfo) -> Culprit | None:
    """The instruction that acquired the reference ("Unreleased reference id=2 alloc_insn=7")."""
    insn = error.kernel.number("alloc_insn") if error.kernel is not None else None
    if insn is None:
        return None
    step = trace.latest_step_at(insn)
    return Culprit("R0", insn, step.insn.text if step else None,
                   step.source if step else trace.source_of(insn), Origin.REFERENCE_ACQUIRED, None,
                   Origin.REFERENCE_ACQUIRED.value)


CLASS = ErrorClass(
    name="unreleased-reference",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(
        "check_reference_leak",
        "check_resource_leak",
        "release_reference",
    ),
    # Messages of this class printed by functions whose other messages are another's.
    messages=(
        "BPF_LD_[ABS|IND] cannot be mixed with socket references",
        "tail_call would lead to reference leak",
    ),
    culprit=culprit,
    lesson=Lesson(
        "unreleased-reference",
        "A reference acquired and not released on some path",
        "Some helpers hand out references the program must give back: a socket (bpf_sk_lookup_tcp), "
        "a ring buffer record (bpf_ringbuf_reserve), an object (bpf_obj_new). The verifier proved "
        "that a path reaches the exit while such a reference is still held ('Unreleased reference "
        "id=N alloc_insn=M' names the instruction that acquired it).",
        (
            Fix("Release on every path, including the early returns: bpf_sk_release, "
                "bpf_ringbuf_submit or bpf_ringbuf_discard, bpf_obj_drop.",
                "sk = bpf_sk_lookup_tcp(skb, &t, sizeof(t.ipv4), -1, 0);\n"
                "if (!sk) return TC_ACT_OK;\n"
                "return sk->state == 10 ? TC_ACT_SHOT : TC_ACT_OK;",
                "sk = bpf_sk_lookup_tcp(skb, &t, sizeof(t.ipv4), -1, 0);\n"
                "if (!sk) return TC_ACT_OK;\n"
                "listening = sk->state == 10;\n"
                "bpf_sk_release(sk);\n"
                "return listening ? TC_ACT_SHOT : TC_ACT_OK;"),
        ),
    ),
)
