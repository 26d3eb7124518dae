"""context-access: touching the program's context at a field this program type does not allow"""

from __future__ import annotations

from ...model import KernelMessage
from ..lesson import Fix, Lesson
from .base import ErrorClass


def describe(message: KernelMessage) -> str | None:
    """ "invalid bpf_context access off=76 size=4" in words."""
    off, size = message.number("off"), message.number("size")
    if off is None or size is None:
        return None
    return (f"Here the program reads or writes {size} bytes at offset {off} of the context, which this "
            "program type does not allow (a field it may not touch, a write to a read-only field, or "
            "a size the field does not have).")


CLASS = ErrorClass(
    name="context-access",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(
        "__check_ctx_access",
        "__check_ptr_off_reg",
        "bpf_convert_ctx_accesses",
        "btf_ctx_access",
        "check_ctx_access",
        "check_ctx_reg",
        "check_flow_keys_access",
        "check_ptr_off_reg",
        "check_sock_access",
    ),
    # Messages of this class printed by functions whose other messages are another's.
    messages=(
        "BPF_ATOMIC loads from R%d %s is not allowed",
        "BPF_ATOMIC stores into R%d %s is not allowed",
        "BPF_ST stores into R%d %s is not allowed",
        "BPF_XADD stores into R%d %s is not allowed",
        "invalid access to context, ctx_size=%d off=%d size=%d",
    ),
    describe=describe,
    lesson=Lesson(
        "context-access",
        "Touching the program's context at a field this program type does not allow",
        "The verifier proved that {reg} is the context (the program's argument, such as struct xdp_md "
        "or struct __sk_buff). Each program type lists which offsets may be read, with which sizes, "
        "and the few that may be written. It could not prove this access is one of them: the field "
        "is read-only, does not exist for this type, is read with the wrong size, or the pointer was "
        "moved away from the context's start.",
        (
            Fix("Treat the context as read-only unless the program type documents a writable field "
                "(skb->mark, skb->priority, cb[] in TC); copy what you need into local variables.",
                "ctx->data += 14;          /* xdp_md is read-only */",
                "void *data = (void *)(long)ctx->data + 14;\n"
                "/* or move the start: bpf_xdp_adjust_head(ctx, 14) */"),
            Fix("Read fields with their declared type and through the struct the program type defines, "
                "never at a computed offset from the context pointer.",
                "__u64 mark = *(__u64 *)((void *)skb + 8);",
                "__u32 mark = skb->mark;"),
        ),
    ),
)
