"""use-after-release: a pointer used after the call that released it"""

from __future__ import annotations

from ...model import ProgramTrace
from ..finders import call_and_use, claim_lost_pointer
from ..findings import ErrorInfo, FixSite
from ..lesson import Fix, Lesson
from ..provenance import Follow, Origin, Provenance
from .base import ErrorClass


def claim(trace: ProgramTrace, error: ErrorInfo, provenance: Provenance | None) -> Provenance | None:
    """The rejected number was a referenced pointer (a ring buffer record, a socket, a slice of
    a dynptr) until a call: the release (bpf_ringbuf_submit/discard, bpf_sk_release,
    bpf_ringbuf_submit_dynptr...) invalidates every copy of it, which the log shows as a
    pointer before the call and a scalar after."""
    return claim_lost_pointer(trace, error.register, provenance, False, Origin.RELEASED)


def reason(provenance: Provenance, at: str) -> tuple[str, list[str]] | None:
    if provenance.origin is not Origin.RELEASED:
        return None
    return (f"{provenance.location} was released by {provenance.detail}{at}: from that call on, the verifier "
            "treats every copy of the pointer as a plain number (unreadable, without CAP_BPF).",
            [f"Do everything you need with the object before {provenance.detail}; keep values you need "
             "later in local variables."])


def fix_site(trace: ProgramTrace, error: ErrorInfo, culprit, provenance: Provenance | None) -> FixSite | None:
    found = call_and_use(provenance, Origin.RELEASED, error.source)
    if found is None:
        return None
    call, line, use = found
    return FixSite(call.insn.index, call.source,
                   f"move {use} before the {provenance.detail} call{line}, or stop using the pointer after it")


CLASS = ErrorClass(
    name="use-after-release",
    takes_over=("scalar-deref", "uninit-register"),
    claim=claim,
    follow=Follow.VALUE,
    reason=reason,
    fix_site=fix_site,
    lesson=Lesson(
        "use-after-release",
        "A pointer used after the call that released it",
        "Some pointers are references the program must give back: a ring buffer record "
        "(bpf_ringbuf_reserve), a socket (bpf_sk_lookup_tcp), a dynptr's slice. The call that gives "
        "it back (bpf_ringbuf_submit or _discard, bpf_sk_release, bpf_ringbuf_submit_dynptr) ends "
        "it: the verifier turns every copy of the pointer into a plain number (for a user without "
        "CAP_BPF, into an unreadable register), so {reg} may not be dereferenced after it.",
        (
            Fix("Finish with the object before releasing it: fill the record, read the socket's "
                "fields, then submit or release.",
                "bpf_ringbuf_submit(e, 0);\n"
                "e->seq = seq++;   /* e is user space's now */",
                "e->seq = seq++;\n"
                "bpf_ringbuf_submit(e, 0);"),
            Fix("Keep what you need after the release in a local variable.",
                "bpf_sk_release(sk);\n"
                "return sk->state == 10;",
                "int state = sk->state;\n"
                "bpf_sk_release(sk);\n"
                "return state == 10;"),
        ),
    ),
)
