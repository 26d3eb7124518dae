"""packet-invalidated: a packet pointer used after a helper that may move or resize the packet"""

from __future__ import annotations

from ...model import ProgramTrace
from ..finders import call_and_use, claim_lost_pointer
from ..findings import ErrorInfo, FixSite
from ..lesson import Fix, Lesson
from ..provenance import Follow, Origin, Provenance
from .base import ErrorClass


def claim(trace: ProgramTrace, error: ErrorInfo, provenance: Provenance | None) -> Provenance | None:
    """The rejected number was a packet pointer until a call: the kernel invalidates every
    packet pointer at a helper that may change the packet (bpf_xdp_adjust_head/tail,
    bpf_skb_pull_data, bpf_skb_change_proto...), which the log shows as pkt before, a scalar after."""
    return claim_lost_pointer(trace, error.register, provenance, True, Origin.INVALIDATED)


def reason(provenance: Provenance, at: str) -> tuple[str, list[str]] | None:
    if provenance.origin is not Origin.INVALIDATED:
        return None
    line = provenance.origin_step.source.line if provenance.origin_step.source else None
    return (f"{provenance.location} pointed into the packet until the call to {provenance.detail}{at}: that "
            "helper may move or resize the packet, so the verifier forgot every packet pointer the program "
            "held, and the bounds checked before it.",
            [f"Reload data and data_end from the context after {provenance.detail}"
             f"{f' (line {line})' if line else ''}, and compare with data_end again before this access."])


def fix_site(trace: ProgramTrace, error: ErrorInfo, culprit, provenance: Provenance | None) -> FixSite | None:
    found = call_and_use(provenance, Origin.INVALIDATED, error.source)
    if found is None:
        return None
    call, line, use = found
    return FixSite(call.insn.index, call.source,
                   f"reload data and data_end after {provenance.detail}{line} and check the bounds again before {use}")


CLASS = ErrorClass(
    name="packet-invalidated",
    takes_over=("scalar-deref", "uninit-register"),
    claim=claim,
    follow=Follow.VALUE,
    reason=reason,
    fix_site=fix_site,
    lesson=Lesson(
        "packet-invalidated",
        "A packet pointer used after a helper that may move or resize the packet",
        "Helpers that change the packet (bpf_xdp_adjust_head, bpf_xdp_adjust_tail, bpf_xdp_adjust_meta, "
        "bpf_skb_pull_data, bpf_skb_change_proto, bpf_skb_change_tail, bpf_skb_adjust_room, "
        "bpf_skb_vlan_push...) may give the packet a new place in memory. At such a call the verifier "
        "forgets every pointer into the packet the program holds, in registers and on the stack, with "
        "the bounds it had checked: {reg} is a plain number after it, and dereferencing it is refused.",
        (
            Fix("After the call, reload data and data_end from the context and check the bounds again; "
                "make the pointer anew from the reloaded data.",
                "struct ethhdr *eth = data;\n"
                "if ((void *)(eth + 1) > data_end) return XDP_PASS;\n"
                "if (bpf_xdp_adjust_head(ctx, 4)) return XDP_PASS;\n"
                "proto = eth->h_proto;   /* eth is stale */",
                "if (bpf_xdp_adjust_head(ctx, 4)) return XDP_PASS;\n"
                "data = (void *)(long)ctx->data;\n"
                "data_end = (void *)(long)ctx->data_end;\n"
                "eth = data;\n"
                "if ((void *)(eth + 1) > data_end) return XDP_PASS;\n"
                "proto = eth->h_proto;"),
            Fix("Or read what you need from the packet before the call, into a local variable."),
        ),
    ),
)
