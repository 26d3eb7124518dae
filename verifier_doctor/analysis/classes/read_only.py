"""read-only: a write to memory this program may only read"""

from __future__ import annotations

from ..lesson import Fix, Lesson
from ..provenance import Follow
from .base import ErrorClass

CLASS = ErrorClass(
    name="read-only",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(
        "check_map_access_type",
        "convert_ctx_accesses",
        "record_func_map",
    ),
    # Messages of this class printed by functions whose other messages are another's.
    messages=(
        "%s cannot write into %s",
        "%s cannot write into ptr_%s at off=%d size=%d",
        "%s() may write into memory pointed by %s type=%s",
        "%s() may write into memory pointed by R%d type=%s",
        "R%d cannot write into %s",
        "cannot write into packet",
        "frame pointer is read only",
        "only read is supported",
        "write to change key %s not allowed",
        "write to change key R%d not allowed",
    ),
    follow=Follow.VALUE,
    lesson=Lesson(
        "read-only",
        "A write to memory this program may only read",
        "The verifier knows for each pointer whether the program may write through it: a map created "
        "with BPF_F_RDONLY_PROG, .rodata (const globals), kernel objects reached through BTF pointers, "
        "the packet in program types that only observe it (socket filters, tracing with skb), the frame "
        "pointer R10, and read-only buffers of iterators are readable only. This instruction writes "
        "through one of them.",
        (
            Fix("Write to memory the program owns: a map value of a writable map, a non-const global, the "
                "stack; use the program type's helpers to change packets (bpf_skb_store_bytes in tc).",
                "const volatile __u32 limit = 10;   /* .rodata */\n"
                "limit = 20;",
                "__u32 limit = 10;                  /* .data/.bss: writable */\n"
                "limit = 20;"),
            Fix("If the program type cannot write packets (socket filter), move the logic to tc or XDP, "
                "or use the read-only slice (bpf_dynptr_slice, not _rdwr)."),
        ),
    ),
)
