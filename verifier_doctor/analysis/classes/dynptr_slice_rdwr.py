"""dynptr-slice-rdwr: a writable slice (bpf_dynptr_slice_rdwr) where the kernel allows no write"""

from __future__ import annotations

from ...model import KernelMessage
from ..lesson import Fix, Lesson
from .base import ErrorClass


def _describe(message: KernelMessage) -> str | None:
    if message.format.startswith("bpf_dynptr_slice_rdwr()"):
        # The 6.18 we record on prints it for lwt_in, socket filter, cgroup_skb, sk_skb, tc
        # and xdp programs alike, and for a dynptr over memory (verifier_messages_extra.json).
        return ("Here the kernel refuses the call itself (its words name no program type): the read-only "
                "slice is what is left.")
    return ("Here the program type may only read packets, so it may not take a writable slice of one "
            "(may_access_direct_pkt_data refuses the write).")


CLASS = ErrorClass(
    name="dynptr-slice-rdwr",
    # Both wordings are printed only for bpf_dynptr_slice_rdwr: 6.12 to 7.3 in
    # check_special_kfunc (may_access_direct_pkt_data(env, NULL, BPF_WRITE) fails), 6.18 by
    # the call (grammars/verifier_messages_extra.json).
    messages=(
        "bpf_dynptr_slice_rdwr() is not allowed",
        "the prog does not allow writes to packet data",
    ),
    describe=_describe,
    lesson=Lesson(
        "dynptr-slice-rdwr",
        "A writable slice of a dynptr (bpf_dynptr_slice_rdwr) where the kernel allows no write",
        "bpf_dynptr_slice_rdwr() gives a pointer the program may write through into the dynptr's "
        "data. A program type that only observes packets (socket filters, cgroup_skb, lwt_in and "
        "lwt_out, ...) may not write them, so 6.4 and later refuse the writable slice there ('the prog "
        "does not allow writes to packet data'). The 6.18 kernel we record on refuses the call itself, in "
        "tc and XDP programs too ('bpf_dynptr_slice_rdwr() is not allowed'). Nothing the program computed "
        "is wrong: the call is.",
        (
            Fix("Read through the read-only slice, bpf_dynptr_slice(), with the same arguments; it gives a "
                "`const` pointer the verifier lets the program read.",
                "ip = bpf_dynptr_slice_rdwr(&pkt, 0, buf, sizeof(buf));\n"
                "ip[8] -= 1;",
                "ip = bpf_dynptr_slice(&pkt, 0, buf, sizeof(buf));\n"
                "if (!ip) return 0;\n"
                "__u8 ttl = ip[8] - 1;"),
            Fix("Write with bpf_dynptr_write() where the program type may change packets (tc, xdp, "
                "lwt_xmit, sk_skb); a type that only observes them (socket filter, cgroup_skb, lwt_in) "
                "cannot: move the write to a tc or XDP program.",
                "ip[8] -= 1;                       /* through a writable slice */",
                "ttl = ip[8] - 1;                  /* ip from bpf_dynptr_slice() */\n"
                "bpf_dynptr_write(&pkt, 8, &ttl, 1, 0);"),
        ),
    ),
)
