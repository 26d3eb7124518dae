"""packet-bounds: reading or writing packet bytes not proven to be inside the packet"""

from __future__ import annotations

from ...model import OpKind, ProgramTrace, Step
from ..findings import Culprit, ErrorInfo
from ..lesson import Fix, Lesson
from ..provenance import Follow, Origin, find_on_path, value_before
from ..reasons import offset_read_from_memory
from .base import ErrorClass


def culprit(trace: ProgramTrace, error: ErrorInfo) -> Culprit | None:
    """A constant offset past the proven range: the check that proved too little ("r=14").
    With no check at all, or a variable offset, the value is followed back instead."""
    if not trace.steps or not error.register:
        return None
    failing = trace.steps[-1]
    pointer = value_before(trace, failing, int(error.register[1:]))
    if pointer is None or pointer.has_variable_offset:
        return None
    check = find_on_path(trace, failing, lambda s: _compares_with_packet_end(trace, s))
    if check is None:
        return None
    return Culprit(error.register, check.insn.index, check.insn.text, check.source,
                   Origin.RANGE_CHECKED, None, "the only bounds check, which proves too few bytes")


def _compares_with_packet_end(trace: ProgramTrace, step: Step) -> bool:
    if step.insn.kind is not OpKind.COND_JUMP:
        return False
    for register in step.insn.srcs:
        value = value_before(trace, step, register)
        if value is not None and value.kind == "pkt_end":
            return True
    return False


CLASS = ErrorClass(
    name="packet-bounds",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(
        "check_packet_access",
    ),
    # Messages of this class printed by functions whose other messages are another's.
    messages=(
        "invalid access to packet, off=%d size=%d, %s(id=%d,off=%d,r=%d)",
        "invalid access to packet, off=%d size=%d, R%d(id=%d,off=%d,r=%d)",
    ),
    follow=Follow.OFFSET,
    culprit=culprit,
    reason=offset_read_from_memory,
    lesson=Lesson(
        "packet-bounds",
        "Reading or writing packet bytes not proven to be inside the packet",
        "The verifier proved that {reg} points into the packet, and it knows how many bytes after the "
        "packet start were proven to exist by a comparison with data_end on this path (the 'r=' in "
        "the register's state). It could not prove that this access lies inside that range: there "
        "is no comparison, it proves too few bytes, or it was made before a variable offset was "
        "added.",
        (
            Fix("Compare the end of what you read with data_end before you read it, then read through "
                "the same pointer: `if ((void *)(hdr + 1) > data_end) return XDP_PASS;`.",
                "struct ethhdr *eth = data;\n"
                "if (eth->h_proto == bpf_htons(ETH_P_IP))   /* r=0 */",
                "struct ethhdr *eth = data;\n"
                "if ((void *)(eth + 1) > data_end)\n"
                "        return XDP_PASS;\n"
                "if (eth->h_proto == bpf_htons(ETH_P_IP))"),
            Fix("With a variable offset (an IP header length), bound the offset, add it to the "
                "pointer, and compare the result with data_end again.",
                "struct udphdr *udp = (void *)ip + ip->ihl * 4;\n"
                "port = udp->dest;",
                "__u32 len = ip->ihl * 4;\n"
                "if (len < sizeof(*ip) || len > 60) return XDP_PASS;\n"
                "struct udphdr *udp = (void *)ip + len;\n"
                "if ((void *)(udp + 1) > data_end) return XDP_PASS;\n"
                "port = udp->dest;"),
            Fix("Reload data and data_end after any helper that can move the packet "
                "(bpf_xdp_adjust_head, bpf_skb_pull_data, bpf_skb_change_tail): the verifier "
                "forgets every packet pointer after such a call."),
        ),
        ("6.3: dynptrs on packets (bpf_dynptr_from_skb, bpf_dynptr_from_xdp) read packet bytes with "
         "the bounds check done for you.",),
    ),
)
