"""stack-access: stack memory read before it was written, or outside the frame"""

from __future__ import annotations

from ...model import KernelMessage
from ..lesson import Fix, Lesson
from ..provenance import Follow
from .base import ErrorClass


def describe(message: KernelMessage) -> str | None:
    """ "invalid write to stack R1 off=-520 size=8", "invalid read from stack off -16+0 size 8"."""
    off, size = message.number("off"), message.number("size")
    if off is None or size is None:
        return None
    if off + size > 0 or off < -512:
        return (f"Here the access is {size} bytes at offset {off} from the frame pointer: the frame is the "
                "512 bytes below R10 (offsets -512 to -1), and this access is outside it.")
    return f"Here the access is {size} bytes at offset {off} from the frame pointer."


CLASS = ErrorClass(
    name="stack-access",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(
        "check_stack_access",
        "check_stack_access_within_bounds",
        "check_stack_arg_read",
        "check_stack_arg_write",
        "check_stack_boundary",
        "check_stack_range_initialized",
        "check_stack_read",
        "check_stack_read_fixed",
        "check_stack_read_fixed_off",
        "check_stack_read_var_off",
        "check_stack_write",
        "check_stack_write_fixed_off",
        "check_stack_write_var_off",
    ),
    # Messages of this class printed by functions whose other messages are another's.
    messages=(
        "callee expects %d args, stack arg%d is not initialized",
        "cannot return stack pointer to the caller",
    ),
    follow=Follow.OFFSET,
    describe=describe,
    lesson=Lesson(
        "stack-access",
        "Stack memory read before it was written, or outside the frame",
        "Each program (and each subprogram) has its own stack frame of at most 512 bytes below R10. "
        "The verifier tracks which stack bytes were written. It could not prove that the access "
        "stays inside the frame and touches only written bytes: a helper was handed an "
        "uninitialised buffer, asked to copy more bytes than the buffer has, or the offset is "
        "outside the frame or not known.",
        (
            Fix("Initialise stack variables and structs before a helper reads them: `struct key k = "
                "{};` or `__builtin_memset(&k, 0, sizeof(k));` (memset also clears padding holes, "
                "which `= {}` may leave unwritten).",
                "struct flow_key k;\n"
                "k.port = port;            /* other bytes unwritten */\n"
                "v = bpf_map_lookup_elem(&flows, &k);",
                "struct flow_key k;\n"
                "__builtin_memset(&k, 0, sizeof(k));\n"
                "k.port = port;\n"
                "v = bpf_map_lookup_elem(&flows, &k);"),
            Fix("Pass helpers the real size of the buffer: `sizeof(buf)`, never a larger constant.",
                "__u64 buf;\n"
                "bpf_skb_load_bytes(skb, 0, &buf, 32);",
                "__u8 buf[32];\n"
                "bpf_skb_load_bytes(skb, 0, buf, sizeof(buf));"),
            Fix("Keep stack use under 512 bytes; put big buffers in a per-CPU array map instead."),
        ),
        ("5.12: variable-offset stack accesses are allowed when the whole range is bounded "
         "(earlier kernels refuse them outside helper arguments).",),
    ),
)
