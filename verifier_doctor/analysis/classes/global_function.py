"""global-function: a global (non-static) function whose signature the verifier cannot check on its own"""

from __future__ import annotations

from ...model import KernelMessage, ProgramTrace
from ..findings import ErrorInfo, FixSite
from ..lesson import Fix, Lesson
from .base import ErrorClass

# check_btf_func refuses a subprogram (static or global: every one but the entry) that holds a
# BPF_LD_ABS or BPF_LD_IND when its BTF prototype returns no scalar, before the walk: such a
# load past the packet's end returns 0 from the whole program, out of whatever function it is in.
LD_ABS_NOT_INT = "LD_ABS is only allowed in functions that return 'int'."


def describe(message: KernelMessage) -> str | None:
    if message.format != LD_ABS_NOT_INT:
        return None
    return ("Here a function the program calls holds a legacy packet load (BPF_LD_ABS or BPF_LD_IND, the "
            "classic-BPF way to read a packet) and returns no int: such a load past the packet's end ends "
            "the whole program at once with return value 0, from inside that function, so the kernel allows "
            "it only in a function whose prototype returns an int. A static function that is not inlined is "
            "checked the same way, from its prototype, before any instruction is walked.")


def fix_site(trace: ProgramTrace, error: ErrorInfo, culprit, provenance) -> FixSite | None:
    if error.kernel is None or error.kernel.format != LD_ABS_NOT_INT:
        return None
    return FixSite(error.insn, error.source,
                   "make the function that holds the packet load return `int`, or inline it "
                   "(`static __always_inline`), or read the packet with bpf_skb_load_bytes()")

CLASS = ErrorClass(
    name="global-function",
    # Kernel functions whose rejections are this class, unless a class names the message.
    functions=(
        "btf_check_subprog_arg_match",
        "btf_check_subprog_call",
        "btf_get_prog_ctx_type",
        "btf_is_prog_ctx_type",
        "btf_prepare_func_args",
        "btf_scan_decl_tags",
        "btf_scan_type_tags",
        "btf_validate_prog_ctx_type",
        "subprog_returns_void",
    ),
    # Messages of this class printed by functions whose other messages are another's.
    messages=(
        LD_ABS_NOT_INT,
    ),
    describe=describe,
    fix_site=fix_site,
    lesson=Lesson(
        "global-function",
        "A global (non-static) function whose signature the verifier cannot check on its own",
        "The verifier checks a global function once, by itself, from its BTF prototype (v5.6+), not "
        "with each call: so its arguments and return value must be of kinds it can describe from the "
        "types alone: scalars, a pointer to the program's context, pointers to fixed-size memory (which "
        "may be NULL), and, with tags, a few others. This function's prototype uses something else (a "
        "struct by value, a pointer to a type of unknown size, more than five arguments, a non-scalar "
        "return), or its BTF is missing.",
        (
            Fix("Make the helper function `static` (with `__always_inline` if you like): static functions "
                "are verified with each call and may take any argument.",
                "int sum(struct pair p) { return p.a + p.b; }   /* struct by value */",
                "static __always_inline int sum(struct pair p) { return p.a + p.b; }"),
            Fix("Keep a global function's arguments to scalars, the context, and pointers to sized types; "
                "return a scalar; check pointer arguments for NULL inside it."),
        ),
        ("5.6: global functions verified on their own.", "6.8: argument tags (__arg_ctx, __arg_nonnull, __arg_trusted)."),
    ),
)
