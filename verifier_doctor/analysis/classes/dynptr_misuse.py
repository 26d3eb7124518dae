"""dynptr-misuse: a bpf_dynptr used before it was made, after it was released, or not where the verifier tracks it"""

from __future__ import annotations

from ...model import ProgramTrace
from ..finders import stack_object_culprit
from ..findings import Culprit, ErrorInfo
from ..lesson import Fix, Lesson
from ..provenance import Follow
from .base import ErrorClass


def culprit(trace: ProgramTrace, error: ErrorInfo) -> Culprit | None:
    """The call that made the dynptr (its first call on the path), or, when the dynptr is not
    at a constant stack offset, where the offset came from."""
    return stack_object_culprit(trace, "the dynptr was made here", first=True)


CLASS = ErrorClass(
    name="dynptr-misuse",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(
        "check_dynptr_func",
        "destroy_if_dynptr_stack_slot",
        "dynptr_get_spi",
        "dynptr_id",
        "dynptr_ref_obj_id",
        "get_dynptr_arg_reg",
        "mark_stack_slots_dynptr",
        "process_dynptr_func",
        "stack_slot_obj_get_spi",
        "unmark_stack_slots_dynptr",
    ),
    # Messages of this class printed by functions whose other messages are another's.
    messages=(
        "Unsupported reg type %s for bpf_dynptr_from_mem data",
        "arg#%d pointer type %s %s points to unsupported dynamic pointer type",
        "cannot pass in dynptr at an offset",
        "cannot release unowned const bpf_dynptr",
        "potential write to dynptr at off=%d disallowed",
    ),
    follow=Follow.VALUE,
    culprit=culprit,
    lesson=Lesson(
        "dynptr-misuse",
        "A bpf_dynptr used before it was made, after it was released, or not where the verifier tracks it",
        "A dynptr (`struct bpf_dynptr`, 6.0+) is a pointer plus a length that the verifier tracks in the "
        "16 stack bytes that hold it: it knows which stack slots are an initialised dynptr, which kind "
        "(local, ringbuf, skb, xdp), and whether it holds a reference that must be released. It refused "
        "this use: the dynptr was never initialised on this path (the function that makes it failed, or "
        "was not called), a referenced dynptr would be overwritten or leaked, the program wrote into the "
        "dynptr's own stack bytes, or the dynptr is not at a constant stack offset.",
        (
            Fix("Make the dynptr with its constructor (bpf_dynptr_from_mem, bpf_ringbuf_reserve_dynptr, "
                "bpf_dynptr_from_skb) on every path before using it, and check the constructor's return.",
                "struct bpf_dynptr ptr;\n"
                "bpf_dynptr_read(buf, sizeof(buf), &ptr, 0, 0);  /* never initialised */",
                "struct bpf_dynptr ptr;\n"
                "if (bpf_dynptr_from_mem(data, sizeof(data), 0, &ptr))\n"
                "        return 0;\n"
                "bpf_dynptr_read(buf, sizeof(buf), &ptr, 0, 0);"),
            Fix("Release a ringbuf dynptr (bpf_ringbuf_submit_dynptr / _discard_dynptr) before reusing its "
                "variable, and never write into the `struct bpf_dynptr` yourself: pass its address to the "
                "dynptr helpers only, as a plain local (`&ptr`, not `&ptrs[i]`)."),
        ),
        ("6.0: dynptrs (local and ringbuf).", "6.3: skb and xdp dynptrs, bpf_dynptr_slice.",
         "6.5: dynptr kfuncs (adjust, clone, is_null)."),
    ),
)
