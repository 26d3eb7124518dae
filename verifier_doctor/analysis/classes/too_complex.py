"""too-complex: the verifier gave up: too many paths, instructions or too much stack"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...model import KernelMessage, ProgramTrace
from ..lesson import Fix, Lesson
from .base import ErrorClass

if TYPE_CHECKING:
    from ..findings import ErrorInfo
    from ..profile import Profile

# The verdicts of a walk that ran out of budget (the catalogue's keys): instructions, or
# pending branches. A level-2 log of such a walk says where the budget went.
BUDGET_MESSAGES = (
    "BPF program is too large. Processed %d insn",
    "The sequence of %d jumps is too complex.",
    "The sequence of %d jumps is too complex for async cb.",
)

# A call chain deeper than MAX_CALL_FRAMES (include/linux/bpf_verifier.h): 8 frames in Debian's
# linux-source 5.10.223, 6.1.192 and 6.12.118, 16 in 7.2.13 and 7.3~rc7. setup_func_entry says
# so when the walk reaches the call ("of %d frames": the frames the call would make); the
# stack-depth pass after the walk adds " !" and prints the deepest frame's number instead.
CALL_CHAIN_MESSAGES = (
    "the call stack of %d frames is too deep",
    "the call stack of %d frames is too deep !",
)
_FRAME_LIMITS = (
    "the verifier keeps at most 8 frames (MAX_CALL_FRAMES) before 7.2, 16 from 7.2: the program's own "
    "frame and one per static (bpf-to-bpf) function called and not yet returned; an inlined function "
    "has no frame of its own."
)


def describe(message: KernelMessage) -> str | None:
    """The call chain's depth and the kernel's limit, for a call chain too deep."""
    if message.format not in CALL_CHAIN_MESSAGES:
        return None
    frames = message.number("of")
    if message.format == CALL_CHAIN_MESSAGES[0] and frames is not None:
        return f"Here the chain of calls would be {frames} frames deep, and {_FRAME_LIMITS}"
    return f"A chain of calls in the program is deeper than the verifier allows: {_FRAME_LIMITS}"


def budget_profile(trace: ProgramTrace, error: "ErrorInfo") -> "Profile | None":
    """The cost profile of a walk that ran out of budget, from its level-2 log (a level-1
    log keeps only the last path: it cannot say where the budget went)."""
    if trace.log_level < 2 or error.kernel is None or error.kernel.format not in BUDGET_MESSAGES:
        return None
    from ..profile import profile

    return profile(trace)


CLASS = ErrorClass(
    name="too-complex",
    kind="verifier-limit",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(
        "__btf_type_is_scalar_struct",
        "add_subprog",
        "analyze_subprog",
        "bpf_do_misc_fixups",
        "bpf_patch_insn_data",
        "check_func_call",
        "check_max_stack_depth",
        "check_max_stack_depth_subprog",
        "do_check",
        "do_misc_fixups",
        "propagate_backedges",
        "push_async_cb",
        "push_stack",
        "setup_func_entry",
    ),
    # Messages of this class printed by functions whose other messages are another's.
    messages=(
        "%s memory size %u is too large",
        "fd_array has too many entries (%u, max %u)",
        "stack depth %d exceeds interpreter stack depth limit",
        "too many different kernel function calls",
        "too many different module BTFs",
    ),
    profile=budget_profile,
    describe=describe,
    lesson=Lesson(
        "too-complex",
        "The verifier gave up: too many paths, instructions or too much stack",
        "The verifier explores every path through the program and stops after 1 million processed "
        "instructions, 8192 pending branches ('The "
        "sequence of 8193 jumps is too complex'), or when the stack of a call chain goes over 512 "
        "bytes ('combined stack size'), or when calls nest deeper than its limit of frames ('the call "
        "stack of 9 frames is too deep'). It proved nothing wrong; it could not finish proving "
        "the program safe within its limits.",
        (
            Fix("Let the kernel run the loop: bpf_loop() (5.17+) or open-coded iterators bpf_for() "
                "(6.4+) verify the body once instead of once per iteration.",
                "for (i = 0; i < 1024; i++)\n"
                "        for (j = 0; j < 1024; j++)\n"
                "                sum += cell(i, j);",
                "static long row(__u32 i, void *ctx)\n"
                "{ /* inner loop for one row */ return 0; }\n"
                "bpf_loop(1024, row, &sum, 0);",
                messages=BUDGET_MESSAGES),
            Fix("Cut stack use along a call chain: move large locals into a per-CPU array map, and "
                "keep each frame small (256 bytes per frame when tail calls are mixed with "
                "subprograms).",
                "static __noinline int parse(void)\n"
                "{ char buf[320]; ... }",
                "struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); ... } scratch SEC(\".maps\");\n"
                "char *buf = bpf_map_lookup_elem(&scratch, &zero);\n"
                "if (!buf) return 0;"),
            Fix("Inline some calls of the chain (`__always_inline` on its static functions, or merge two "
                "layers into one), so that no chain of calls is deeper than 8 frames, the program's own "
                "included (16 from 7.2).",
                "static __noinline int parse_l4(struct __sk_buff *skb, int off)\n"
                "{ return parse_tunnel(skb, off + 8); }  /* one frame more per layer */",
                "static __always_inline int parse_l4(struct __sk_buff *skb, int off)\n"
                "{ return parse_tunnel(skb, off + 8); }  /* inlined: no frame of its own */",
                messages=CALL_CHAIN_MESSAGES),
        ),
        ("5.2: the limit of processed instructions went from 131072 to 1 million (privileged).",
         "5.17: bpf_loop().",
         "6.4: open-coded iterators (bpf_iter_num, bpf_for).",
         "7.2: MAX_CALL_FRAMES went from 8 to 16."),
    ),
)
